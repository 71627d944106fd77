import { describe, expect, it } from 'vitest';
import {
  isDispatchable,
  nextDispatchableAt,
  upcomingWindows,
  type WindowRule,
  type WindowState,
  windowState,
} from '../../shared/core/policy/window';

const d = (iso: string) => new Date(iso);

// Mon–Thu 09:00–17:00 Berlin: 08:00Z–16:00Z in winter. 2026-01-12 is a Monday.
const office: WindowRule = {
  rrule: 'FREQ=WEEKLY;BYDAY=MO,TU,WE,TH;BYHOUR=9;BYMINUTE=0',
  durationMinutes: 480,
  timezone: 'Europe/Berlin',
  mode: 'allow',
};
const freeze: WindowRule = { ...office, mode: 'deny' };
const daily = (hour: number, minute: number, timezone: string, durationMinutes = 60): WindowRule => ({
  rrule: `FREQ=DAILY;BYHOUR=${hour};BYMINUTE=${minute}`,
  durationMinutes,
  timezone,
  mode: 'allow',
});
const past = 'DTSTART:20200101T090000\nRRULE:FREQ=DAILY;UNTIL=20200201T000000Z';

describe('windowState', () => {
  it.each<[string, WindowRule, string, WindowState]>([
    [
      'before opening',
      office,
      '2026-01-12T07:59:59.999Z',
      { open: false, changesAt: d('2026-01-12T08:00:00Z') },
    ],
    [
      'at opening (inclusive)',
      office,
      '2026-01-12T08:00:00Z',
      { open: true, since: d('2026-01-12T08:00:00Z'), changesAt: d('2026-01-12T16:00:00Z') },
    ],
    [
      'just before closing',
      office,
      '2026-01-12T15:59:59.999Z',
      { open: true, since: d('2026-01-12T08:00:00Z'), changesAt: d('2026-01-12T16:00:00Z') },
    ],
    [
      'at closing (exclusive)',
      office,
      '2026-01-12T16:00:00Z',
      { open: false, changesAt: d('2026-01-13T08:00:00Z') },
    ],
    [
      'Friday: next is Monday',
      office,
      '2026-01-16T10:00:00Z',
      { open: false, changesAt: d('2026-01-19T08:00:00Z') },
    ],
    [
      'summer time (CEST)',
      office,
      '2026-07-06T07:00:00Z',
      { open: true, since: d('2026-07-06T07:00:00Z'), changesAt: d('2026-07-06T15:00:00Z') },
    ],
    [
      'deny: inside the freeze',
      freeze,
      '2026-01-12T10:00:00Z',
      { open: false, since: d('2026-01-12T08:00:00Z'), changesAt: d('2026-01-12T16:00:00Z') },
    ],
    [
      'deny: outside the freeze',
      freeze,
      '2026-01-12T17:00:00Z',
      { open: true, changesAt: d('2026-01-13T08:00:00Z') },
    ],
    [
      'across midnight: open at 01:00',
      daily(22, 0, 'UTC', 240),
      '2026-02-02T01:00:00Z',
      { open: true, since: d('2026-02-01T22:00:00Z'), changesAt: d('2026-02-02T02:00:00Z') },
    ],
    [
      'across midnight: closed at 02:00',
      daily(22, 0, 'UTC', 240),
      '2026-02-02T02:00:00Z',
      { open: false, changesAt: d('2026-02-02T22:00:00Z') },
    ],
    [
      'across midnight in Berlin',
      daily(22, 0, 'Europe/Berlin', 240),
      '2026-02-02T00:30:00Z',
      { open: true, since: d('2026-02-01T21:00:00Z'), changesAt: d('2026-02-02T01:00:00Z') },
    ],
    [
      'overlapping windows merge (Mon 00:00 + Tue 00:00, 25 h each)',
      { rrule: 'FREQ=WEEKLY;BYDAY=MO,TU;BYHOUR=0', durationMinutes: 1500, timezone: 'UTC', mode: 'allow' },
      '2026-01-13T12:00:00Z',
      { open: true, since: d('2026-01-12T00:00:00Z'), changesAt: d('2026-01-14T01:00:00Z') },
    ],
    [
      'always open',
      { rrule: 'FREQ=DAILY;BYHOUR=0', durationMinutes: 1500, timezone: 'UTC', mode: 'allow' },
      '2026-01-13T12:00:00Z',
      { open: true, since: expect.any(Date), changesAt: undefined },
    ],
    [
      'allow that never occurs again',
      { ...office, rrule: past },
      '2026-01-12T10:00:00Z',
      { open: false, changesAt: undefined },
    ],
    [
      'deny that never occurs again',
      { ...freeze, rrule: past },
      '2026-01-12T10:00:00Z',
      { open: true, changesAt: undefined },
    ],
  ])('%s', (_name, rule, now, expected) => {
    expect(windowState(rule, d(now))).toEqual(expected);
  });
});

describe('time zones and DST', () => {
  const starts = (rule: WindowRule, from: string, count: number) =>
    upcomingWindows(rule, d(from), count).map((w) => w.start.toISOString());

  it.each<[string, WindowRule, string, string[]]>([
    [
      'Berlin 09:00, spring forward 2026-03-29',
      daily(9, 0, 'Europe/Berlin'),
      '2026-03-27T00:00:00Z',
      [
        '2026-03-27T08:00:00.000Z',
        '2026-03-28T08:00:00.000Z',
        '2026-03-29T07:00:00.000Z',
        '2026-03-30T07:00:00.000Z',
      ],
    ],
    [
      'Berlin 09:00, fall back 2026-10-25',
      daily(9, 0, 'Europe/Berlin'),
      '2026-10-23T00:00:00Z',
      [
        '2026-10-23T07:00:00.000Z',
        '2026-10-24T07:00:00.000Z',
        '2026-10-25T08:00:00.000Z',
        '2026-10-26T08:00:00.000Z',
      ],
    ],
    [
      'New York 09:00, spring forward 2026-03-08',
      daily(9, 0, 'America/New_York'),
      '2026-03-07T00:00:00Z',
      ['2026-03-07T14:00:00.000Z', '2026-03-08T13:00:00.000Z'],
    ],
    [
      'New York 09:00, fall back 2026-11-01',
      daily(9, 0, 'America/New_York'),
      '2026-10-31T00:00:00Z',
      ['2026-10-31T13:00:00.000Z', '2026-11-01T14:00:00.000Z'],
    ],
    [
      'Berlin 02:30 does not exist on 2026-03-29: the window opens at the end of the gap (03:00 CEST)',
      daily(2, 30, 'Europe/Berlin'),
      '2026-03-28T00:00:00Z',
      ['2026-03-28T01:30:00.000Z', '2026-03-29T01:00:00.000Z', '2026-03-30T00:30:00.000Z'],
    ],
    [
      'Berlin 02:30 happens twice on 2026-10-25: the first (CEST) counts',
      daily(2, 30, 'Europe/Berlin'),
      '2026-10-24T00:00:00Z',
      ['2026-10-24T00:30:00.000Z', '2026-10-25T00:30:00.000Z', '2026-10-26T01:30:00.000Z'],
    ],
    [
      'New York 02:30 does not exist on 2026-03-08',
      daily(2, 30, 'America/New_York'),
      '2026-03-07T00:00:00Z',
      ['2026-03-07T07:30:00.000Z', '2026-03-08T07:00:00.000Z', '2026-03-09T06:30:00.000Z'],
    ],
    [
      'New York 01:30 happens twice on 2026-11-01: the first (EDT) counts',
      daily(1, 30, 'America/New_York'),
      '2026-10-31T00:00:00Z',
      ['2026-10-31T05:30:00.000Z', '2026-11-01T05:30:00.000Z', '2026-11-02T06:30:00.000Z'],
    ],
    [
      'UTC',
      daily(9, 0, 'UTC'),
      '2026-03-28T00:00:00Z',
      ['2026-03-28T09:00:00.000Z', '2026-03-29T09:00:00.000Z', '2026-03-30T09:00:00.000Z'],
    ],
    [
      'RRULE: prefix, DTSTART with TZID and INTERVAL keep their phase (every other Monday from 2026-01-05)',
      {
        ...office,
        rrule: 'DTSTART;TZID=Europe/Berlin:20260105T090000\nRRULE:FREQ=WEEKLY;INTERVAL=2;BYDAY=MO',
        durationMinutes: 60,
      },
      '2026-06-01T00:00:00Z',
      ['2026-06-08T07:00:00.000Z', '2026-06-22T07:00:00.000Z'],
    ],
    [
      'DTSTART in UTC (Z) is converted to the rule zone',
      { ...office, rrule: 'DTSTART:20260105T080000Z\nRRULE:FREQ=DAILY;COUNT=2', durationMinutes: 60 },
      '2026-01-01T00:00:00Z',
      ['2026-01-05T08:00:00.000Z', '2026-01-06T08:00:00.000Z'],
    ],
    ['UNTIL in the past', { ...office, rrule: past }, '2026-01-01T00:00:00Z', []],
  ])('%s', (_name, rule, from, expected) => {
    expect(starts(rule, from, expected.length || 3)).toEqual(expected);
  });

  it('lists merged windows with their real start and end', () => {
    const rule: WindowRule = {
      rrule: 'RRULE:FREQ=WEEKLY;BYDAY=MO,TU;BYHOUR=0',
      durationMinutes: 1500,
      timezone: 'UTC',
      mode: 'allow',
    };
    expect(upcomingWindows(rule, d('2026-01-13T12:00:00Z'), 2)).toEqual([
      { start: d('2026-01-12T00:00:00Z'), end: d('2026-01-14T01:00:00Z') },
      { start: d('2026-01-19T00:00:00Z'), end: d('2026-01-21T01:00:00Z') },
    ]);
    expect(upcomingWindows(rule, d('2026-01-13T12:00:00Z'), 0)).toEqual([]);
  });
});

describe('several rules', () => {
  const lunchFreeze: WindowRule = {
    rrule: 'FREQ=WEEKLY;BYDAY=MO;BYHOUR=12;BYMINUTE=0',
    durationMinutes: 60,
    timezone: 'Europe/Berlin',
    mode: 'deny',
  }; // Mon 11:00Z–12:00Z
  const lateFreeze: WindowRule = {
    ...lunchFreeze,
    rrule: 'FREQ=WEEKLY;BYDAY=MO;BYHOUR=16',
    durationMinutes: 120,
  }; // Mon 15:00Z–17:00Z
  const tuesdayFreeze: WindowRule = {
    ...lunchFreeze,
    rrule: 'FREQ=WEEKLY;BYDAY=TU;BYHOUR=0',
    durationMinutes: 1440,
  };
  const afternoonUtc: WindowRule = daily(14, 0, 'UTC', 360); // 14:00Z–20:00Z

  it.each<[string, WindowRule[], string, string | undefined]>([
    ['no rules', [], '2026-01-12T03:00:00Z', '2026-01-12T03:00:00Z'],
    ['inside the allow window', [office], '2026-01-12T10:00:00Z', '2026-01-12T10:00:00Z'],
    ['before the allow window', [office], '2026-01-12T07:00:00Z', '2026-01-12T08:00:00Z'],
    [
      'a freeze inside the window: after it ends',
      [office, lunchFreeze],
      '2026-01-12T11:30:00Z',
      '2026-01-12T12:00:00Z',
    ],
    [
      'a freeze past closing: next opening',
      [office, lateFreeze],
      '2026-01-12T15:30:00Z',
      '2026-01-13T08:00:00Z',
    ],
    ['a frozen day is skipped', [office, tuesdayFreeze], '2026-01-12T17:00:00Z', '2026-01-14T08:00:00Z'],
    ['two allow windows: both open', [office, afternoonUtc], '2026-01-12T09:00:00Z', '2026-01-12T14:00:00Z'],
    ['deny only, outside', [lunchFreeze], '2026-01-12T10:00:00Z', '2026-01-12T10:00:00Z'],
    ['deny only, inside', [lunchFreeze], '2026-01-12T11:15:00Z', '2026-01-12T12:00:00Z'],
    ['allow that never occurs again', [{ ...office, rrule: past }], '2026-01-12T10:00:00Z', undefined],
    [
      'deny that never occurs again',
      [{ ...freeze, rrule: past }],
      '2026-01-12T10:00:00Z',
      '2026-01-12T10:00:00Z',
    ],
    [
      'disjoint allow windows',
      [office, { ...afternoonUtc, rrule: 'FREQ=WEEKLY;BYDAY=SU;BYHOUR=14' }],
      '2026-01-12T10:00:00Z',
      undefined,
    ],
  ])('%s', (_name, rules, now, expected) => {
    const at = nextDispatchableAt(rules, d(now));
    expect(at?.toISOString()).toBe(expected === undefined ? undefined : d(expected).toISOString());
    expect(isDispatchable(rules, d(now))).toBe(expected === now);
  });

  it('returns now itself when dispatchable', () => {
    const now = d('2026-01-12T10:00:00Z');
    expect(nextDispatchableAt([office], now)).toBe(now);
  });
});
