import ICAL from 'ical.js';
import { CALENDAR_HORIZON_DAYS, MAX_OCCURRENCES, type Occurrence } from './policy/freeze';
import { toInstant } from './policy/window';

/**
 * The occurrences of an iCalendar feed's events (RFC 5545), for calendar freezes (docs/api.md section
 * 10), pure. ical.js parses the feed and expands recurrences (RRULE, RDATE, EXDATE, moved or cancelled
 * occurrences by RECURRENCE-ID); Gantry turns each wall-clock time into an instant itself, so the
 * server's own time zone never matters:
 * - a time in UTC (`...Z`) is that instant;
 * - a TZID that is an IANA zone (Europe/Berlin) is read with the platform's time zone database;
 * - another TZID (Outlook's "W. Europe Standard Time") with the offsets of the feed's VTIMEZONE;
 * - a floating time and an all-day date are in the calendar's zone (X-WR-TIMEZONE), else UTC.
 * Expansion is bounded: at most MAX_STEPS occurrences are walked per event.
 */

const DAY = 86_400_000;
const MAX_STEPS = 20_000;

export class CalendarError extends Error {
  override readonly name = 'CalendarError';
}

const isIana = (zone: string) => {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
};

type Zone = (local: number, time: ICAL.Time) => number;

/** Each time's zone, by the TZID parameter of the property it came from. */
function zones(calendar: ICAL.Component): (tzid: string | null) => Zone {
  const defined = new Map<string, ICAL.Timezone>();
  for (const vtimezone of calendar.getAllSubcomponents('vtimezone')) {
    const timezone = new ICAL.Timezone(vtimezone);
    if (timezone.tzid) defined.set(timezone.tzid, timezone);
  }
  const fallback = calendar.getFirstPropertyValue('x-wr-timezone');
  const calendarZone = typeof fallback === 'string' && isIana(fallback) ? fallback : 'UTC';
  const iana: Zone = (local) => toInstant(calendarZone, local);
  return (tzid) => {
    if (tzid && isIana(tzid)) return (local) => toInstant(tzid, local);
    const timezone = tzid ? defined.get(tzid) : undefined;
    if (timezone) return (local, time) => local - timezone.utcOffset(time) * 1000;
    return iana;
  };
}

const wallClock = (t: ICAL.Time) => Date.UTC(t.year, t.month - 1, t.day, t.hour, t.minute, t.second);

function instant(time: ICAL.Time, zoneOf: (tzid: string | null) => Zone, tzid: string | null): number {
  if (!time.isDate && time.zone?.tzid === 'UTC') return time.toJSDate().getTime();
  return zoneOf(time.isDate ? null : tzid)(wallClock(time), time);
}

const tzidOf = (component: ICAL.Component, property: string): string | null => {
  const value = component.getFirstProperty(property)?.getParameter('tzid');
  return typeof value === 'string' ? value : null;
};

const cancelled = (component: ICAL.Component) =>
  String(component.getFirstPropertyValue('status') ?? '').toUpperCase() === 'CANCELLED';

/**
 * The occurrences that have not ended at `now` and start within the horizon, earliest first, at most
 * MAX_OCCURRENCES (`truncated` says when more were left out). Throws CalendarError on a text that is
 * not an iCalendar feed.
 */
export function calendarOccurrences(
  text: string,
  now: Date,
  horizonDays = CALENDAR_HORIZON_DAYS,
): { occurrences: Occurrence[]; truncated: boolean } {
  let calendar: ICAL.Component;
  try {
    calendar = new ICAL.Component(ICAL.parse(text) as unknown[]);
  } catch (error) {
    throw new CalendarError(`not an iCalendar feed (${(error as Error).message.split('\n')[0]})`);
  }
  if (calendar.name !== 'vcalendar') throw new CalendarError('not an iCalendar feed (no VCALENDAR)');
  const zoneOf = zones(calendar);
  const from = now.getTime();
  const to = from + horizonDays * DAY;

  // Moved and cancelled occurrences (RECURRENCE-ID) belong to the event of their UID.
  const byUid = new Map<string, { master?: ICAL.Component; exceptions: ICAL.Component[] }>();
  for (const vevent of calendar.getAllSubcomponents('vevent')) {
    const uid = String(vevent.getFirstPropertyValue('uid') ?? `#${byUid.size}`);
    const group = byUid.get(uid) ?? { exceptions: [] };
    if (vevent.hasProperty('recurrence-id')) group.exceptions.push(vevent);
    else group.master = vevent;
    byUid.set(uid, group);
  }

  const found: Occurrence[] = [];
  const events = [...byUid.values()].flatMap(({ master, exceptions }) =>
    // An instance without its recurring event (a feed that shares only some) stands alone.
    master ? [{ master, exceptions }] : exceptions.map((one) => ({ master: one, exceptions: [] })),
  );
  for (const { master, exceptions } of events) {
    if (!master.hasProperty('dtstart')) continue;
    const event = new ICAL.Event(master, { exceptions });
    const occurrence = (start: ICAL.Time, end: ICAL.Time, item: ICAL.Event) => {
      if (cancelled(item.component)) return;
      const startTzid = tzidOf(item.component, 'dtstart');
      const s = instant(start, zoneOf, startTzid);
      const e = instant(end, zoneOf, tzidOf(item.component, 'dtend') ?? startTzid);
      if (e > s && e > from && s < to)
        found.push({
          start: new Date(s).toISOString(),
          end: new Date(e).toISOString(),
          summary: item.summary ? String(item.summary).slice(0, 200) : null,
        });
    };
    if (!event.isRecurring()) {
      if (!cancelled(master)) occurrence(event.startDate, event.endDate, event);
      continue;
    }
    const iterator = event.iterator();
    for (let step = 0; step < MAX_STEPS; step++) {
      const next = iterator.next();
      if (!next) break;
      const details = event.getOccurrenceDetails(next);
      // Occurrences come in order of their original start; a moved one may start a day either way.
      if (wallClock(next) - 2 * DAY > to) break;
      occurrence(details.startDate, details.endDate, details.item);
    }
  }
  found.sort((a, b) => a.start.localeCompare(b.start) || a.end.localeCompare(b.end));
  const unique = found.filter(
    (o, i) => i === 0 || o.start !== found[i - 1]?.start || o.end !== found[i - 1]?.end,
  );
  return { occurrences: unique.slice(0, MAX_OCCURRENCES), truncated: unique.length > MAX_OCCURRENCES };
}
