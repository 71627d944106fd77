import { publish, SYSTEM } from '../adapters/events';
import { log } from '../adapters/log';
import { outbound } from '../adapters/outbound';
import type { Runtime } from '../adapters/runtime';
import { getFreeze, listFreezes, saveFreeze } from '../adapters/store/freezes';
import { CalendarError, calendarOccurrences } from '../core/calendar';
import { currentDate } from '../core/clock';
import { announcements, type CalendarState, type FreezeRecord, spansOf } from '../core/policy/freeze';
import { signals } from '../core/signals';
import { announcementEvents } from './freezes';
import { queueWake } from './rollouts/work-queue';

/**
 * The freeze sweep (functions/events/freezes.ts: every minute, and at once for a calendar freeze just
 * written): reads each calendar feed that is due (at most every `refreshSeconds`) through the guarded
 * outbound client, keeps the occurrences of the next 30 days, and announces the starts and ends that
 * time brought (an `until` passed, an occurrence began or ended), each once: the write that records
 * an announcement is conditional on the freeze's `rev`, so of two sweeps only one announces.
 * A feed that cannot be read or parsed keeps the last good copy, and the freeze says so (`lastError`).
 */

const FETCH_TIMEOUT_MS = 10_000;

const due = (calendar: CalendarState, now: Date) =>
  !calendar.attemptedAt || Date.parse(calendar.attemptedAt) + calendar.refreshSeconds * 1000 <= now.getTime();

/** Reads the feed; the calendar's new state, the last good copy kept when it fails. */
async function refreshed(calendar: CalendarState, now: Date): Promise<CalendarState> {
  const attemptedAt = now.toISOString();
  try {
    const response = await outbound({
      url: calendar.icsUrl,
      headers: { accept: 'text/calendar' },
      timeoutMs: FETCH_TIMEOUT_MS,
    });
    if (response.status !== 200) throw new CalendarError(`the feed answered HTTP ${response.status}`);
    const { occurrences, truncated } = calendarOccurrences(response.body, now);
    return { ...calendar, occurrences, truncated, fetchedAt: attemptedAt, attemptedAt, lastError: null };
  } catch (error) {
    // The outbound client's and the parser's messages name neither the URL nor its query.
    const reason = error instanceof Error ? error.message : String(error);
    return { ...calendar, attemptedAt, lastError: `The feed could not be read: ${reason}.` };
  }
}

const sameOccurrences = (a: CalendarState, b: CalendarState) =>
  JSON.stringify(a.occurrences) === JSON.stringify(b.occurrences);

/** One freeze: its feed if due (or `refresh`), then its announcements; written only when something changed. */
async function sweepOne(rt: Runtime, freeze: FreezeRecord, now: Date, refresh: boolean): Promise<void> {
  const calendar =
    freeze.calendar && (refresh || due(freeze.calendar, now))
      ? await refreshed(freeze.calendar, now)
      : freeze.calendar;
  const next = { ...freeze, calendar };
  const { events, announced } = announcements(next, now, spansOf(freeze));
  if (calendar === freeze.calendar && events.length === 0) return;
  const written: FreezeRecord = {
    ...next,
    ...(events.length ? { announced, announcedAt: now.toISOString() } : {}),
    rev: freeze.rev + 1,
  };
  // Another sweep or an API write came first: it announced (or will), this one does nothing.
  if (!(await saveFreeze(rt, written, freeze.rev))) return;
  await publish(rt, announcementEvents(written, events, SYSTEM));
  if (calendar?.lastError && calendar.lastError !== freeze.calendar?.lastError) {
    log.warn('freeze calendar not read', { freezeId: freeze.id, error: calendar.lastError });
  }
  // An occurrence that went or moved may let held releases go earlier than they were told.
  if (calendar && freeze.calendar && !sameOccurrences(calendar, freeze.calendar)) {
    await queueWake(rt, signals.freeze(freeze.id));
  }
}

/** Sweeps every freeze, or only `only` with its feed read now (a calendar freeze just written). */
export async function sweepFreezes(rt: Runtime, options: { only?: string; now?: Date } = {}): Promise<void> {
  const now = options.now ?? currentDate();
  const freezes = options.only
    ? [await getFreeze(rt, options.only)].filter((f): f is FreezeRecord => f !== undefined)
    : await listFreezes(rt);
  const results = await Promise.allSettled(
    freezes.map((freeze) => sweepOne(rt, freeze, now, freeze.id === options.only)),
  );
  const failed = results.filter((r) => r.status === 'rejected');
  if (failed.length > 0) throw (failed[0] as PromiseRejectedResult).reason;
}
