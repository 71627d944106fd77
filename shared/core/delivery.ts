/**
 * Delivery metrics, the four DORA measures (docs/api.md section 10, docs/metrics.md): the pure parts.
 * Release outcomes are added, as they happen, to one aggregate per UTC day (counters and log-scale
 * histograms, never a list that grows with the events); a read merges the days of its range.
 */

export const DAY_MS = 86_400_000;
/** A range is at most this many days: a calendar quarter (92 days at most) in one read. */
export const MAX_RANGE_DAYS = 92;
export const DEFAULT_RANGE_DAYS = 30;

// ---- histograms -----------------------------------------------------------------------------------

/**
 * Durations in seconds, counted in log-scale buckets: bucket 0 holds those under a second, bucket
 * i >= 1 holds [2^((i-1)/4), 2^(i/4)) seconds, up to 2^32 s (136 years) in the last. A bucket stands
 * for its geometric middle, so a percentile read from the buckets is within BUCKET_ERROR (9.1 %) of
 * the true one (nearest rank), whatever the number of samples.
 */
const PER_DOUBLING = 4;
export const MAX_BUCKET = PER_DOUBLING * 32;
export const BUCKET_ERROR = 2 ** (1 / (2 * PER_DOUBLING)) - 1;

export function bucketOf(seconds: number): number {
  if (!(seconds >= 1)) return 0;
  return Math.min(MAX_BUCKET, 1 + Math.floor(PER_DOUBLING * Math.log2(seconds)));
}

/** The duration a bucket stands for, in whole seconds. */
export function bucketValue(bucket: number): number {
  return bucket <= 0 ? 0 : Math.round(2 ** ((bucket - 0.5) / PER_DOUBLING));
}

/** Samples per bucket. */
export type Histogram = Map<number, number>;

/** The nearest-rank percentile (q in (0, 1]): the smallest bucket holding at least q of the samples. */
export function percentile(histogram: Histogram, q: number): number | null {
  const total = [...histogram.values()].reduce((a, b) => a + b, 0);
  if (total === 0) return null;
  const rank = Math.max(1, Math.ceil(q * total));
  let seen = 0;
  for (const bucket of [...histogram.keys()].sort((a, b) => a - b)) {
    seen += histogram.get(bucket) ?? 0;
    if (seen >= rank) return bucketValue(bucket);
  }
  return null;
}

// ---- what one outcome adds to its day ----------------------------------------------------------

export type Outcome = 'successful' | 'failed' | 'rolledBack';

/** The aggregate of every environment (an environment's own uses its id, which never holds `*`). */
export const ALL_ENVIRONMENTS = '*';

/** Attribute names of a day's aggregate item, per scope (`*` or an environment id). */
const COUNTER = { successful: 'ok', failed: 'failed', rolledBack: 'rolledBack' } as const;
const counterName = (scope: string, outcome: Outcome) => `${scope}|${COUNTER[outcome]}`;
const bucketName = (scope: string, histogram: 'lead' | 'restore', bucket: number) =>
  `${scope}|${histogram}|${bucket}`;

export interface OutcomeSamples {
  /** Seconds from the commit (or the version's creation) to this success. */
  leadSeconds?: number;
  /** Seconds from the target's first failure since its last success to this success. */
  restoreSeconds?: number;
}

/** The counters one outcome adds (DynamoDB ADD), to its environment and to all environments. */
export function outcomeAdds(
  outcome: Outcome,
  environment: string,
  samples: OutcomeSamples = {},
): Record<string, number> {
  const adds: Record<string, number> = {};
  for (const scope of [ALL_ENVIRONMENTS, environment]) {
    adds[counterName(scope, outcome)] = 1;
    if (samples.leadSeconds !== undefined) adds[bucketName(scope, 'lead', bucketOf(samples.leadSeconds))] = 1;
    if (samples.restoreSeconds !== undefined)
      adds[bucketName(scope, 'restore', bucketOf(samples.restoreSeconds))] = 1;
  }
  return adds;
}

/** Whole seconds from `from` to `to` (ISO times), never negative (a commit time ahead of the clock). */
export function secondsBetween(from: string, to: string): number {
  return Math.max(0, Math.round((Date.parse(to) - Date.parse(from)) / 1000));
}

/** `metadata.committedAt` when it is a time (normalised to ISO UTC), else undefined. */
export function committedAtOf(metadata: Record<string, string> | undefined): string | undefined {
  const value = metadata?.committedAt;
  if (!value || !/^\d{4}-\d{2}-\d{2}T/.test(value)) return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : new Date(ms).toISOString();
}

/**
 * What a success's event carries for the metrics: where its lead time starts (the commit when CI sent
 * `committedAt`, else the version's creation; none for an on-demand rollback, which redeploys an older
 * version) and, when its target had been failing, since when.
 */
export function deliveryStarts(
  release: { committedAt?: string; versionCreatedAt: string; jobKind?: 'deploy' | 'rollback' },
  failingSince: string | undefined,
): { leadTimeFrom?: string; failingSince?: string } {
  return {
    ...(release.jobKind === 'rollback'
      ? {}
      : { leadTimeFrom: release.committedAt ?? release.versionCreatedAt }),
    ...(failingSince ? { failingSince } : {}),
  };
}

/** The samples of a Release Succeeded event (at `time`) that carries deliveryStarts. */
export function samplesOf(time: string, data: Record<string, unknown> | undefined): OutcomeSamples {
  const from = (value: unknown) =>
    typeof value === 'string' && !Number.isNaN(Date.parse(value)) ? secondsBetween(value, time) : undefined;
  const leadSeconds = from(data?.leadTimeFrom);
  const restoreSeconds = from(data?.failingSince);
  return {
    ...(leadSeconds === undefined ? {} : { leadSeconds }),
    ...(restoreSeconds === undefined ? {} : { restoreSeconds }),
  };
}

/** Deployments' aggregates of one day summed, counter by counter and bucket by bucket. */
export function sumAggregates(items: Record<string, unknown>[]): Record<string, number> {
  const totals: Record<string, number> = {};
  for (const item of items)
    for (const [name, value] of Object.entries(item))
      if (name.includes('|') && typeof value === 'number') totals[name] = (totals[name] ?? 0) + value;
  return totals;
}

/**
 * The days the rollup of all deployments recomputes: today and the two before, as an outcome can be
 * counted up to a day after it happened (EventBridge retries a delivery for 24 hours).
 */
export function rollupDays(nowMs: number): string[] {
  return [2, 1, 0].map((back) => new Date(nowMs - back * DAY_MS).toISOString().slice(0, 10));
}

// ---- reading days back ----------------------------------------------------------------------------

export interface DayTotals {
  day: string;
  successful: number;
  failed: number;
  rolledBack: number;
  lead: Histogram;
  restore: Histogram;
}

/** One scope's totals in a day's aggregate item (attributes as outcomeAdds names them). */
export function totalsOf(item: Record<string, unknown>, day: string, scope: string): DayTotals {
  const totals: DayTotals = {
    day,
    successful: 0,
    failed: 0,
    rolledBack: 0,
    lead: new Map(),
    restore: new Map(),
  };
  const prefix = `${scope}|`;
  for (const [name, value] of Object.entries(item)) {
    if (!name.startsWith(prefix) || typeof value !== 'number') continue;
    const [measure, bucket] = name.slice(prefix.length).split('|');
    if (measure === 'lead' || measure === 'restore') totals[measure].set(Number(bucket), value);
    else if (measure === COUNTER.successful) totals.successful = value;
    else if (measure === COUNTER.failed) totals.failed = value;
    else if (measure === COUNTER.rolledBack) totals.rolledBack = value;
  }
  return totals;
}

export interface DeliveryMeasures {
  deploymentsPerDay: number;
  leadTimeSeconds: { p50: number | null; p90: number | null };
  changeFailureRate: number | null;
  timeToRestoreSeconds: { p50: number | null };
  counts: {
    successful: number;
    failed: number;
    rolledBack: number;
    finished: number;
    restores: number;
    leadTimes: number;
    days: number;
  };
}

const round = (value: number, digits: number) => Math.round(value * 10 ** digits) / 10 ** digits;
const sum = (h: Histogram) => [...h.values()].reduce((a, b) => a + b, 0);

function merge(into: Histogram, from: Histogram): void {
  for (const [bucket, n] of from) into.set(bucket, (into.get(bucket) ?? 0) + n);
}

/** The four measures over the days of a range (`days` counts the range's days, with data or not). */
export function measuresOf(totals: DayTotals[], days: number): DeliveryMeasures {
  const lead: Histogram = new Map();
  const restore: Histogram = new Map();
  let successful = 0;
  let failed = 0;
  let rolledBack = 0;
  for (const day of totals) {
    successful += day.successful;
    failed += day.failed;
    rolledBack += day.rolledBack;
    merge(lead, day.lead);
    merge(restore, day.restore);
  }
  const finished = successful + failed + rolledBack;
  return {
    deploymentsPerDay: days > 0 ? round(successful / days, 3) : 0,
    leadTimeSeconds: { p50: percentile(lead, 0.5), p90: percentile(lead, 0.9) },
    changeFailureRate: finished > 0 ? round((failed + rolledBack) / finished, 4) : null,
    timeToRestoreSeconds: { p50: percentile(restore, 0.5) },
    counts: { successful, failed, rolledBack, finished, restores: sum(restore), leadTimes: sum(lead), days },
  };
}

// ---- the range of a read --------------------------------------------------------------------------

export const dayOf = (iso: string): string => new Date(iso).toISOString().slice(0, 10);
const addDays = (day: string, n: number): string =>
  new Date(Date.parse(day) + n * DAY_MS).toISOString().slice(0, 10);

export interface DayRange {
  firstDay: string;
  lastDay: string;
  days: number;
  /** The range as answered: the first day's start and the end of the last day (exclusive). */
  since: string;
  until: string;
}

/**
 * The whole UTC days a read covers: from the day of `since` to the day of `until` (default: today,
 * and the 30 days ending with it). A string that is not a date or time, since after until, or more
 * than MAX_RANGE_DAYS days is an error, as a sentence.
 */
export function dayRange(query: { since?: string; until?: string }, nowMs: number): DayRange | string {
  for (const name of ['since', 'until'] as const) {
    const value = query[name];
    if (value !== undefined && Number.isNaN(Date.parse(value)))
      return `${name} is not an ISO-8601 date or time.`;
  }
  const lastDay = dayOf(query.until ?? new Date(nowMs).toISOString());
  const firstDay = query.since === undefined ? addDays(lastDay, 1 - DEFAULT_RANGE_DAYS) : dayOf(query.since);
  if (firstDay > lastDay) return 'since is after until.';
  const days = (Date.parse(lastDay) - Date.parse(firstDay)) / DAY_MS + 1;
  if (days > MAX_RANGE_DAYS)
    return `The range covers ${days} days; at most ${MAX_RANGE_DAYS} (whole UTC days) are read at once.`;
  return {
    firstDay,
    lastDay,
    days,
    since: `${firstDay}T00:00:00.000Z`,
    until: `${addDays(lastDay, 1)}T00:00:00.000Z`,
  };
}

/** Every day of a range, in order. */
export function daysOf(range: Pick<DayRange, 'firstDay' | 'days'>): string[] {
  return Array.from({ length: range.days }, (_, i) => addDays(range.firstDay, i));
}
