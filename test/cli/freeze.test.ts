import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalServer } from '../../infra/local/server';
import { FakeAgent } from '../helpers/agent';
import { type Client, eventually } from '../helpers/client';
import { ADMIN, startTestServer } from '../helpers/local';
import { type Run, runNode } from './run';

/** `gantry freeze`, `gantry freezes` and `gantry unfreeze` (docs/cli.md) against the local server. */

const ROOT = join(import.meta.dirname, '../..');
const BIN = join(ROOT, 'cli/bin.ts');

let server: LocalServer;
let admin: Client;
const agent = new FakeAgent();

function gantry(args: string[]): Promise<Run> {
  const env = { GANTRY_URL: server.url, GANTRY_KEY_ID: ADMIN.id, GANTRY_KEY_SECRET: ADMIN.secret };
  return runNode(['--import', 'tsx', BIN, ...args], env, ROOT);
}

beforeAll(async () => {
  await agent.start();
  ({ server, admin } = await startTestServer());
  await admin.put('/v1/resources/web-1', { kind: 'vm', name: 'web-1', metadata: {} });
  await admin.put('/v1/environments/production', { resourceSelector: 'true' });
  await admin.put('/v1/deployments/web', { jobAgent: { type: 'webhook', url: agent.url } });
});
afterAll(async () => {
  await server?.close();
  await agent.stop();
});

const release = async (tag: string) =>
  (
    await admin.get<{ releases: { status: string; waitingFor: string | null }[] }>(
      `/v1/deployments/web/versions/${tag}`,
    )
  ).body.releases?.[0];

describe('gantry freeze', () => {
  it('freezes for a while, lists, and unfreezes; the held release then ships', async () => {
    const frozen = await gantry([
      'freeze',
      'cli-freeze',
      '--reason',
      'game day',
      '--selector',
      "deployment.id == 'web'",
      '--for',
      '2h',
    ]);
    expect(frozen.stderr).toBe('');
    expect(frozen.code).toBe(0);
    expect(frozen.stdout).toMatch(
      /^freeze cli-freeze: active until \d{4}-\d\d-\d\dT.*Z; holds deployment\.id == 'web'\n$/,
    );
    const stored = await admin.get<{ until: string }>('/v1/freezes/cli-freeze');
    const hours = (Date.parse(stored.body.until) - Date.now()) / 3_600_000;
    expect(hours).toBeGreaterThan(1.9);
    expect(hours).toBeLessThanOrEqual(2);

    await admin.post('/v1/deployments/web/versions', { tag: 'v1' });
    await eventually(
      () => release('v1'),
      (r) => r?.waitingFor === 'freeze',
    );

    const list = await gantry(['freezes']);
    expect(list.code).toBe(0);
    expect(list.stdout).toContain('cli-freeze');
    expect(list.stdout).toContain('game day');
    const json = await gantry(['freeze', '--list', '--output', 'json']);
    expect((JSON.parse(json.stdout) as { items: { id: string }[] }).items.map((f) => f.id)).toEqual([
      'cli-freeze',
    ]);

    const ended = await gantry(['unfreeze', 'cli-freeze']);
    expect(ended.code).toBe(0);
    expect(ended.stdout).toBe('freeze cli-freeze ended: the releases it held go on\n');
    await eventually(
      () => release('v1'),
      (r) => r?.status === 'successful',
    );
  });

  it('refuses what it cannot send: no reason, two ends, an unknown freeze', async () => {
    const noReason = await gantry(['freeze', 'x']);
    expect(noReason.code).toBe(2);
    expect(noReason.stderr).toContain('--reason is required');
    const both = await gantry([
      'freeze',
      'x',
      '--reason',
      'r',
      '--for',
      '1h',
      '--until',
      '2099-01-01T00:00:00Z',
    ]);
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('give one of --until, --for and --ics');
    const unknown = await gantry(['unfreeze', 'no-such-freeze']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('was not found');
    const badCel = await gantry(['freeze', 'x', '--reason', 'r', '--selector', 'deployment.id ==']);
    expect(badCel.code).toBe(1);
    expect(badCel.stderr).toContain('selector');
  });
});
