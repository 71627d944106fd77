import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { monotonicFactory } from 'ulid';
import { isoNow, nowMs } from '../../core/clock';
import { batchWrite } from './batch';
import { queryItems, type StoreContext } from './client';
import { keys } from './keys';

/** A paged provider sync (docs/api.md section 3): the session's head holds the counts so far. */
export interface SyncHead {
  openedAt: string;
  created: number;
  updated: number;
  unchanged: number;
  deleted: number;
  /** Set when the final page closed it: a retried final page answers these counts again. */
  closedAt?: string;
}

/** Sessions open longer than this are dropped with nothing deleted. */
export const SESSION_MS = 3_600_000;
const HEAD = 'HEAD';
const ulid = monotonicFactory();
/** Replay protection of a closed session, and DynamoDB TTL of an abandoned one. */
const expiresAt = () => Math.floor(nowMs() / 1000) + 2 * (SESSION_MS / 1000);

export async function getSyncHead(
  ctx: StoreContext,
  provider: string,
  session: string,
): Promise<SyncHead | undefined> {
  const out = await ctx.doc.send(
    new GetCommand({
      TableName: ctx.tableName,
      Key: { pk: keys.syncSession(provider, session), sk: HEAD },
      ConsistentRead: true,
    }),
  );
  return out.Item as SyncHead | undefined;
}

/** Records the ids one page named and adds its counts; answers the counts so far. */
export async function recordSyncPage(
  ctx: StoreContext,
  provider: string,
  session: string,
  ids: string[],
  counts: { created: number; updated: number; unchanged: number },
): Promise<SyncHead> {
  const pk = keys.syncSession(provider, session);
  // An item holds at most 400 KB: ids are stored in slices well under it.
  const slices: string[][] = [];
  for (let i = 0; i < ids.length; i += 1000) slices.push(ids.slice(i, i + 1000));
  await batchWrite(
    ctx,
    slices.map((slice) => ({ put: { pk, sk: `page#${ulid()}`, ids: slice, expiresAt: expiresAt() } })),
  );
  const out = await ctx.doc.send(
    new UpdateCommand({
      TableName: ctx.tableName,
      Key: { pk, sk: HEAD },
      UpdateExpression:
        'SET openedAt = if_not_exists(openedAt, :now), expiresAt = if_not_exists(expiresAt, :ttl) ADD created :c, updated :u, unchanged :n, deleted :zero',
      ExpressionAttributeValues: {
        ':now': isoNow(),
        ':ttl': expiresAt(),
        ':c': counts.created,
        ':u': counts.updated,
        ':n': counts.unchanged,
        ':zero': 0,
      },
      ReturnValues: 'ALL_NEW',
    }),
  );
  return out.Attributes as SyncHead;
}

/** Every id the session's pages named. */
export async function namedInSession(
  ctx: StoreContext,
  provider: string,
  session: string,
): Promise<Set<string>> {
  const named = new Set<string>();
  const pages = await queryItems(ctx, {
    KeyConditionExpression: 'pk = :pk AND begins_with(sk, :page)',
    ExpressionAttributeValues: { ':pk': keys.syncSession(provider, session), ':page': 'page#' },
    ConsistentRead: true,
  });
  for (const page of pages) for (const id of page.ids as string[]) named.add(id);
  return named;
}

/** Drops the session's pages; with `closed`, keeps the head with the final counts for a retry. */
export async function endSyncSession(
  ctx: StoreContext,
  provider: string,
  session: string,
  closed?: Omit<SyncHead, 'closedAt'>,
): Promise<void> {
  const pk = keys.syncSession(provider, session);
  const pages = (await queryItems(ctx, {
    KeyConditionExpression: 'pk = :pk',
    ExpressionAttributeValues: { ':pk': pk },
    ProjectionExpression: 'pk, sk',
  })) as { pk: string; sk: string }[];
  await batchWrite(
    ctx,
    pages.filter((item) => !closed || item.sk !== HEAD).map((item) => ({ delete: item })),
  );
  if (closed) {
    await batchWrite(ctx, [{ put: { pk, sk: HEAD, ...closed, closedAt: isoNow(), expiresAt: expiresAt() } }]);
  }
}

/** The ids of every resource a provider owns (keys only). */
export async function providerResourceIds(ctx: StoreContext, provider: string): Promise<string[]> {
  const items = await queryItems(ctx, {
    IndexName: 'gsi1',
    KeyConditionExpression: 'gsi1pk = :pk',
    ExpressionAttributeValues: { ':pk': keys.provider(provider) },
    ProjectionExpression: 'sk',
  });
  return items.map((item) => item.sk as string);
}
