import { matches } from './cel';

/**
 * Subscriptions (docs/subscriptions.md): which events a subscription receives, the lane that orders
 * them, and when a failed delivery is tried again. Pure: the store and the sending live in
 * shared/adapters/store/subscriptions.ts and shared/services/subscriptions.ts.
 */

/** A subscription as PUT (docs/api.md section 10). */
export interface SubscriptionBody {
  url: string;
  secretRef?: string;
  detailTypes?: string[];
  selector?: string;
}

/** What the filter reads of a stored subscription. */
export interface SubscriptionFilter {
  data: SubscriptionBody;
  /** Events published before it are never delivered (the consumer caches subscriptions that long). */
  activeFrom: string;
}

/** An event as the audit trail keeps it and a subscriber receives it (docs/api.md section 8). */
export interface SubscribedEvent {
  id: string;
  time: string;
  detailType: string;
  deployment?: string;
  version?: string;
  environment?: string;
  resource?: string;
  actor?: object;
  data?: Record<string, unknown>;
}

export const SUBSCRIPTION_TIMING = {
  /** How long a consumer keeps the list of subscriptions: a new one applies from its `activeFrom`, this long after the PUT. */
  cacheMs: 5_000,
  /**
   * How long a delivery waits, after its event was published, before it is sent: EventBridge does not
   * keep the order of events, so an earlier event of the lane that arrives a little later still goes
   * first. Real time (the bus's delays are not scaled).
   */
  settleRealMs: 1_000,
  /** The first retry; each next one waits twice as long, up to maxBackoffMs (±20 % jitter). */
  firstBackoffMs: 30_000,
  maxBackoffMs: 3_600_000,
  /** A delivery not sent this long after its event was published is given up (`failed`). */
  giveUpAfterMs: 86_400_000,
  /** Consecutive failed attempts (over all lanes) that make a subscription `failing`. */
  failingAfter: 3,
} as const;

/** How many deliveries GET /v1/subscriptions/{id} shows, newest event first. */
export const RECENT_DELIVERIES = 20;

/** Whether `subscription` receives `event`; a selector that errors on the event does not match. */
export function subscribes(subscription: SubscriptionFilter, event: SubscribedEvent): boolean {
  if (event.time < subscription.activeFrom) return false;
  const { detailTypes, selector } = subscription.data;
  if (detailTypes && !detailTypes.includes(event.detailType)) return false;
  if (selector === undefined) return true;
  const outcome = matches(selector, { event: { ...event } });
  return outcome.ok && outcome.value === true;
}

/**
 * The lane an event is delivered in, in order: its release target when it names one, else its
 * deployment, else the lane of events about no deployment. Ids hold no `/`.
 */
export function laneOf(event: Pick<SubscribedEvent, 'deployment' | 'environment' | 'resource'>): string {
  if (event.deployment && event.environment && event.resource)
    return `${event.deployment}/${event.environment}/${event.resource}`;
  return event.deployment ?? '-';
}

/** The X-Gantry-Delivery header: the same for every attempt of one delivery, so subscribers can de-duplicate. */
export const deliveryIdOf = (subscriptionId: string, eventId: string) => `${subscriptionId}:${eventId}`;

/**
 * After failed attempt number `attempts` (1 for the first): when to try again, or `undefined` when the
 * delivery is given up because that would be past a day after the event.
 */
export function retryAt(
  attempts: number,
  eventTimeMs: number,
  nowMs: number,
  random: () => number = Math.random,
): number | undefined {
  const { firstBackoffMs, maxBackoffMs, giveUpAfterMs } = SUBSCRIPTION_TIMING;
  const backoff = Math.min(maxBackoffMs, firstBackoffMs * 2 ** Math.min(attempts - 1, 20));
  const at = nowMs + Math.round(backoff * (0.8 + random() * 0.4));
  return at > eventTimeMs + giveUpAfterMs ? undefined : at;
}
