import { DeleteCommand, GetCommand, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { FreezeRecord } from '../../core/policy/freeze';
import { type Item, isConditionFailed, queryItems, type StoreContext } from './client';
import { bumpInventoryRevision, decodeToken, encodeToken } from './config';
import { keys } from './keys';

/**
 * Freezes (docs/api.md section 10), one partition: there are few, and a plan or the sweep reads them
 * all with one consistent Query; the gates read them through a per-container cache (./inventory.ts). Every write is conditional on the `rev` it read
 * (absent for a create), so a sweep and an API write never overwrite each other's announcements.
 */

/** An ended freeze stays listed this long after its end, then DynamoDB's TTL removes it. */
const KEEP_ENDED_SECONDS = 30 * 86_400;

const strip = (item: Item): FreezeRecord => {
  const { pk: _pk, sk: _sk, expiresAt: _ttl, ...rest } = item;
  return rest as unknown as FreezeRecord;
};

export async function listFreezes(ctx: StoreContext): Promise<FreezeRecord[]> {
  const items = await queryItems(ctx, {
    KeyConditionExpression: 'pk = :pk',
    ExpressionAttributeValues: { ':pk': keys.freezes },
    ConsistentRead: true,
  });
  return items.map(strip);
}

/** One page of freezes, by id (GET /v1/freezes). */
export async function listFreezePage(
  ctx: StoreContext,
  page: { limit?: number; nextToken?: string },
): Promise<{ items: FreezeRecord[]; nextToken?: string }> {
  const out = await ctx.doc.send(
    new QueryCommand({
      TableName: ctx.tableName,
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': keys.freezes },
      Limit: page.limit ?? 100,
      ExclusiveStartKey: decodeToken(page.nextToken, { name: 'pk', value: keys.freezes }),
    }),
  );
  return { items: (out.Items ?? []).map(strip), nextToken: encodeToken(out.LastEvaluatedKey) };
}

export async function getFreeze(ctx: StoreContext, id: string): Promise<FreezeRecord | undefined> {
  const out = await ctx.doc.send(
    new GetCommand({ TableName: ctx.tableName, Key: keys.freeze(id), ConsistentRead: true }),
  );
  return out.Item ? strip(out.Item) : undefined;
}

/**
 * Writes the freeze if it is still at `expectedRev` (undefined: it must not exist); false when another
 * write came first. A freeze with an `until` expires 30 days after it.
 */
export async function saveFreeze(
  ctx: StoreContext,
  freeze: FreezeRecord,
  expectedRev: number | undefined,
): Promise<boolean> {
  const expiresAt = freeze.until
    ? Math.floor(Date.parse(freeze.until) / 1000) + KEEP_ENDED_SECONDS
    : undefined;
  try {
    await ctx.doc.send(
      new PutCommand({
        TableName: ctx.tableName,
        Item: { ...keys.freeze(freeze.id), ...freeze, ...(expiresAt ? { expiresAt } : {}) },
        ConditionExpression: expectedRev === undefined ? 'attribute_not_exists(pk)' : '#rev = :rev',
        ...(expectedRev === undefined
          ? {}
          : {
              ExpressionAttributeNames: { '#rev': 'rev' },
              ExpressionAttributeValues: { ':rev': expectedRev },
            }),
      }),
    );
    await bumpInventoryRevision(ctx, ['freeze']);
    return true;
  } catch (error) {
    if (isConditionFailed(error)) return false;
    throw error;
  }
}

/** Deletes the freeze as read (at its `rev`); false when it changed or went meanwhile. */
export async function deleteFreeze(ctx: StoreContext, freeze: FreezeRecord): Promise<boolean> {
  try {
    await ctx.doc.send(
      new DeleteCommand({
        TableName: ctx.tableName,
        Key: keys.freeze(freeze.id),
        ConditionExpression: '#rev = :rev',
        ExpressionAttributeNames: { '#rev': 'rev' },
        ExpressionAttributeValues: { ':rev': freeze.rev },
      }),
    );
    await bumpInventoryRevision(ctx, ['freeze']);
    return true;
  } catch (error) {
    if (isConditionFailed(error)) return false;
    throw error;
  }
}
