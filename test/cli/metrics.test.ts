import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { humanSeconds, parseSince } from '../../cli/commands/metrics';
import type { LocalServer } from '../../infra/local/server';
import { FakeAgent } from '../helpers/agent';
import { type Client, eventually } from '../helpers/client';
import { ADMIN, startTestServer } from '../helpers/local';
import { type Run, runNode } from './run';

/** `gantry metrics` as a person or CI runs it: a child process against the local server. */

const ROOT = join(import.meta.dirname, '../..');
const BIN = join(ROOT, 'cli/bin.ts');

let server: LocalServer;
let admin: Client;
const agent = new FakeAgent();

const gantry = (args: string[]): Promise<Run> =>
  runNode(
    ['--import', 'tsx', BIN, ...args],
    { GANTRY_URL: server.url, GANTRY_KEY_ID: ADMIN.id, GANTRY_KEY_SECRET: ADMIN.secret },
    ROOT,
  );

beforeAll(async () => {
  await agent.start();
  agent.behaviour = (job) => (job.version.tag === 'v2' ? 'failed' : 'successful');
  ({ server, admin } = await startTestServer());
  await admin.put('/v1/resources/prod-1', { kind: 'vm', name: 'prod-1', metadata: { env: 'production' } });
  await admin.put('/v1/environments/production', {
    resourceSelector: "resource.metadata.env == 'production'",
  });
  await admin.put('/v1/deployments/api', { jobAgent: { type: 'webhook', url: agent.url } });
  for (const [tag, committedAt] of [
    ['v1', new Date(Date.now() - 3 * 3600_000).toISOString()],
    ['v2', undefined],
  ] as const) {
    await admin.post('/v1/deployments/api/versions', { tag, metadata: committedAt ? { committedAt } : {} });
    await eventually(
      () => admin.get<{ releases: { status: string }[] }>(`/v1/deployments/api/versions/${tag}`),
      (r) => ['successful', 'failed'].includes(r.body.releases?.[0]?.status ?? ''),
    );
  }
  await server.bus.flush();
});

afterAll(async () => {
  await server?.close();
  await agent.stop();
});

describe('gantry metrics', () => {
  it('prints the four measures and the counts they come from', async () => {
    const run = await gantry([
      'metrics',
      '--deployment',
      'api',
      '--environment',
      'production',
      '--since',
      '7d',
    ]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const lines = run.stdout.trim().split('\n');
    expect(lines[0]).toMatch(
      /^delivery metrics of api in production, \d{4}-\d{2}-\d{2} to \d{4}-\d{2}-\d{2} \(7 days\)$/,
    );
    expect(lines[1]).toMatch(/^MEASURE\s+VALUE\s+FROM$/);
    expect(lines[2]).toMatch(/^deployments per day\s+0\.143\s+1 successful$/);
    expect(lines[3]).toMatch(/^lead time p50 \/ p90\s+3\.\dh \/ 3\.\dh\s+1 successful with a start$/);
    expect(lines[4]).toMatch(/^change failure rate\s+50\.0%\s+1 failed \+ 0 rolled back of 2 finished$/);
    expect(lines[5]).toMatch(/^time to restore p50\s+-\s+0 restores$/);
  });

  it('--output json is the answer of GET /v1/metrics/delivery', async () => {
    const run = await gantry(['metrics', '--deployment', 'api', '--output', 'json']);
    expect(run.code).toBe(0);
    const api = await admin.get('/v1/metrics/delivery?deployment=api');
    expect(JSON.parse(run.stdout)).toEqual(api.body);
  });

  it('refuses a range it cannot read: exit 2 for a value, 1 with the service message for a long range', async () => {
    const bad = await gantry(['metrics', '--since', 'last-week']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('expected 30d, a date such as 2026-11-01 or an ISO time');
    const long = await gantry(['metrics', '--since', '120d']);
    expect(long.code).toBe(1);
    expect(long.stderr).toContain('at most 92');
  });
});

describe('its parts', () => {
  it('reads --since as whole days ending today, a date or a time', () => {
    const now = Date.parse('2026-11-21T10:00:00Z');
    expect(parseSince('30d', now)).toBe('2026-10-23');
    expect(parseSince('1d', now)).toBe('2026-11-21');
    expect(parseSince('2026-11-01', now)).toBe('2026-11-01');
    expect(() => parseSince('30 days', now)).toThrow(/expected 30d/);
  });

  it('prints seconds as a person reads them', () => {
    expect([null, 42, 600, 7200, 3 * 86_400].map(humanSeconds)).toEqual(['-', '42s', '10m', '2.0h', '3.0d']);
  });
});
