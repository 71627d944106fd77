import { describe, expect, it } from 'vitest';
import {
  BUCKET_ERROR,
  bucketOf,
  bucketValue,
  committedAtOf,
  type DayTotals,
  dayRange,
  daysOf,
  deliveryStarts,
  type Histogram,
  MAX_BUCKET,
  measuresOf,
  outcomeAdds,
  percentile,
  rollupDays,
  samplesOf,
  sumAggregates,
  totalsOf,
} from '../../shared/core/delivery';

/** Delivery metrics, the pure parts: buckets, percentiles, what an outcome adds, rates, ranges. */

const histogramOf = (seconds: number[]): Histogram => {
  const h: Histogram = new Map();
  for (const s of seconds) h.set(bucketOf(s), (h.get(bucketOf(s)) ?? 0) + 1);
  return h;
};

/** The nearest-rank percentile of the samples themselves. */
const exact = (seconds: number[], q: number) =>
  [...seconds].sort((a, b) => a - b)[Math.max(1, Math.ceil(q * seconds.length)) - 1] as number;

describe('log-scale buckets', () => {
  it.each([
    [0, 0],
    [0.5, 0],
    [1, 1],
    [2, 5],
    [60, 24],
    [3600, 48],
    [2 ** 40, MAX_BUCKET],
  ])('%d s falls into bucket %d', (seconds, bucket) => {
    expect(bucketOf(seconds)).toBe(bucket);
  });

  it('stands for every duration of a bucket within the stated error (9.1 %)', () => {
    expect(BUCKET_ERROR).toBeCloseTo(0.0905, 3);
    for (let s = 2; s < 10_000_000; s = Math.ceil(s * 1.07)) {
      const error = Math.abs(bucketValue(bucketOf(s)) - s) / s;
      expect(error, `${s} s`).toBeLessThanOrEqual(BUCKET_ERROR + 0.5 / s);
    }
  });
});

describe('percentiles from buckets', () => {
  it('is null without samples', () => {
    expect(percentile(new Map(), 0.5)).toBeNull();
  });

  it('takes the nearest rank: p50 of 1..10 minutes is the 5th, p90 the 9th', () => {
    const samples = Array.from({ length: 10 }, (_, i) => (i + 1) * 60);
    const h = histogramOf(samples);
    expect(percentile(h, 0.5)).toBe(bucketValue(bucketOf(300)));
    expect(percentile(h, 0.9)).toBe(bucketValue(bucketOf(540)));
  });

  it('stays within the bucket error of the exact percentile for skewed samples', () => {
    const samples = [
      ...Array.from({ length: 80 }, (_, i) => 600 + i * 17),
      ...Array.from({ length: 20 }, (_, i) => 86_400 * (1 + i)),
    ];
    for (const q of [0.5, 0.9]) {
      const got = percentile(histogramOf(samples), q) as number;
      const want = exact(samples, q);
      expect(Math.abs(got - want) / want, `p${q * 100}`).toBeLessThanOrEqual(BUCKET_ERROR);
    }
  });
});

describe('what one outcome adds', () => {
  it('counts the outcome and its samples for its environment and for all environments', () => {
    expect(outcomeAdds('successful', 'production', { leadSeconds: 3600, restoreSeconds: 60 })).toEqual({
      '*|ok': 1,
      '*|lead|48': 1,
      '*|restore|24': 1,
      'production|ok': 1,
      'production|lead|48': 1,
      'production|restore|24': 1,
    });
    expect(outcomeAdds('rolledBack', 'staging')).toEqual({ '*|rolledBack': 1, 'staging|rolledBack': 1 });
  });

  it('reads back one scope of a day item as it was added', () => {
    const item: Record<string, number | string> = { pk: 'DELIVERY#api', sk: '2026-11-01' };
    const add = (adds: Record<string, number>) => {
      for (const [k, v] of Object.entries(adds)) item[k] = ((item[k] as number) ?? 0) + v;
    };
    add(outcomeAdds('successful', 'production', { leadSeconds: 3600 }));
    add(outcomeAdds('successful', 'staging', { leadSeconds: 60 }));
    add(outcomeAdds('failed', 'production'));
    const production = totalsOf(item, '2026-11-01', 'production');
    expect(production).toMatchObject({ successful: 1, failed: 1, rolledBack: 0 });
    expect([...production.lead]).toEqual([[48, 1]]);
    const all = totalsOf(item, '2026-11-01', '*');
    expect(all).toMatchObject({ successful: 2, failed: 1 });
    expect(all.lead.size).toBe(2);
  });
});

describe('all deployments', () => {
  it('sums every counter and bucket of the deployments of a day, and nothing else', () => {
    const api = {
      pk: 'DELIVERY#api',
      sk: '2026-11-01',
      gsi1sk: 'api',
      ...outcomeAdds('successful', 'prod', { leadSeconds: 60 }),
    };
    const web = {
      pk: 'DELIVERY#web',
      sk: '2026-11-01',
      gsi1sk: 'web',
      ...outcomeAdds('successful', 'prod', { leadSeconds: 60 }),
    };
    const sum = sumAggregates([api, web, { ...outcomeAdds('failed', 'stg') }]);
    expect(sum).toEqual({
      '*|ok': 2,
      '*|lead|24': 2,
      'prod|ok': 2,
      'prod|lead|24': 2,
      '*|failed': 1,
      'stg|failed': 1,
    });
    expect(totalsOf(sum, '2026-11-01', '*')).toMatchObject({ successful: 2, failed: 1 });
  });

  it('recomputes today and the two days before (an outcome can come a day late)', () => {
    expect(rollupDays(Date.parse('2026-11-01T00:03:00Z'))).toEqual([
      '2026-10-30',
      '2026-10-31',
      '2026-11-01',
    ]);
  });
});

describe('where the measures start', () => {
  const release = { versionCreatedAt: '2026-11-01T10:00:00.000Z' };

  it('starts lead time at the commit when CI sent committedAt, else at the version', () => {
    expect(deliveryStarts({ ...release, committedAt: '2026-11-01T08:00:00.000Z' }, undefined)).toEqual({
      leadTimeFrom: '2026-11-01T08:00:00.000Z',
    });
    expect(deliveryStarts(release, '2026-11-01T09:00:00.000Z')).toEqual({
      leadTimeFrom: release.versionCreatedAt,
      failingSince: '2026-11-01T09:00:00.000Z',
    });
  });

  it('gives an on-demand rollback no lead time (it redeploys an older version)', () => {
    expect(deliveryStarts({ ...release, jobKind: 'rollback' }, undefined)).toEqual({});
  });

  it('takes committedAt only when it is a time', () => {
    expect(committedAtOf({ committedAt: '2026-11-01T09:00:00+02:00' })).toBe('2026-11-01T07:00:00.000Z');
    expect(committedAtOf({ committedAt: 'yesterday' })).toBeUndefined();
    expect(committedAtOf({ committedAt: '1700000000' })).toBeUndefined();
    expect(committedAtOf({})).toBeUndefined();
  });

  it('measures the samples of a success up to its time, never below zero', () => {
    const time = '2026-11-01T12:00:00.000Z';
    expect(
      samplesOf(time, { leadTimeFrom: '2026-11-01T10:00:00.000Z', failingSince: '2026-11-01T11:59:00.000Z' }),
    ).toEqual({
      leadSeconds: 7200,
      restoreSeconds: 60,
    });
    expect(samplesOf(time, { leadTimeFrom: '2026-11-01T13:00:00.000Z' })).toEqual({ leadSeconds: 0 });
    expect(samplesOf(time, { leadTimeFrom: 'soon' })).toEqual({});
  });
});

describe('the measures over a range', () => {
  const day = (
    d: string,
    s: number,
    f: number,
    r: number,
    lead: number[] = [],
    restore: number[] = [],
  ): DayTotals => ({
    day: d,
    successful: s,
    failed: f,
    rolledBack: r,
    lead: histogramOf(lead),
    restore: histogramOf(restore),
  });

  it('rates failures and rollbacks over every finished release and divides successes by the days', () => {
    const m = measuresOf([day('2026-11-01', 6, 1, 1, [60, 120, 3600], [600]), day('2026-11-02', 2, 0, 0)], 4);
    expect(m.deploymentsPerDay).toBe(2);
    expect(m.changeFailureRate).toBe(0.2);
    expect(m.leadTimeSeconds).toEqual({ p50: bucketValue(bucketOf(120)), p90: bucketValue(bucketOf(3600)) });
    expect(m.timeToRestoreSeconds.p50).toBe(bucketValue(bucketOf(600)));
    expect(m.counts).toEqual({
      successful: 8,
      failed: 1,
      rolledBack: 1,
      finished: 10,
      restores: 1,
      leadTimes: 3,
      days: 4,
    });
  });

  it('answers nulls, not zeros, for what has no data', () => {
    const m = measuresOf([], 30);
    expect(m).toMatchObject({
      deploymentsPerDay: 0,
      changeFailureRate: null,
      leadTimeSeconds: { p50: null, p90: null },
      timeToRestoreSeconds: { p50: null },
    });
  });
});

describe('the range of a read', () => {
  const now = Date.parse('2026-11-21T10:00:00.000Z');

  it('is the 30 days ending today by default, in whole UTC days', () => {
    const range = dayRange({}, now);
    expect(range).toEqual({
      firstDay: '2026-10-23',
      lastDay: '2026-11-21',
      days: 30,
      since: '2026-10-23T00:00:00.000Z',
      until: '2026-11-22T00:00:00.000Z',
    });
    expect(daysOf(range as { firstDay: string; days: number })).toHaveLength(30);
  });

  it('takes dates and times, and a quarter at most', () => {
    expect(dayRange({ since: '2026-07-01', until: '2026-09-30T23:00:00Z' }, now)).toMatchObject({ days: 92 });
    expect(dayRange({ since: '2026-07-01', until: '2026-10-01' }, now)).toMatch(/93 days; at most 92/);
    expect(dayRange({ since: '2026-11-02', until: '2026-11-01' }, now)).toBe('since is after until.');
    expect(dayRange({ since: 'last week' }, now)).toMatch(/since is not/);
  });
});
