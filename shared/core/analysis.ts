import type { z } from 'zod/mini';
import type { Measurement } from './records';
import type { Metric as MetricSchema } from './schemas/config';

type Metric = z.infer<typeof MetricSchema>;

/**
 * The pure decision of a metric's bounded measurement loop (at most `count` measurements, one every
 * `intervalSeconds`). Decided in this order after each measurement:
 * 1. failed when failures > failureLimit;
 * 2. failed when inconclusive > inconclusiveLimit, which defaults to floor(count / 2): a provider
 *    that cannot answer for half the run fails the verification, inconclusive is never a pass;
 * 3. passed when consecutiveSuccessLimit successes in a row were seen (inconclusive and failure
 *    both break the run);
 * 4. when `count` measurements are done: passed if at least one succeeded (the limits above hold
 *    by then), failed if none did (a run of only failures within the limit and inconclusive ones
 *    proves nothing);
 * 5. otherwise continue.
 */

export interface MetricProgress {
  name: string;
  successes: number;
  failures: number;
  inconclusive: number;
  consecutiveSuccesses: number;
  measurements: number;
  last?: Measurement;
}

export type Verdict = 'continue' | 'passed' | 'failed';

export function start(name: string): MetricProgress {
  return { name, successes: 0, failures: 0, inconclusive: 0, consecutiveSuccesses: 0, measurements: 0 };
}

export function record(progress: MetricProgress, m: Measurement): MetricProgress {
  return {
    ...progress,
    successes: progress.successes + (m.outcome === 'success' ? 1 : 0),
    failures: progress.failures + (m.outcome === 'failure' ? 1 : 0),
    inconclusive: progress.inconclusive + (m.outcome === 'inconclusive' ? 1 : 0),
    consecutiveSuccesses: m.outcome === 'success' ? progress.consecutiveSuccesses + 1 : 0,
    measurements: progress.measurements + 1,
    last: m,
  };
}

export function inconclusiveLimit(metric: Pick<Metric, 'count' | 'inconclusiveLimit'>): number {
  return metric.inconclusiveLimit ?? Math.floor(metric.count / 2);
}

export function verdict(
  metric: Pick<Metric, 'count' | 'failureLimit' | 'inconclusiveLimit' | 'consecutiveSuccessLimit'>,
  p: MetricProgress,
): Verdict {
  if (p.failures > metric.failureLimit) return 'failed';
  if (p.inconclusive > inconclusiveLimit(metric)) return 'failed';
  if (
    metric.consecutiveSuccessLimit !== undefined &&
    p.consecutiveSuccesses >= metric.consecutiveSuccessLimit
  ) {
    return 'passed';
  }
  if (p.measurements >= metric.count) return p.successes > 0 ? 'passed' : 'failed';
  return 'continue';
}

export function overall(verdicts: Verdict[]): Verdict {
  if (verdicts.includes('failed')) return 'failed';
  return verdicts.every((v) => v === 'passed') ? 'passed' : 'continue';
}
