import {
  DeleteCommand,
  GetCommand,
  PutCommand,
  QueryCommand,
  ScanCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { currentDate, isoNow } from '../../core/clock';
import {
  type EventData,
  type Guard,
  type LifecycleEvent,
  type ReleaseIn,
  type ReleaseRecord,
  type ReleaseUpdate,
  TransitionRefused,
  transition,
} from '../../core/lifecycle';
import type { JobKind, JobStatus, ReleaseStatus } from '../../core/status';
import type { AgentPoll } from '../agents/types';
import { batchGet, batchWrite, itemId } from './batch';
import { ConditionFailed, type Item, isConditionFailed, queryItems, type StoreContext } from './client';
import { keys } from './keys';

/** Versions, releases, release targets, jobs and waiters: every change a single conditional write. */

export interface VersionRecord {
  deployment: string;
  tag: string;
  status: 'building' | 'ready' | 'rejected';
  metadata: Record<string, string>;
  config: Record<string, unknown>;
  /** Hash of the create body, so a retried create can be told from a different one. */
  bodyHash: string;
  createdAt: string;
  updatedAt: string;
  createdBy?: string;
}

/** A release, by status, and its drain sub-state: shared/core/lifecycle.ts. */
export type { DrainState, ReleaseRecord } from '../../core/lifecycle';

import type { ReleaseKey } from '../../core/records';

export type { ReleaseKey };

export interface TargetRecord {
  deployment: string;
  environment: string;
  resource: string;
  /** Last successful version, and every recent successful version, newest first (current included). */
  currentVersion: string | null;
  /** Absent until the target's first success. */
  successfulVersions?: string[];
  desiredVersion: string | null;
  /** The version whose rollout holds the target (at most one active rollout per target). */
  activeTag: string | null;
  activeCreatedAt: string | null;
  lastSucceededAt: string | null;
  /**
   * Since when the target has been failing: its first release failed or rolled back after its last
   * success (set by the delivery metrics, cleared by the next success; shared/services/delivery.ts).
   */
  failingSince?: string;
}

export interface JobRecord extends ReleaseKey {
  jobId: string;
  kind: JobKind;
  attempt: number;
  status: JobStatus;
  message: string | null;
  links: Record<string, string>;
  /** Secrets of the job: never rendered, logged or put into execution state. */
  tokenHash?: string;
  taskToken?: string;
  sentAt: string | null;
  /** Set for a polling agent (202 with statusUrl, or an agent that is always polled). */
  statusUrl?: string;
  pollIntervalSeconds?: number;
  /** How to read statusUrl when it is not the webhook format (fixed at dispatch; holds no secret). */
  poll?: AgentPoll;
  createdAt: string;
  updatedAt: string;
}

export const releaseKeyString = (r: ReleaseKey) => `${r.deployment}#${r.tag}#${r.environment}#${r.resource}`;

/** The record of an item: without its keys, nor its outbox (read only by the sweep, raw). */
function strip<T>(item: Item | undefined): T | undefined {
  if (!item) return undefined;
  const { pk: _pk, sk: _sk, gsi1pk: _g1, gsi1sk: _g2, pendingEvents: _e, outboxUnsent: _u, ...rest } = item;
  return rest as T;
}

function oldItem(error: unknown): Item | undefined {
  const raw = (error as { Item?: Record<string, unknown> }).Item;
  return raw ? unmarshall(raw as Parameters<typeof unmarshall>[0]) : undefined;
}

/**
 * Runs a conditional write; a lost condition becomes ConditionFailed carrying the current item
 * (from ReturnValuesOnConditionCheckFailure, or a consistent read where the server lacks it).
 */
async function conditional<T>(
  ctx: StoreContext,
  key: { pk: string; sk: string },
  write: () => Promise<T>,
): Promise<T> {
  try {
    return await write();
  } catch (error) {
    if (!isConditionFailed(error)) throw error;
    const current =
      oldItem(error) ??
      (await ctx.doc.send(new GetCommand({ TableName: ctx.tableName, Key: key, ConsistentRead: true }))).Item;
    throw new ConditionFailed(current);
  }
}

interface Patch {
  set?: Record<string, unknown>;
  /** Appended to the list, which is created when absent. */
  append?: Record<string, unknown[]>;
  /** Added to the number (ADD), which starts at 0. */
  add?: Record<string, number>;
  remove?: string[];
}

function updateExpression(patch: Patch) {
  const names: Record<string, string> = {};
  const values: Record<string, unknown> = {};
  const sets: string[] = [];
  Object.entries(patch.set ?? {}).forEach(([name, value], i) => {
    names[`#s${i}`] = name;
    values[`:s${i}`] = value;
    sets.push(`#s${i} = :s${i}`);
  });
  Object.entries(patch.append ?? {}).forEach(([name, value], i) => {
    names[`#a${i}`] = name;
    values[`:a${i}`] = value;
    values[':emptyList'] = [];
    sets.push(`#a${i} = list_append(if_not_exists(#a${i}, :emptyList), :a${i})`);
  });
  const removes = (patch.remove ?? []).map((name, i) => {
    names[`#r${i}`] = name;
    return `#r${i}`;
  });
  const adds = Object.entries(patch.add ?? {}).map(([name, value], i) => {
    names[`#n${i}`] = name;
    values[`:n${i}`] = value;
    return `#n${i} :n${i}`;
  });
  const expression = [
    sets.length ? `SET ${sets.join(', ')}` : '',
    removes.length ? `REMOVE ${removes.join(', ')}` : '',
    adds.length ? `ADD ${adds.join(', ')}` : '',
  ]
    .filter(Boolean)
    .join(' ');
  return { expression, names, values };
}

/** A single-item update under a condition written with #names/:values of its own. */
export async function updateItem<T>(
  ctx: StoreContext,
  key: { pk: string; sk: string },
  patch: Patch,
  condition?: { expression: string; names?: Record<string, string>; values?: Record<string, unknown> },
): Promise<T> {
  const u = updateExpression(patch);
  const names = { ...u.names, ...condition?.names };
  const values = { ...u.values, ...condition?.values };
  const out = await conditional(ctx, key, () =>
    ctx.doc.send(
      new UpdateCommand({
        TableName: ctx.tableName,
        Key: key,
        UpdateExpression: u.expression,
        ConditionExpression: condition?.expression,
        ExpressionAttributeNames: Object.keys(names).length ? names : undefined,
        ExpressionAttributeValues: Object.keys(values).length ? values : undefined,
        ReturnValues: 'ALL_NEW',
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      }),
    ),
  );
  return strip<T>(out.Attributes) as T;
}

/** Creates the item unless it exists; returns the item that is stored either way. */
export async function putIfAbsent<T extends object>(
  ctx: StoreContext,
  key: { pk: string; sk: string },
  value: T,
  extra: Item = {},
): Promise<{ created: boolean; item: T }> {
  try {
    await conditional(ctx, key, () =>
      ctx.doc.send(
        new PutCommand({
          TableName: ctx.tableName,
          Item: { ...key, ...extra, ...value },
          ConditionExpression: 'attribute_not_exists(pk)',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      ),
    );
    return { created: true, item: value };
  } catch (error) {
    if (error instanceof ConditionFailed && error.current)
      return { created: false, item: strip<T>(error.current) as T };
    throw error;
  }
}

async function get<T>(
  ctx: StoreContext,
  key: { pk: string; sk: string },
  consistent = true,
): Promise<T | undefined> {
  const out = await ctx.doc.send(
    new GetCommand({ TableName: ctx.tableName, Key: key, ConsistentRead: consistent }),
  );
  return strip<T>(out.Item);
}

async function queryAll<T>(
  ctx: StoreContext,
  input: { pk: string; skPrefix?: string; index?: 'gsi1'; forward?: boolean },
): Promise<T[]> {
  const pkName = input.index ? 'gsi1pk' : 'pk';
  const skName = input.index ? 'gsi1sk' : 'sk';
  const items = await queryItems(ctx, {
    IndexName: input.index,
    KeyConditionExpression: input.skPrefix ? '#pk = :pk AND begins_with(#sk, :sk)' : '#pk = :pk',
    ExpressionAttributeNames: input.skPrefix ? { '#pk': pkName, '#sk': skName } : { '#pk': pkName },
    ExpressionAttributeValues: input.skPrefix
      ? { ':pk': input.pk, ':sk': input.skPrefix }
      : { ':pk': input.pk },
    ScanIndexForward: input.forward ?? true,
  });
  return items.map((item) => strip<T>(item) as T);
}

// ---- versions ---------------------------------------------------------------------------------

export const versionKey = (deployment: string, tag: string) => keys.version(deployment, tag);

export const getVersion = (ctx: StoreContext, deployment: string, tag: string) =>
  get<VersionRecord>(ctx, keys.version(deployment, tag));

export const putVersionIfAbsent = (ctx: StoreContext, version: VersionRecord) =>
  putIfAbsent(ctx, keys.version(version.deployment, version.tag), version, {
    gsi1pk: keys.versionsByCreation(version.deployment),
    gsi1sk: `${version.createdAt}#${version.tag}`,
  });

/** Versions of a deployment, newest first. */
export const listVersions = (ctx: StoreContext, deployment: string) =>
  queryAll<VersionRecord>(ctx, { pk: keys.versionsByCreation(deployment), index: 'gsi1', forward: false });

/** The newest ready version of a deployment: read newest first, a page at a time, until one is ready. */
export async function newestReadyVersion(
  ctx: StoreContext,
  deployment: string,
): Promise<VersionRecord | undefined> {
  let start: Record<string, unknown> | undefined;
  do {
    const out = await ctx.doc.send(
      new QueryCommand({
        TableName: ctx.tableName,
        IndexName: 'gsi1',
        KeyConditionExpression: 'gsi1pk = :pk',
        FilterExpression: '#status = :ready',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: { ':pk': keys.versionsByCreation(deployment), ':ready': 'ready' },
        ScanIndexForward: false,
        Limit: 25,
        ExclusiveStartKey: start,
      }),
    );
    const found = out.Items?.[0];
    if (found) return strip<VersionRecord>(found);
    start = out.LastEvaluatedKey;
  } while (start);
  return undefined;
}

// ---- releases ---------------------------------------------------------------------------------

export const releaseItemKey = (r: ReleaseKey) => keys.release(r.deployment, r.tag, r.environment, r.resource);

export const getRelease = (ctx: StoreContext, r: ReleaseKey) => get<ReleaseRecord>(ctx, releaseItemKey(r));

/**
 * A release is created pending; from there only `applyTransition` moves it. Releases are created
 * under their deployment's lease (`keys.releasesLease`), as `putNewReleases` writes blind.
 */
export const putReleaseIfAbsent = (ctx: StoreContext, release: ReleaseIn<'pending'>) =>
  putIfAbsent(ctx, releaseItemKey(release), release);

/** What starting a release needs of it, by `releaseKeyString`, for those of `releases` that exist (consistent). */
export async function readReleaseStarts(
  ctx: StoreContext,
  releases: ReleaseKey[],
): Promise<Map<string, Pick<ReleaseRecord, 'status' | 'generation'>>> {
  const found = await batchGet(ctx, releases.map(releaseItemKey), ['status', 'generation']);
  const byItem = new Map(releases.map((r) => [itemId(releaseItemKey(r)), releaseKeyString(r)]));
  return new Map(
    [...found].map(([id, item]) => [
      byItem.get(id) as string,
      { status: item.status as ReleaseStatus, generation: item.generation as number | undefined },
    ]),
  );
}

/**
 * Writes new releases with BatchWriteItem, which carries no condition: only for releases read absent
 * under their deployment's lease, with the lease's fence (shared/adapters/store/lease.ts).
 */
export const putNewReleases = (ctx: StoreContext, releases: ReleaseIn<'pending'>[], fence: AbortSignal) =>
  batchWrite(
    ctx,
    releases.map((r) => ({ put: { ...releaseItemKey(r), ...r } })),
    fence,
  );

export const listReleases = (ctx: StoreContext, deployment: string, tag: string, environment?: string) =>
  queryAll<ReleaseRecord>(ctx, {
    pk: keys.releasesOfVersion(deployment, tag),
    skPrefix: environment ? `${environment}#` : undefined,
  });

/**
 * The one writer of a release's lifecycle (status, waitingFor, jobId, drain, rolledBackTo, jobKind,
 * rollbackJobId, finishedAt): the update the transition table of shared/core/lifecycle.ts allows
 * for `event` from the status the release was read in, written on the condition that the status is
 * still one of the row's `from` (and, for a guard a concurrent write could break, that the guard
 * still holds). Undefined when the table or the condition refuses: the release moved on meanwhile.
 * Progress that is not lifecycle state is written by `updateReleaseFields` below.
 */
export async function applyTransition<E extends LifecycleEvent>(
  ctx: StoreContext,
  release: ReleaseRecord,
  event: E,
  data: EventData[E],
  now = currentDate(),
  outbox: OutboxRecord[] = [],
): Promise<ReleaseRecord | undefined> {
  let update: ReleaseUpdate;
  try {
    update = transition(release, event, data, now);
  } catch (error) {
    if (error instanceof TransitionRefused) return undefined;
    throw error;
  }
  const guard = update.guard && GUARD_CONDITIONS[update.guard]?.(data as { jobId?: string });
  const set = { ...update.set, updatedAt: now.toISOString() };
  return writeRelease(ctx, release, withOutbox({ set }, releaseItemKey(release), outbox), update.from, guard);
}

/**
 * An item's outbox (shared/services/rollouts/outbox.ts): the audit records of the events its writes
 * said, appended in the same write, with the number of them not yet published (`outboxUnsent`). Each
 * writer publishes its own records and counts them off; the last one empties the outbox. An item with
 * records is in gsi1 under `keys.outbox`, by when the newest was written, for the sweep that publishes
 * what a crash left. Releases (their transitions) and jobs (dispatched, updated) have one.
 */
export interface OutboxRecord {
  id: string;
  time: string;
}
export interface Outboxed {
  pendingEvents?: OutboxRecord[];
  outboxUnsent?: number;
}
/** Records of an item's outbox to publish: those one write appended, or all of them for the sweep. */
export interface Outbox {
  key: { pk: string; sk: string };
  records: OutboxRecord[];
  /** Read by the sweep: how many were unsent and held, which its emptying write checks. */
  swept?: { unsent: number; held: number };
}
const OUTBOX_ATTRIBUTES = ['pendingEvents', 'outboxUnsent', 'gsi1pk', 'gsi1sk'];

/** The write that also appends `records` to the item's outbox. */
function withOutbox(patch: Patch, key: { pk: string; sk: string }, records: OutboxRecord[]): Patch {
  const first = records[0];
  if (!first) return patch;
  return {
    ...patch,
    set: { ...patch.set, gsi1pk: keys.outbox, gsi1sk: `${first.time}#${key.pk}#${key.sk}` },
    append: { pendingEvents: records },
    add: { outboxUnsent: records.length },
  };
}

/** The records a write put into a release's outbox. */
export const releaseOutbox = (release: ReleaseKey, records: OutboxRecord[]): Outbox => ({
  key: releaseItemKey(release),
  records,
});

/** The records a write put into a job's outbox. */
export const jobOutbox = (jobId: string, records: OutboxRecord[]): Outbox => ({
  key: keys.job(jobId),
  records,
});

/**
 * Counts an outbox's published records off. A writer's: empties the outbox when no other record is
 * unsent, else only counts its own off (the last writer to finish empties it). The sweep's: empties
 * it while it is as the sweep read it.
 */
export async function clearOutbox(ctx: StoreContext, outbox: Outbox): Promise<void> {
  const tryWrite = async (patch: Patch, expression: string, values: Record<string, unknown>) => {
    try {
      await updateItem(ctx, outbox.key, patch, { expression, values });
      return true;
    } catch (error) {
      if (error instanceof ConditionFailed) return false;
      throw error;
    }
  };
  const empty = { remove: OUTBOX_ATTRIBUTES };
  if (outbox.swept) {
    await tryWrite(empty, 'outboxUnsent = :unsent AND size(pendingEvents) = :held', {
      ':unsent': outbox.swept.unsent,
      ':held': outbox.swept.held,
    });
    return;
  }
  const mine = outbox.records.length;
  // Between the two writes another writer may count off: then this one is the last, and empties.
  for (let attempt = 0; attempt < 3; attempt++) {
    if (await tryWrite(empty, 'outboxUnsent = :mine', { ':mine': mine })) return;
    if (await tryWrite({ add: { outboxUnsent: -mine } }, 'outboxUnsent > :mine', { ':mine': mine })) return;
  }
}

/** A page of the outboxes with records written before `before` (gsi1, eventually consistent). */
export async function listOutboxes(
  ctx: StoreContext,
  before: string,
  limit: number,
  start?: Record<string, unknown>,
): Promise<{ outboxes: Outbox[]; next?: Record<string, unknown> }> {
  const out = await ctx.doc.send(
    new QueryCommand({
      TableName: ctx.tableName,
      IndexName: 'gsi1',
      KeyConditionExpression: 'gsi1pk = :pk AND gsi1sk < :before',
      ExpressionAttributeValues: { ':pk': keys.outbox, ':before': before },
      Limit: limit,
      ExclusiveStartKey: start,
    }),
  );
  return {
    outboxes: (out.Items ?? []).map((item) => {
      const { pendingEvents = [], outboxUnsent = 0 } = item as Outboxed;
      return {
        key: { pk: item.pk as string, sk: item.sk as string },
        records: pendingEvents,
        swept: { unsent: outboxUnsent, held: pendingEvents.length },
      };
    }),
    next: out.LastEvaluatedKey,
  };
}

/**
 * Progress that is not lifecycle state: verification measurements, the execution's round count and
 * its generation (shared/services/rollouts/verify.ts, rounds.ts). Written only while the release is still in
 * the status it was read in; undefined when it is not.
 */
export const updateReleaseFields = (
  ctx: StoreContext,
  release: ReleaseRecord,
  fields: Partial<Pick<ReleaseRecord, 'verification' | 'executionRounds' | 'generation'>>,
) => writeRelease(ctx, release, { set: { ...fields, updatedAt: isoNow() } }, [release.status]);

interface Condition {
  expression: string;
  values?: Record<string, unknown>;
}

/** The table's guards that a concurrent write could break, as conditions of the write. */
const GUARD_CONDITIONS: Partial<Record<Guard, (data: { jobId?: string }) => Condition>> = {
  not_started: () => ({
    expression: 'attribute_not_exists(startedAt) OR startedAt = :null',
    values: { ':null': null },
  }),
  no_job: () => ({ expression: 'attribute_not_exists(jobId) OR jobId = :null', values: { ':null': null } }),
  no_other_job: (data) => ({
    expression: 'attribute_not_exists(jobId) OR jobId = :null OR jobId = :job',
    values: { ':null': null, ':job': data.jobId },
  }),
};

/** Updates a release when its status is one of `from` (and the extra condition holds). */
async function writeRelease(
  ctx: StoreContext,
  r: ReleaseKey,
  patch: Patch,
  from: readonly ReleaseStatus[],
  extraCondition?: Condition,
): Promise<ReleaseRecord | undefined> {
  const values: Record<string, unknown> = {};
  from.forEach((status, i) => {
    values[`:from${i}`] = status;
  });
  const statusCondition = `#status IN (${from.map((_, i) => `:from${i}`).join(', ')})`;
  try {
    return await updateItem<ReleaseRecord>(ctx, releaseItemKey(r), patch, {
      expression: extraCondition
        ? `(${statusCondition}) AND (${extraCondition.expression})`
        : statusCondition,
      names: { '#status': 'status' },
      values: { ...values, ...extraCondition?.values },
    });
  } catch (error) {
    if (error instanceof ConditionFailed) return undefined;
    throw error;
  }
}

/** Non-terminal releases, for the local runtime's restart (a Scan is fine on a local table). */
export async function scanUnfinishedReleases(ctx: StoreContext): Promise<ReleaseRecord[]> {
  const items: ReleaseRecord[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const out = await ctx.doc.send(
      new ScanCommand({
        TableName: ctx.tableName,
        FilterExpression: 'begins_with(pk, :p) AND #status IN (:a, :b, :c, :d, :e)',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: {
          ':p': 'RELEASES#',
          ':a': 'pending',
          ':b': 'waiting',
          ':c': 'deploying',
          ':d': 'verifying',
          ':e': 'rolling_back',
        },
        ExclusiveStartKey: start,
      }),
    );
    items.push(...(out.Items ?? []).map((item) => strip<ReleaseRecord>(item) as ReleaseRecord));
    start = out.LastEvaluatedKey;
  } while (start);
  return items;
}

// ---- release targets --------------------------------------------------------------------------

export const targetItemKey = (t: Omit<ReleaseKey, 'tag'>) =>
  keys.target(t.deployment, t.environment, t.resource);

export const getTarget = (ctx: StoreContext, t: Omit<ReleaseKey, 'tag'>) =>
  get<TargetRecord>(ctx, targetItemKey(t));

export const listTargets = (ctx: StoreContext, deployment: string, environment?: string) =>
  queryAll<TargetRecord>(ctx, {
    pk: keys.targetsOfDeployment(deployment),
    skPrefix: environment ? `${environment}#` : undefined,
  });

/** Deletes a target item no rollout holds; false when one holds it (again). */
export async function deleteIdleTarget(ctx: StoreContext, t: Omit<ReleaseKey, 'tag'>): Promise<boolean> {
  try {
    await ctx.doc.send(
      new DeleteCommand({
        TableName: ctx.tableName,
        Key: targetItemKey(t),
        ConditionExpression: 'attribute_not_exists(activeTag) OR activeTag = :none',
        ExpressionAttributeValues: { ':none': null },
      }),
    );
    return true;
  } catch (error) {
    if (isConditionFailed(error)) return false;
    throw error;
  }
}

// ---- jobs -------------------------------------------------------------------------------------

export const getJob = (ctx: StoreContext, jobId: string) => get<JobRecord>(ctx, keys.job(jobId));
export const putJobIfAbsent = (ctx: StoreContext, job: JobRecord) =>
  putIfAbsent(ctx, keys.job(job.jobId), job);
/** Updates a job; `outbox`: the audit records of what the update says, written with it (see Outbox). */
export const updateJob = (
  ctx: StoreContext,
  jobId: string,
  patch: Patch,
  condition?: { expression: string; names?: Record<string, string>; values?: Record<string, unknown> },
  outbox: OutboxRecord[] = [],
) => updateItem<JobRecord>(ctx, keys.job(jobId), withOutbox(patch, keys.job(jobId), outbox), condition);

// ---- waiters: executions parked on a signal ---------------------------------------------------

export interface Waiter {
  signal: string;
  release: ReleaseKey;
  taskToken: string;
  since: string;
}

export async function putWaiter(ctx: StoreContext, waiter: Waiter): Promise<void> {
  await ctx.doc.send(
    new PutCommand({
      TableName: ctx.tableName,
      Item: { ...keys.waiter(waiter.signal, releaseKeyString(waiter.release)), ...waiter },
    }),
  );
}

export const listWaiters = (ctx: StoreContext, signal: string) =>
  queryAll<Waiter>(ctx, { pk: keys.waiters(signal) });

/** At most `limit` waiters of a signal after the release key `after`, in key order (a bounded wake). */
export async function listWaitersAfter(
  ctx: StoreContext,
  signal: string,
  after: string | undefined,
  limit: number,
): Promise<Waiter[]> {
  const out = await ctx.doc.send(
    new QueryCommand({
      TableName: ctx.tableName,
      KeyConditionExpression: after ? 'pk = :pk AND sk > :after' : 'pk = :pk',
      ExpressionAttributeValues: { ':pk': keys.waiters(signal), ...(after ? { ':after': after } : {}) },
      Limit: limit,
    }),
  );
  return (out.Items ?? []).map((item) => strip<Waiter>(item) as Waiter);
}

/** Removes a waiter only if it still holds this token (a newer registration is kept). */
export async function deleteWaiter(ctx: StoreContext, waiter: Waiter): Promise<boolean> {
  try {
    await ctx.doc.send(
      new DeleteCommand({
        TableName: ctx.tableName,
        Key: keys.waiter(waiter.signal, releaseKeyString(waiter.release)),
        ConditionExpression: 'taskToken = :t',
        ExpressionAttributeValues: { ':t': waiter.taskToken },
      }),
    );
    return true;
  } catch (error) {
    if (isConditionFailed(error)) return false;
    throw error;
  }
}
