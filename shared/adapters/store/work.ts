import { DeleteCommand, GetCommand, PutCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { isoNow } from '../../core/clock';
import { isConditionFailed, type StoreContext } from './client';
import { keys } from './keys';

/**
 * Work a write causes, kept in the table until it is done (access pattern 13 of ./table.ts): each
 * item is advanced one bounded chunk at a time, so a crash loses at most the chunk in flight, which is
 * run again (every chunk is idempotent).
 */
export interface WorkRecord<T = unknown> {
  id: string;
  task: T;
  /** Where the next chunk starts (opaque to the store); null for the first chunk. */
  cursor: string | null;
  /** Chunks done so far: the optimistic lock of `advanceWork`. */
  step: number;
  createdAt: string;
  updatedAt: string;
}

/** Creates the work unless work with this id is already queued (then that one goes on). */
export async function putWorkIfAbsent<T>(ctx: StoreContext, id: string, task: T): Promise<boolean> {
  const now = isoNow();
  const record: WorkRecord<T> = { id, task, cursor: null, step: 0, createdAt: now, updatedAt: now };
  try {
    await ctx.doc.send(
      new PutCommand({
        TableName: ctx.tableName,
        Item: { ...keys.work(id), ...record },
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    );
    return true;
  } catch (error) {
    if (isConditionFailed(error)) return false;
    throw error;
  }
}

export async function getWork<T>(ctx: StoreContext, id: string): Promise<WorkRecord<T> | undefined> {
  const out = await ctx.doc.send(
    new GetCommand({ TableName: ctx.tableName, Key: keys.work(id), ConsistentRead: true }),
  );
  if (!out.Item) return undefined;
  const { pk: _pk, sk: _sk, ...record } = out.Item;
  return record as WorkRecord<T>;
}

/** Moves the cursor on from `step`; false when another run moved it first (that run goes on). */
export async function advanceWork(
  ctx: StoreContext,
  id: string,
  step: number,
  cursor: string | null,
): Promise<boolean> {
  try {
    await ctx.doc.send(
      new UpdateCommand({
        TableName: ctx.tableName,
        Key: keys.work(id),
        UpdateExpression: 'SET #cursor = :cursor, #step = :next, updatedAt = :now',
        ConditionExpression: '#step = :step',
        ExpressionAttributeNames: { '#cursor': 'cursor', '#step': 'step' },
        ExpressionAttributeValues: { ':cursor': cursor, ':next': step + 1, ':step': step, ':now': isoNow() },
      }),
    );
    return true;
  } catch (error) {
    if (isConditionFailed(error)) return false;
    throw error;
  }
}

/** Removes finished work, unless another run moved it on meanwhile. */
export async function finishWork(ctx: StoreContext, id: string, step: number): Promise<void> {
  try {
    await ctx.doc.send(
      new DeleteCommand({
        TableName: ctx.tableName,
        Key: keys.work(id),
        ConditionExpression: '#step = :step',
        ExpressionAttributeNames: { '#step': 'step' },
        ExpressionAttributeValues: { ':step': step },
      }),
    );
  } catch (error) {
    if (!isConditionFailed(error)) throw error;
  }
}

/** A page of queued work, oldest id first (the sweep that restarts stalled chains reads it). */
export async function listWork(
  ctx: StoreContext,
  start?: Record<string, unknown>,
): Promise<{ items: WorkRecord[]; next?: Record<string, unknown> }> {
  const out = await ctx.doc.send(
    new QueryCommand({
      TableName: ctx.tableName,
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': keys.work('').pk },
      ProjectionExpression: 'id, #step, updatedAt',
      ExpressionAttributeNames: { '#step': 'step' },
      Limit: 500,
      ExclusiveStartKey: start,
    }),
  );
  return { items: (out.Items ?? []) as WorkRecord[], next: out.LastEvaluatedKey };
}
