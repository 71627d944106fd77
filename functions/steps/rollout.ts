import { runtime } from '../../shared/adapters/runtime';
import type { ReleaseKey } from '../../shared/adapters/store/rollouts';
import { complete } from '../../shared/services/rollouts/complete';
import type { TaskOutcome } from '../../shared/services/rollouts/jobs';
import {
  begin as beginStep,
  evaluate,
  recordFailure,
  registerWait,
} from '../../shared/services/rollouts/steps';

/**
 * Thin Lambda handlers of the rollout state machine's tasks (statemachines/rollout.asl.json): the
 * release's gates and ending here, jobs in jobs.ts, verification in verify.ts. One module per
 * concern, one bundle per function: each bundles only the code its handler reaches.
 */

export interface StepInput {
  release: ReleaseKey;
}

export const begin = async (input: StepInput) => beginStep(runtime(), input.release);

export const evaluateGates = async (input: StepInput) => evaluate(runtime(), input.release);

export const wait = async (input: StepInput & { signal: string; taskToken: string }) => {
  await registerWait(runtime(), input.release, input.signal, input.taskToken);
};

export const completeRelease = async (input: StepInput & { job: TaskOutcome }) =>
  complete(runtime(), input.release, input.job);

export const fail = async (input: StepInput & { error: { Error?: string; Cause?: string } }) => {
  await recordFailure(runtime(), input.release, input.error ?? {});
};
