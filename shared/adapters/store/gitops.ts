import { GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { isoNow, nowMs } from '../../core/clock';
import type { GitopsEntry } from '../../core/gitops';
import { type Item, isConditionFailed, queryPages, type StoreContext } from './client';
import { keys } from './keys';

/**
 * A gitops file's queue (access pattern 20 of ./table.ts): each release target's job puts its entry
 * (the tag it deploys) here, and whoever holds the queue's lease writes every queued entry into the
 * file in one commit, then marks them `landed` (or `proposed` in a pull request). One conditional
 * write per change; an entry names its job, so a newer job of the target replaces it.
 */

export type GitopsEntryState = 'queued' | 'proposed' | 'landed' | 'failed';

export interface GitopsEntryRecord extends GitopsEntry {
  jobId: string;
  state: GitopsEntryState;
  /** landed: a commit on the branch that holds the entry (a pull request's merge commit). */
  commit?: string;
  /** proposed: the pull request, and its branch. */
  pullRequest?: number;
  branch?: string;
  /** failed: why. */
  message?: string;
}

const LEASE = '#LEASE';
const ENTRY = 'T#';
/** An entry outlives the longest job (jobTimeoutSeconds at most 7 days). */
const KEEP_SECONDS = 8 * 86_400;

const entryKey = (queue: string, resource: string) => ({
  pk: keys.gitopsQueue(queue),
  sk: `${ENTRY}${resource}`,
});

function entryOf(item: Item): GitopsEntryRecord {
  const { pk: _pk, sk: _sk, expiresAt: _ttl, ...rest } = item;
  return rest as unknown as GitopsEntryRecord;
}

/** Queues a job's entry; the same job again (a dispatch sent again) leaves its entry as it is. */
export async function queueGitopsEntry(
  ctx: StoreContext,
  queue: string,
  entry: Omit<GitopsEntryRecord, 'state' | 'queuedAt'>,
): Promise<void> {
  try {
    await ctx.doc.send(
      new PutCommand({
        TableName: ctx.tableName,
        Item: {
          ...entryKey(queue, entry.resource),
          ...entry,
          state: 'queued',
          queuedAt: isoNow(),
          expiresAt: Math.floor(nowMs() / 1000) + KEEP_SECONDS,
        },
        ConditionExpression: 'attribute_not_exists(pk) OR jobId <> :job',
        ExpressionAttributeValues: { ':job': entry.jobId },
      }),
    );
  } catch (error) {
    if (!isConditionFailed(error)) throw error;
  }
}

export async function getGitopsEntry(
  ctx: StoreContext,
  queue: string,
  resource: string,
): Promise<GitopsEntryRecord | undefined> {
  const out = await ctx.doc.send(
    new GetCommand({ TableName: ctx.tableName, Key: entryKey(queue, resource), ConsistentRead: true }),
  );
  return out.Item ? entryOf(out.Item) : undefined;
}

/** The queue's entries still to write, at most `limit` (one commit's worth). */
export async function queuedGitopsEntries(
  ctx: StoreContext,
  queue: string,
  limit = 1000,
): Promise<GitopsEntryRecord[]> {
  const entries: GitopsEntryRecord[] = [];
  const pages = queryPages(ctx, {
    KeyConditionExpression: 'pk = :pk AND begins_with(sk, :entry)',
    FilterExpression: '#state = :queued',
    ExpressionAttributeNames: { '#state': 'state' },
    ExpressionAttributeValues: { ':pk': keys.gitopsQueue(queue), ':entry': ENTRY, ':queued': 'queued' },
    ConsistentRead: true,
  });
  for await (const page of pages) {
    entries.push(...(page.Items ?? []).map(entryOf));
    if (entries.length >= limit) break;
  }
  return entries.slice(0, limit);
}

/** The key of a queue's lease (./lease.ts): one writer of the file at a time. */
export const gitopsLeaseKey = (queue: string) => ({ pk: keys.gitopsQueue(queue), sk: LEASE });

/** Moves an entry on, while it is still this job's and in state `from`; a lost condition changes nothing. */
export async function markGitopsEntry(
  ctx: StoreContext,
  queue: string,
  entry: Pick<GitopsEntryRecord, 'resource' | 'jobId'>,
  from: GitopsEntryState,
  set: Partial<Pick<GitopsEntryRecord, 'state' | 'commit' | 'pullRequest' | 'branch' | 'message'>>,
): Promise<void> {
  const names = Object.keys(set).filter((name) => set[name as keyof typeof set] !== undefined);
  try {
    await ctx.doc.send(
      new UpdateCommand({
        TableName: ctx.tableName,
        Key: entryKey(queue, entry.resource),
        UpdateExpression: `SET ${names.map((_, i) => `#n${i} = :v${i}`).join(', ')}`,
        ConditionExpression: 'jobId = :job AND #state = :from',
        ExpressionAttributeNames: {
          '#state': 'state',
          ...Object.fromEntries(names.map((name, i) => [`#n${i}`, name])),
        },
        ExpressionAttributeValues: {
          ':job': entry.jobId,
          ':from': from,
          ...Object.fromEntries(names.map((name, i) => [`:v${i}`, set[name as keyof typeof set]])),
        },
      }),
    );
  } catch (error) {
    if (!isConditionFailed(error)) throw error;
  }
}
