import { BatchGetCommand, BatchWriteCommand } from '@aws-sdk/lib-dynamodb';
import type { Item, StoreContext } from './client';

/** DynamoDB's own limits per request. */
const GET_BATCH = 100;
const WRITE_BATCH = 25;
const IN_FLIGHT = 8;
const ATTEMPTS = 10;

type Key = { pk: string; sk: string };

const pause = (attempt: number) =>
  new Promise((resolve) => setTimeout(resolve, Math.random() * Math.min(2000, 25 * 2 ** attempt)));

function chunks<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** Runs the chunks IN_FLIGHT at a time; after a failure starts none, and rejects once none is in flight. */
async function eachChunk<T>(items: T[], size: number, work: (chunk: T[]) => Promise<void>): Promise<void> {
  const queue = chunks(items, size);
  const outcomes = await Promise.allSettled(
    Array.from({ length: Math.min(IN_FLIGHT, queue.length) }, async () => {
      try {
        for (let chunk = queue.shift(); chunk; chunk = queue.shift()) await work(chunk);
      } catch (error) {
        queue.length = 0;
        throw error;
      }
    }),
  );
  const failed = outcomes.find((o) => o.status === 'rejected');
  if (failed) throw failed.reason;
}

/**
 * Reads items by key (consistent), 100 per request, retrying what DynamoDB leaves unprocessed with
 * backoff and jitter. Missing items are absent from the map, which is keyed by `pk` and `sk`.
 * `attributes`: only these (the keys are always read).
 */
export async function batchGet(
  ctx: StoreContext,
  keys: Key[],
  attributes?: string[],
): Promise<Map<string, Item>> {
  const projection = attributes && ['pk', 'sk', ...attributes];
  const found = new Map<string, Item>();
  const unique = [...new Map(keys.map((k) => [`${k.pk}\n${k.sk}`, k])).values()];
  await eachChunk(unique, GET_BATCH, async (chunk) => {
    let pending: Key[] = chunk;
    for (let attempt = 0; pending.length > 0; attempt++) {
      if (attempt === ATTEMPTS) throw new Error('DynamoDB kept reads unprocessed.');
      if (attempt > 0) await pause(attempt);
      const out = await ctx.doc.send(
        new BatchGetCommand({
          RequestItems: {
            [ctx.tableName]: {
              Keys: pending,
              ConsistentRead: true,
              ...(projection && {
                ProjectionExpression: projection.map((_, i) => `#p${i}`).join(', '),
                ExpressionAttributeNames: Object.fromEntries(projection.map((name, i) => [`#p${i}`, name])),
              }),
            },
          },
        }),
      );
      for (const item of out.Responses?.[ctx.tableName] ?? []) found.set(`${item.pk}\n${item.sk}`, item);
      pending = (out.UnprocessedKeys?.[ctx.tableName]?.Keys ?? []) as Key[];
    }
  });
  return found;
}

export const itemId = (key: Key) => `${key.pk}\n${key.sk}`;

/**
 * Puts and deletes, 25 per request, retrying what DynamoDB leaves unprocessed; never drops one.
 * `fence`: once it aborts, no request is sent any more (and the one in flight is abandoned).
 */
export async function batchWrite(
  ctx: StoreContext,
  writes: { put?: Item; delete?: Key }[],
  fence?: AbortSignal,
): Promise<void> {
  await eachChunk(writes, WRITE_BATCH, async (chunk) => {
    let pending = chunk.map((w) =>
      w.put ? { PutRequest: { Item: w.put } } : { DeleteRequest: { Key: w.delete } },
    );
    for (let attempt = 0; pending.length > 0; attempt++) {
      if (attempt === ATTEMPTS) throw new Error('DynamoDB kept writes unprocessed.');
      if (attempt > 0) await pause(attempt);
      fence?.throwIfAborted();
      const out = await ctx.doc.send(new BatchWriteCommand({ RequestItems: { [ctx.tableName]: pending } }), {
        abortSignal: fence,
      });
      pending = (out.UnprocessedItems?.[ctx.tableName] ?? []) as typeof pending;
    }
  });
}
