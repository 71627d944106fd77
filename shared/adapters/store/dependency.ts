import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { Running, VersionFacts } from '../../core/policy/dependency';
import { batchGet, itemId } from './batch';
import { type Item, isConditionFailed, queryItems, type StoreContext } from './client';
import { revisionStamp } from './config';
import { keys } from './keys';

/**
 * What a deployment runs in an environment, kept for the releases that depend on it (rule
 * deploymentDependency): one item per deployment and environment, so a waiting release reads one
 * item, never the dependency's targets. A refresh takes a ticket (`seq`) before it reads, and stores
 * its reading only over an older ticket's: the item holds the newest reading, whatever the order in
 * which concurrent refreshes finish.
 */
export interface RunningRecord extends Running {
  deployment: string;
  environment: string;
  /** The inventory revision it was computed under (revisionStamp). */
  revision: string;
  ticket: number;
  computedAt: string;
}

const FIELDS = [
  'deployment',
  'environment',
  'name',
  'targets',
  'missing',
  'versions',
  'truncated',
  'revision',
  'ticket',
  'computedAt',
] as const;

const recordOf = (item: Item): RunningRecord =>
  Object.fromEntries(FIELDS.map((field) => [field, item[field]])) as unknown as RunningRecord;

/** The inventory revision and the readings of these deployments in one environment: one BatchGetItem. */
export async function readRunning(
  ctx: StoreContext,
  deployments: readonly string[],
  environment: string,
): Promise<{ revision: string; running: Map<string, RunningRecord> }> {
  const found = await batchGet(ctx, [
    keys.inventoryRevision,
    ...deployments.map((deployment) => keys.running(deployment, environment)),
  ]);
  const running = new Map<string, RunningRecord>();
  for (const deployment of deployments) {
    const item = found.get(itemId(keys.running(deployment, environment)));
    if (typeof item?.ticket === 'number') running.set(deployment, recordOf(item));
  }
  return { revision: revisionStamp(found.get(itemId(keys.inventoryRevision))), running };
}

/** A ticket for a refresh, higher than every earlier one. */
export async function takeTicket(
  ctx: StoreContext,
  deployment: string,
  environment: string,
): Promise<number> {
  const out = await ctx.doc.send(
    new UpdateCommand({
      TableName: ctx.tableName,
      Key: keys.running(deployment, environment),
      UpdateExpression: 'ADD #seq :one',
      ExpressionAttributeNames: { '#seq': 'seq' },
      ExpressionAttributeValues: { ':one': 1 },
      ReturnValues: 'UPDATED_NEW',
    }),
  );
  return Number(out.Attributes?.seq);
}

/**
 * Marks a refresh as asked for, unless one was asked for since `since` and is not done yet: whether
 * this caller is the one to ask (so many releases finding the same stale reading ask once).
 */
export async function markRefreshAsked(
  ctx: StoreContext,
  deployment: string,
  environment: string,
  now: string,
  since: string,
): Promise<boolean> {
  try {
    await ctx.doc.send(
      new UpdateCommand({
        TableName: ctx.tableName,
        Key: keys.running(deployment, environment),
        UpdateExpression: 'SET #asked = :now',
        ConditionExpression: 'attribute_not_exists(#asked) OR #asked < :since OR #asked < #computed',
        ExpressionAttributeNames: { '#asked': 'refreshAskedAt', '#computed': 'computedAt' },
        ExpressionAttributeValues: { ':now': now, ':since': since },
      }),
    );
    return true;
  } catch (error) {
    if (isConditionFailed(error)) return false;
    throw error;
  }
}

/** Stores a reading unless a newer ticket's is stored; answers whether it did, and the reading it replaced. */
export async function storeRunning(
  ctx: StoreContext,
  record: RunningRecord,
): Promise<{ stored: boolean; previous?: RunningRecord }> {
  const names = Object.fromEntries(FIELDS.map((field, i) => [`#f${i}`, field]));
  const values = Object.fromEntries(FIELDS.map((field, i) => [`:f${i}`, record[field]]));
  try {
    const out = await ctx.doc.send(
      new UpdateCommand({
        TableName: ctx.tableName,
        Key: keys.running(record.deployment, record.environment),
        UpdateExpression: `SET ${FIELDS.map((_, i) => `#f${i} = :f${i}`).join(', ')}`,
        ConditionExpression: 'attribute_not_exists(#ticket) OR #ticket < :ticket',
        ExpressionAttributeNames: { ...names, '#ticket': 'ticket' },
        ExpressionAttributeValues: { ...values, ':ticket': record.ticket },
        ReturnValues: 'ALL_OLD',
      }),
    );
    const old = out.Attributes;
    return { stored: true, previous: typeof old?.ticket === 'number' ? recordOf(old) : undefined };
  } catch (error) {
    if (isConditionFailed(error)) return { stored: false };
    throw error;
  }
}

/**
 * The current version of each release target item of a deployment in an environment (resource ->
 * tag, null before its first success): one Query per MB of target items.
 */
export async function currentVersions(
  ctx: StoreContext,
  deployment: string,
  environment: string,
): Promise<Map<string, string | null>> {
  const current = new Map<string, string | null>();
  const items = await queryItems(ctx, {
    KeyConditionExpression: 'pk = :pk AND begins_with(sk, :env)',
    ProjectionExpression: '#r, #c',
    ExpressionAttributeNames: { '#r': 'resource', '#c': 'currentVersion' },
    ExpressionAttributeValues: { ':pk': keys.targetsOfDeployment(deployment), ':env': `${environment}#` },
  });
  for (const item of items) current.set(item.resource as string, (item.currentVersion as string) ?? null);
  return current;
}

/** What conditions see of these versions (tag, metadata, createdAt), per deployment and tag. */
export async function versionFacts(
  ctx: StoreContext,
  versions: readonly { deployment: string; tag: string }[],
): Promise<Map<string, Map<string, VersionFacts>>> {
  const facts = new Map<string, Map<string, VersionFacts>>();
  if (versions.length === 0) return facts;
  const found = await batchGet(
    ctx,
    versions.map((v) => keys.version(v.deployment, v.tag)),
    ['tag', 'deployment', 'metadata', 'createdAt'],
  );
  for (const item of found.values()) {
    const deployment = item.deployment as string;
    let tags = facts.get(deployment);
    if (!tags) {
      tags = new Map();
      facts.set(deployment, tags);
    }
    tags.set(item.tag as string, {
      tag: item.tag as string,
      metadata: (item.metadata as Record<string, string>) ?? {},
      createdAt: item.createdAt as string,
    });
  }
  return facts;
}
