import { describe, expect, it } from 'vitest';
import { type Measurement, type Metric, trimValue } from '../../shared/adapters/metrics';
import { inconclusiveLimit, overall, record, start, type Verdict, verdict } from '../../shared/core/analysis';
import { Metric as MetricSchema } from '../../shared/core/schemas/config';

function metric(
  limits: Partial<Pick<Metric, 'count' | 'failureLimit' | 'inconclusiveLimit' | 'consecutiveSuccessLimit'>>,
) {
  return MetricSchema.parse({
    name: 'error-rate',
    provider: { type: 'http', url: 'http://127.0.0.1/health' },
    intervalSeconds: 60,
    count: 5,
    successCondition: 'result.status == 200',
    ...limits,
  });
}

const OUTCOMES = { S: 'success', F: 'failure', I: 'inconclusive' } as const;

/** Records the outcomes ("SFI") one by one, as the loop would, and stops at the first final verdict. */
function run(m: Metric, outcomes: string): { verdict: Verdict; after: number } {
  let progress = start(m.name);
  let current: Verdict = 'continue';
  for (const letter of outcomes) {
    const outcome = OUTCOMES[letter as keyof typeof OUTCOMES];
    progress = record(progress, { outcome, at: '2030-01-01T00:00:00.000Z' });
    current = verdict(m, progress);
    if (current !== 'continue') break;
  }
  return { verdict: current, after: progress.measurements };
}

describe('verification analysis', () => {
  it.each([
    { case: 'first failure over failureLimit 0', limits: {}, outcomes: 'SF', expected: 'failed', after: 2 },
    {
      case: 'failures within failureLimit',
      limits: { failureLimit: 1 },
      outcomes: 'SFSSS',
      expected: 'passed',
      after: 5,
    },
    {
      case: 'failures over failureLimit',
      limits: { failureLimit: 1 },
      outcomes: 'SFSFS',
      expected: 'failed',
      after: 4,
    },
    { case: 'still running', limits: {}, outcomes: 'SS', expected: 'continue', after: 2 },
    {
      case: 'count exhausted, all good',
      limits: { count: 3 },
      outcomes: 'SSS',
      expected: 'passed',
      after: 3,
    },
    {
      case: 'consecutive successes finish early',
      limits: { count: 10, consecutiveSuccessLimit: 3 },
      outcomes: 'SSSSS',
      expected: 'passed',
      after: 3,
    },
    {
      case: 'inconclusive breaks the consecutive run',
      limits: { count: 10, consecutiveSuccessLimit: 3 },
      outcomes: 'SSISSS',
      expected: 'passed',
      after: 6,
    },
    {
      case: 'a tolerated failure breaks the consecutive run',
      limits: { count: 10, failureLimit: 1, consecutiveSuccessLimit: 2 },
      outcomes: 'SFSS',
      expected: 'passed',
      after: 4,
    },
    {
      case: 'count exhausted before the consecutive limit still passes',
      limits: { count: 3, consecutiveSuccessLimit: 5 },
      outcomes: 'SIS',
      expected: 'passed',
      after: 3,
    },
    {
      case: 'default inconclusive limit floor(5/2) = 2 exceeded',
      limits: {},
      outcomes: 'SIII',
      expected: 'failed',
      after: 4,
    },
    {
      case: 'inconclusive within default limit',
      limits: { count: 4 },
      outcomes: 'SIIS',
      expected: 'passed',
      after: 4,
    },
    {
      case: 'explicit inconclusiveLimit 0',
      limits: { inconclusiveLimit: 0 },
      outcomes: 'SI',
      expected: 'failed',
      after: 2,
    },
    {
      case: 'explicit inconclusiveLimit 3',
      limits: { inconclusiveLimit: 3 },
      outcomes: 'IIISS',
      expected: 'passed',
      after: 5,
    },
    {
      case: 'count 1: inconclusive is never a pass',
      limits: { count: 1 },
      outcomes: 'I',
      expected: 'failed',
      after: 1,
    },
    {
      case: 'count exhausted without any success',
      limits: { count: 2, failureLimit: 1 },
      outcomes: 'FI',
      expected: 'failed',
      after: 2,
    },
  ] as const)('$case', ({ limits, outcomes, expected, after }) => {
    expect(run(metric(limits), outcomes)).toEqual({ verdict: expected, after });
  });

  it('records counts, the consecutive run and the last measurement', () => {
    const last: Measurement = { outcome: 'failure', value: { status: 503 }, at: '2030-01-01T00:01:00.000Z' };
    let p = record(start('m'), { outcome: 'success', at: '2030-01-01T00:00:00.000Z' });
    p = record(p, { outcome: 'inconclusive', error: 'timeout', at: '2030-01-01T00:00:30.000Z' });
    p = record(p, last);
    expect(p).toEqual({
      name: 'm',
      successes: 1,
      failures: 1,
      inconclusive: 1,
      consecutiveSuccesses: 0,
      measurements: 3,
      last,
    });
    expect(inconclusiveLimit({ count: 7 })).toBe(3);
    expect(inconclusiveLimit({ count: 7, inconclusiveLimit: 0 })).toBe(0);
  });

  it.each([
    [['passed', 'passed'], 'passed'],
    [['passed', 'continue'], 'continue'],
    [['continue', 'failed', 'passed'], 'failed'],
    [[], 'passed'],
  ] as const)('overall(%j) is %s', (verdicts, expected) => {
    expect(overall([...verdicts])).toBe(expected);
  });
});

describe('trimValue', () => {
  it('keeps small results as they are', () => {
    expect(trimValue({ status: 200, json: { ok: true }, body: 'ok' })).toEqual({
      status: 200,
      json: { ok: true },
      body: 'ok',
    });
  });

  it.each([
    ['a long body', { status: 200, body: 'x'.repeat(100_000) }],
    [
      'a long list',
      { vector: Array.from({ length: 5_000 }, (_, i) => ({ metric: { pod: `p${i}` }, value: i })) },
    ],
    ['many keys', Object.fromEntries(Array.from({ length: 3_000 }, (_, i) => [`k${i}`, 'é'.repeat(40)]))],
    ['deep nesting', JSON.parse(`${'{"a":'.repeat(200)}"${'ü'.repeat(3000)}"${'}'.repeat(200)}`)],
  ])('cuts %s to 2 KB of JSON', (_, value) => {
    expect(Buffer.byteLength(JSON.stringify(trimValue(value)))).toBeLessThanOrEqual(2048);
  });
});
