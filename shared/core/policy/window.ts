import { RRule, type RRuleOptions } from '../rrule';

/**
 * Deployment windows (policy rule `deploymentWindow`). The rrule's occurrences are wall-clock
 * times in `timezone`; each starts a window of `durationMinutes` real minutes. Overlapping or
 * touching windows merge. Pure: no I/O, `now` is always passed in. Throws (RangeError/Error) on
 * an unknown time zone or an unparsable rrule, so validate rules when they are stored.
 */
export interface WindowRule {
  rrule: string;
  durationMinutes: number;
  timezone: string;
  mode: 'allow' | 'deny';
}

export interface WindowState {
  /** Whether this rule alone lets deploys through: allow = inside a window, deny = outside a freeze. */
  open: boolean;
  /** When the current window (allow) or freeze (deny) started, if inside one (looked up at most 366 days back). */
  since?: Date;
  /**
   * When the state changes next: for allow+closed, the next opening; for allow+open, the closing;
   * for deny+inside a freeze, its end (= when deploys may go); for deny+outside, the next freeze
   * start. Undefined when that is more than 366 days ahead or never.
   */
  changesAt?: Date;
}

export interface Window {
  start: Date;
  end: Date;
}

const MINUTE = 60_000;
const DAY = 86_400_000;
const HORIZON = 366 * DAY;

/** [start, end) in epoch milliseconds. */
type Span = [number, number];

interface Compiled {
  options: Partial<RRuleOptions>;
  zone: string;
  duration: number;
  /** The rule's DTSTART as a floating wall clock (a Date whose UTC fields are the local time). */
  anchor: number;
  /** A period after which the rule repeats exactly, so the anchor may move forward by multiples of it. */
  period?: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(zone: string): Intl.DateTimeFormat {
  let f = formatters.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(zone, f);
  }
  return f;
}

/** The zone's UTC offset (local minus UTC, in ms) at the instant `at`. */
function offsetAt(zone: string, at: number): number {
  const parts = formatter(zone).formatToParts(at);
  const get = (type: Intl.DateTimeFormatPartTypes) => Number(parts.find((p) => p.type === type)?.value);
  const wall = Date.UTC(get('year'), get('month') - 1, get('day'), get('hour'), get('minute'), get('second'));
  return wall - (at - (((at % 1000) + 1000) % 1000));
}

function toFloating(zone: string, at: number): number {
  return at + offsetAt(zone, at);
}

/**
 * The instant of a floating wall-clock time in `zone`. An ambiguous time (fall back) takes its
 * first occurrence; a non-existent one (spring forward) maps to the end of the gap.
 */
export function toInstant(zone: string, local: number): number {
  const early = local - offsetAt(zone, local + DAY);
  const late = local - offsetAt(zone, local - DAY);
  if (early === late) return early;
  const valid = [early, late].filter((t) => toFloating(zone, t) === local);
  if (valid.length > 0) return Math.min(...valid);
  // In a gap: the transition lies in (early, late]; find its first instant.
  const after = offsetAt(zone, late);
  let lo = early;
  let hi = late;
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (offsetAt(zone, mid) === after) hi = mid;
    else lo = mid;
  }
  return hi;
}

function compile(rule: WindowRule): Compiled {
  const text = rule.rrule.trim();
  const zone = rule.timezone;
  const { dtstart, tzid, ...options } = RRule.parseString(text);
  // rrule parses `...Z` and floating values alike; a Z (or a TZID) names a real instant.
  let anchor = Date.UTC(2000, 0, 1);
  if (dtstart) {
    if (tzid) anchor = toFloating(zone, toInstant(tzid, dtstart.getTime()));
    else if (/DTSTART[^:\n]*:\d{8}T\d{6}Z/i.test(text)) anchor = toFloating(zone, dtstart.getTime());
    else anchor = dtstart.getTime();
  }
  if (options.until && /UNTIL=\d{8}T\d{6}Z/i.test(text)) {
    options.until = new Date(toFloating(zone, options.until.getTime()));
  }
  const compiled: Compiled = { options, zone, duration: rule.durationMinutes * MINUTE, anchor };
  // Weekly and finer rules repeat every 7 × INTERVAL days: moving the anchor by that keeps the
  // phase and the defaults taken from DTSTART, and spares rrule iterating from the year 2000.
  if (options.count == null && (options.freq ?? RRule.YEARLY) >= RRule.WEEKLY) {
    compiled.period = 7 * (options.interval ?? 1) * DAY;
  }
  return compiled;
}

/** Instants of the occurrences that start in [from, to). */
function starts(c: Compiled, from: number, to: number): number[] {
  let dtstart = c.anchor;
  if (c.period) dtstart += Math.max(0, Math.floor((from - 2 * DAY - c.anchor) / c.period)) * c.period;
  const rrule = new RRule({ ...c.options, dtstart: new Date(dtstart), tzid: null });
  // Floating times differ from instants by at most 14 hours.
  return rrule
    .between(new Date(from - DAY), new Date(to + DAY), true)
    .map((d) => toInstant(c.zone, d.getTime()))
    .filter((t) => t >= from && t < to)
    .sort((a, b) => a - b);
}

/**
 * Merged windows of the occurrences that start in [from, to). Exact except that the first may
 * merge with windows starting before `from` if it starts before from + duration, and the last
 * with windows starting at or after `to` if it ends at or after `to`.
 */
function spans(c: Compiled, from: number, to: number): Span[] {
  if (c.duration <= 0) return [];
  const out: Span[] = [];
  for (const s of starts(c, from, to)) {
    const last = out.at(-1);
    if (last && s <= last[1]) last[1] = Math.max(last[1], s + c.duration);
    else out.push([s, s + c.duration]);
  }
  return out;
}

function containing(list: Span[], t: number): Span | undefined {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    const span = list[mid]!;
    if (span[1] <= t) lo = mid + 1;
    else if (span[0] > t) hi = mid;
    else return span;
  }
  return undefined;
}

function grow(range: number): number {
  return Math.min(range * 4, HORIZON);
}

/** The merged window containing t with its exact bounds, or else the next opening. */
function locate(c: Compiled, t: number): { start?: number; end?: number; next?: number } {
  let back = c.duration + DAY;
  let ahead = c.duration + 8 * DAY;
  for (;;) {
    const list = spans(c, t - back, t + ahead);
    const current = containing(list, t);
    if (current) {
      if (current[0] < t - back + c.duration && back < HORIZON) back = grow(back);
      else if (current[1] >= t + ahead && ahead < HORIZON) ahead = grow(ahead);
      else return { start: current[0], end: current[1] < t + ahead ? current[1] : undefined };
    } else {
      const next = list.find(([s]) => s > t)?.[0];
      if (next !== undefined || ahead >= HORIZON) return { next };
      ahead = grow(ahead);
    }
  }
}

const toDate = (t: number | undefined) => (t === undefined ? undefined : new Date(t));

export function windowState(rule: WindowRule, now: Date): WindowState {
  const { start, end, next } = locate(compile(rule), now.getTime());
  const inside = start !== undefined;
  const open = rule.mode === 'allow' ? inside : !inside;
  return inside
    ? { open, since: new Date(start), changesAt: toDate(end) }
    : { open, changesAt: toDate(next) };
}

function insideAt(c: Compiled, t: number): boolean {
  return containing(spans(c, t - c.duration, t + 1), t) !== undefined;
}

/** Whether every allow window is open and no deny window (freeze) is active. No rules: true. */
export function isDispatchable(rules: WindowRule[], now: Date): boolean {
  const t = now.getTime();
  return rules.every((rule) => insideAt(compile(rule), t) === (rule.mode === 'allow'));
}

/**
 * Several windows apply together (the strictest wins): dispatch only when ALL allow windows are
 * open and NO deny window is active. Returns `now` itself when that holds now, else the earliest
 * later instant when it holds, searching at most 366 days ahead, else undefined.
 */
export function nextDispatchableAt(rules: WindowRule[], now: Date): Date | undefined {
  if (isDispatchable(rules, now)) return now;
  const t0 = now.getTime();
  const compiled = rules.map((rule) => ({ allow: rule.mode === 'allow', c: compile(rule) }));
  for (let ahead = 8 * DAY; ; ahead = grow(ahead)) {
    const checks = compiled.map(({ allow, c }) => ({ allow, list: spans(c, t0 - c.duration, t0 + ahead) }));
    // The set of dispatchable instants is a union of half-open spans: each starts at an allow
    // window's opening or a freeze's end.
    const candidates = checks
      .flatMap(({ allow, list }) => list.map(([s, e]) => (allow ? s : e)))
      .filter((t) => t > t0 && t < t0 + ahead)
      .sort((a, b) => a - b);
    const at = candidates.find((t) =>
      checks.every(({ allow, list }) => (containing(list, t) !== undefined) === allow),
    );
    if (at !== undefined || ahead >= HORIZON) return toDate(at);
  }
}

/**
 * Up to `count` merged windows of the rule (freezes for a deny rule) that end after `from`, in
 * order, looked up at most 366 days ahead. The first may have started before `from`.
 */
export function upcomingWindows(rule: WindowRule, from: Date, count: number): Window[] {
  if (count <= 0) return [];
  const c = compile(rule);
  const t = from.getTime();
  for (let ahead = c.duration + 8 * DAY; ; ahead = grow(ahead)) {
    const list = spans(c, t - c.duration, t + ahead).filter(([, e]) => e > t);
    // With a window after the count-th, the count-th is complete.
    if (list.length > count || ahead >= HORIZON) {
      const first = list[0];
      if (first && first[0] <= t) first[0] = locate(c, t).start ?? first[0];
      return list.slice(0, count).map(([s, e]) => ({ start: new Date(s), end: new Date(e) }));
    }
  }
}
