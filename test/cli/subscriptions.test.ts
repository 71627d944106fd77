import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalServer } from '../../infra/local/server';
import type { Client } from '../helpers/client';
import { ADMIN, startTestServer } from '../helpers/local';
import { type Run, runNode } from './run';

/** `gantry subscribe`, `gantry subscriptions` and `gantry unsubscribe` (docs/cli.md) against the local server. */

const ROOT = join(import.meta.dirname, '../..');
const BIN = join(ROOT, 'cli/bin.ts');

let server: LocalServer;
let admin: Client;

function gantry(args: string[]): Promise<Run> {
  const env = { GANTRY_URL: server.url, GANTRY_KEY_ID: ADMIN.id, GANTRY_KEY_SECRET: ADMIN.secret };
  return runNode(['--import', 'tsx', BIN, ...args], env, ROOT);
}

beforeAll(async () => {
  ({ server, admin } = await startTestServer());
});
afterAll(async () => {
  await server?.close();
});

describe('gantry subscribe', () => {
  it('subscribes with filters, lists and shows it, and unsubscribes', async () => {
    const subscribed = await gantry([
      'subscribe',
      'teams',
      '--to',
      'http://127.0.0.1:9/hook',
      '--detail-type',
      'Release Failed',
      'Approval Requested',
      '--selector',
      "event.environment == 'production'",
    ]);
    expect(subscribed.stderr).toBe('');
    expect(subscribed.code).toBe(0);
    expect(subscribed.stdout).toBe(
      "subscription teams: Release Failed, Approval Requested where event.environment == 'production' -> http://127.0.0.1:9/hook\n",
    );
    const stored = await admin.get<{ detailTypes: string[]; selector: string }>('/v1/subscriptions/teams');
    expect(stored.status).toBe(200);
    expect(stored.body).toMatchObject({
      detailTypes: ['Release Failed', 'Approval Requested'],
      selector: "event.environment == 'production'",
    });

    const listed = await gantry(['subscriptions']);
    expect(listed.code).toBe(0);
    expect(listed.stdout).toMatch(/^SUBSCRIPTION\s+HEALTH\s+EVENTS\s+URL\n/);
    expect(listed.stdout).toMatch(
      /\nteams\s+ok\s+Release Failed, Approval Requested where .* http:\/\/127\.0\.0\.1:9\/hook\n/,
    );

    const shown = await gantry(['subscriptions', 'teams', '--output', 'json']);
    expect(shown.code).toBe(0);
    expect(JSON.parse(shown.stdout)).toMatchObject({ id: 'teams', failing: false, deliveries: [] });

    const removed = await gantry(['unsubscribe', 'teams']);
    expect(removed.code).toBe(0);
    expect(removed.stdout).toBe('subscription teams deleted: nothing more is delivered\n');
    expect((await admin.get('/v1/subscriptions/teams')).status).toBe(404);
  });

  it("refuses an unknown event type with the server's 400 and stores nothing", async () => {
    const refused = await gantry([
      'subscribe',
      'typo',
      '--to',
      'http://127.0.0.1:9/hook',
      '--detail-type',
      'Release Faild',
    ]);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(
      /400 invalid_request: detailTypes\.0: Invalid option: expected one of .*"Release Failed"/,
    );
    expect((await admin.get('/v1/subscriptions/typo')).status).toBe(404);
  });

  it('asks for --to', async () => {
    const refused = await gantry(['subscribe', 'nourl']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/--to is required/);
  });
});
