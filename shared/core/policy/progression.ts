import type { ReleaseStatus } from '../status';

/**
 * Environment progression (docs/api.md section 3): the upstream environment's releases of the same
 * version reached `minSuccessPercentage`, and `minSoakSeconds` passed since the success that reached it.
 */
export interface UpstreamRelease {
  status: ReleaseStatus;
  finishedAt: string | null;
}

export type ProgressionState =
  | { type: 'open'; since?: Date }
  | { type: 'soaking'; until: Date }
  | { type: 'waiting'; successes: number; needed: number; total: number }
  /** Too many upstream releases failed or were cancelled for the threshold to be reached. */
  | { type: 'blocked'; successes: number; needed: number; total: number };

const STILL_RUNNING: ReadonlySet<ReleaseStatus> = new Set([
  'pending',
  'waiting',
  'deploying',
  'verifying',
  'rolling_back',
]);

export function progressionState(
  upstream: UpstreamRelease[],
  rule: { minSoakSeconds: number; minSuccessPercentage: number },
  now: Date,
): ProgressionState {
  const total = upstream.length;
  const needed = Math.ceil((rule.minSuccessPercentage / 100) * total - 1e-9);
  const successTimes = upstream
    .filter((r) => r.status === 'successful' && r.finishedAt)
    .map((r) => Date.parse(r.finishedAt as string))
    .sort((a, b) => a - b);
  if (total === 0) return { type: 'waiting', successes: 0, needed: 1, total };
  if (needed === 0) return { type: 'open' };
  if (successTimes.length < needed) {
    const possible = successTimes.length + upstream.filter((r) => STILL_RUNNING.has(r.status)).length;
    return {
      type: possible >= needed ? 'waiting' : 'blocked',
      successes: successTimes.length,
      needed,
      total,
    };
  }
  const reachedAt = successTimes[needed - 1] as number;
  const until = new Date(reachedAt + rule.minSoakSeconds * 1000);
  return until > now ? { type: 'soaking', until } : { type: 'open', since: until };
}
