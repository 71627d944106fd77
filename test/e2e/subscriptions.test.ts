import { createHash, createHmac } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalServer } from '../../infra/local/server';
import { FakeAgent } from '../helpers/agent';
import { type Client, eventually } from '../helpers/client';
import { startTestServer } from '../helpers/local';
import { type Loopback, serveLoopback } from '../helpers/loopback';

/**
 * Issue 19, docs/api.md section 10 (docs/subscriptions.md): subscriptions through the local server,
 * with fake subscribers on loopback. Events arrive signed, once each, in order per release target;
 * filters apply; a subscriber that fails for a while gets every delivery after backoff, in order; one
 * that keeps failing is reported and never slows a rollout.
 */

const SECRET = 'subscriber-secret-0123456789';
const SCALE = 60;

interface AuditEvent {
  id: string;
  time: string;
  detailType: string;
  deployment?: string;
  version?: string;
  environment?: string;
  resource?: string;
  data?: Record<string, unknown>;
}

interface Received {
  deliveryId: string;
  event: AuditEvent;
  raw: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
  /** What the subscriber answered. */
  status: number | 'hang';
  at: number;
}

/** A subscriber on loopback: records every request and answers as `answer` says. */
class Subscriber {
  readonly received: Received[] = [];
  answer: (event: AuditEvent, attempt: number) => number | 'hang' = () => 200;
  private server?: Loopback;
  private readonly hanging: ServerResponse[] = [];
  url = '';

  async start(path = '/hook') {
    this.server = await serveLoopback((req, res, raw) => {
      const event = JSON.parse(raw) as AuditEvent;
      const deliveryId = String(req.headers['x-gantry-delivery']);
      const attempt = this.received.filter((r) => r.deliveryId === deliveryId).length + 1;
      const status = this.answer(event, attempt);
      this.received.push({
        deliveryId,
        event,
        raw,
        path: req.url ?? '',
        headers: req.headers,
        status,
        at: Date.now(),
      });
      if (status === 'hang') this.hanging.push(res);
      else res.writeHead(status).end('{}');
    });
    this.url = `${this.server.origin}${path}`;
    return this;
  }

  /** Deliveries it answered 2xx, in the order they arrived. */
  delivered(): Received[] {
    return this.received.filter((r) => typeof r.status === 'number' && r.status < 300);
  }

  async stop() {
    for (const res of this.hanging) res.destroy();
    await this.server?.close();
  }
}

/** The check a subscriber makes (docs/api.md sections 2 and 6), written here apart from the service's code. */
function signatureValid(r: Received, secret: string): boolean {
  const timestamp = String(r.headers['x-gantry-timestamp']);
  const bodyHash = createHash('sha256').update(r.raw).digest('hex');
  const toSign = ['v1', timestamp, 'POST', r.path, bodyHash].join('\n');
  const expected = `v1=${createHmac('sha256', secret).update(toSign).digest('hex')}`;
  const fresh = Math.abs(Date.now() / 1000 - Number(timestamp)) < 300;
  return fresh && r.headers['x-gantry-signature'] === expected;
}

const laneOf = (e: AuditEvent) =>
  e.deployment && e.environment && e.resource
    ? `${e.deployment}/${e.environment}/${e.resource}`
    : (e.deployment ?? '-');

/** The events of `received` grouped by lane, each lane's ids in arrival order. */
function idsByLane(received: Received[]): Map<string, string[]> {
  const lanes = new Map<string, string[]>();
  for (const r of received) lanes.set(laneOf(r.event), [...(lanes.get(laneOf(r.event)) ?? []), r.event.id]);
  return lanes;
}

let server: LocalServer;
let admin: Client;
let as: (id: string) => Client;
const agent = new FakeAgent();
const all = new Subscriber();
const picky = new Subscriber();
const flaky = new Subscriber();
const broken = new Subscriber();
const silent = new Subscriber();

/** Waits until a subscription created now is in force (its activeFrom: 5 s of the scaled clock). */
const untilActive = () => new Promise((r) => setTimeout(r, 5_000 / SCALE + 150));

async function rollout(deployment: string, tag: string): Promise<number> {
  const started = Date.now();
  expect((await admin.post(`/v1/deployments/${deployment}/versions`, { tag })).status).toBe(201);
  await eventually(
    () => admin.get<{ releases: { status: string }[] }>(`/v1/deployments/${deployment}/versions/${tag}`),
    (r) => r.body.releases.length > 0 && r.body.releases.every((x) => x.status === 'successful'),
    { timeoutMs: 20_000 },
  );
  return Date.now() - started;
}

/** A deployment's audit trail once its version's three releases have published their success. */
async function auditTrail(deployment: string, tag: string): Promise<AuditEvent[]> {
  const read = async () =>
    (await admin.getAll<{ items: AuditEvent[] }>(`/v1/events?deployment=${deployment}&limit=1000`)).body
      .items;
  const succeeded = (events: AuditEvent[]) =>
    events.filter((e) => e.detailType === 'Release Succeeded' && e.version === tag);
  return eventually(read, (events) => succeeded(events).length === 3);
}

beforeAll(async () => {
  await agent.start();
  for (const s of [all, picky, flaky, broken, silent]) await s.start();
  ({ server, admin, as } = await startTestServer({
    timeScale: SCALE,
    secrets: JSON.stringify({ hook: SECRET }),
  }));
  for (const [id, env] of [
    ['stg-1', 'staging'],
    ['prod-1', 'production'],
    ['prod-2', 'production'],
  ])
    await admin.put(`/v1/resources/${id}`, { kind: 'vm', name: id, metadata: { env } });
  for (const env of ['staging', 'production'])
    await admin.put(`/v1/environments/${env}`, { resourceSelector: `resource.metadata.env == '${env}'` });
  for (const id of ['web', 'quiet', 'noisy'])
    await admin.put(`/v1/deployments/${id}`, {
      environments: ['staging', 'production'],
      jobAgent: { type: 'webhook', url: agent.url },
    });
}, 30_000);

afterAll(async () => {
  // A hanging subscriber's connections end first, so the server's last deliveries end at once.
  for (const s of [all, picky, flaky, broken, silent]) await s.stop();
  await server?.close();
  await agent.stop();
});

describe('subscriptions', () => {
  it("delivers a rollout's events signed, once each, in order per release target", async () => {
    const put = await admin.put('/v1/subscriptions/all', { url: `${all.url}?team=ops`, secretRef: 'hook' });
    expect(put.status).toBe(201);
    expect(put.body).toMatchObject({ id: 'all', secretRef: 'hook', failing: false });
    await untilActive();

    await rollout('web', 'v1');
    const trail = (await auditTrail('web', 'v1')).filter((e) => e.time >= (put.body.activeFrom as string));
    await eventually(
      async () => all.delivered().filter((r) => r.event.deployment === 'web').length,
      (n) => n >= trail.length,
    );

    const got = all.delivered().filter((r) => r.event.deployment === 'web');
    // Every event once, with the delivery id of its subscription and event.
    expect(got.map((r) => r.event.id).sort()).toEqual(trail.map((e) => e.id).sort());
    expect(new Set(got.map((r) => r.deliveryId)).size).toBe(got.length);
    for (const r of got) {
      expect(r.deliveryId).toBe(`all:${r.event.id}`);
      expect(r.headers['x-gantry-event']).toBe(r.event.detailType);
      expect(signatureValid(r, SECRET), r.event.detailType).toBe(true);
      expect(signatureValid(r, 'another-secret')).toBe(false);
      expect(JSON.parse(r.raw)).toEqual(trail.find((e) => e.id === r.event.id));
    }
    // In order per release target: each lane as the audit trail has it (ids sort in publishing order).
    const lanes = idsByLane(got);
    const types = got
      .filter((r) => laneOf(r.event) === 'web/production/prod-1')
      .map((r) => r.event.detailType);
    expect(types).toEqual(['Release Started', 'Job Dispatched', 'Job Updated', 'Release Succeeded']);
    for (const [lane, ids] of lanes)
      expect(ids, lane).toEqual(trail.filter((e) => laneOf(e) === lane).map((e) => e.id));

    const view = await admin.get<{ deliveries: { status: string; attempts: number; lastStatus: number }[] }>(
      '/v1/subscriptions/all',
    );
    expect(view.body.deliveries.length).toBeGreaterThan(0);
    expect(
      view.body.deliveries.every((d) => d.status === 'delivered' && d.attempts === 1 && d.lastStatus === 200),
    ).toBe(true);
  });

  it('sends only the detail types and the events the selector names', async () => {
    const put = await admin.put('/v1/subscriptions/picky', {
      url: picky.url,
      detailTypes: ['Release Succeeded', 'Job Dispatched'],
      selector: "event.environment == 'production' && event.resource == 'prod-2'",
    });
    expect(put.status).toBe(201);
    await untilActive();

    await rollout('quiet', 'v1');
    await eventually(
      async () => picky.delivered().length,
      (n) => n >= 2,
    );
    await server.bus.flush();

    expect(picky.received.map((r) => [r.event.detailType, r.event.deployment, r.event.resource])).toEqual([
      ['Job Dispatched', 'quiet', 'prod-2'],
      ['Release Succeeded', 'quiet', 'prod-2'],
    ]);
    // An unsigned subscription: no signature headers.
    expect(picky.received[0]?.headers['x-gantry-signature']).toBeUndefined();
  });

  it('retries a subscriber that fails for a while with backoff, then delivers everything in order, none twice', async () => {
    let failUntil = Number.POSITIVE_INFINITY;
    flaky.answer = () => (Date.now() < failUntil ? 500 : 200);
    expect(
      (
        await admin.put('/v1/subscriptions/flaky', {
          url: flaky.url,
          detailTypes: ['Release Started', 'Job Dispatched', 'Job Updated', 'Release Succeeded'],
        })
      ).status,
    ).toBe(201);
    await untilActive();

    await rollout('noisy', 'v1');
    await eventually(
      async () => flaky.received.filter((r) => r.deliveryId === flaky.received[0]?.deliveryId).length,
      (n) => n >= 3,
    );
    failUntil = Date.now();

    const trail = (await auditTrail('noisy', 'v1')).filter((e) =>
      ['Release Started', 'Job Dispatched', 'Job Updated', 'Release Succeeded'].includes(e.detailType),
    );
    await eventually(
      async () => flaky.delivered().length,
      (n) => n >= trail.length,
      { timeoutMs: 20_000 },
    );
    await new Promise((r) => setTimeout(r, 1_500)); // nothing more comes

    const delivered = flaky.delivered();
    // None lost, none twice.
    expect(delivered.map((r) => r.event.id).sort()).toEqual(trail.map((e) => e.id).sort());
    expect(new Set(delivered.map((r) => r.deliveryId)).size).toBe(delivered.length);
    // In order per release target, the failed head holding back the rest of its lane.
    for (const [lane, ids] of idsByLane(delivered))
      expect(ids, lane).toEqual(trail.filter((e) => laneOf(e) === lane).map((e) => e.id));
    // With backoff: attempts of one delivery at least 0.8 x 30 s apart (scaled).
    const first = flaky.received.filter((r) => r.deliveryId === flaky.received[0]?.deliveryId);
    for (let i = 1; i < first.length; i++)
      expect((first[i] as Received).at - (first[i - 1] as Received).at).toBeGreaterThanOrEqual(
        (0.8 * 30_000) / SCALE - 20,
      );

    const view = await admin.get<{ failing: boolean; deliveries: { status: string; attempts: number }[] }>(
      '/v1/subscriptions/flaky',
    );
    expect(view.body.deliveries.every((d) => d.status === 'delivered')).toBe(true);
    expect(view.body.deliveries.some((d) => d.attempts >= 3)).toBe(true);
    // Three failures in a row made it failing; the first delivery through ended that.
    expect(view.body.failing).toBe(false);
  });

  it('reports a subscriber that keeps failing, and a rollout beside it takes no longer', async () => {
    const baseline = await rollout('web', 'v2');
    broken.answer = () => 503;
    silent.answer = () => 'hang';
    await admin.put('/v1/subscriptions/broken', { url: broken.url });
    await admin.put('/v1/subscriptions/silent', { url: silent.url });
    await untilActive();

    const beside = await rollout('web', 'v3');
    // Were a delivery on a rollout's path, a subscriber that never answers (10 s per attempt) would
    // add 10 s to each of the four events of every target (noise aside, the two take the same time).
    expect(beside).toBeLessThan(2 * baseline + 5_000);

    const view = await eventually(
      () =>
        admin.get<{
          failing: boolean;
          failingSince: string | null;
          consecutiveFailures: number;
          lastError: string;
        }>('/v1/subscriptions/broken'),
      (r) => r.body.failing,
    );
    expect(view.body).toMatchObject({ failing: true, lastError: 'answered HTTP 503' });
    expect(view.body.consecutiveFailures).toBeGreaterThanOrEqual(3);
    const reported = await eventually(
      async () =>
        (await admin.getAll<{ items: AuditEvent[] }>('/v1/events?limit=1000')).body.items.filter(
          (e) => e.detailType === 'Subscription Failing',
        ),
      (events) => events.length > 0,
    );
    const ofBroken = reported.filter((e) => e.data?.subscription === 'broken');
    expect(ofBroken).toHaveLength(1);
    expect(ofBroken[0]?.data?.failingSince).toBe(view.body.failingSince);
    // Reported once per spell, and never to a subscription (a failing subscriber would hear of itself).
    await new Promise((r) => setTimeout(r, 2_000));
    const again = (await admin.getAll<{ items: AuditEvent[] }>('/v1/events?limit=1000')).body.items;
    expect(
      again.filter((e) => e.detailType === 'Subscription Failing' && e.data?.subscription === 'broken'),
    ).toHaveLength(1);
    for (const s of [all, broken, flaky])
      expect(s.received.some((r) => r.event.detailType === 'Subscription Failing')).toBe(false);
    // Its deliveries wait with their next attempt in view.
    const detail = await admin.get<{
      deliveries: { status: string; nextAttemptAt: string | null; lastStatus: number }[];
    }>('/v1/subscriptions/broken');
    expect(
      detail.body.deliveries.some((d) => d.status === 'retrying' && d.nextAttemptAt && d.lastStatus === 503),
    ).toBe(true);
  });

  it('lists subscriptions, and a deleted one receives nothing more', async () => {
    const list = await admin.get<{ items: { id: string }[] }>('/v1/subscriptions');
    expect(list.body.items.map((s) => s.id)).toEqual(['all', 'broken', 'flaky', 'picky', 'silent']);
    expect((await admin.delete('/v1/subscriptions/picky')).status).toBe(204);
    expect((await admin.get('/v1/subscriptions/picky')).status).toBe(404);
    expect((await admin.delete('/v1/subscriptions/picky')).status).toBe(404);
    await untilActive();
    const before = picky.received.length;

    await rollout('quiet', 'v2');
    // What picky would have been sent went to the subscription of every event at the same time.
    const succeeded = (r: Received) =>
      r.event.detailType === 'Release Succeeded' && r.event.resource === 'prod-2';
    await eventually(
      async () => all.delivered().filter((r) => r.event.deployment === 'quiet' && succeeded(r)).length,
      (n) => n === 2,
    );
    await new Promise((r) => setTimeout(r, 500));
    expect(picky.received.length).toBe(before);
  });

  it('refuses a subscription it cannot serve with 400, and lets only admin keys write', async () => {
    const bad = async (body: unknown) => {
      const res = await admin.put<{ error: { code: string; details: { path: string }[] } }>(
        '/v1/subscriptions/bad',
        body,
      );
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.error.code).toBe('invalid_request');
      return res.body.error.details.map((d) => d.path);
    };
    expect(await bad({ url: 'ftp://example.com/x' })).toEqual(['url']);
    expect(await bad({ url: all.url, detailTypes: ['Release Exploded'] })).toEqual(['detailTypes.0']);
    expect(await bad({ url: all.url, detailTypes: ['Work Requested'] })).toEqual(['detailTypes.0']);
    expect(await bad({ url: all.url, detailTypes: ['Subscription Failing'] })).toEqual(['detailTypes.0']);
    expect(await bad({ url: all.url, detailTypes: [] })).toEqual(['detailTypes']);
    expect(await bad({ url: all.url, selector: 'event.deployment ==' })).toEqual(['selector']);
    expect(await bad({ url: all.url, secretRef: 'no spaces please' })).toEqual(['secretRef']);
    expect(await bad({ url: all.url, secret: 'inline' })).toEqual(['']);
    expect((await admin.put('/v1/subscriptions/Bad_Id', { url: all.url })).status).toBe(400);

    expect((await as('reader').put('/v1/subscriptions/r', { url: all.url })).status).toBe(403);
    expect((await as('reader').delete('/v1/subscriptions/all')).status).toBe(403);
    expect((await as('ci-api').get('/v1/subscriptions')).status).toBe(403);
    expect((await as('reader').get('/v1/subscriptions/all')).status).toBe(200);
    const unsigned = await fetch(`${server.url}/v1/subscriptions`);
    expect(unsigned.status).toBe(401);
    // The secret is named, never shown.
    expect(JSON.stringify((await admin.get('/v1/subscriptions/all')).body)).not.toContain(SECRET);
  });
});
