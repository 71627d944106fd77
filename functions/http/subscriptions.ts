import { DETAIL_TYPES, publish } from '../../shared/adapters/events';
import { type Runtime, runtime } from '../../shared/adapters/runtime';
import {
  type DeliveryRecord,
  deleteSubscription,
  getSubscription,
  listSubscriptions,
  putSubscription,
  recentDeliveries,
  type StoredSubscription,
} from '../../shared/adapters/store/subscriptions';
import { isoNow, nowMs } from '../../shared/core/clock';
import { notFound } from '../../shared/core/errors';
import type { Answer } from '../../shared/core/schemas/answers';
import { deliveryIdOf, RECENT_DELIVERIES, SUBSCRIPTION_TIMING } from '../../shared/core/subscriptions';
import { httpHandler, json } from './kernel';
import { SUBSCRIPTION_ROUTES } from './routes/subscriptions';

/** Subscriptions (docs/api.md section 10, docs/subscriptions.md). */

const show = (sub: StoredSubscription): Answer<'Subscription'> => ({
  id: sub.id,
  ...sub.data,
  activeFrom: sub.activeFrom,
  failing: sub.failingSince !== undefined,
  failingSince: sub.failingSince ?? null,
  consecutiveFailures: sub.consecutiveFailures,
  lastError: sub.lastError ?? null,
  lastFailureAt: sub.lastFailureAt ?? null,
  createdAt: sub.createdAt,
  updatedAt: sub.updatedAt,
});

const showDelivery = (subscriptionId: string, record: DeliveryRecord) => ({
  id: deliveryIdOf(subscriptionId, record.eventId),
  eventId: record.eventId,
  detailType: record.detailType,
  ...(record.deployment ? { deployment: record.deployment } : {}),
  ...(record.version ? { version: record.version } : {}),
  ...(record.environment ? { environment: record.environment } : {}),
  ...(record.resource ? { resource: record.resource } : {}),
  status: record.status,
  attempts: record.attempts,
  lastStatus: record.lastStatus ?? null,
  lastError: record.lastError ?? null,
  nextAttemptAt: record.nextAttemptAt ?? null,
  createdAt: record.createdAt,
  updatedAt: record.updatedAt,
});

async function requireSubscription(rt: Runtime, id: string): Promise<StoredSubscription> {
  const sub = await getSubscription(rt, id);
  if (!sub) throw notFound(`The subscription "${id}"`);
  return sub;
}

const changed = (keyId: string, id: string, change: 'created' | 'replaced' | 'deleted') => ({
  detailType: DETAIL_TYPES.configurationChanged,
  actor: { keyId },
  data: { change, kind: 'subscription', id },
});

export const handler = httpHandler(SUBSCRIPTION_ROUTES, {
  putSubscription: async (request) => {
    const rt = runtime();
    const now = nowMs();
    // A new subscription applies once every consumer's cached list has it (docs/subscriptions.md).
    const { stored, created } = await putSubscription(
      rt,
      request.params.subscriptionId,
      request.body,
      isoNow(now + SUBSCRIPTION_TIMING.cacheMs),
      isoNow(now),
    );
    await publish(rt, [changed(request.caller.keyId, stored.id, created ? 'created' : 'replaced')]);
    return json(created ? 201 : 200, show(stored));
  },
  getSubscription: async (request) => {
    const rt = runtime();
    const sub = await requireSubscription(rt, request.params.subscriptionId);
    const deliveries = await recentDeliveries(rt, sub.generation, RECENT_DELIVERIES);
    return json(200, { ...show(sub), deliveries: deliveries.map((d) => showDelivery(sub.id, d)) });
  },
  // A nextToken from another list is a 400 (middlewares/errors.ts).
  listSubscriptions: async (request) => {
    const page = await listSubscriptions(runtime(), request.query);
    return json(200, {
      items: page.items.map(show),
      ...(page.nextToken ? { nextToken: page.nextToken } : {}),
    });
  },
  // Its lanes are dropped by the delivery worker when next due (their generation is gone).
  deleteSubscription: async (request) => {
    const rt = runtime();
    const id = request.params.subscriptionId;
    if (!(await deleteSubscription(rt, id))) throw notFound(`The subscription "${id}"`);
    await publish(rt, [changed(request.caller.keyId, id, 'deleted')]);
    return json(204);
  },
});
