import { randomUUID } from 'node:crypto';
import { DETAIL_TYPES, publish, SYSTEM } from '../adapters/events';
import { log } from '../adapters/log';
import { type Outbound, OutboundError, outbound } from '../adapters/outbound';
import type { Runtime } from '../adapters/runtime';
import { SecretNotFound, secrets } from '../adapters/secrets';
import {
  acquireLane,
  clearFailures,
  closeLane,
  countFailure,
  createDelivery,
  dropLane,
  dueLanes,
  enqueue,
  getDelivery,
  getSubscription,
  type LaneRef,
  laneEntries,
  listAllSubscriptions,
  markFailing,
  parkLane,
  recordAttempt,
  removeEntry,
  type StoredSubscription,
} from '../adapters/store/subscriptions';
import { isoNow, nowMs, timeScale } from '../core/clock';
import { signRequest } from '../core/signature';
import {
  deliveryIdOf,
  laneOf,
  retryAt,
  SUBSCRIPTION_TIMING,
  type SubscribedEvent,
  subscribes,
} from '../core/subscriptions';

/**
 * Subscriptions (docs/subscriptions.md): the bus consumer puts each matching event in its lane's
 * outbox, and a worker holding the lane's lease sends the lane's deliveries strictly in order, the
 * first undelivered one holding back those after it (of that lane only). A failed attempt parks the
 * lane until its retry, which the scheduled sweep runs. Never on a rollout's path: the steps only
 * publish, and this runs on the bus's side.
 */

export interface DeliveryDeps {
  outbound?: Outbound;
  getSecret?: (name: string) => Promise<string>;
  sleep?: (ms: number) => Promise<void>;
}

/** Real time: one attempt, and what one worker does before it leaves the rest to the next sweep. */
const ATTEMPT_TIMEOUT_MS = 10_000;
const WORK_REAL_MS = 60_000;
/** Longer than a worker's work and its last attempt, so two workers never hold one lane. */
const LEASE_REAL_MS = 90_000;
/** Lanes one sweep looks at, and how many it drains side by side. */
const SWEEP_LANES = 100;
const SWEEP_PARALLEL = 8;

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
/** A span of real time in the domain clock (GANTRY_TIME_SCALE locally; the same in AWS). */
const domainMs = (realMs: number) => realMs * timeScale();

// ---- the consumer -------------------------------------------------------------------------------

let cache: { at: number; subscriptions: Promise<StoredSubscription[]> } | undefined;

/** Every subscription, read at most once per SUBSCRIPTION_TIMING.cacheMs per container. */
function cachedSubscriptions(rt: Runtime): Promise<StoredSubscription[]> {
  const now = nowMs();
  if (!cache || now - cache.at >= SUBSCRIPTION_TIMING.cacheMs || now < cache.at) {
    const loading = listAllSubscriptions(rt);
    cache = { at: now, subscriptions: loading };
    loading.catch(() => {
      if (cache?.subscriptions === loading) cache = undefined;
    });
  }
  return cache.subscriptions;
}

/**
 * A bus event: a delivery for each subscription it matches, in the event's lane, which is then sent
 * unless the subscription is failing (its lanes wait for the sweep, so fresh events never wait on it).
 */
export async function consumeEvent(rt: Runtime, event: SubscribedEvent, deps: DeliveryDeps = {}) {
  if (event.detailType === DETAIL_TYPES.subscriptionFailing) return;
  const matching = (await cachedSubscriptions(rt)).filter((sub) => subscribes(sub, event));
  if (matching.length === 0) return;
  const lane = laneOf(event);
  await Promise.all(
    matching.map(async (sub) => {
      const ref = { generation: sub.generation, lane };
      const made = await createDelivery(rt, sub.generation, event, lane);
      // Handed over twice: a pending delivery may not be in its lane yet (enqueue is idempotent).
      if (!made.created && made.existing.status !== 'pending') return;
      await enqueue(rt, sub.id, ref, event);
      if (!sub.failingSince) await drainLane(rt, ref, deps);
    }),
  );
}

// ---- the worker -------------------------------------------------------------------------------

/** The scheduled sweep: lanes whose retry is due, or that no worker finished, a bounded number. */
export async function sweepSubscriptions(rt: Runtime, deps: DeliveryDeps = {}): Promise<void> {
  const started = Date.now();
  const queue = await dueLanes(rt, SWEEP_LANES);
  await Promise.all(
    Array.from({ length: Math.min(SWEEP_PARALLEL, queue.length) }, async () => {
      for (let ref = queue.shift(); ref && Date.now() - started < WORK_REAL_MS; ref = queue.shift()) {
        await drainLane(rt, ref, deps).catch((error: unknown) =>
          log.error('subscription lane failed', { lane: ref?.lane, error: String(error) }),
        );
      }
    }),
  );
}

/**
 * Sends a lane's deliveries in event order while it holds the lane's lease: each waits until its
 * event settled (an earlier one may still arrive), a failure parks the lane until the retry, and an
 * empty lane is closed unless an event came in meanwhile.
 */
export async function drainLane(rt: Runtime, ref: LaneRef, deps: DeliveryDeps = {}): Promise<void> {
  const holder = randomUUID();
  const started = Date.now();
  let head = await acquireLane(rt, ref, holder, isoNow(nowMs() + domainMs(LEASE_REAL_MS)));
  if (!head) return;
  const sub = await getSubscription(rt, head.subscription);
  if (!sub || sub.generation !== ref.generation) {
    await dropLane(rt, ref);
    return;
  }
  const sleep = deps.sleep ?? defaultSleep;
  for (;;) {
    if (Date.now() - started > WORK_REAL_MS) return parkLane(rt, ref, holder, isoNow());
    const [entry] = await laneEntries(rt, ref, 1);
    if (!entry) {
      const closed = await closeLane(rt, head, holder);
      if (closed === 'closed') return;
      head = closed;
      continue;
    }
    const settledAt = Date.parse(entry.event.time) + domainMs(SUBSCRIPTION_TIMING.settleRealMs);
    if (settledAt > nowMs()) {
      await sleep(Math.min(SUBSCRIPTION_TIMING.settleRealMs, (settledAt - nowMs()) / timeScale()));
      continue; // read the head again: an earlier event of the lane may have come in
    }
    const record = await getDelivery(rt, ref.generation, entry.eventId);
    if (record?.status === 'delivered' || record?.status === 'failed') {
      await removeEntry(rt, ref, entry.eventId);
      continue;
    }
    if (record?.nextAttemptAt && record.nextAttemptAt > isoNow())
      return parkLane(rt, ref, holder, record.nextAttemptAt);
    const retry = await attempt(rt, sub, ref, entry.event, record?.attempts ?? 0, deps);
    if (retry) return parkLane(rt, ref, holder, retry);
  }
}

/** One attempt of one delivery; answers when to try again, or undefined when it is done (sent or given up). */
async function attempt(
  rt: Runtime,
  sub: StoredSubscription,
  ref: LaneRef,
  event: SubscribedEvent,
  previous: number,
  deps: DeliveryDeps,
): Promise<string | undefined> {
  const attempts = previous + 1;
  const result = await send(sub, event, deps);
  if (result.ok) {
    // The record first: once it says delivered, a lost entry removal is only a duplicate to skip.
    await recordAttempt(rt, ref.generation, event.id, {
      status: 'delivered',
      attempts,
      lastStatus: result.status,
    });
    await removeEntry(rt, ref, event.id);
    if (sub.consecutiveFailures > 0 || sub.failingSince) {
      await clearFailures(rt, sub);
      if (sub.failingSince) log.info('subscription delivers again', { subscription: sub.id });
      sub.consecutiveFailures = 0;
      sub.failingSince = undefined;
    }
    return undefined;
  }
  const next = retryAt(attempts, Date.parse(event.time), nowMs());
  await recordAttempt(rt, ref.generation, event.id, {
    status: next === undefined ? 'failed' : 'retrying',
    attempts,
    lastStatus: result.status,
    lastError: result.error,
    nextAttemptAt: next === undefined ? undefined : isoNow(next),
  });
  if (next === undefined) await removeEntry(rt, ref, event.id);
  await reportFailure(rt, sub, event, result.error, next === undefined);
  return next === undefined ? undefined : isoNow(next);
}

/**
 * Counts a failed attempt; the third in a row, or a delivery given up, makes the subscription
 * failing: reported once per failing spell, as a `Subscription Failing` event and a log line.
 */
async function reportFailure(
  rt: Runtime,
  sub: StoredSubscription,
  event: SubscribedEvent,
  error: string,
  givenUp: boolean,
): Promise<void> {
  const counted = await countFailure(rt, sub, error);
  if (!counted) return;
  Object.assign(sub, {
    consecutiveFailures: counted.consecutiveFailures,
    failingSince: counted.failingSince,
  });
  const host = new URL(sub.data.url).host;
  log.warn('subscription delivery failed', {
    subscription: sub.id,
    host,
    eventId: event.id,
    error,
    givenUp,
    consecutiveFailures: counted.consecutiveFailures,
  });
  if (counted.failingSince || (counted.consecutiveFailures < SUBSCRIPTION_TIMING.failingAfter && !givenUp))
    return;
  const since = isoNow();
  if (!(await markFailing(rt, sub, since))) return;
  sub.failingSince = since;
  log.error('subscription failing', { subscription: sub.id, host, since, error });
  await publish(rt, [
    {
      detailType: DETAIL_TYPES.subscriptionFailing,
      actor: SYSTEM,
      data: {
        subscription: sub.id,
        failingSince: since,
        consecutiveFailures: counted.consecutiveFailures,
        lastError: error,
        givenUp: givenUp ? event.id : null,
      },
    },
  ]);
}

type SendResult = { ok: true; status: number } | { ok: false; status?: number; error: string };

/**
 * POSTs the event as JSON, signed as a webhook job is (docs/api.md section 6) when the subscription
 * names a secret, with the delivery id every attempt of it shares. Errors name no URL and no secret.
 */
async function send(
  sub: StoredSubscription,
  event: SubscribedEvent,
  deps: DeliveryDeps,
): Promise<SendResult> {
  const url = new URL(sub.data.url);
  const body = JSON.stringify(event);
  const headers: Record<string, string> = {
    'Content-Type': 'application/json',
    'X-Gantry-Delivery': deliveryIdOf(sub.id, event.id),
    'X-Gantry-Event': event.detailType,
  };
  const secretRef = sub.data.secretRef;
  if (secretRef !== undefined) {
    let secret: string;
    try {
      secret = await (deps.getSecret ?? ((name: string) => secrets().get(name)))(secretRef);
    } catch (error) {
      const why = error instanceof SecretNotFound ? 'is not configured' : 'could not be read';
      return { ok: false, error: `the secret ${secretRef} ${why}` };
    }
    const timestamp = String(Math.floor(Date.now() / 1000));
    headers['X-Gantry-Timestamp'] = timestamp;
    headers['X-Gantry-Signature'] = signRequest(secret, timestamp, 'POST', url.pathname + url.search, body);
  }
  try {
    const res = await (deps.outbound ?? outbound)({
      url: url.href,
      method: 'POST',
      headers,
      body,
      timeoutMs: ATTEMPT_TIMEOUT_MS,
    });
    if (res.status >= 200 && res.status <= 299) return { ok: true, status: res.status };
    return { ok: false, status: res.status, error: `answered HTTP ${res.status}` };
  } catch (error) {
    return { ok: false, error: error instanceof OutboundError ? error.message : 'connection failed' };
  }
}
