import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LiveView, type TargetRow } from '../../cli/render';
import type { LocalServer } from '../../infra/local/server';
import { FakeAgent } from '../helpers/agent';
import { type Client, eventually } from '../helpers/client';
import { ADMIN, startTestServer, TEST_KEYS } from '../helpers/local';
import { freePort } from '../helpers/process';
import { type Run, runNode } from './run';

/** The `gantry` CLI as CI runs it: a child process against the local server, no TTY. */

const ROOT = join(import.meta.dirname, '../..');
const BIN = join(ROOT, 'cli/bin.ts');

let server: LocalServer;
let admin: Client;
const agent = new FakeAgent();
const silent = new FakeAgent();

/** Runs the CLI from its TypeScript source. */
function gantry(args: string[], env: Record<string, string | undefined> = {}): Promise<Run> {
  const base = {
    GANTRY_URL: server.url,
    GANTRY_KEY_ID: ADMIN.id,
    GANTRY_KEY_SECRET: ADMIN.secret,
    GANTRY_POLL_MS: '100',
    GANTRY_JOB_TOKEN: undefined,
  };
  return runNode(['--import', 'tsx', BIN, ...args], { ...base, ...env }, ROOT);
}

const keyEnv = (id: string) => {
  const key = TEST_KEYS.find((k) => k.id === id);
  return { GANTRY_KEY_ID: key?.id, GANTRY_KEY_SECRET: key?.secret };
};

beforeAll(async () => {
  await agent.start();
  await silent.start();
  silent.behaviour = () => 'none';
  ({ server, admin } = await startTestServer());
  for (const [id, env] of [
    ['stg-1', 'staging'],
    ['prod-1', 'production'],
    ['prod-2', 'production'],
  ]) {
    await admin.put(`/v1/resources/${id}`, { kind: 'k8s', name: id, metadata: { env } });
  }
  await admin.put('/v1/environments/staging', { resourceSelector: "resource.metadata.env == 'staging'" });
  await admin.put('/v1/environments/production', {
    resourceSelector: "resource.metadata.env == 'production'",
  });
  await admin.put('/v1/deployments/api', {
    environments: ['staging', 'production'],
    jobAgent: { type: 'webhook', url: agent.url },
  });
  await admin.put('/v1/deployments/slow', {
    environments: ['staging'],
    jobAgent: { type: 'webhook', url: silent.url },
  });
});

afterAll(async () => {
  await server?.close();
  await agent.stop();
  await silent.stop();
});

describe('gantry version create --wait', () => {
  it('exits 0 on a healthy rollout, printing one line per change', async () => {
    agent.behaviour = () => 'successful';
    const run = await gantry(
      ['version', 'create', '--deployment', 'api', '--tag', 'v1.0.0', '--metadata', 'commit=abc', '--wait'],
      keyEnv('ci-api'),
    );
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).not.toContain('\x1b');
    const lines = run.stdout.trim().split('\n');
    expect(lines[0]).toBe('following api v1.0.0 on 3 release target(s) (timeout 30m00s)');
    expect(lines.at(-1)).toMatch(/^api v1\.0\.0 rolled out in \d+s: 3 successful$/);
    // Each line is a change: no target repeats its previous state.
    const states = lines.slice(1, -1).map((l) => l.replace(/^\[\s*\w+\]\s+/, ''));
    for (const resource of ['stg-1', 'prod-1', 'prod-2']) {
      const mine = states.filter((s) => s.split(/\s+/)[1] === resource);
      expect(mine.filter((s) => /\bsuccessful\b/.test(s))).toHaveLength(1);
      expect(new Set(mine).size).toBe(mine.length);
    }
  });

  it('exits 1 when a job fails', async () => {
    agent.behaviour = (job) => (job.resource.id === 'prod-2' ? 'failed' : 'successful');
    const run = await gantry(['version', 'create', '--deployment', 'api', '--tag', 'v1.0.1', '--wait']);
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/production\s+prod-2\s+failed/);
    expect(run.stderr).toMatch(/api v1\.0\.1 did not roll out \(\d+s\): .*1 failed/);
  });

  it('exits 1 when a failed target is rolled back', async () => {
    await admin.put('/v1/policies/api-rollback', {
      targets: "deployment.id == 'api'",
      rules: { rollback: { onJobFailure: true } },
    });
    agent.behaviour = (job) =>
      job.resource.id === 'prod-2' && job.kind === 'deploy' ? 'failed' : 'successful';
    const run = await gantry(['version', 'create', '--deployment', 'api', '--tag', 'v1.0.2', '--wait']);
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/production\s+prod-2\s+rolled_back\s+job=\w+\s+rolled back to v1\.0\.0/);
    expect(run.stderr).toMatch(/did not roll out .*1 rolled_back/);
    await admin.delete('/v1/policies/api-rollback');
  });

  it('exits 3 on --timeout when the agent never answers; a job report with the bearer token finishes it', async () => {
    const run = await gantry([
      'version',
      'create',
      '--deployment',
      'slow',
      '--tag',
      'v1',
      '--wait',
      '--timeout',
      '2s',
    ]);
    expect(run.code).toBe(3);
    expect(run.stdout).toMatch(/staging\s+stg-1\s+deploying\s+job=/);
    expect(run.stderr).toContain('timed out after 2s: slow v1: 1 deploying');

    const job = silent.jobs.find((j) => j.deployment.id === 'slow');
    expect(job).toBeDefined();
    const report = await gantry(
      ['job', 'report', job?.jobId ?? '', '--status', 'successful', '--link', 'logs=https://ci.example/1'],
      { GANTRY_KEY_ID: undefined, GANTRY_KEY_SECRET: undefined, GANTRY_JOB_TOKEN: job?.callback.token },
    );
    expect(report.stderr).toBe('');
    expect(report.code).toBe(0);
    await eventually(
      () => admin.get<{ releases: { status: string }[] }>('/v1/deployments/slow/versions/v1'),
      (r) => r.body.releases[0]?.status === 'successful',
    );
  });
});

describe('errors and exit codes', () => {
  // Independent runs go in parallel to keep the file short.
  it('exits 2 on usage errors', async () => {
    const [missing, badTimeout, noUrl] = await Promise.all([
      gantry(['version', 'create', '--deployment', 'api']),
      gantry(['version', 'create', '--deployment', 'api', '--tag', 'x', '--timeout', 'soon']),
      gantry(['status'], { GANTRY_URL: undefined }),
    ]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("required option '--tag <tag>' not specified");
    expect(badTimeout.code).toBe(2);
    expect(badTimeout.stderr).toContain("option '--timeout <duration>' argument 'soon' is invalid");
    expect(noUrl.code).toBe(2);
    expect(noUrl.stderr).toContain('set GANTRY_URL');
  });

  it('says when the key is refused or the URL unreachable, and exits 1', async () => {
    const port = await freePort();
    const [refused, forbidden, down] = await Promise.all([
      gantry(['status'], { GANTRY_KEY_SECRET: 'wrong-secret-0123456789abcdef' }),
      gantry(['pause', '--deployment', 'api'], keyEnv('reader')),
      gantry(['status'], { GANTRY_URL: `http://127.0.0.1:${port}` }),
    ]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^gantry: Gantry refused the key "admin" \(401 unauthenticated\)/);
    expect(forbidden.code).toBe(1);
    expect(forbidden.stderr).toContain(
      'the key "reader" lacks the scope for POST /v1/deployments/api/pause (403',
    );
    expect(down.code).toBe(1);
    expect(down.stderr).toBe(`gantry: cannot reach Gantry at http://127.0.0.1:${port}: ECONNREFUSED\n`);
  });

  it('prints the contract error message and detail paths of a 4xx', async () => {
    const [missing, invalid] = await Promise.all([
      gantry(['version', 'create', '--deployment', 'nope', '--tag', 'v1']),
      gantry(['version', 'create', '--deployment', 'api', '--tag', 'no spaces']),
    ]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^gantry: 404 not_found: /);
    expect(invalid.code).toBe(1);
    expect(invalid.stderr).toMatch(/^gantry: 400 invalid_request: .*\n {2}- tag: must match/);
  });
});

describe('reads', () => {
  it('--output json parses', async () => {
    const [status, plan, events, table] = await Promise.all([
      gantry(['status', '--deployment', 'api', '--output', 'json']),
      gantry(['plan', '--deployment', 'api', '--tag', 'v1.0.1', '-o', 'json']),
      gantry(['events', '--deployment', 'slow', '-o', 'json']),
      gantry(['status', '--deployment', 'api']),
    ]);
    expect(status.code).toBe(0);
    const targets = JSON.parse(status.stdout) as { items: { resource: string }[] };
    expect(targets.items.map((t) => t.resource).sort()).toEqual(['prod-1', 'prod-2', 'stg-1']);
    expect((JSON.parse(plan.stdout) as { targets: unknown[] }).targets).toHaveLength(3);
    const items = (JSON.parse(events.stdout) as { items: { detailType: string }[] }).items;
    expect(items.map((e) => e.detailType)).toContain('Job Updated');
    expect(table.stdout.split('\n')[0]).toMatch(/^DEPLOYMENT\s+ENVIRONMENT\s+RESOURCE\s+CURRENT/);
  });
});

describe('gantry apply', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gantry-cli-'));
  const file = join(dir, 'gantry.yaml');
  const config = (timeout: number, url = agent.url) => `
resources:
  qa-1: {kind: k8s, name: qa-1, metadata: {env: qa}}
environments:
  qa:
    name: QA
    resourceSelector: resource.metadata.env == 'qa'
deployments:
  web:
    environments: [qa]
    jobAgent: {type: webhook, url: "${url}"}
    jobTimeoutSeconds: ${timeout}
policies:
  web-approval:
    targets: deployment.id == 'web'
    rules:
      approval: {minApprovals: 1}
`;

  it('--dry-run prints the diff and writes nothing; apply writes; a second apply changes nothing', async () => {
    writeFileSync(file, config(600));
    const dry = await gantry(['apply', '-f', file, '--dry-run']);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toBe(
      [
        '+ resource qa-1',
        '+ environment qa',
        '+ deployment web',
        '+ policy web-approval',
        '4 to create, 0 to change, 0 unchanged (dry run: nothing written)',
        '',
      ].join('\n'),
    );
    expect((await admin.get('/v1/environments/qa')).status).toBe(404);
    expect((await admin.get('/v1/deployments/web')).status).toBe(404);

    const applied = await gantry(['apply', '-f', file]);
    expect(applied.code).toBe(0);
    expect(applied.stdout).toContain('applied 4 change(s)');
    expect((await admin.get('/v1/deployments/web')).body.jobTimeoutSeconds).toBe(600);

    const again = await gantry(['apply', '-f', file]);
    expect(again.code).toBe(0);
    expect(again.stdout).toBe(
      [
        '= resource qa-1',
        '= environment qa',
        '= deployment web',
        '= policy web-approval',
        '0 to create, 0 to change, 4 unchanged',
        '',
      ].join('\n'),
    );

    writeFileSync(file, config(900));
    const changed = await gantry(['apply', '-f', file, '--dry-run', '-o', 'json']);
    const out = JSON.parse(changed.stdout) as { changes: { id: string; action: string; fields: string[] }[] };
    expect(out.changes.find((c) => c.id === 'web')).toMatchObject({
      action: 'change',
      fields: ['jobTimeoutSeconds'],
    });
    expect((await admin.get('/v1/deployments/web')).body.jobTimeoutSeconds).toBe(600);
  });

  it('validates the file locally and names the paths of errors', async () => {
    writeFileSync(file, config(600, 'not a url'));
    const run = await gantry(['apply', '-f', file, '--dry-run']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('deployments.web.jobAgent.url');
  });
});

describe('the live view on a terminal', () => {
  it('redraws the table in place', () => {
    let screen = '';
    const view = new LiveView({ isTTY: true, columns: 120, write: (text: string) => (screen += text) });
    const row = (status: string): TargetRow => ({
      environment: 'staging',
      resource: 'stg-1',
      status,
      detail: '',
      jobId: '',
      verification: '',
    });
    view.update([row('pending')], 'api v1: 1 pending');
    expect(screen).not.toContain('\x1b[1A');
    view.update([row('deploying')], 'api v1: 1 deploying');
    // Three lines drawn (header, row, footer): up two, back to column 0, clear to the end.
    expect(screen).toContain('\x1b[2A\r\x1b[0J');
    expect(screen.split('\x1b[0J').at(-1)).toMatch(
      /^ENVIRONMENT.*\nstaging\s+stg-1\s+deploying\napi v1: 1 deploying \(\d+s\)$/,
    );
  });
});

describe('gantry init', () => {
  it('writes a starter gantry.yaml from the inventory that gantry apply accepts unchanged', async () => {
    // The inventory already has staging and production resources (beforeAll).
    const file = join(mkdtempSync(join(tmpdir(), 'gantry-init-')), 'gantry.yaml');
    const written = await gantry(['init', '-f', file, '--deployment', 'starter']);
    expect(written.code, written.stderr).toBe(0);
    const text = (await import('node:fs')).readFileSync(file, 'utf8');
    expect(text).toMatch(/^# Gantry delivery configuration/);
    expect(text).toContain("resource.metadata.env == 'staging'");

    const again = await gantry(['init', '-f', file]);
    expect(again.code).toBe(2);

    const applied = await gantry(['apply', '-f', file]);
    expect(applied.code, applied.stderr + applied.stdout).toBe(0);
    const policy = await admin.get<{
      rules: { approval?: unknown; environmentProgression?: { dependsOnEnvironments: string[] } };
    }>('/v1/policies/production-approval');
    expect(policy.status).toBe(200);
    expect(policy.body.rules.environmentProgression?.dependsOnEnvironments).toEqual(['staging']);
    expect((await admin.get('/v1/deployments/starter')).status).toBe(200);
  });
});
