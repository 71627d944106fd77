import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalServer } from '../../infra/local/server';
import type { Client } from '../helpers/client';
import { startTestServer } from '../helpers/local';

/**
 * Issue 16 item 4: EventBridge may fail single entries of an accepted PutEvents (FailedEntryCount).
 * The local bus can be told to, and Gantry sends them again instead of dropping them; an entry that
 * keeps failing fails the request (the client retries) rather than losing the event silently.
 */
let server: LocalServer;
let admin: Client;

beforeAll(async () => {
  ({ server, admin } = await startTestServer());
});
afterAll(async () => {
  await server?.close();
});

const changesOf = (id: string) =>
  readFileSync(join(server.dataDir, 'events.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as { 'detail-type': string; detail: { data?: { id?: string } } })
    .filter((e) => e['detail-type'] === 'Configuration Changed' && e.detail.data?.id === id);

describe('failed event entries', () => {
  it('are sent again: the event arrives once', async () => {
    server.bus.failNextEntries(2);
    const put = await admin.put('/v1/environments/retried', { resourceSelector: 'true' });
    expect(put.status).toBe(201);
    await server.bus.flush();
    expect(changesOf('retried')).toHaveLength(1);
  });

  it('that keep failing fail the request with the contract 500, never silently', async () => {
    server.bus.failNextEntries(1000);
    const put = await admin.put<{ error: { code: string } }>('/v1/environments/lost', {
      resourceSelector: 'true',
    });
    server.bus.failNextEntries(0);
    expect(put.status).toBe(500);
    expect(put.body.error.code).toBe('internal');
    expect(put.text).not.toMatch(/\n\s+at /);
    expect(changesOf('lost')).toHaveLength(0);
  }, 30_000);
});
