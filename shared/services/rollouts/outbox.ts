import { type AuditRecord, auditRecords, type GantryEvent, publishRecords } from '../../adapters/events';
import { log } from '../../adapters/log';
import type { Runtime } from '../../adapters/runtime';
import {
  applyTransition,
  clearOutbox,
  listOutboxes,
  type Outboxed,
  type ReleaseRecord,
} from '../../adapters/store/rollouts';
import { currentDate, nowMs } from '../../core/clock';
import type { EventData, LifecycleEvent } from '../../core/lifecycle';

/**
 * A transition and the events that say so. The events' audit records are written in the same
 * conditional write as the transition (the release's outbox), then published, then removed: a crash
 * between the write and the publish leaves them in the outbox, where the sweep finds them, instead of
 * losing them (without transactions: docs/decisions/0002-one-table.md). Publishing again is harmless:
 * a record keeps its id and time, so the audit item is rewritten and subscribers see the same event id.
 */
export async function transitionAndPublish<E extends LifecycleEvent>(
  rt: Runtime,
  release: ReleaseRecord,
  event: E,
  data: EventData[E],
  events: GantryEvent[],
  now = currentDate(),
): Promise<ReleaseRecord | undefined> {
  const updated = await transitionWithEvents(rt, release, event, data, events, now);
  if (updated) await publishOutboxes(rt, [updated]);
  return updated;
}

/** The transition with its events in the release's outbox, not yet published: `publishOutboxes` does. */
export const transitionWithEvents = <E extends LifecycleEvent>(
  rt: Runtime,
  release: ReleaseRecord,
  event: E,
  data: EventData[E],
  events: GantryEvent[],
  now = currentDate(),
) => applyTransition(rt, release, event, data, now, auditRecords(events, now.getTime()));

/** Publishes what these releases' outboxes hold (together, in batches), then empties each. */
export async function publishOutboxes(rt: Runtime, releases: (ReleaseRecord & Outboxed)[]): Promise<void> {
  const withRecords = releases.filter((r) => r.pendingEvents?.length && r.outboxId);
  await publishRecords(
    rt,
    withRecords.flatMap((r) => r.pendingEvents as AuditRecord[]),
  );
  // A release whose outbox grew meanwhile keeps it: whoever appended publishes it all.
  await Promise.all(withRecords.map((r) => clearOutbox(rt, r, r.outboxId as string)));
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
    await publishOutboxes(rt, page.items);
    published += page.items.length;
    start = page.next;
    if (!start) break;
  }
  if (published > 0) log.info('published stalled outboxes', { count: published });
  return published;
}
