import { log } from '../../adapters/log';
import type { Runtime } from '../../adapters/runtime';
import { advanceWork, finishWork, getWork, listWork } from '../../adapters/store/work';
import { wakeSome } from '../../adapters/workflow';
import { nowMs } from '../../core/clock';
import { runChunk } from './reconcile';
import { cancelChunk } from './versions';
import { type QueuedTask, requestWork, WAKES_PER_CHUNK, type WakeTask } from './work-queue';

/**
 * Runs the next chunk of a queued work item and asks for the one after it. Two runs of the same step
 * (a redelivered event, the sweep) both do the chunk, which is idempotent, and only one moves on.
 */
export async function runWorkStep(rt: Runtime, id: string): Promise<'done' | 'more' | 'gone' | 'lost'> {
  const work = await getWork<QueuedTask>(rt, id);
  if (!work) return 'gone';
  const { task } = work;
  const next =
    task.type === 'wake'
      ? await wakeChunk(rt, task, work.cursor)
      : task.type === 'cancel-version'
        ? ((await cancelChunk(rt, task, work.cursor ?? undefined)).last ?? null)
        : await runChunk(rt, task, work.cursor);
  if (next === null) {
    await finishWork(rt, id, work.step);
    log.info('work done', { id, chunks: work.step + 1 });
    return 'done';
  }
  if (!(await advanceWork(rt, id, work.step, next))) return 'lost';
  await requestWork(rt, [id]);
  return 'more';
}

/** One chunk of a wake: the next WAKES_PER_CHUNK waiters of the signal. */
async function wakeChunk(rt: Runtime, task: WakeTask, cursor: string | null): Promise<string | null> {
  const after = await wakeSome(rt, task.signal, {
    after: cursor ?? undefined,
    before: task.before,
    limit: WAKES_PER_CHUNK,
  });
  return after ?? null;
}

/**
 * Asks again for work that has not moved for `stalledMs` (its chain of events broke: a crash, an
 * event that was not delivered). Run every minute in AWS, and at start and every minute locally.
 */
export async function resumeStalledWork(rt: Runtime, stalledMs: number): Promise<number> {
  const before = new Date(nowMs() - stalledMs).toISOString();
  const stalled: string[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const page = await listWork(rt, start);
    stalled.push(...page.items.filter((w) => w.updatedAt <= before).map((w) => w.id));
    start = page.next;
  } while (start);
  await requestWork(rt, stalled);
  if (stalled.length > 0) log.info('resumed stalled work', { count: stalled.length });
  return stalled.length;
}
