import { DETAIL_TYPES, releaseEvent } from '../../adapters/events';
import type { Runtime } from '../../adapters/runtime';
import type { ReleaseReads } from '../../adapters/store/release-reads';
import { applyTransition, type DrainState, type ReleaseRecord } from '../../adapters/store/rollouts';
import { jobIdOf } from '../../core/ids';
import { afterward, type Decision } from '../../core/lifecycle';
import { policyContext } from './gates';
import { type JobToSend, jobResult, type PayloadReads, type TaskOutcome } from './jobs';
import { releaseTargetLock } from './lock';
import { transitionAndPublish } from './outbox';
import { jobTimeout } from './reads';

/**
 * Traffic drain around the deploy (rule trafficDrain): the drain job before it, the drain time, and
 * the undrain job once the release has finished, whatever its outcome.
 */

/** The drain job of a release just marked deploying: from here on it can no longer be superseded. */
export async function startDrain(
  rt: Runtime,
  deploying: ReleaseRecord,
  reads: PayloadReads,
): Promise<JobToSend | undefined> {
  const drain = deploying.drain ?? {
    jobId: jobIdOf(deploying.releaseId, 'drain', deploying.attempt),
    seconds: (await policyContext(rt, deploying, reads)).rules.trafficDrain?.seconds ?? 0,
  };
  const draining = await applyTransition(rt, deploying, 'drain', {
    jobId: drain.jobId,
    seconds: drain.seconds,
  });
  return draining && { release: draining, kind: 'drain' };
}

/** After the rollout: give the target its traffic back. */
export async function startUndrain(rt: Runtime, release: ReleaseRecord): Promise<JobToSend | undefined> {
  const jobId = jobIdOf(release.releaseId, 'undrain', release.attempt);
  const undraining = await applyTransition(rt, release, 'undrain', { jobId });
  return undraining && { release: undraining, kind: 'undrain' };
}

/** The drain job answered: wait the drain time before the deploy, or fail the release and undrain. */
export async function finishDrain(
  rt: Runtime,
  release: ReleaseRecord,
  drain: DrainState,
  outcome: TaskOutcome,
  reads: Pick<ReleaseReads, 'deployment'>,
): Promise<Decision> {
  const result = await jobResult(rt, drain.jobId, outcome);
  const jobTimeoutSeconds = await jobTimeout(rt, release.deployment, reads);
  if (result.status === 'successful') {
    await applyTransition(rt, release, 'drained', {});
    return { next: 'drain_wait', waitSeconds: drain.seconds, jobTimeoutSeconds };
  }
  const message = `The traffic drain failed: ${result.message ?? 'unknown error'}`;
  await transitionAndPublish(rt, release, 'drain_failed', { message }, [
    releaseEvent(release, DETAIL_TYPES.releaseFailed, { cause: 'drain', message }),
  ]);
  await releaseTargetLock(rt, release);
  return { next: 'undrain', jobTimeoutSeconds };
}

/** The undrain job answered: the drain is over; a failed undrain is told in the release's message. */
export async function finishUndrain(
  rt: Runtime,
  release: ReleaseRecord,
  drain: DrainState,
  outcome: TaskOutcome,
): Promise<Decision> {
  const result = await jobResult(rt, drain.undrainJobId ?? '', outcome);
  const failure = `The undrain job failed: ${result.message ?? 'unknown error'}`;
  await applyTransition(
    rt,
    release,
    'undrained',
    result.status === 'failed' ? { message: `${release.message ?? ''} ${failure}`.trim() } : {},
  );
  return { next: 'done' };
}

/**
 * After the rollout's last job: undrain if drained, else done. `release` is one read in this step
 * (ending it does not change its drain state), `reads` may hold the deployment for the timeout.
 */
export async function ending(
  rt: Runtime,
  release: ReleaseRecord,
  reads: Pick<ReleaseReads, 'deployment'> = {},
): Promise<Decision> {
  if (release.drain?.state !== 'drained') return { next: 'done' };
  return afterward(release, await jobTimeout(rt, release.deployment, reads));
}
