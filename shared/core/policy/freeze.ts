import { matches } from '../cel';
import type { CelScope } from '../targets';

/**
 * Freezes, "stop the line" (docs/api.md section 10), pure: when a freeze is active, which freezes hold
 * a deployment in an environment, which one a held release waits for and until when, and which
 * starts and ends a sweep has to announce. `now` is always passed in.
 *
 * A freeze is active from its creation until `until` (for ever without it); a calendar freeze during
 * each occurrence of its iCalendar feed (kept on the freeze by the sweep, shared/services/freeze-sweep.ts).
 */

/** One occurrence of a calendar feed's event, in UTC. */
export interface Occurrence {
  start: string;
  end: string;
  summary: string | null;
}

export interface CalendarState {
  icsUrl: string;
  refreshSeconds: number;
  /** The last good copy: when it was fetched, and its occurrences that had not ended then. */
  fetchedAt: string | null;
  occurrences: Occurrence[];
  /** Occurrences beyond the cap (MAX_OCCURRENCES) within the horizon were left out. */
  truncated: boolean;
  /** The last attempt, and why it failed (null: it did not). */
  attemptedAt: string | null;
  lastError: string | null;
}

/** A freeze as stored. */
export interface FreezeRecord {
  id: string;
  reason: string;
  /** CEL over `deployment` and `environment`. */
  selector: string;
  until: string | null;
  calendar: CalendarState | null;
  createdAt: string;
  updatedAt: string;
  /** The key that wrote it last. */
  updatedBy: string | null;
  /** Keys of the spans announced as started (`Freeze Started`) and not yet as ended. */
  announced: string[];
  /** When starts and ends were last announced: a span that began after it and is over was missed. */
  announcedAt: string;
  /** Bumped by every write: each write is conditional on the rev it read. */
  rev: number;
}

/** A period a freeze is active: [start, end); null start: since it was written, null end: no end. */
export interface Span {
  key: string;
  start: string | null;
  end: string | null;
  summary: string | null;
}

/** The occurrences a calendar freeze keeps: the next 30 days, at most this many. */
export const CALENDAR_HORIZON_DAYS = 30;
export const MAX_OCCURRENCES = 200;

export function spansOf(freeze: Pick<FreezeRecord, 'until' | 'calendar'>): Span[] {
  if (!freeze.calendar) return [{ key: 'until', start: null, end: freeze.until, summary: null }];
  return freeze.calendar.occurrences.map((o) => ({
    key: `${o.start}/${o.end}`,
    start: o.start,
    end: o.end,
    summary: o.summary,
  }));
}

const at = (iso: string | null, otherwise: number) => (iso === null ? otherwise : Date.parse(iso));
const covers = (span: Span, t: number) =>
  at(span.start, Number.NEGATIVE_INFINITY) <= t && t < at(span.end, Number.POSITIVE_INFINITY);

export const activeSpans = (freeze: Pick<FreezeRecord, 'until' | 'calendar'>, now: Date) =>
  spansOf(freeze).filter((span) => covers(span, now.getTime()));

export const isActive = (freeze: Pick<FreezeRecord, 'until' | 'calendar'>, now: Date) =>
  activeSpans(freeze, now).length > 0;

/**
 * When the freeze stops holding releases, if it is active at `now`: the end of its active spans and of
 * every span that overlaps or touches them. null: no end known (no `until`); undefined: not active.
 */
export function activeUntil(
  freeze: Pick<FreezeRecord, 'until' | 'calendar'>,
  now: Date,
): Date | null | undefined {
  const spans = spansOf(freeze);
  const active = spans.filter((span) => covers(span, now.getTime()));
  if (active.length === 0) return undefined;
  let end = Math.max(...active.map((span) => at(span.end, Number.POSITIVE_INFINITY)));
  for (let moved = true; moved && end !== Number.POSITIVE_INFINITY; ) {
    moved = false;
    for (const span of spans) {
      const spanEnd = at(span.end, Number.POSITIVE_INFINITY);
      if (at(span.start, Number.NEGATIVE_INFINITY) <= end && spanEnd > end) {
        end = spanEnd;
        moved = true;
      }
    }
  }
  return end === Number.POSITIVE_INFINITY ? null : new Date(end);
}

/** The span active at `now`, else the next to start (what the plan and the status page show). */
export function currentOrNext(freeze: Pick<FreezeRecord, 'until' | 'calendar'>, now: Date): Span | undefined {
  const t = now.getTime();
  const spans = spansOf(freeze).filter((span) => at(span.end, Number.POSITIVE_INFINITY) > t);
  return spans.find((span) => covers(span, t)) ?? spans[0];
}

/** What a freeze's selector sees: the deployment and the environment (no resource). */
export type FreezeScope = Pick<CelScope, 'deployment' | 'environment'>;

/** A selector that errors on a deployment and environment (a missing field) does not select them. */
export const selects = (freeze: Pick<FreezeRecord, 'selector'>, scope: FreezeScope) => {
  const outcome = matches(freeze.selector, scope as unknown as Record<string, unknown>);
  return outcome.ok && outcome.value === true;
};

const endOf = (until: Date | null) => (until === null ? Number.POSITIVE_INFINITY : until.getTime());

export interface FreezeHold {
  freeze: Pick<FreezeRecord, 'id' | 'reason'>;
  /** When it ends (null: not known, it holds until it is deleted or changed). */
  until: Date | null;
  /** How many active freezes hold this deployment and environment, this one among them. */
  count: number;
}

/**
 * The active freezes that select this deployment and environment, as the one a release waits for:
 * the one that ends last (one without an end before any), so a release is woken only when the last
 * of them may have let go.
 */
export function freezeHold(
  freezes: readonly Pick<FreezeRecord, 'id' | 'reason' | 'selector' | 'until' | 'calendar'>[],
  scope: FreezeScope,
  now: Date,
): FreezeHold | undefined {
  let hold: FreezeHold | undefined;
  let count = 0;
  for (const freeze of freezes) {
    const until = activeUntil(freeze, now);
    if (until === undefined || !selects(freeze, scope)) continue;
    count++;
    if (!hold || endOf(until) > endOf(hold.until)) hold = { freeze, until, count: 0 };
  }
  return hold ? { ...hold, count } : undefined;
}

export type Announcement = { type: 'started' | 'ended'; span: Span };

/**
 * The starts and ends to announce at `now`: spans announced that are no longer active end, active
 * spans not announced start, and a span that began after the last announcement and is already over
 * (shorter than the sweep's interval) starts and ends. `announced` is the new list to store.
 */
export function announcements(
  freeze: Pick<FreezeRecord, 'until' | 'calendar' | 'announced' | 'announcedAt'>,
  now: Date,
  /** The spans before a change (a calendar read again no longer lists an occurrence that ended). */
  before: Span[] = [],
): { events: Announcement[]; announced: string[] } {
  const t = now.getTime();
  const spans = spansOf(freeze);
  const active = spans.filter((span) => covers(span, t));
  const activeKeys = new Set(active.map((s) => s.key));
  const events: Announcement[] = [];
  for (const key of freeze.announced) {
    if (activeKeys.has(key)) continue;
    const span = [...spans, ...before].find((s) => s.key === key) ?? {
      key,
      start: null,
      end: null,
      summary: null,
    };
    events.push({ type: 'ended', span });
  }
  const since = Date.parse(freeze.announcedAt);
  for (const span of spans) {
    const missed =
      !activeKeys.has(span.key) &&
      !freeze.announced.includes(span.key) &&
      at(span.start, Number.NEGATIVE_INFINITY) > since &&
      at(span.end, Number.POSITIVE_INFINITY) <= t;
    if (missed) events.push({ type: 'started', span }, { type: 'ended', span });
  }
  for (const span of active) {
    if (!freeze.announced.includes(span.key)) events.push({ type: 'started', span });
  }
  return { events, announced: active.map((s) => s.key) };
}

/** The active freezes that hold a deployment in some of its environments (the status page's banner). */
export function activeFreezesOf(
  freezes: readonly Pick<FreezeRecord, 'id' | 'reason' | 'selector' | 'until' | 'calendar'>[],
  deployment: FreezeScope['deployment'],
  environments: readonly FreezeScope['environment'][],
  now: Date,
): { id: string; reason: string; until: string | null; environments: string[] }[] {
  return freezes.flatMap((freeze) => {
    const until = activeUntil(freeze, now);
    if (until === undefined) return [];
    const held = environments.filter((environment) => selects(freeze, { deployment, environment }));
    if (held.length === 0) return [];
    return [
      {
        id: freeze.id,
        reason: freeze.reason,
        until: until?.toISOString() ?? null,
        environments: held.map((e) => e.id),
      },
    ];
  });
}
