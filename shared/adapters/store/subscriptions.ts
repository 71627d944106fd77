import { DeleteCommand, GetCommand, PutCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { monotonicFactory } from 'ulid';
import { isoNow, nowMs } from '../../core/clock';
import type { Page } from '../../core/records';
import type { SubscribedEvent, SubscriptionBody } from '../../core/subscriptions';
import { type Item, isConditionFailed, type StoreContext } from './client';
import { decodeToken, encodeToken } from './config';
import { keys } from './keys';

/**
 * Subscriptions and their outbox (access pattern 18 of ./table.ts, docs/subscriptions.md):
 * - the subscription: its body, when it applies from, its generation (new on each create), and how
 *   its deliveries go (consecutive failures, failing since);
 * - a delivery per (generation, event): its status and attempts, what GET shows; it also makes an
 *   event that EventBridge hands over twice a single delivery;
 * - a lane per (generation, lane): its entries in event order and a head item that holds the lease of
 *   the one worker sending them, and the time the lane is next due (gsi1, for the sweep).
 */

export interface StoredSubscription {
  id: string;
  data: SubscriptionBody;
  createdAt: string;
  updatedAt: string;
  activeFrom: string;
  generation: string;
  consecutiveFailures: number;
  failingSince?: string;
  lastError?: string;
  lastFailureAt?: string;
}

export type DeliveryStatus = 'pending' | 'retrying' | 'delivered' | 'failed';

export interface DeliveryRecord {
  eventId: string;
  detailType: string;
  deployment?: string;
  version?: string;
  environment?: string;
  resource?: string;
  lane: string;
  status: DeliveryStatus;
  attempts: number;
  lastStatus?: number;
  lastError?: string;
  nextAttemptAt?: string;
  createdAt: string;
  updatedAt: string;
}

/** Finished deliveries are kept this long (TTL), then the table drops them. */
const KEEP_DELIVERIES_SECONDS = 7 * 86_400;
const LANE_HEAD = '#LANE';
const ENTRY = 'E#';
const newGeneration = monotonicFactory();

function subscriptionOf(item: Item): StoredSubscription {
  const { pk: _pk, sk, ...rest } = item;
  return {
    ...(rest as Omit<StoredSubscription, 'id'>),
    id: sk as string,
    consecutiveFailures: Number(rest.consecutiveFailures ?? 0),
  };
}

/** Upsert keeping `createdAt`, `activeFrom` and the generation; reports whether it created. */
export async function putSubscription(
  ctx: StoreContext,
  id: string,
  data: SubscriptionBody,
  activeFrom: string,
  now = isoNow(),
): Promise<{ stored: StoredSubscription; created: boolean }> {
  const generation = newGeneration();
  const out = await ctx.doc.send(
    new UpdateCommand({
      TableName: ctx.tableName,
      Key: keys.subscription(id),
      UpdateExpression:
        'SET #data = :data, updatedAt = :now, createdAt = if_not_exists(createdAt, :now), ' +
        'activeFrom = if_not_exists(activeFrom, :activeFrom), generation = if_not_exists(generation, :generation)',
      ExpressionAttributeNames: { '#data': 'data' },
      ExpressionAttributeValues: {
        ':data': data,
        ':now': now,
        ':activeFrom': activeFrom,
        ':generation': generation,
      },
      ReturnValues: 'ALL_NEW',
    }),
  );
  const stored = subscriptionOf(out.Attributes as Item);
  return { stored, created: stored.generation === generation };
}

export async function getSubscription(
  ctx: StoreContext,
  id: string,
): Promise<StoredSubscription | undefined> {
  const out = await ctx.doc.send(
    new GetCommand({ TableName: ctx.tableName, Key: keys.subscription(id), ConsistentRead: true }),
  );
  return out.Item ? subscriptionOf(out.Item) : undefined;
}

export async function listSubscriptions(
  ctx: StoreContext,
  page: { limit?: number; nextToken?: string } = {},
): Promise<Page<StoredSubscription>> {
  const out = await ctx.doc.send(
    new QueryCommand({
      TableName: ctx.tableName,
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': keys.subscriptions },
      Limit: page.limit ?? 100,
      ExclusiveStartKey: decodeToken(page.nextToken, { name: 'pk', value: keys.subscriptions }),
    }),
  );
  return { items: (out.Items ?? []).map(subscriptionOf), nextToken: encodeToken(out.LastEvaluatedKey) };
}

export async function listAllSubscriptions(ctx: StoreContext): Promise<StoredSubscription[]> {
  const all: StoredSubscription[] = [];
  let nextToken: string | undefined;
  do {
    const page = await listSubscriptions(ctx, { limit: 1000, nextToken });
    all.push(...page.items);
    nextToken = page.nextToken;
  } while (nextToken);
  return all;
}

export async function deleteSubscription(ctx: StoreContext, id: string): Promise<boolean> {
  const out = await ctx.doc.send(
    new DeleteCommand({ TableName: ctx.tableName, Key: keys.subscription(id), ReturnValues: 'ALL_OLD' }),
  );
  return Boolean(out.Attributes);
}

/**
 * A failed attempt of this generation: counts it and answers the subscription as it now is, or
 * undefined when the subscription was deleted or created anew meanwhile.
 */
export async function countFailure(
  ctx: StoreContext,
  sub: Pick<StoredSubscription, 'id' | 'generation'>,
  error: string,
): Promise<StoredSubscription | undefined> {
  return updateIfCurrent(ctx, sub, {
    UpdateExpression: 'SET lastError = :error, lastFailureAt = :now ADD consecutiveFailures :one',
    ExpressionAttributeValues: { ':error': error, ':now': isoNow(), ':one': 1 },
    ReturnValues: 'ALL_NEW',
  });
}

/** Marks the subscription failing; true only for the write that did (one report per failing spell). */
export async function markFailing(
  ctx: StoreContext,
  sub: Pick<StoredSubscription, 'id' | 'generation'>,
  since: string,
): Promise<boolean> {
  const out = await updateIfCurrent(
    ctx,
    sub,
    { UpdateExpression: 'SET failingSince = :since', ExpressionAttributeValues: { ':since': since } },
    'attribute_not_exists(failingSince)',
  );
  return out !== undefined;
}

/** A delivery went through: the failures in a row end, and with them `failing`. */
export async function clearFailures(
  ctx: StoreContext,
  sub: Pick<StoredSubscription, 'id' | 'generation'>,
): Promise<void> {
  await updateIfCurrent(ctx, sub, {
    UpdateExpression: 'SET consecutiveFailures = :zero REMOVE failingSince',
    ExpressionAttributeValues: { ':zero': 0 },
  });
}

async function updateIfCurrent(
  ctx: StoreContext,
  sub: Pick<StoredSubscription, 'id' | 'generation'>,
  update: {
    UpdateExpression: string;
    ExpressionAttributeValues: Record<string, unknown>;
    ReturnValues?: 'ALL_NEW';
  },
  condition?: string,
): Promise<StoredSubscription | undefined> {
  try {
    const out = await ctx.doc.send(
      new UpdateCommand({
        TableName: ctx.tableName,
        Key: keys.subscription(sub.id),
        ...update,
        ConditionExpression: `generation = :generation${condition ? ` AND ${condition}` : ''}`,
        ExpressionAttributeValues: { ...update.ExpressionAttributeValues, ':generation': sub.generation },
        ReturnValues: 'ALL_NEW',
      }),
    );
    return subscriptionOf(out.Attributes as Item);
  } catch (error) {
    if (isConditionFailed(error)) return undefined;
    throw error;
  }
}

// ---- deliveries -------------------------------------------------------------------------------

function deliveryOf(item: Item): DeliveryRecord {
  const { pk: _pk, sk: _sk, expiresAt: _ttl, ...rest } = item;
  return rest as unknown as DeliveryRecord;
}

/**
 * The delivery of `event` to a generation, created `pending` unless it exists; answers whether it is
 * new, or else its record (an event EventBridge handed over twice).
 */
export async function createDelivery(
  ctx: StoreContext,
  generation: string,
  event: SubscribedEvent,
  lane: string,
): Promise<{ created: true } | { created: false; existing: DeliveryRecord }> {
  const now = isoNow();
  const record: DeliveryRecord = {
    eventId: event.id,
    detailType: event.detailType,
    deployment: event.deployment,
    version: event.version,
    environment: event.environment,
    resource: event.resource,
    lane,
    status: 'pending',
    attempts: 0,
    createdAt: now,
    updatedAt: now,
  };
  try {
    await ctx.doc.send(
      new PutCommand({
        TableName: ctx.tableName,
        Item: {
          ...keys.subscriptionDelivery(generation, event.id),
          ...record,
          expiresAt: Math.floor(nowMs() / 1000) + KEEP_DELIVERIES_SECONDS,
        },
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    );
    return { created: true };
  } catch (error) {
    if (!isConditionFailed(error)) throw error;
    const existing = await getDelivery(ctx, generation, event.id);
    if (!existing) throw error;
    return { created: false, existing };
  }
}

export async function getDelivery(
  ctx: StoreContext,
  generation: string,
  eventId: string,
): Promise<DeliveryRecord | undefined> {
  const out = await ctx.doc.send(
    new GetCommand({
      TableName: ctx.tableName,
      Key: keys.subscriptionDelivery(generation, eventId),
      ConsistentRead: true,
    }),
  );
  return out.Item ? deliveryOf(out.Item) : undefined;
}

/** Records an attempt's outcome (the lane's lease makes the worker the only writer). */
export async function recordAttempt(
  ctx: StoreContext,
  generation: string,
  eventId: string,
  outcome: Pick<DeliveryRecord, 'status' | 'attempts' | 'lastStatus' | 'lastError' | 'nextAttemptAt'>,
): Promise<void> {
  const set: Record<string, unknown> = { ...outcome, updatedAt: isoNow() };
  const names = Object.keys(set).filter((name) => set[name] !== undefined);
  const removed = ['lastStatus', 'lastError', 'nextAttemptAt'].filter((name) => set[name] === undefined);
  await ctx.doc.send(
    new UpdateCommand({
      TableName: ctx.tableName,
      Key: keys.subscriptionDelivery(generation, eventId),
      UpdateExpression: `SET ${names.map((_name, i) => `#n${i} = :v${i}`).join(', ')}${
        removed.length ? ` REMOVE ${removed.join(', ')}` : ''
      }`,
      ExpressionAttributeNames: Object.fromEntries(names.map((name, i) => [`#n${i}`, name])),
      ExpressionAttributeValues: Object.fromEntries(names.map((name, i) => [`:v${i}`, set[name]])),
    }),
  );
}

/** The newest deliveries of a generation, newest event first. */
export async function recentDeliveries(
  ctx: StoreContext,
  generation: string,
  limit: number,
): Promise<DeliveryRecord[]> {
  const out = await ctx.doc.send(
    new QueryCommand({
      TableName: ctx.tableName,
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': keys.subscriptionDeliveries(generation) },
      ScanIndexForward: false,
      Limit: limit,
    }),
  );
  return (out.Items ?? []).map(deliveryOf);
}

// ---- lanes ------------------------------------------------------------------------------------

export interface LaneRef {
  generation: string;
  lane: string;
}

export interface LaneHead extends LaneRef {
  subscription: string;
  /** Bumped by every enqueue: the holder gives the lane up only when nothing came in since it looked. */
  seq: number;
}

export interface LaneEntry {
  eventId: string;
  event: SubscribedEvent;
}

const laneHeadKey = (ref: LaneRef) => ({
  pk: keys.subscriptionLane(ref.generation, ref.lane),
  sk: LANE_HEAD,
});
/** The sweep reads lanes by due time: the time first, so a Query for `<= now` finds the due ones. */
const dueKey = (dueAt: string, ref: LaneRef) => `${dueAt}#${ref.generation}#${ref.lane}`;

/** Appends an event to its lane (idempotent) and makes the lane known, due now unless already due. */
export async function enqueue(ctx: StoreContext, subscription: string, ref: LaneRef, event: SubscribedEvent) {
  const now = isoNow();
  await ctx.doc.send(
    new PutCommand({
      TableName: ctx.tableName,
      Item: {
        pk: keys.subscriptionLane(ref.generation, ref.lane),
        sk: `${ENTRY}${event.id}`,
        eventId: event.id,
        event,
        // A backstop: a delivery is given up a day after its event, and a lane goes with its subscription.
        expiresAt: Math.floor(nowMs() / 1000) + 2 * 86_400,
      },
    }),
  );
  await ctx.doc.send(
    new UpdateCommand({
      TableName: ctx.tableName,
      Key: laneHeadKey(ref),
      UpdateExpression:
        'SET subscription = :subscription, generation = :generation, lane = :lane, gsi1pk = :due, ' +
        'dueAt = if_not_exists(dueAt, :now), gsi1sk = if_not_exists(gsi1sk, :dueKey) ADD seq :one',
      ExpressionAttributeValues: {
        ':subscription': subscription,
        ':generation': ref.generation,
        ':lane': ref.lane,
        ':due': keys.subscriptionLanesDue,
        ':now': now,
        ':dueKey': dueKey(now, ref),
        ':one': 1,
      },
    }),
  );
}

/**
 * Takes the lane's lease when the lane is due and nobody holds it (or a holder's lease ran out);
 * answers the head as taken, or undefined.
 */
export async function acquireLane(
  ctx: StoreContext,
  ref: LaneRef,
  holder: string,
  leaseUntil: string,
): Promise<LaneHead | undefined> {
  try {
    const out = await ctx.doc.send(
      new UpdateCommand({
        TableName: ctx.tableName,
        Key: laneHeadKey(ref),
        UpdateExpression: 'SET holder = :holder, leaseUntil = :until',
        ConditionExpression:
          'attribute_exists(pk) AND dueAt <= :now AND (attribute_not_exists(leaseUntil) OR leaseUntil < :now)',
        ExpressionAttributeValues: { ':holder': holder, ':until': leaseUntil, ':now': isoNow() },
        ReturnValues: 'ALL_NEW',
      }),
    );
    const item = out.Attributes as Item;
    return {
      generation: ref.generation,
      lane: ref.lane,
      subscription: item.subscription as string,
      seq: Number(item.seq ?? 0),
    };
  } catch (error) {
    if (isConditionFailed(error)) return undefined;
    throw error;
  }
}

/** The lane's first entries, in event order (consistent). */
export async function laneEntries(ctx: StoreContext, ref: LaneRef, limit: number): Promise<LaneEntry[]> {
  const out = await ctx.doc.send(
    new QueryCommand({
      TableName: ctx.tableName,
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :entry)',
      ExpressionAttributeValues: { ':pk': keys.subscriptionLane(ref.generation, ref.lane), ':entry': ENTRY },
      ConsistentRead: true,
      Limit: limit,
    }),
  );
  return (out.Items ?? []).map((item) => ({
    eventId: item.eventId as string,
    event: item.event as SubscribedEvent,
  }));
}

export async function removeEntry(ctx: StoreContext, ref: LaneRef, eventId: string): Promise<void> {
  await ctx.doc.send(
    new DeleteCommand({
      TableName: ctx.tableName,
      Key: { pk: keys.subscriptionLane(ref.generation, ref.lane), sk: `${ENTRY}${eventId}` },
    }),
  );
}

/**
 * The holder found the lane empty: the lane goes, unless an event came in since it read `seq` (then
 * the head as it is now is answered and the holder looks again), or the lease went to another worker.
 */
export async function closeLane(
  ctx: StoreContext,
  head: LaneHead,
  holder: string,
): Promise<LaneHead | 'closed'> {
  try {
    await ctx.doc.send(
      new DeleteCommand({
        TableName: ctx.tableName,
        Key: laneHeadKey(head),
        ConditionExpression: 'holder = :holder AND seq = :seq',
        ExpressionAttributeValues: { ':holder': holder, ':seq': head.seq },
      }),
    );
    return 'closed';
  } catch (error) {
    if (!isConditionFailed(error)) throw error;
    const out = await ctx.doc.send(
      new GetCommand({ TableName: ctx.tableName, Key: laneHeadKey(head), ConsistentRead: true }),
    );
    if (out.Item?.holder !== holder) return 'closed';
    return { ...head, seq: Number(out.Item.seq ?? 0) };
  }
}

/** The holder gives the lease back; the lane is next due at `dueAt` (its head's next attempt). */
export async function parkLane(
  ctx: StoreContext,
  ref: LaneRef,
  holder: string,
  dueAt: string,
): Promise<void> {
  try {
    await ctx.doc.send(
      new UpdateCommand({
        TableName: ctx.tableName,
        Key: laneHeadKey(ref),
        UpdateExpression: 'SET dueAt = :due, gsi1sk = :dueKey REMOVE holder, leaseUntil',
        ConditionExpression: 'holder = :holder',
        ExpressionAttributeValues: { ':due': dueAt, ':dueKey': dueKey(dueAt, ref), ':holder': holder },
      }),
    );
  } catch (error) {
    if (!isConditionFailed(error)) throw error;
  }
}

/** Drops a lane whose subscription is gone: its entries, then its head. */
export async function dropLane(ctx: StoreContext, ref: LaneRef): Promise<void> {
  for (;;) {
    const entries = await laneEntries(ctx, ref, 100);
    if (entries.length === 0) break;
    await Promise.all(entries.map((entry) => removeEntry(ctx, ref, entry.eventId)));
  }
  await ctx.doc.send(new DeleteCommand({ TableName: ctx.tableName, Key: laneHeadKey(ref) }));
}

/** Lanes due by now, earliest first (gsi1, eventually consistent: the lease decides). */
export async function dueLanes(ctx: StoreContext, limit: number): Promise<LaneRef[]> {
  const out = await ctx.doc.send(
    new QueryCommand({
      TableName: ctx.tableName,
      IndexName: 'gsi1',
      KeyConditionExpression: 'gsi1pk = :due AND gsi1sk <= :now',
      ExpressionAttributeValues: { ':due': keys.subscriptionLanesDue, ':now': `${isoNow()}#~` },
      Limit: limit,
    }),
  );
  return (out.Items ?? []).map((item) => ({
    generation: item.generation as string,
    lane: item.lane as string,
  }));
}
