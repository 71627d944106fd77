import { randomUUID } from 'node:crypto';
import { DeleteCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { log } from '../log';
import { runsLocally } from '../runtime';
import { isConditionFailed, type StoreContext } from './client';

/**
 * Leases: one holder at a time for a key (access pattern 22 of ./table.ts), until it gives the lease
 * back or the lease runs out. The item is `{pk, sk, holder, expiresAt}`, `expiresAt` in epoch seconds
 * (the table's TTL attribute, so a lease a crash left behind is eventually deleted). Leases use the
 * real clock, never the scaled one: they bound real waits.
 */

type Key = { pk: string; sk: string };

/**
 * This process's part of every holder id. The local runtime runs every handler in one process, so a
 * lease held by another process there was held by one that was killed: it is taken at once rather
 * than after its time (else every SIGKILL inside a lease would hold the key for the whole TTL).
 */
const PROCESS = randomUUID();

/** A holder id of this process, new for each hold. */
export const newHolder = () => `${PROCESS}#${randomUUID()}`;

/** Takes the lease (`holder` from newHolder) unless another holder's has not run out; answers whether it did. */
export async function takeLease(
  ctx: StoreContext,
  key: Key,
  holder: string,
  ttlMs: number,
  now = Date.now(),
): Promise<boolean> {
  const local = runsLocally();
  try {
    await ctx.doc.send(
      new PutCommand({
        TableName: ctx.tableName,
        Item: { ...key, holder, expiresAt: Math.ceil((now + ttlMs) / 1000) },
        ConditionExpression: local
          ? 'attribute_not_exists(pk) OR expiresAt < :now OR NOT begins_with(holder, :process)'
          : 'attribute_not_exists(pk) OR expiresAt < :now',
        ExpressionAttributeValues: {
          ':now': Math.floor(now / 1000),
          ...(local ? { ':process': `${PROCESS}#` } : {}),
        },
      }),
    );
    return true;
  } catch (error) {
    if (isConditionFailed(error)) return false;
    throw error;
  }
}

/** Gives the lease back, only if `holder` still holds it; answers whether it did. */
export async function releaseLease(ctx: StoreContext, key: Key, holder: string): Promise<boolean> {
  try {
    await ctx.doc.send(
      new DeleteCommand({
        TableName: ctx.tableName,
        Key: key,
        ConditionExpression: 'holder = :holder',
        ExpressionAttributeValues: { ':holder': holder },
      }),
    );
    return true;
  } catch (error) {
    if (isConditionFailed(error)) return false;
    throw error;
  }
}

/** Another holder kept the lease for longer than the caller would wait. */
export class LeaseBusy extends Error {
  constructor(key: Key, waitedMs: number) {
    super(`The lease ${key.pk} stayed held for ${Math.round(waitedMs / 1000)} s.`);
    this.name = 'LeaseBusy';
  }
}

/** The holder reached half the lease's time before its work was done: it wrote nothing after that. */
export class LeaseExpired extends Error {
  constructor(key: Key) {
    super(`The lease ${key.pk} reached half its time before its work was done.`);
    this.name = 'LeaseExpired';
  }
}

export interface LeaseOptions {
  /** How long the lease lasts when its holder never gives it back. */
  ttlMs: number;
  /** How long to wait for a lease another holds before giving up (LeaseBusy). */
  waitMs: number;
}

const pause = (attempt: number) =>
  new Promise((resolve) => setTimeout(resolve, Math.random() * Math.min(1000, 20 * 2 ** attempt)));

/**
 * Runs `work` holding the lease: waits for it with backoff and full jitter (LeaseBusy after `waitMs`),
 * and gives it back after. Fencing: `work` gets a signal that aborts at half the lease's time,
 * measured from before it was taken; it must pass it to every write the lease protects (a write is
 * then never sent after that point, nor a retry of one), so a holder slowed down past its lease
 * cannot write over the next holder's work. Work cut off so ends with LeaseExpired.
 */
export async function withLease<T>(
  ctx: StoreContext,
  key: Key,
  options: LeaseOptions,
  work: (fence: AbortSignal) => Promise<T>,
): Promise<T> {
  const holder = newHolder();
  const waitFrom = Date.now();
  let takenAt = waitFrom;
  for (let attempt = 0; !(await takeLease(ctx, key, holder, options.ttlMs, takenAt)); attempt++) {
    if (Date.now() - waitFrom > options.waitMs) throw new LeaseBusy(key, Date.now() - waitFrom);
    await pause(attempt);
    takenAt = Date.now();
  }
  const fence = new AbortController();
  const timer = setTimeout(
    () => fence.abort(new LeaseExpired(key)),
    takenAt + options.ttlMs / 2 - Date.now(),
  );
  timer.unref();
  try {
    return await work(fence.signal);
  } catch (error) {
    if (fence.signal.aborted) throw new LeaseExpired(key);
    throw error;
  } finally {
    clearTimeout(timer);
    // A lease not given back only makes the next holder wait for its time to run out.
    await releaseLease(ctx, key, holder).catch((error: Error) =>
      log.warn('lease not given back', { key: key.pk, error: error.message }),
    );
  }
}
