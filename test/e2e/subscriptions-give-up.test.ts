import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalServer } from '../../infra/local/server';
import { type Client, eventually } from '../helpers/client';
import { startTestServer } from '../helpers/local';
import { type Loopback, serveLoopback } from '../helpers/loopback';

/**
 * docs/api.md section 10: a delivery is retried with backoff for a day after its event, then given up
 * (`failed`), and the next one of its lane goes on. An hour passes in a second here, so the day does
 * in 24 s.
 */

interface Delivery {
  eventId: string;
  status: string;
  attempts: number;
  lastStatus: number | null;
}

let server: LocalServer;
let admin: Client;
let subscriber: Loopback;
/** Each request: the resource the event is about, what it was answered, and when. */
const received: { resource: string; status: number; at: number }[] = [];

beforeAll(async () => {
  subscriber = await serveLoopback((_req, res, raw) => {
    const resource = String((JSON.parse(raw) as { data?: { id?: string } }).data?.id);
    const status = resource === 'doomed' ? 500 : 200;
    received.push({ resource, status, at: Date.now() });
    res.writeHead(status).end();
  });
  ({ server, admin } = await startTestServer({ timeScale: 3600 }));
});

afterAll(async () => {
  await subscriber?.close();
  await server?.close();
});

describe('a delivery that never goes through', () => {
  it('is given up a day after its event, and the next of its lane is delivered then', async () => {
    const put = await admin.put('/v1/subscriptions/resources', {
      url: `${subscriber.origin}/hook`,
      detailTypes: ['Configuration Changed'],
      selector: "event.data.kind == 'resource'",
    });
    expect(put.status).toBe(201);
    await new Promise((r) => setTimeout(r, 100));

    // Two events in one lane (they name no deployment): the first is never answered 2xx.
    await admin.put('/v1/resources/doomed', { kind: 'vm', name: 'doomed', metadata: {} });
    await admin.put('/v1/resources/next', { kind: 'vm', name: 'next', metadata: {} });
    const started = Date.now();

    await eventually(
      async () => received.filter((r) => r.resource === 'next').length,
      (n) => n === 1,
      {
        timeoutMs: 50_000,
        intervalMs: 200,
      },
    );
    const waited = Date.now() - started;

    const doomed = received.filter((r) => r.resource === 'doomed');
    // Every attempt at the first came before the second was sent: the lane held it back.
    const next = received.find((r) => r.resource === 'next') as { at: number };
    expect(doomed.every((r) => r.at <= next.at)).toBe(true);
    // About a day of the scaled clock (24 s), with the backoff's growing waits.
    expect(waited).toBeGreaterThan(20_000);
    expect(doomed.length).toBeGreaterThan(10);

    const view = await admin.get<{ failing: boolean; deliveries: Delivery[] }>('/v1/subscriptions/resources');
    const [second, first] = view.body.deliveries;
    expect(first).toMatchObject({ status: 'failed', attempts: doomed.length, lastStatus: 500 });
    expect(second).toMatchObject({ status: 'delivered', attempts: 1, lastStatus: 200 });
    // Given up and failing; the delivery that went through afterwards ended the spell.
    expect(view.body.failing).toBe(false);
    const events = (
      await admin.getAll<{ items: { detailType: string; data?: { givenUp?: unknown } }[] }>(
        '/v1/events?limit=1000',
      )
    ).body.items;
    expect(events.filter((e) => e.detailType === 'Subscription Failing')).toHaveLength(1);
  }, 60_000);
});
