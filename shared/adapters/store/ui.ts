import { BatchGetCommand, type BatchGetCommandOutput, QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { ReleaseTally, TargetTally } from '../../core/summary';
import type { AuditRecord } from '../events';
import { queryPages, type StoreContext } from './client';
import { decodeToken, encodeToken, InvalidPageToken, type Page } from './config';
import { keys } from './keys';
import { getReleases } from './pages';
import type { ReleaseRecord, TargetRecord } from './rollouts';

/**
 * The status page's reads at fleet size (patterns 1, 6 and 8 of ./table.ts): counts read a
 * projection of a few attributes page by page, lists stop after a bounded number of DynamoDB pages
 * and hand back a nextToken. No read here returns a whole partition's item bodies.
 */

/**
 * DynamoDB pages one filtered list request reads before it answers with a nextToken. Each reads four
 * times the items of the one before (from `limit`; DynamoDB stops a page at 1 MB anyway), so a common
 * status costs one small page and a rare one a few large ones.
 */
const MAX_QUERY_PAGES = 5;

/** Calls `visit` with every item of a partition, reading only `attributes`. */
async function forEachProjected(
  ctx: StoreContext,
  pk: string,
  attributes: string[],
  visit: (item: Record<string, unknown>) => void,
): Promise<void> {
  const names = Object.fromEntries(attributes.map((a, i) => [`#a${i}`, a]));
  const pages = queryPages(ctx, {
    KeyConditionExpression: 'pk = :pk',
    ExpressionAttributeValues: { ':pk': pk },
    ProjectionExpression: Object.keys(names).join(', '),
    ExpressionAttributeNames: names,
  });
  for await (const page of pages) for (const item of page.Items ?? []) visit(item);
}

/** The status of every release of a version (three attributes each). */
export async function releaseTallies(ctx: StoreContext, deployment: string, tag: string) {
  const out: ReleaseTally[] = [];
  await forEachProjected(
    ctx,
    keys.releasesOfVersion(deployment, tag),
    ['environment', 'status', 'waitingFor'],
    (item) => out.push(item as unknown as ReleaseTally),
  );
  return out;
}

/** The current version of every release target of a deployment that ever had a rollout. */
export async function targetTallies(ctx: StoreContext, deployment: string) {
  const out: TargetTally[] = [];
  await forEachProjected(
    ctx,
    keys.targetsOfDeployment(deployment),
    ['environment', 'currentVersion'],
    (item) => out.push(item as unknown as TargetTally),
  );
  return out;
}

export interface ReleaseFilter {
  statuses?: readonly string[];
  limit: number;
  nextToken?: string;
}

/**
 * One page of a version's releases (in an environment, or in all), in resource id order, optionally only those in
 * `statuses`. It reads at most MAX_QUERY_PAGES DynamoDB pages, so a rare status may come back as a
 * short (even empty) page with a nextToken.
 */
export async function pageReleasesIn(
  ctx: StoreContext,
  deployment: string,
  tag: string,
  environment: string | undefined,
  filter: ReleaseFilter,
): Promise<Page<ReleaseRecord>> {
  const pk = keys.releasesOfVersion(deployment, tag);
  let start = decodeToken(filter.nextToken, { name: 'pk', value: pk });
  const prefix = environment === undefined ? '' : `${environment}#`;
  if (start && !String(start.sk).startsWith(prefix)) throw new InvalidPageToken();
  const statuses = filter.statuses ?? [];
  const items: ReleaseRecord[] = [];
  for (let page = 0; page < MAX_QUERY_PAGES && items.length < filter.limit; page++) {
    const out = await ctx.doc.send(
      new QueryCommand({
        TableName: ctx.tableName,
        KeyConditionExpression: prefix ? 'pk = :pk AND begins_with(sk, :env)' : 'pk = :pk',
        FilterExpression: statuses.length
          ? `#status IN (${statuses.map((_, i) => `:s${i}`).join(', ')})`
          : undefined,
        ExpressionAttributeNames: statuses.length ? { '#status': 'status' } : undefined,
        ExpressionAttributeValues: {
          ':pk': pk,
          ...(prefix ? { ':env': prefix } : {}),
          ...Object.fromEntries(statuses.map((s, i) => [`:s${i}`, s])),
        },
        Limit: statuses.length ? filter.limit * 4 ** page : filter.limit - items.length,
        ExclusiveStartKey: start,
      }),
    );
    for (const item of out.Items ?? []) {
      if (items.length === filter.limit) {
        // Full: the next page starts after the last item returned, not after the last one read.
        const last = items.at(-1) as ReleaseRecord;
        return {
          items,
          nextToken: encodeToken(keys.release(deployment, tag, last.environment, last.resource)),
        };
      }
      items.push(item as ReleaseRecord);
    }
    start = out.LastEvaluatedKey;
    if (!start) break;
  }
  return { items, nextToken: encodeToken(start) };
}

/** Resources of the collection one search request reads at most, 1,000 to a DynamoDB page. */
const SEARCH_PAGE = 1000;
const SEARCH_PAGES = 5;

/**
 * One page of a version's releases in an environment whose resource id or name contains `text` (case
 * insensitive), in resource id order. It walks the resource collection (ids and names only) and reads
 * the releases of the matches by key; after SEARCH_PAGES it answers with what it found and a nextToken.
 */
export async function searchReleasesIn(
  ctx: StoreContext,
  deployment: string,
  tag: string,
  environment: string,
  text: string,
  filter: ReleaseFilter,
): Promise<Page<ReleaseRecord>> {
  const pk = keys.configPartition('resource');
  let start = decodeToken(filter.nextToken, { name: 'pk', value: pk });
  const needle = text.toLowerCase();
  const statuses = new Set(filter.statuses ?? []);
  const items: ReleaseRecord[] = [];
  for (let page = 0; page < SEARCH_PAGES; page++) {
    const out = await ctx.doc.send(
      new QueryCommand({
        TableName: ctx.tableName,
        KeyConditionExpression: 'pk = :pk',
        ProjectionExpression: 'sk, #data.#name',
        ExpressionAttributeNames: { '#data': 'data', '#name': 'name' },
        ExpressionAttributeValues: { ':pk': pk },
        Limit: SEARCH_PAGE,
        ExclusiveStartKey: start,
      }),
    );
    const matches = (out.Items ?? [])
      .filter((item) => {
        const name = (item.data as { name?: string } | undefined)?.name ?? '';
        return String(item.sk).toLowerCase().includes(needle) || name.toLowerCase().includes(needle);
      })
      .map((item) => String(item.sk));
    const releases = await getReleases(
      ctx,
      matches.map((resource) => ({ deployment, tag, environment, resource })),
    );
    const found = [...releases.values()]
      .filter((r) => statuses.size === 0 || statuses.has(r.status))
      .sort((a, b) => (a.resource < b.resource ? -1 : a.resource > b.resource ? 1 : 0));
    for (const release of found) {
      if (items.length === filter.limit)
        return { items, nextToken: encodeToken(keys.config('resource', items.at(-1)?.resource ?? '')) };
      items.push(release);
    }
    start = out.LastEvaluatedKey;
    if (!start) break;
  }
  return { items, nextToken: encodeToken(start) };
}

interface Projection {
  expression: string;
  names: Record<string, string>;
}

/** Items by key with a projection, 100 to a request (BatchGetItem's limit), in no particular order. */
async function getMany<T>(ctx: StoreContext, itemKeys: { pk: string; sk: string }[], projection: Projection) {
  const out: T[] = [];
  for (let i = 0; i < itemKeys.length; i += 100) {
    let pending: Record<string, unknown>[] | undefined = itemKeys.slice(i, i + 100);
    for (let attempt = 0; pending?.length; attempt++) {
      if (attempt === 8) throw new Error('DynamoDB kept keys unprocessed.');
      if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, 50 * 2 ** attempt));
      const result: BatchGetCommandOutput = await ctx.doc.send(
        new BatchGetCommand({
          RequestItems: {
            [ctx.tableName]: {
              Keys: pending,
              ProjectionExpression: projection.expression,
              ExpressionAttributeNames: projection.names,
            },
          },
        }),
      );
      out.push(...((result.Responses?.[ctx.tableName] ?? []) as T[]));
      pending = result.UnprocessedKeys?.[ctx.tableName]?.Keys;
    }
  }
  return out;
}

/** The current version of these resources' targets in an environment (those that have a target item). */
export const getTargetsOf = (
  ctx: StoreContext,
  deployment: string,
  environment: string,
  resources: string[],
) =>
  getMany<Pick<TargetRecord, 'resource' | 'currentVersion'>>(
    ctx,
    resources.map((r) => keys.target(deployment, environment, r)),
    { expression: '#r, #c', names: { '#r': 'resource', '#c': 'currentVersion' } },
  );

/** The names of these resources, by id. */
export async function resourceNames(ctx: StoreContext, ids: string[]): Promise<Map<string, string>> {
  const items = await getMany<{ sk: string; data?: { name?: string } }>(
    ctx,
    ids.map((id) => keys.config('resource', id)),
    { expression: 'sk, #data.#name', names: { '#data': 'data', '#name': 'name' } },
  );
  return new Map(items.map((item) => [item.sk, item.data?.name ?? item.sk]));
}

/** DynamoDB pages (1 MB each) of a deployment's events one timeline request reads at most. */
const EVENT_PAGES = 20;

/**
 * The events of a version since it was created, only those of `resources` (in `environment`) and the
 * approvals when they are named: the filter runs in DynamoDB, so a page of 50 targets does not carry
 * the events of the other thousands back (pattern 12, gsi1 EVENTS#dep).
 */
export async function eventsOfTargets(
  ctx: StoreContext,
  deployment: string,
  tag: string,
  since: string,
  only?: { environment?: string; resources: string[] },
): Promise<AuditRecord[]> {
  const names: Record<string, string> = { '#v': 'version' };
  const values: Record<string, unknown> = {
    ':pk': keys.eventsOfDeployment(deployment),
    ':since': since,
    ':tag': tag,
  };
  let filter = '#v = :tag';
  if (only?.environment !== undefined) {
    names['#e'] = 'environment';
    values[':env'] = only.environment;
    filter += ' AND #e = :env';
  }
  // IN takes at most 100 operands: a bigger page reads every target's events.
  if (only && only.resources.length <= 99) {
    names['#r'] = 'resource';
    only.resources.forEach((r, i) => {
      values[`:r${i}`] = r;
    });
    const list = only.resources.map((_, i) => `:r${i}`).join(', ');
    filter += ` AND (attribute_not_exists(#r)${list ? ` OR #r IN (${list})` : ''})`;
  }
  const out: AuditRecord[] = [];
  let start: Record<string, unknown> | undefined;
  for (let page = 0; page < EVENT_PAGES; page++) {
    const result = await ctx.doc.send(
      new QueryCommand({
        TableName: ctx.tableName,
        IndexName: 'gsi1',
        KeyConditionExpression: 'gsi1pk = :pk AND gsi1sk >= :since',
        FilterExpression: filter,
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
        ExclusiveStartKey: start,
      }),
    );
    for (const { pk: _pk, sk: _sk, gsi1pk: _a, gsi1sk: _b, ...rest } of result.Items ?? [])
      out.push(rest as AuditRecord);
    start = result.LastEvaluatedKey;
    if (!start) break;
  }
  return out;
}
