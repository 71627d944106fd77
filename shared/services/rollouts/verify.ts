import { keptResult, type Measurement, measure } from '../../adapters/metrics';
import type { Runtime } from '../../adapters/runtime';
import { secrets } from '../../adapters/secrets';
import { type ReleaseRecord, updateReleaseFields } from '../../adapters/store/rollouts';
import { overall, record, start, type Verdict, verdict } from '../../core/analysis';
import { currentDate, isoNow } from '../../core/clock';
import type { VerificationState } from '../../core/lifecycle';
import type { MergedRules } from '../../core/policy/merge';
import type { Answer } from '../../core/schemas/answers';
import { oneMoreRound } from './rounds';

/**
 * Verification after a successful job (docs/api.md section 3): a bounded Wait -> Measure -> Choice loop in
 * the state machine. The progress lives on the release, so a re-run or a new execution resumes it.
 */
type Metric = MergedRules['verification'][number];

export function initialVerification(metrics: Metric[], now: Date): VerificationState {
  return {
    startedAt: now.toISOString(),
    metrics: Object.fromEntries(
      metrics.map((m) => [
        m.name,
        {
          progress: start(m.name),
          nextDueAt: new Date(now.getTime() + (m.initialDelaySeconds ?? 0) * 1000).toISOString(),
          verdict: 'continue' as Verdict,
          policy: m.policy,
        },
      ]),
    ),
    verdict: 'continue',
    finishedAt: null,
  };
}

/** One Measure round: every metric that is due is measured, then the verdicts are updated. */
export async function measureRound(
  rt: Runtime,
  release: ReleaseRecord,
  metrics: Metric[],
): Promise<VerificationState> {
  const now = currentDate();
  const state = release.verification ?? initialVerification(metrics, now);
  const next: VerificationState = { ...state, metrics: { ...state.metrics } };
  await Promise.all(
    metrics.map(async (metric) => {
      const current = next.metrics[metric.name] ?? {
        progress: start(metric.name),
        nextDueAt: now.toISOString(),
        verdict: 'continue' as Verdict,
        policy: metric.policy,
      };
      if (current.verdict !== 'continue' || Date.parse(current.nextDueAt) > now.getTime()) {
        next.metrics[metric.name] = current;
        return;
      }
      const measurement = await measure(metric, { getSecret: (name) => secrets().get(name) }, now);
      const progress = record(current.progress, measurement);
      next.metrics[metric.name] = {
        progress,
        nextDueAt: new Date(now.getTime() + metric.intervalSeconds * 1000).toISOString(),
        verdict: verdict(metric, progress),
        policy: metric.policy,
      };
    }),
  );
  next.verdict = overall(Object.values(next.metrics).map((m) => m.verdict));
  if (next.verdict !== 'continue') next.finishedAt = isoNow();
  await updateReleaseFields(rt, release, { verification: next, ...oneMoreRound(release) });
  return next;
}

/** A measurement as shown; one stored before bodies were dropped (issue 17) loses its body here too. */
const shown = (m: Measurement): Measurement =>
  m.value === undefined ? m : { ...m, value: keptResult(m.value) };

/** What GET version shows of a release's verification: outcome and the last values. */
export function renderVerification(
  state: VerificationState | null | undefined,
): Answer<'Release'>['verification'] {
  if (!state) return null;
  return {
    status: state.verdict === 'continue' ? 'running' : state.verdict,
    startedAt: state.startedAt,
    finishedAt: state.finishedAt,
    metrics: Object.values(state.metrics).map((m) => ({
      name: m.progress.name,
      policy: m.policy,
      status: m.verdict === 'continue' ? 'running' : m.verdict,
      measurements: m.progress.measurements,
      successes: m.progress.successes,
      failures: m.progress.failures,
      inconclusive: m.progress.inconclusive,
      last: m.progress.last ? shown(m.progress.last) : null,
    })),
  };
}
