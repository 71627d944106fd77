import * as z from 'zod/mini';
import { runtime } from '../../shared/adapters/runtime';
import { readForRelease } from '../../shared/adapters/store/release-reads';
import { dispatchReleaseJob } from '../../shared/services/rollouts/jobs';
import { startJob } from '../../shared/services/rollouts/steps';
import { inputHandler } from '../task-input';
import { ReleaseClosed, ReleaseKey, Text } from './input';

/**
 * The rollout's job task: send a job to the deployment's agent. Polling an agent that cannot call
 * back is ./poll.ts, a bundle of its own, so neither function carries the other's agent code.
 */

/** The input the state machine passes (statemachines/rollout.asl.json): Dispatch and its kin. */
const DispatchInput = /* @__PURE__ */ z.object({
  release: ReleaseKey,
  kind: z.enum(['deploy', 'rollback', 'drain', 'undrain']),
  taskToken: Text,
});

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
