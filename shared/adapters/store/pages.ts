import { BatchGetCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { ReleaseTarget } from '../../core/targets';
import type { Item, StoreContext } from './client';
import { decodeToken, encodeToken, InvalidPageToken, type Page } from './config';
import { keys } from './keys';
import {
  type ReleaseKey,
  type ReleaseRecord,
  releaseKeyString,
  type TargetRecord,
  type VersionRecord,
} from './rollouts';

/**
 * The contract's lists, a page at a time (docs/api.md sections 3 and 4): one DynamoDB Query page per list
 * page, so a page holds at most 1 MB of stored items whatever `limit` says, and a nextToken is the
 * Query's LastEvaluatedKey, accepted back only for the partition it came from (decodeToken).
 * The read-everything helpers of ./rollouts.ts stay for internal callers.
 */
export const DEFAULT_PAGE = 100;

export interface PageRequest {
  limit?: number;
  nextToken?: string;
}

function strip<T>(item: Item): T {
  const { pk: _pk, sk: _sk, gsi1pk: _g1, gsi1sk: _g2, ...rest } = item;
  return rest as T;
}

/** Versions of a deployment, newest first, without `config` (pattern 5 of ./table.ts). */
export async function listVersionsPage(
  ctx: StoreContext,
  deployment: string,
  page: PageRequest,
): Promise<Page<Omit<VersionRecord, 'config'>>> {
  const pk = keys.versionsByCreation(deployment);
  const out = await ctx.doc.send(
    new QueryCommand({
      TableName: ctx.tableName,
      IndexName: 'gsi1',
      KeyConditionExpression: 'gsi1pk = :pk',
      ExpressionAttributeValues: { ':pk': pk },
      // The config is the bulk of a version (up to an item's 400 KB): never read for a list.
      ProjectionExpression:
        'pk, sk, gsi1pk, gsi1sk, deployment, tag, #status, metadata, createdAt, updatedAt',
      ExpressionAttributeNames: { '#status': 'status' },
      ScanIndexForward: false,
      Limit: page.limit ?? DEFAULT_PAGE,
      ExclusiveStartKey: decodeToken(page.nextToken, { name: 'gsi1pk', value: pk }),
    }),
  );
  return {
    items: (out.Items ?? []).map((item) => strip<Omit<VersionRecord, 'config'>>(item)),
    nextToken: encodeToken(out.LastEvaluatedKey),
  };
}

/** A page of a version's releases, by environment then resource (pattern 6). */
export async function listReleasesPage(
  ctx: StoreContext,
  deployment: string,
  tag: string,
  page: PageRequest,
): Promise<Page<ReleaseRecord>> {
  const pk = keys.releasesOfVersion(deployment, tag);
  const out = await ctx.doc.send(
    new QueryCommand({
      TableName: ctx.tableName,
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': pk },
      Limit: page.limit ?? DEFAULT_PAGE,
      ExclusiveStartKey: decodeToken(page.nextToken, { name: 'pk', value: pk }),
    }),
  );
  return {
    items: (out.Items ?? []).map((item) => strip<ReleaseRecord>(item)),
    nextToken: encodeToken(out.LastEvaluatedKey),
  };
}

/**
 * One Query page of a version's releases (of one environment), by key, after the release whose sort
 * key is `after`; `last` is the sort key the next page starts after, absent once the end is read.
 */
export async function releasesAfter(
  ctx: StoreContext,
  deployment: string,
  tag: string,
  page: { environment?: string; after?: string; limit: number },
): Promise<{ items: ReleaseRecord[]; last?: string }> {
  const pk = keys.releasesOfVersion(deployment, tag);
  const prefix = page.environment === undefined ? undefined : `${page.environment}#`;
  const out = await ctx.doc.send(
    new QueryCommand({
      TableName: ctx.tableName,
      KeyConditionExpression: prefix ? 'pk = :pk AND begins_with(sk, :env)' : 'pk = :pk',
      ExpressionAttributeValues: { ':pk': pk, ...(prefix ? { ':env': prefix } : {}) },
      ConsistentRead: true,
      Limit: page.limit,
      ExclusiveStartKey: page.after === undefined ? undefined : { pk, sk: page.after },
    }),
  );
  return {
    items: (out.Items ?? []).map((item) => strip<ReleaseRecord>(item)),
    ...(out.LastEvaluatedKey ? { last: out.LastEvaluatedKey.sk as string } : {}),
  };
}

/** Releases of a version counted per status, reading only the status of each. */
export async function releaseStatusCounts(
  ctx: StoreContext,
  deployment: string,
  tag: string,
): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  let start: Record<string, unknown> | undefined;
  do {
    const out = await ctx.doc.send(
      new QueryCommand({
        TableName: ctx.tableName,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': keys.releasesOfVersion(deployment, tag) },
        ProjectionExpression: '#status',
        ExpressionAttributeNames: { '#status': 'status' },
        ExclusiveStartKey: start,
      }),
    );
    for (const item of out.Items ?? []) {
      const status = item.status as string;
      counts[status] = (counts[status] ?? 0) + 1;
    }
    start = out.LastEvaluatedKey;
  } while (start);
  return counts;
}

/**
 * The releases of some targets of a version, by release key: one range Query per environment the
 * targets span (the plan reads only its page's releases).
 */
export async function releasesOfTargets(
  ctx: StoreContext,
  deployment: string,
  tag: string,
  targets: readonly ReleaseTarget[],
): Promise<Map<string, ReleaseRecord>> {
  const ranges = new Map<string, { low: string; high: string }>();
  for (const { environment, resource } of targets) {
    const range = ranges.get(environment);
    if (!range) ranges.set(environment, { low: resource, high: resource });
    else {
      if (resource < range.low) range.low = resource;
      if (resource > range.high) range.high = resource;
    }
  }
  const found = new Map<string, ReleaseRecord>();
  await Promise.all(
    [...ranges].map(async ([environment, { low, high }]) => {
      let start: Record<string, unknown> | undefined;
      do {
        const out = await ctx.doc.send(
          new QueryCommand({
            TableName: ctx.tableName,
            KeyConditionExpression: 'pk = :pk AND sk BETWEEN :low AND :high',
            ExpressionAttributeValues: {
              ':pk': keys.releasesOfVersion(deployment, tag),
              ':low': `${environment}#${low}`,
              ':high': `${environment}#${high}`,
            },
            ExclusiveStartKey: start,
          }),
        );
        for (const item of out.Items ?? []) {
          const release = strip<ReleaseRecord>(item);
          found.set(releaseKeyString(release), release);
        }
        start = out.LastEvaluatedKey;
      } while (start);
    }),
  );
  return found;
}

const TARGET_PREFIX = 'TARGET#';
/** The sort key of a token that starts at a deployment's first target (no target key sorts before it). */
const FIRST = '#';

/**
 * A page of release targets: of one deployment, or of every deployment in id order (`deployments`).
 * The nextToken is the key of the last target read, so it also names the deployment to resume in;
 * a page ends where one deployment's targets end.
 */
export async function listTargetsPage(
  ctx: StoreContext,
  deployments: readonly string[],
  environment: string | undefined,
  page: PageRequest,
): Promise<Page<TargetRecord>> {
  const known = new Set(deployments.map((d) => keys.targetsOfDeployment(d)));
  const token = decodeToken(page.nextToken, { name: 'pk', value: (pk) => known.has(pk) });
  const prefix = environment === undefined ? undefined : `${environment}#`;
  const atFirst = token?.sk === FIRST;
  if (token && !atFirst && prefix && !String(token.sk).startsWith(prefix)) throw new InvalidPageToken();
  const start = atFirst ? undefined : token;
  const index = token ? deployments.indexOf(String(token.pk).slice(TARGET_PREFIX.length)) : 0;
  const deployment = deployments[index];
  if (deployment === undefined) return { items: [] };
  const pk = keys.targetsOfDeployment(deployment);
  const out = await ctx.doc.send(
    new QueryCommand({
      TableName: ctx.tableName,
      KeyConditionExpression: prefix ? 'pk = :pk AND begins_with(sk, :env)' : 'pk = :pk',
      ExpressionAttributeValues: { ':pk': pk, ...(prefix ? { ':env': prefix } : {}) },
      Limit: page.limit ?? DEFAULT_PAGE,
      ExclusiveStartKey: start,
    }),
  );
  const items = (out.Items ?? []).map((item) => strip<TargetRecord>(item));
  const next = deployments[index + 1];
  return {
    items,
    nextToken:
      encodeToken(out.LastEvaluatedKey) ??
      // This deployment is done: the next page starts at the next one (before its first key).
      (next === undefined ? undefined : encodeToken({ pk: keys.targetsOfDeployment(next), sk: FIRST })),
  };
}

/** Several releases by key, 100 per BatchGetItem (the release-target list's live statuses). */
export async function getReleases(
  ctx: StoreContext,
  releases: readonly ReleaseKey[],
): Promise<Map<string, ReleaseRecord>> {
  const found = new Map<string, ReleaseRecord>();
  const unique = [...new Map(releases.map((r) => [releaseKeyString(r), r])).values()];
  const chunks: ReleaseKey[][] = [];
  for (let i = 0; i < unique.length; i += 100) chunks.push(unique.slice(i, i + 100));
  await Promise.all(
    chunks.map(async (chunk) => {
      let pending: Record<string, unknown>[] = chunk.map((r) =>
        keys.release(r.deployment, r.tag, r.environment, r.resource),
      );
      for (let attempt = 0; pending.length > 0; attempt++) {
        if (attempt === 8) throw new Error('DynamoDB kept releases unprocessed.');
        if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, 50 * 2 ** attempt));
        const out = await ctx.doc.send(
          new BatchGetCommand({ RequestItems: { [ctx.tableName]: { Keys: pending } } }),
        );
        for (const item of out.Responses?.[ctx.tableName] ?? []) {
          const release = strip<ReleaseRecord>(item);
          found.set(releaseKeyString(release), release);
        }
        pending = out.UnprocessedKeys?.[ctx.tableName]?.Keys ?? [];
      }
    }),
  );
  return found;
}
