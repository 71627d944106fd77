import * as z from 'zod/mini';
import { runtime } from '../../shared/adapters/runtime';
import { readForRelease } from '../../shared/adapters/store/release-reads';
import { getRelease } from '../../shared/adapters/store/rollouts';
import { dispatchReleaseJob, pollJob } from '../../shared/services/rollouts/jobs';
import { jobTimeout } from '../../shared/services/rollouts/reads';
import { pollRound } from '../../shared/services/rollouts/rounds';
import { startJob } from '../../shared/services/rollouts/steps';
import { inputHandler } from '../task-input';
import { ReleaseKey, Text } from './input';

/** The rollout's job tasks: send a job to the deployment's agent, and poll an agent that cannot call back. */

/** The release ended while the task was being scheduled: the workflow goes to Done. */
class ReleaseClosed extends Error {
  constructor() {
    super('The release is no longer active.');
    this.name = 'Gantry.ReleaseClosed';
  }
}

/** The inputs the state machine passes (statemachines/rollout.asl.json): Dispatch and its kin, Poll and RollbackPoll. */
const DispatchInput = /* @__PURE__ */ z.object({
  release: ReleaseKey,
  kind: z.enum(['deploy', 'rollback', 'drain', 'undrain']),
  taskToken: Text,
});
/** The polling job: the PollingOutcome the dispatch answered. */
const PollInput = /* @__PURE__ */ z.object({ release: ReleaseKey, job: z.object({ jobId: Text }) });

/** Dispatch: the release's move that goes with the job (shared/services/rollouts/steps.ts), then the job itself. */
export const dispatch = /* @__PURE__ */ inputHandler(
  DispatchInput,
  'The Dispatch task input',
  async (input) => {
    const rt = runtime();
    // The release and everything the job's payload is built from, in one read.
    const reads = await readForRelease(rt, input.release, [
      'release',
      'deployment',
      'environment',
      'resource',
      'version',
    ]);
    const job = await startJob(rt, input.kind, reads);
    if (!job) throw new ReleaseClosed();
    await dispatchReleaseJob(rt, { ...job, taskToken: input.taskToken, reads });
  },
);

/** Poll: one look at a polling agent's job (the deploy job, or the rollback job while rolling back). */
export const poll = /* @__PURE__ */ inputHandler(PollInput, 'The Poll task input', async (input) => {
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
});
