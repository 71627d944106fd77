import { GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { nowMs, timeScale } from '../core/clock';
import type { Runtime } from './runtime';
import { isConditionFailed } from './store/client';
import { keys } from './store/keys';
import { listWaitersAfter } from './store/rollouts';
import { wake } from './workflow';

/** The marker of a debounced signal (keys.wakeMarker): bumped by every wake it lets through. */
interface WakeMarker {
  version: number;
  /** Epoch ms (domain clock) until which no other wake goes. */
  until: number;
  /** Epoch ms until which one invocation sleeps to wake at `until` for the changes meanwhile. */
  pendingUntil?: number;
}

/** A sleeper that has not woken this long after its window (it crashed) is replaced by a retry. */
const PENDING_GRACE_MS = 60_000;

/**
 * Wakes the executions parked on `signal` at most once per `windowMs` (domain clock), losing no
 * change: the first call of a window wakes at once; of the calls inside the window, one sleeps until
 * the window ends and wakes then, for them all. Every call runs after its change was written, so a
 * wake that begins after the call read the marker (its version moved on, or another caller is the
 * window's sleeper) sees that change too, and the call has nothing left to do.
 */
export async function wakeDebounced(rt: Runtime, signal: string, windowMs: number): Promise<number> {
  // Nobody parked: nothing to wake, nor to wait for (one that parks later decides again after
  // registering: shared/services/rollouts/steps.ts registerWait, so it sees the change).
  if ((await listWaitersAfter(rt, signal, undefined, 1)).length === 0) return 0;
  const Key = keys.wakeMarker(signal);
  const read = await rt.doc.send(new GetCommand({ TableName: rt.tableName, Key, ConsistentRead: true }));
  const seen = read.Item as WakeMarker | undefined;
  const now = nowMs();
  try {
    if (seen && seen.until > now) {
      await rt.doc.send(
        new UpdateCommand({
          TableName: rt.tableName,
          Key,
          UpdateExpression: 'SET pendingUntil = :pending',
          ConditionExpression: 'version = :v AND (attribute_not_exists(pendingUntil) OR pendingUntil < :now)',
          ExpressionAttributeValues: {
            ':pending': seen.until + PENDING_GRACE_MS,
            ':v': seen.version,
            ':now': now,
          },
        }),
      );
      await new Promise((r) => setTimeout(r, (seen.until - now) / timeScale()));
    }
    const at = nowMs();
    await rt.doc.send(
      new PutCommand({
        TableName: rt.tableName,
        Item: {
          ...Key,
          version: (seen?.version ?? 0) + 1,
          until: at + windowMs,
          expiresAt: Math.ceil((Date.now() + windowMs) / 1000) + 3600,
        },
        ConditionExpression: seen ? 'version = :v' : 'attribute_not_exists(pk)',
        ...(seen ? { ExpressionAttributeValues: { ':v': seen.version } } : {}),
      }),
    );
  } catch (error) {
    if (isConditionFailed(error)) return 0;
    throw error;
  }
  return wake(rt, signal);
}
