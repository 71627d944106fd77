import * as z from 'zod/mini';
import { runtime } from '../../shared/adapters/runtime';
import { getRelease } from '../../shared/adapters/store/rollouts';
import { pollJob } from '../../shared/services/rollouts/jobs';
import { jobTimeout } from '../../shared/services/rollouts/reads';
import { pollRound } from '../../shared/services/rollouts/rounds';
import { inputHandler } from '../task-input';
import { ReleaseClosed, ReleaseKey, Text } from './input';

/** The polling job of Poll and RollbackPoll (statemachines/rollout.asl.json): the PollingOutcome the dispatch answered. */
const PollInput = z.object({ release: ReleaseKey, job: z.object({ jobId: Text }) });

/** Poll: one look at a polling agent's job (the deploy job, or the rollback job while rolling back). */
export const poll = inputHandler(PollInput, 'The Poll task input', async (input) => {
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
