import { DeleteCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { type Item, isConditionFailed, queryItems, type StoreContext } from './client';
import { keys } from './keys';

/**
 * The items of the delivery metrics (shared/core/delivery.ts): one aggregate per deployment and UTC
 * day, each counter and histogram bucket an attribute that an outcome ADDs to (indexed by day in gsi1);
 * the sum of every deployment's per day, recomputed by a schedule; the outcomes already counted, by
 * audit record id (at-least-once delivery).
 */

/** EventBridge retries a delivery for up to a day; a counted outcome is remembered for a week. */
const COUNTED_TTL_SECONDS = 7 * 86_400;

/** Records that the outcome with this audit record id is being counted; false when it already was. */
export async function claimOutcome(ctx: StoreContext, eventId: string, nowMs: number): Promise<boolean> {
  try {
    await ctx.doc.send(
      new PutCommand({
        TableName: ctx.tableName,
        Item: { ...keys.deliveryCounted(eventId), expiresAt: Math.floor(nowMs / 1000) + COUNTED_TTL_SECONDS },
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    );
    return true;
  } catch (error) {
    if (isConditionFailed(error)) return false;
    throw error;
  }
}

/** Forgets a claim whose counting failed, so the retried delivery counts it. */
export async function dropClaim(ctx: StoreContext, eventId: string): Promise<void> {
  await ctx.doc.send(new DeleteCommand({ TableName: ctx.tableName, Key: keys.deliveryCounted(eventId) }));
}

/** One UpdateItem: ADD each counter to the deployment's day (created by the first one, indexed by day). */
export async function addToDay(
  ctx: StoreContext,
  deployment: string,
  day: string,
  adds: Record<string, number>,
): Promise<void> {
  const entries = Object.entries(adds);
  await ctx.doc.send(
    new UpdateCommand({
      TableName: ctx.tableName,
      Key: keys.deliveryDay(deployment, day),
      UpdateExpression: `SET gsi1pk = :day, gsi1sk = :deployment ADD ${entries.map((_, i) => `#a${i} :a${i}`).join(', ')}`,
      ExpressionAttributeNames: Object.fromEntries(entries.map(([name], i) => [`#a${i}`, name])),
      ExpressionAttributeValues: {
        ':day': keys.deliveryDaysOfAll(day),
        ':deployment': deployment,
        ...Object.fromEntries(entries.map(([, value], i) => [`:a${i}`, value])),
      },
    }),
  );
}

/** Every deployment's aggregate of a day (gsi1): the schedule's rollup, never a request. */
export async function readDayOfAll(ctx: StoreContext, day: string): Promise<Item[]> {
  return queryItems(ctx, {
    IndexName: 'gsi1',
    KeyConditionExpression: 'gsi1pk = :day',
    ExpressionAttributeValues: { ':day': keys.deliveryDaysOfAll(day) },
  });
}

/** The aggregate of all deployments of a day, as recomputed. */
export async function putDayOfAll(
  ctx: StoreContext,
  day: string,
  totals: Record<string, number>,
): Promise<void> {
  await ctx.doc.send(
    new PutCommand({ TableName: ctx.tableName, Item: { ...totals, ...keys.deliveryDay(null, day) } }),
  );
}

/**
 * A release failed or rolled back on the target at `time`: the target is failing since then, unless
 * it already was (the restore counts from the first failure) or it succeeded after that time (an
 * outcome delivered late). The target item is the rollout's (pk=TARGET#...); a gone target is left gone.
 */
export async function markTargetFailing(
  ctx: StoreContext,
  target: { deployment: string; environment: string; resource: string },
  time: string,
): Promise<void> {
  try {
    await ctx.doc.send(
      new UpdateCommand({
        TableName: ctx.tableName,
        Key: keys.target(target.deployment, target.environment, target.resource),
        UpdateExpression: 'SET #failing = if_not_exists(#failing, :time)',
        ConditionExpression:
          'attribute_exists(pk) AND (attribute_not_exists(#succeeded) OR #succeeded < :time)',
        ExpressionAttributeNames: { '#failing': 'failingSince', '#succeeded': 'lastSucceededAt' },
        ExpressionAttributeValues: { ':time': time },
      }),
    );
  } catch (error) {
    if (!isConditionFailed(error)) throw error;
  }
}

/**
 * The aggregates of the days from firstDay to lastDay (YYYY-MM-DD): one Query, at most one item a day
 * (a range is at most 92 days), paged only if those items pass 1 MB together.
 */
export async function readDays(
  ctx: StoreContext,
  deployment: string | null,
  firstDay: string,
  lastDay: string,
): Promise<Item[]> {
  return queryItems(ctx, {
    KeyConditionExpression: 'pk = :pk AND sk BETWEEN :first AND :last',
    ExpressionAttributeValues: { ':pk': keys.deliveryDays(deployment), ':first': firstDay, ':last': lastDay },
  });
}
