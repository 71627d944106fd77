import { policyContext } from '../../shared/rollouts/gates';
import { jobIdOf } from '../../shared/rollouts/ids';
import { dispatchReleaseJob, pollJob } from '../../shared/rollouts/jobs';
import { pollRound } from '../../shared/rollouts/rounds';
import { jobTimeout, startDeploying } from '../../shared/rollouts/steps';
import { runtime } from '../../shared/runtime';
import { TERMINAL_RELEASE } from '../../shared/status';
import { readForRelease } from '../../shared/store/release-reads';
import { getRelease, releaseItemKey, updateItem, updateRelease } from '../../shared/store/rollouts';
import type { StepInput } from './rollout';

/** The rollout's job tasks: send a job to the deployment's agent, and poll an agent that cannot call back. */

/** The release ended while the task was being scheduled: the workflow goes to Done. */
class ReleaseClosed extends Error {
  constructor() {
    super('The release is no longer active.');
    this.name = 'Gantry.ReleaseClosed';
  }
}

export const dispatch = async (
  input: StepInput & { kind: 'deploy' | 'rollback' | 'drain' | 'undrain'; taskToken: string },
) => {
  const rt = runtime();
  // The release and everything the job's payload is built from, in one read.
  const reads = await readForRelease(rt, input.release, [
    'release',
    'deployment',
    'environment',
    'resource',
    'version',
  ]);
  const { release } = reads;
  if (input.kind === 'undrain') {
    // After the rollout (whatever its outcome): give the target its traffic back.
    if (!release?.drain) throw new ReleaseClosed();
    const undrainJobId = jobIdOf(release.releaseId, 'undrain', release.attempt);
    const drain = { ...release.drain, state: 'undraining' as const, undrainJobId };
    await updateItem(rt, releaseItemKey(release), { set: { drain } });
    await dispatchReleaseJob(rt, { ...release, drain }, 'undrain', input.taskToken, reads);
    return;
  }
  if (!release || TERMINAL_RELEASE.has(release.status)) throw new ReleaseClosed();
  if (input.kind === 'drain') {
    // Draining dispatches the release: from here on it can no longer be superseded.
    const drain = release.drain ?? {
      state: 'draining' as const,
      seconds: (await policyContext(rt, release, reads)).rules.trafficDrain?.seconds ?? 0,
      jobId: jobIdOf(release.releaseId, 'drain', release.attempt),
    };
    const deploying = await startDeploying(
      rt,
      input.release,
      jobIdOf(release.releaseId, 'deploy', release.attempt),
    );
    if (!deploying) throw new ReleaseClosed();
    const draining = await updateRelease(
      rt,
      release,
      { drain, message: 'Draining traffic before the deploy.' },
      ['deploying'],
    );
    await dispatchReleaseJob(rt, draining, 'drain', input.taskToken, reads);
    return;
  }
  if (input.kind === 'rollback') {
    // The automatic rollback of a failed release: the target's last good version, as a job of its own.
    if (release.status !== 'rolling_back' || !release.rolledBackTo) throw new ReleaseClosed();
    const jobId = jobIdOf(release.releaseId, 'rollback', release.attempt);
    if (release.rollbackJobId !== jobId)
      await updateRelease(rt, release, { rollbackJobId: jobId }, ['rolling_back']);
    await dispatchReleaseJob(rt, release, 'rollback', input.taskToken, reads, release.rolledBackTo);
    return;
  }
  // An on-demand rollback to this version is a release whose deploy job is of kind `rollback`.
  const deploying = await startDeploying(
    rt,
    input.release,
    jobIdOf(release.releaseId, 'deploy', release.attempt),
  );
  if (!deploying) throw new ReleaseClosed();
  await dispatchReleaseJob(
    rt,
    deploying,
    release.jobKind ?? 'deploy',
    input.taskToken,
    reads,
    undefined,
    'deploy',
  );
};

/** Poll: one look at a polling agent's job (the deploy job, or the rollback job while rolling back). */
export const poll = async (input: StepInput & { job: { jobId: string } }) => {
  const rt = runtime();
  const [release, timeoutSeconds] = await Promise.all([
    getRelease(rt, input.release),
    jobTimeout(rt, input.release.deployment),
  ]);
  const outcome = await pollJob(rt, input.job.jobId, timeoutSeconds);
  if (!release) throw new ReleaseClosed();
  if (outcome.status === 'polling' && (await pollRound(rt, release)) === 'continued') {
    return { jobId: outcome.jobId, status: 'continued' as const };
  }
  return outcome;
};
