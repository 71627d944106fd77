import { DeleteCommand, GetCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { isoNow } from '../../core/clock';
import type { Page, Stored } from '../../core/records';
import type { Item, StoreContext } from './client';
import { type ConfigKind, keys } from './keys';

export type { Page, Stored } from '../../core/records';

const PAGE_SIZE = 100;

export const encodeToken = (key: Record<string, unknown> | undefined) =>
  key ? Buffer.from(JSON.stringify(key)).toString('base64url') : undefined;

/**
 * A nextToken is only accepted when it is a key of the collection being listed: its key names are
 * exactly the expected ones and its partition is the one queried (anything else is a 400, never a
 * DynamoDB validation error).
 */
export function decodeToken(
  token: string | undefined,
  partition: { name: 'pk' | 'gsi1pk'; value: string | ((value: string) => boolean) },
): Record<string, unknown> | undefined {
  if (!token) return undefined;
  const expected = partition.name === 'pk' ? ['pk', 'sk'] : ['gsi1pk', 'gsi1sk', 'pk', 'sk'];
  try {
    const value = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as unknown;
    if (value && typeof value === 'object' && !Array.isArray(value)) {
      const entries = Object.entries(value);
      const wellFormed =
        entries.length === expected.length &&
        entries.every(
          ([k, v]) => expected.includes(k) && typeof v === 'string' && v.length > 0 && v.length < 2048,
        ) &&
        isPartition((value as Record<string, string>)[partition.name] as string, partition.value);
      if (wellFormed) return value as Record<string, unknown>;
    }
  } catch {
    // fall through
  }
  throw new InvalidPageToken();
}

const isPartition = (value: string, expected: string | ((value: string) => boolean)) =>
  typeof expected === 'string' ? value === expected : expected(value);

export class InvalidPageToken extends Error {
  constructor() {
    super('The nextToken is not one this service issued.');
    this.name = 'InvalidPageToken';
  }
}

function fromItem<T>(item: Item): Stored<T> {
  return {
    id: item.sk as string,
    data: item.data as T,
    createdAt: item.createdAt as string,
    updatedAt: item.updatedAt as string,
    ...(item.provider ? { provider: item.provider as string } : {}),
  };
}

export async function getConfig<T>(
  ctx: StoreContext,
  kind: ConfigKind,
  id: string,
): Promise<Stored<T> | undefined> {
  const out = await ctx.doc.send(new GetCommand({ TableName: ctx.tableName, Key: keys.config(kind, id) }));
  return out.Item ? fromItem<T>(out.Item) : undefined;
}

export const CONFIG_KINDS: readonly ConfigKind[] = ['resource', 'environment', 'deployment', 'policy'];

export interface WriteOptions {
  /** A bulk writer (a sync page) bumps the inventory revision once itself: bumpInventoryRevision. */
  skipRevision?: boolean;
}

/** Besides the config kinds, `freeze`: bumped by every write of a freeze (shared/adapters/store/freezes.ts). */
export type InventoryRevision = Record<ConfigKind, number> & { freeze: number };

/**
 * Bumps the inventory revision of the kinds written (every config kind when none is named), after the
 * write, so a cache that reads the revision before its listing never keeps data older than an
 * answered write (shared/adapters/store/inventory.ts).
 */
export async function bumpInventoryRevision(
  ctx: StoreContext,
  kinds: readonly (keyof InventoryRevision)[] = CONFIG_KINDS,
): Promise<void> {
  await ctx.doc.send(
    new UpdateCommand({
      TableName: ctx.tableName,
      Key: keys.inventoryRevision,
      UpdateExpression: `ADD ${kinds.map((_, i) => `#k${i} :one`).join(', ')}`,
      ExpressionAttributeNames: Object.fromEntries(kinds.map((kind, i) => [`#k${i}`, kind])),
      ExpressionAttributeValues: { ':one': 1 },
    }),
  );
}

/**
 * The config kinds' counters of the inventory revision (a read one, or the item as stored) as one
 * string: what a cached computation over the inventory was computed under.
 */
export const revisionStamp = (revision: Record<string, unknown> | undefined): string =>
  CONFIG_KINDS.map((kind) => Number(revision?.[kind] ?? 0)).join('.');

/** The revision counters, read consistently. */
export async function getInventoryRevision(ctx: StoreContext): Promise<InventoryRevision> {
  const out = await ctx.doc.send(
    new GetCommand({ TableName: ctx.tableName, Key: keys.inventoryRevision, ConsistentRead: true }),
  );
  return Object.fromEntries(
    [...CONFIG_KINDS, 'freeze'].map((kind) => [kind, Number(out.Item?.[kind] ?? 0)]),
  ) as InventoryRevision;
}

/** Upsert keeping `createdAt`, in one write; reports whether it created. `provider` tags synced resources. */
export async function putConfig<T>(
  ctx: StoreContext,
  kind: ConfigKind,
  id: string,
  data: T,
  options: { now?: number; provider?: string } & WriteOptions = {},
): Promise<{ stored: Stored<T>; created: boolean }> {
  const now = isoNow(options.now);
  const providerAttributes = options.provider
    ? { provider: options.provider, gsi1pk: keys.provider(options.provider), gsi1sk: id }
    : {};
  const set = { data, updatedAt: now, ...providerAttributes };
  const names: Record<string, string> = { '#createdAt': 'createdAt' };
  const values: Record<string, unknown> = { ':now': now };
  const assignments = Object.entries(set).map(([name, value], i) => {
    names[`#a${i}`] = name;
    values[`:a${i}`] = value;
    return `#a${i} = :a${i}`;
  });
  const out = await ctx.doc.send(
    new UpdateCommand({
      TableName: ctx.tableName,
      Key: keys.config(kind, id),
      UpdateExpression: `SET ${assignments.join(', ')}, #createdAt = if_not_exists(#createdAt, :now)${
        options.provider ? '' : ' REMOVE provider, gsi1pk, gsi1sk'
      }`,
      ExpressionAttributeNames: names,
      ExpressionAttributeValues: values,
      ReturnValues: 'ALL_OLD',
    }),
  );
  if (!options.skipRevision) await bumpInventoryRevision(ctx, [kind]);
  // No old attributes: this write created the item (of two racing first writes, exactly one).
  const old = out.Attributes;
  const item: Item = {
    ...keys.config(kind, id),
    ...set,
    createdAt: (old?.createdAt as string | undefined) ?? now,
  };
  return { stored: fromItem<T>(item), created: !old };
}

export async function deleteConfig(
  ctx: StoreContext,
  kind: ConfigKind,
  id: string,
  options: WriteOptions = {},
): Promise<boolean> {
  const out = await ctx.doc.send(
    new DeleteCommand({ TableName: ctx.tableName, Key: keys.config(kind, id), ReturnValues: 'ALL_OLD' }),
  );
  if (out.Attributes && !options.skipRevision) await bumpInventoryRevision(ctx, [kind]);
  return Boolean(out.Attributes);
}

export async function listConfig<T>(
  ctx: StoreContext,
  kind: ConfigKind,
  page: { limit?: number; nextToken?: string } = {},
): Promise<Page<Stored<T>>> {
  const out = await ctx.doc.send(
    new QueryCommand({
      TableName: ctx.tableName,
      KeyConditionExpression: 'pk = :pk',
      ProjectionExpression: 'pk, sk, #data, createdAt, updatedAt, provider',
      ExpressionAttributeNames: { '#data': 'data' },
      ExpressionAttributeValues: { ':pk': keys.configPartition(kind) },
      Limit: page.limit ?? PAGE_SIZE,
      ExclusiveStartKey: decodeToken(page.nextToken, { name: 'pk', value: keys.configPartition(kind) }),
    }),
  );
  return {
    items: (out.Items ?? []).map((item) => fromItem<T>(item)),
    nextToken: encodeToken(out.LastEvaluatedKey),
  };
}

/** Every object of a kind (used by the planner; inventories are thousands, not millions). */
export async function listAllConfig<T>(ctx: StoreContext, kind: ConfigKind): Promise<Stored<T>[]> {
  const all: Stored<T>[] = [];
  let nextToken: string | undefined;
  do {
    const page = await listConfig<T>(ctx, kind, { limit: 1000, nextToken });
    all.push(...page.items);
    nextToken = page.nextToken;
  } while (nextToken);
  return all;
}
