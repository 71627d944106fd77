import { monotonicFactory } from 'ulid';
import { type Actor, DETAIL_TYPES, putOnBus } from '../../adapters/events';
import type { Runtime } from '../../adapters/runtime';
import { batchWrite } from '../../adapters/store/batch';
import { keys } from '../../adapters/store/keys';
import { putWorkIfAbsent, type WorkRecord } from '../../adapters/store/work';
import { isoNow } from '../../core/clock';

/** What a write asks the work queue to do, in bounded chunks (shared/services/rollouts/reconcile.ts). */
export type ReconcileScope =
  | { deployment: string }
  | { environment: string }
  /** At most RESOURCE_IDS_PER_TASK ids (a sync queues one task per slice). */
  | { resources: string[] }
  | { all: true };

export type WorkTask =
  | { type: 'reconcile'; scope: ReconcileScope }
  /** A version became ready: a release per target, and its execution started. */
  | { type: 'release-version'; deployment: string; tag: string };

/**
 * Executions to wake on a signal that may hold many (a freeze over the whole fleet): WAKES_PER_CHUNK a
 * chunk, those parked at or before `before`.
 */
export type WakeTask = { type: 'wake'; signal: string; before: string };
export const WAKES_PER_CHUNK = 500;

/**
 * The unfinished releases of a version (in one environment) cancelled, or only those with no job yet
 * (a rejection): CANCELS_PER_CHUNK releases read a chunk, in key order (shared/services/rollouts/versions.ts).
 */
export type CancelTask = {
  type: 'cancel-version';
  deployment: string;
  tag: string;
  environment?: string;
  onlyUndispatched: boolean;
  message: string;
  actor: Actor;
};
export const CANCELS_PER_CHUNK = 500;

/** Everything the queue runs. */
export type QueuedTask = WorkTask | WakeTask | CancelTask;

/** Ids that sort in queueing order, so the oldest work is swept first. */
const ulid = monotonicFactory();

/** Asks the work consumer (functions/events/work.ts) to run the next chunk of these work items. */
export async function requestWork(rt: Runtime, ids: string[]): Promise<void> {
  const time = isoNow();
  await putOnBus(
    rt,
    ids.map((workId) => ({ detailType: DETAIL_TYPES.workRequested, time, data: { workId } })),
  );
}

/**
 * Queues the work a write caused and answers at once; the work runs off the request, chunk by chunk,
 * from `cursor` (where work begun inside the request stopped) or else from the start.
 */
export async function queueWork(
  rt: Runtime,
  tasks: QueuedTask[],
  cursor: string | null = null,
): Promise<void> {
  if (tasks.length === 0) return;
  const now = isoNow();
  const records: WorkRecord<QueuedTask>[] = tasks.map((task) => ({
    id: `${task.type}#${ulid()}`,
    task,
    cursor,
    step: 0,
    createdAt: now,
    updatedAt: now,
  }));
  await batchWrite(
    rt,
    records.map((record) => ({ put: { ...keys.work(record.id), ...record } })),
  );
  await requestWork(
    rt,
    records.map((r) => r.id),
  );
}

/** Wakes, off the request and in bounded chunks, every execution parked on the signal until now. */
export const queueWake = (rt: Runtime, signal: string) =>
  queueWork(rt, [{ type: 'wake', signal, before: isoNow() }]);

/**
 * Queues the release of a ready version. A retried create finds the work still queued (and going on)
 * or queues it again, which heals a fan-out a crash cut short: every chunk is idempotent.
 */
export async function queueVersionRelease(rt: Runtime, deployment: string, tag: string): Promise<void> {
  const id = `release-version#${deployment}#${tag}`;
  const task: WorkTask = { type: 'release-version', deployment, tag };
  if (await putWorkIfAbsent(rt, id, task)) await requestWork(rt, [id]);
}
