import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalServer } from '../../infra/local/server';
import type { AuditRecord } from '../../shared/adapters/events';
import { runtime } from '../../shared/adapters/runtime';
import { getConfig, type Stored } from '../../shared/adapters/store/config';
import type { DeploymentBody } from '../../shared/core/schemas/config';
import { postPlanCheck } from '../../shared/services/github-plan';
import { FakeAgent } from '../helpers/agent';
import { type Client, eventually } from '../helpers/client';
import { FakeGitHub } from '../helpers/github';
import { startTestServer } from '../helpers/local';

/**
 * The plan on the pull request: a version whose metadata names a commit, of a deployment that mirrors
 * to GitHub, gets its plan as a check run on that commit, through the local server and a loopback GitHub.
 */
let server: LocalServer;
let admin: Client;
const github = new FakeGitHub();
const agent = new FakeAgent();
const SHA = 'a'.repeat(40);
const OTHER_SHA = 'b'.repeat(40);

beforeAll(async () => {
  await github.start();
  await agent.start();
  ({ server, admin } = await startTestServer({ secrets: JSON.stringify({ 'gh-app': 'ghs_app_token' }) }));
  for (const [id, env] of [
    ['s-1', 'staging'],
    ['p-1', 'production'],
    ['p-2', 'production'],
  ]) {
    await admin.put(`/v1/resources/${id}`, { kind: 'vm', name: id, metadata: { env } });
  }
  await admin.put('/v1/environments/staging', { resourceSelector: "resource.metadata.env == 'staging'" });
  await admin.put('/v1/environments/production', {
    resourceSelector: "resource.metadata.env == 'production'",
  });
  const githubOf = (repo: string) => ({
    owner: 'acme',
    repo,
    tokenSecretRef: 'gh-app',
    apiUrl: github.apiUrl,
  });
  for (const id of ['web', 'locked', 'lossy'])
    await admin.put(`/v1/deployments/${id}`, {
      jobAgent: { type: 'webhook', url: agent.url },
      github: githubOf(id),
    });
  await admin.put('/v1/deployments/plain', { jobAgent: { type: 'webhook', url: agent.url } });
  await admin.put('/v1/policies/prod-gates', {
    targets: "deployment.id == 'web' && environment.id == 'production'",
    rules: {
      environmentProgression: { dependsOnEnvironments: ['staging'], minSoakSeconds: 600 },
      approval: { minApprovals: 2 },
      deploymentWindow: { rrule: 'FREQ=DAILY;BYHOUR=9;BYMINUTE=0', durationMinutes: 60, timezone: 'UTC' },
      gradualRollout: { intervalSeconds: 300 },
      concurrency: { maxParallel: 1 },
    },
  });
});

afterAll(async () => {
  await server?.close();
  await agent.stop();
  await github.stop();
});

// The bus only: the engine has executions parked on approvals for good.
const settle = () => server.bus.flush();
const creates = (deployment: string) =>
  github.checkRunCalls().filter((c) => c.method === 'POST' && c.body.name === `Gantry plan: ${deployment}`);
const runOf = (tag: string, deployment = 'web') =>
  [...github.checkRuns.values()].find((r) => r.external_id === `gantry:${deployment}:${tag}`);
const eventsOf = async (deployment: string) =>
  (await admin.getAll<{ items: AuditRecord[] }>(`/v1/events?deployment=${deployment}`)).body.items;

describe('the plan as a check run on the commit', () => {
  it('is in progress while the version is building, with targets, gates in order and ETAs', async () => {
    const created = await admin.post('/v1/deployments/web/versions', {
      tag: 'v1',
      status: 'building',
      metadata: { commit: SHA },
    });
    expect(created.status).toBe(201);

    const run = await eventually(
      async () => runOf('v1'),
      (r) => r !== undefined,
    );
    expect(run).toMatchObject({ name: 'Gantry plan: web', head_sha: SHA, status: 'in_progress' });
    expect(run?.conclusion).toBeUndefined();
    expect(run?.output.title).toMatch(/^3 release targets, first start \d{4}-\d\d-\d\d \d\d:\d\d UTC, last /);
    const summary = run?.output.summary ?? '';
    expect(summary).toContain('3 release targets in 2 environments');
    const production = summary.split('\n').find((line) => line.startsWith('| `production` | 2 |')) ?? '';
    // The gates of production in the order they apply, each with its policy and setting.
    expect(production.indexOf('environment progression (after `staging`; soak 10 min')).toBeGreaterThan(0);
    expect(production.indexOf('approval (2 approvals')).toBeGreaterThan(production.indexOf('progression'));
    expect(production.indexOf('deployment window (next opening ')).toBeGreaterThan(
      production.indexOf('approval'),
    );
    expect(production.indexOf('gradual rollout (every 5 min; last offset +5 min')).toBeGreaterThan(
      production.indexOf('deployment window'),
    );
    expect(production.indexOf('concurrency (at most 1 at once')).toBeGreaterThan(
      production.indexOf('gradual'),
    );
    expect(production).toContain('policy `prod-gates`');
    // Production starts in the window, after staging's soak; its second target 5 min after the first.
    const [first, last] = [...production.matchAll(/(\d{4}-\d\d-\d\d \d\d:\d\d) UTC/g)]
      .slice(-2)
      .map((m) => Date.parse(`${m[1]?.replace(' ', 'T')}:00Z`));
    expect((last ?? 0) - (first ?? 0)).toBe(5 * 60_000);
    expect(first).toBeGreaterThanOrEqual(Date.now() + 9 * 60_000);
    expect(summary).toMatch(/\| `staging` \| 1 \| none \| \d{4}-\d\d-\d\d \d\d:\d\d UTC \|/);
    expect(github.checkRunCalls().every((c) => c.authorization === 'Bearer ghs_app_token')).toBe(true);
  });

  it('is completed when the version becomes ready, the same check run updated', async () => {
    const id = runOf('v1')?.id;
    expect((await admin.patch('/v1/deployments/web/versions/v1', { status: 'ready' })).status).toBe(200);
    const run = await eventually(
      async () => runOf('v1'),
      (r) => r?.status === 'completed',
    );
    expect(run).toMatchObject({ id, status: 'completed', conclusion: 'success' });
    expect(run?.output.summary).toContain('(ready): 3 release targets');
    expect(
      github
        .checkRunCalls()
        .filter((c) => c.method === 'PATCH')
        .map((c) => c.path),
    ).toEqual([`/api/v3/repos/acme/web/check-runs/${id}`]);
    expect(creates('web')).toHaveLength(1);
  });

  it('is never created twice: duplicate deliveries, and both events of a ready version at once', async () => {
    await settle();
    const before = github.checkRunCalls().length;
    const versionEvents = (await eventsOf('web')).filter(
      (e) => e.version === 'v1' && (e.detailType === 'Version Created' || e.detailType === 'Version Ready'),
    );
    expect(versionEvents).toHaveLength(2);
    const entries = [...versionEvents, ...versionEvents].map((e) => ({
      Source: 'gantry',
      DetailType: e.detailType,
      Detail: JSON.stringify(e),
    }));
    expect(server.bus.handleJsonProtocol('AWSEvents.PutEvents', { Entries: entries }).status).toBe(200);
    await settle();
    expect(github.checkRunCalls()).toHaveLength(before);

    // Created as ready: Version Created and Version Ready arrive together.
    await admin.post('/v1/deployments/web/versions', { tag: 'v2', metadata: { sha: OTHER_SHA } });
    await eventually(
      async () => runOf('v2')?.status,
      (s) => s === 'completed',
    );
    await settle();
    expect(creates('web').filter((c) => c.body.head_sha === OTHER_SHA)).toHaveLength(1);
  });

  it('is not posted for a version that names no commit, nor for a deployment without github', async () => {
    await settle();
    const before = github.checkRunCalls().length;
    await admin.post('/v1/deployments/web/versions', {
      tag: 'v3',
      status: 'building',
      metadata: { team: 'x' },
    });
    await admin.post('/v1/deployments/plain/versions', { tag: 'v1', metadata: { commit: SHA } });
    await eventually(
      async () =>
        (await admin.get<{ summary: Record<string, number> }>('/v1/deployments/plain/versions/v1')).body,
      (v) => v.summary.successful === 3,
    );
    await settle();
    expect(github.checkRunCalls()).toHaveLength(before);
    expect(github.calls.filter((c) => c.path.includes('/plain/'))).toEqual([]);
  });

  it('failing with GitHub 403 is an event, and the rollout goes on', async () => {
    github.answer = (call) =>
      call.method === 'POST' && call.path === '/api/v3/repos/acme/locked/check-runs'
        ? { status: 403 }
        : undefined;
    await admin.post('/v1/deployments/locked/versions', { tag: 'v1', metadata: { commit: SHA } });
    await eventually(
      async () =>
        (await admin.get<{ summary: Record<string, number> }>('/v1/deployments/locked/versions/v1')).body,
      (v) => v.summary.successful === 3,
    );
    await settle();
    const failed = (await eventsOf('locked')).filter((e) => e.detailType === 'GitHub Check Failed');
    // Refused on each try (its two events may be handled in one pass); nothing was created.
    expect(failed.length).toBeGreaterThanOrEqual(1);
    for (const e of failed) expect(e.data).toEqual({ message: 'GitHub answered HTTP 403', status: 403 });
    expect(runOf('v1', 'locked')).toBeUndefined();
    // The GitHub Deployments of that version are mirrored all the same (by the consumer of the last
    // Release Succeeded, which may still be on its way when the summary shows the release successful).
    const mirrored = await eventually(
      async () =>
        github.calls.filter(
          (c) => c.path.startsWith('/api/v3/repos/acme/locked/deployments/') && c.body.state === 'success',
        ),
      (calls) => calls.length >= 2,
    );
    expect(mirrored).toHaveLength(2);
    github.answer = undefined;
  });

  it('a creation whose answer was lost is found again by its external id, not created twice', async () => {
    // GitHub creates the check run, but Gantry gets a 502.
    let lost = 0;
    github.answer = (call) =>
      call.method === 'POST' && call.path === '/api/v3/repos/acme/lossy/check-runs' && lost++ === 0
        ? { status: 502, keep: true }
        : undefined;
    await admin.post('/v1/deployments/lossy/versions', {
      tag: 'v1',
      status: 'building',
      metadata: { commit: SHA },
    });
    await eventually(
      async () => (await eventsOf('lossy')).filter((e) => e.detailType === 'GitHub Check Failed'),
      (failed) => failed.length === 1,
    );
    expect(runOf('v1', 'lossy')?.status).toBe('in_progress');
    // Within the minute the claim lives, the Version Ready event creates nothing (it is tried again).
    await admin.patch('/v1/deployments/lossy/versions/v1', { status: 'ready' });
    await settle();
    expect(creates('lossy')).toHaveLength(1);

    // A minute later (the event delivered again): the check run is looked up and updated.
    const rt = runtime();
    const deployment = (await getConfig<DeploymentBody>(rt, 'deployment', 'lossy')) as Stored<DeploymentBody>;
    await postPlanCheck(rt, deployment, 'v1', Date.now() + 61_000);
    expect(creates('lossy')).toHaveLength(1);
    expect(
      github.checkRunCalls().filter((c) => c.method === 'GET' && c.path.includes('/acme/lossy/')),
    ).toHaveLength(1);
    expect(runOf('v1', 'lossy')).toMatchObject({ status: 'completed', conclusion: 'success' });
    github.answer = undefined;
  });
});
