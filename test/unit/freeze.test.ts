import { describe, expect, it } from 'vitest';
import { CalendarError, calendarOccurrences } from '../../shared/core/calendar';
import {
  activeUntil,
  announcements,
  currentOrNext,
  type FreezeRecord,
  freezeHold,
  isActive,
  MAX_OCCURRENCES,
} from '../../shared/core/policy/freeze';

/** Freezes, pure (docs/api.md section 10): when active, which one holds a target, what to announce. */

const feed = (...lines: string[]) =>
  ['BEGIN:VCALENDAR', 'VERSION:2.0', 'PRODID:-//gantry test//EN', ...lines, 'END:VCALENDAR'].join('\r\n');

const freeze = (over: Partial<FreezeRecord> = {}): FreezeRecord => ({
  id: 'f',
  reason: 'r',
  selector: 'true',
  until: null,
  calendar: null,
  createdAt: '2026-01-01T00:00:00.000Z',
  updatedAt: '2026-01-01T00:00:00.000Z',
  updatedBy: 'admin',
  announced: [],
  announcedAt: '2026-01-01T00:00:00.000Z',
  rev: 1,
  ...over,
});

const calendarOf = (occurrences: { start: string; end: string }[]) => ({
  icsUrl: 'https://calendar.example/feed.ics',
  refreshSeconds: 900,
  fetchedAt: '2026-01-01T00:00:00.000Z',
  occurrences: occurrences.map((o) => ({ ...o, summary: null })),
  truncated: false,
  attemptedAt: '2026-01-01T00:00:00.000Z',
  lastError: null,
});

const scope = (environment: string) => ({
  deployment: { id: 'api', name: 'API' },
  environment: { id: environment, name: environment },
});

describe('calendar feeds', () => {
  it('a weekly event at 09:00 Europe/Berlin is 08:00Z in winter and 07:00Z in summer', () => {
    // Prepare: Monday 09:00-10:00 Berlin, weekly, across the change to summer time (29 March 2026).
    const text = feed(
      'BEGIN:VEVENT',
      'UID:weekly@test',
      'DTSTART;TZID=Europe/Berlin:20260316T090000',
      'DTEND;TZID=Europe/Berlin:20260316T100000',
      'RRULE:FREQ=WEEKLY;BYDAY=MO',
      'SUMMARY:Change advisory freeze',
      'END:VEVENT',
    );
    // Act
    const { occurrences, truncated } = calendarOccurrences(text, new Date('2026-03-20T00:00:00Z'), 14);
    // Assess: the floating wall clock is read in Berlin, whatever the process's TZ.
    expect(occurrences).toEqual([
      {
        start: '2026-03-23T08:00:00.000Z',
        end: '2026-03-23T09:00:00.000Z',
        summary: 'Change advisory freeze',
      },
      {
        start: '2026-03-30T07:00:00.000Z',
        end: '2026-03-30T08:00:00.000Z',
        summary: 'Change advisory freeze',
      },
    ]);
    expect(truncated).toBe(false);
  });

  it('honours EXDATE, a moved occurrence (RECURRENCE-ID), a cancelled one, UTC times and all-day dates', () => {
    const text = feed(
      'X-WR-TIMEZONE:America/New_York',
      'BEGIN:VEVENT',
      'UID:daily@test',
      'DTSTART;TZID=Europe/Berlin:20260105T090000',
      'DURATION:PT30M',
      'RRULE:FREQ=DAILY;COUNT=5',
      'EXDATE;TZID=Europe/Berlin:20260106T090000',
      'END:VEVENT',
      'BEGIN:VEVENT',
      'UID:daily@test',
      'RECURRENCE-ID;TZID=Europe/Berlin:20260107T090000',
      'DTSTART;TZID=Europe/Berlin:20260107T140000',
      'DTEND;TZID=Europe/Berlin:20260107T143000',
      'END:VEVENT',
      'BEGIN:VEVENT',
      'UID:daily@test',
      'RECURRENCE-ID;TZID=Europe/Berlin:20260108T090000',
      'DTSTART;TZID=Europe/Berlin:20260108T090000',
      'DTEND;TZID=Europe/Berlin:20260108T093000',
      'STATUS:CANCELLED',
      'END:VEVENT',
      'BEGIN:VEVENT',
      'UID:utc@test',
      'DTSTART:20260106T120000Z',
      'DTEND:20260106T130000Z',
      'END:VEVENT',
      'BEGIN:VEVENT',
      'UID:holiday@test',
      'DTSTART;VALUE=DATE:20260107',
      'DTEND;VALUE=DATE:20260108',
      'SUMMARY:Holiday',
      'END:VEVENT',
    );
    const starts = calendarOccurrences(text, new Date('2026-01-01T00:00:00Z')).occurrences.map((o) => [
      o.start,
      o.end,
    ]);
    expect(starts).toEqual([
      ['2026-01-05T08:00:00.000Z', '2026-01-05T08:30:00.000Z'],
      ['2026-01-06T12:00:00.000Z', '2026-01-06T13:00:00.000Z'],
      // All day in the calendar's zone (X-WR-TIMEZONE): New York midnight to midnight.
      ['2026-01-07T05:00:00.000Z', '2026-01-08T05:00:00.000Z'],
      ['2026-01-07T13:00:00.000Z', '2026-01-07T13:30:00.000Z'],
      ['2026-01-09T08:00:00.000Z', '2026-01-09T08:30:00.000Z'],
    ]);
  });

  it("reads a TZID that is not an IANA zone with the offsets of the feed's VTIMEZONE", () => {
    const text = feed(
      'BEGIN:VTIMEZONE',
      'TZID:W. Europe Standard Time',
      'BEGIN:STANDARD',
      'DTSTART:16010101T030000',
      'TZOFFSETFROM:+0200',
      'TZOFFSETTO:+0100',
      'RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=10',
      'END:STANDARD',
      'BEGIN:DAYLIGHT',
      'DTSTART:16010101T020000',
      'TZOFFSETFROM:+0100',
      'TZOFFSETTO:+0200',
      'RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=3',
      'END:DAYLIGHT',
      'END:VTIMEZONE',
      'BEGIN:VEVENT',
      'UID:outlook@test',
      'DTSTART;TZID=W. Europe Standard Time:20260701T090000',
      'DTEND;TZID=W. Europe Standard Time:20260701T100000',
      'END:VEVENT',
    );
    expect(calendarOccurrences(text, new Date('2026-06-20T00:00:00Z')).occurrences[0]).toMatchObject({
      start: '2026-07-01T07:00:00.000Z',
      end: '2026-07-01T08:00:00.000Z',
    });
  });

  it('keeps what has not ended within the horizon, at most MAX_OCCURRENCES, and says when it cut', () => {
    const text = feed(
      'BEGIN:VEVENT',
      'UID:hourly@test',
      'DTSTART:20260101T000000Z',
      'DTEND:20260101T003000Z',
      'RRULE:FREQ=HOURLY',
      'END:VEVENT',
    );
    const { occurrences, truncated } = calendarOccurrences(text, new Date('2026-01-02T00:10:00Z'));
    expect(occurrences).toHaveLength(MAX_OCCURRENCES);
    expect(occurrences[0]?.start).toBe('2026-01-02T00:00:00.000Z');
    expect(truncated).toBe(true);
  });

  it('refuses what is not an iCalendar feed', () => {
    expect(() => calendarOccurrences('<html>sign in</html>', new Date())).toThrow(CalendarError);
  });
});

describe('freezes', () => {
  const now = new Date('2026-02-01T12:00:00Z');

  it.each([
    [{ until: null }, true],
    [{ until: '2026-02-01T12:00:01.000Z' }, true],
    [{ until: '2026-02-01T12:00:00.000Z' }, false],
    [
      { calendar: calendarOf([{ start: '2026-02-01T11:00:00.000Z', end: '2026-02-01T13:00:00.000Z' }]) },
      true,
    ],
    [
      { calendar: calendarOf([{ start: '2026-02-01T13:00:00.000Z', end: '2026-02-01T14:00:00.000Z' }]) },
      false,
    ],
  ])('%j is active: %s', (over, active) => {
    expect(isActive(freeze(over), now)).toBe(active);
  });

  it('ends with the last of its touching occurrences, and shows the next when none is active', () => {
    const calendar = calendarOf([
      { start: '2026-02-01T11:00:00.000Z', end: '2026-02-01T13:00:00.000Z' },
      { start: '2026-02-01T13:00:00.000Z', end: '2026-02-01T15:00:00.000Z' },
      { start: '2026-02-02T09:00:00.000Z', end: '2026-02-02T10:00:00.000Z' },
    ]);
    expect(activeUntil(freeze({ calendar }), now)?.toISOString()).toBe('2026-02-01T15:00:00.000Z');
    expect(activeUntil(freeze({ until: null }), now)).toBeNull();
    expect(activeUntil(freeze({ until: '2026-01-01T00:00:00.000Z' }), now)).toBeUndefined();
    expect(currentOrNext(freeze({ calendar }), new Date('2026-02-01T16:00:00Z'))?.start).toBe(
      '2026-02-02T09:00:00.000Z',
    );
  });

  it('holds a target by the selected freeze that ends last; one with no end wins', () => {
    const freezes = [
      freeze({ id: 'short', until: '2026-02-01T13:00:00.000Z' }),
      freeze({ id: 'long', until: '2026-02-01T18:00:00.000Z', selector: "environment.id == 'production'" }),
      freeze({ id: 'over', until: '2026-02-01T11:00:00.000Z' }),
      freeze({ id: 'broken', selector: 'environment.tier == "x"' }),
    ];
    expect(freezeHold(freezes, scope('production'), now)).toMatchObject({
      freeze: { id: 'long' },
      until: new Date('2026-02-01T18:00:00.000Z'),
      count: 2,
    });
    expect(freezeHold(freezes, scope('staging'), now)?.freeze.id).toBe('short');
    expect(freezeHold([...freezes, freeze({ id: 'open' })], scope('staging'), now)).toMatchObject({
      freeze: { id: 'open' },
      until: null,
      count: 2,
    });
    expect(freezeHold(freezes.slice(2), scope('staging'), now)).toBeUndefined();
  });

  it('announces each start and end once, and an occurrence that passed between two sweeps', () => {
    const calendar = calendarOf([
      { start: '2026-02-01T10:00:00.000Z', end: '2026-02-01T10:00:30.000Z' },
      { start: '2026-02-01T11:00:00.000Z', end: '2026-02-01T13:00:00.000Z' },
    ]);
    const first = announcements(freeze({ calendar, announcedAt: '2026-02-01T09:00:00.000Z' }), now);
    expect(first.events.map((e) => [e.type, e.span.start])).toEqual([
      ['started', '2026-02-01T10:00:00.000Z'],
      ['ended', '2026-02-01T10:00:00.000Z'],
      ['started', '2026-02-01T11:00:00.000Z'],
    ]);
    const again = announcements(
      freeze({ calendar, announced: first.announced, announcedAt: now.toISOString() }),
      new Date('2026-02-01T12:30:00Z'),
    );
    expect(again.events).toEqual([]);
    const over = announcements(
      freeze({ calendar, announced: first.announced, announcedAt: now.toISOString() }),
      new Date('2026-02-01T13:00:00Z'),
    );
    expect(over.events.map((e) => [e.type, e.span.end])).toEqual([['ended', '2026-02-01T13:00:00.000Z']]);
    expect(over.announced).toEqual([]);
  });

  it('a freeze with an until starts when written and ends at until', () => {
    const written = freeze({ until: '2026-02-01T13:00:00.000Z' });
    expect(announcements(written, now).events.map((e) => e.type)).toEqual(['started']);
    const ended = announcements({ ...written, announced: ['until'] }, new Date('2026-02-01T13:00:00Z'));
    expect(ended.events.map((e) => [e.type, e.span.end])).toEqual([['ended', '2026-02-01T13:00:00.000Z']]);
  });
});
