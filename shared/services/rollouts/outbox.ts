import { type AuditRecord, auditRecords, type GantryEvent, publishRecords } from '../../adapters/events';
import { log } from '../../adapters/log';
import type { Runtime } from '../../adapters/runtime';
import {
  applyTransition,
  clearOutbox,
  listOutboxes,
  type Outbox,
  type ReleaseRecord,
  releaseOutbox,
} from '../../adapters/store/rollouts';
import { currentDate, nowMs } from '../../core/clock';
import type { EventData, LifecycleEvent } from '../../core/lifecycle';

/**
 * A transition and the events that say so. The events' audit records are written in the same
 * conditional write as the transition (the release's outbox), then published, then removed: a crash
 * between the write and the publish leaves them in the outbox, where the sweep finds them, instead of
 * losing them (docs/decisions/0005-event-outbox.md; a job's changes do the same in ./jobs.ts).
 * Publishing again is harmless: a record keeps its id and time, so the audit item is rewritten and
 * subscribers see the same event id.
 */
export async function transitionAndPublish<E extends LifecycleEvent>(
  ...args: Parameters<typeof transitionWithEvents<E>>
): Promise<ReleaseRecord | undefined> {
  const said = await transitionWithEvents(...args);
  await publishOutboxes(args[0], [said?.outbox]);
  return said?.release;
}

/** A transition written with the records of its events, and where they wait to be published. */
export interface Transitioned {
  release: ReleaseRecord;
  outbox: Outbox;
}

/** The transition with its events in the release's outbox, not yet published: `publishOutboxes` does. */
export async function transitionWithEvents<E extends LifecycleEvent>(
  rt: Runtime,
  release: ReleaseRecord,
  event: E,
  data: EventData[E],
  events: GantryEvent[],
  now = currentDate(),
): Promise<Transitioned | undefined> {
  const records = auditRecords(events, now.getTime());
  const updated = await applyTransition(rt, release, event, data, now, records);
  return updated && { release: updated, outbox: releaseOutbox(release, records) };
}

/**
 * Publishes these outboxes' records (together, in batches), then counts them off. The sweep's
 * outboxes hold every record left (a crash's, but also those of a writer still publishing, which are
 * then sent twice under the same id); one with none unsent is only emptied.
 */
export async function publishOutboxes(rt: Runtime, outboxes: (Outbox | undefined)[]): Promise<void> {
  const some = outboxes.filter((outbox) => outbox !== undefined);
  const unsent = some.filter((outbox) => !outbox.swept || outbox.swept.unsent > 0);
  await publishRecords(
    rt,
    unsent.flatMap((outbox) => outbox.records as AuditRecord[]),
  );
  await Promise.all(some.map((outbox) => clearOutbox(rt, outbox)));
}

/** Outboxes the sweep publishes per page, and pages per sweep (what is left waits for the next). */
const OUTBOXES_PER_PAGE = 100;
const PAGES_PER_SWEEP = 50;

/**
 * Publishes the outboxes left for `olderThanMs` (a crash between a transition and its publish): run
 * with the stalled-work sweep, every minute in AWS, and at start (olderThanMs 0) and every minute locally.
 */
export async function publishStalledOutboxes(rt: Runtime, olderThanMs: number): Promise<number> {
  const before = new Date(nowMs() - olderThanMs).toISOString();
  let published = 0;
  let start: Record<string, unknown> | undefined;
  for (let pages = 0; pages < PAGES_PER_SWEEP; pages++) {
    const page = await listOutboxes(rt, before, OUTBOXES_PER_PAGE, start);
    await publishOutboxes(rt, page.outboxes);
    published += page.outboxes.length;
    start = page.next;
    if (!start) break;
  }
  if (published > 0) log.info('published stalled outboxes', { count: published });
  return published;
}
