import * as z from 'zod/mini';
import { runtime } from '../../shared/adapters/runtime';
import { complete } from '../../shared/services/rollouts/complete';
import {
  begin as beginStep,
  evaluate,
  recordFailure,
  registerWait,
} from '../../shared/services/rollouts/steps';
import { inputHandler } from '../task-input';
import { ReleaseKey, StepInput, Text } from './input';

/**
 * Thin Lambda handlers of the rollout state machine's tasks (statemachines/rollout.asl.json): the
 * release's gates and ending here, jobs in jobs.ts, verification in verify.ts. One module per
 * concern, one bundle per function: each bundles only the code its handler reaches. Each checks its
 * input against what the state machine passes it (input.ts).
 */

/** WaitForSignal: the signal that wakes it, and its task token. */
const WaitInput = /* @__PURE__ */ z.object({ release: ReleaseKey, signal: Text, taskToken: Text });

/** Complete and its kin: the job's outcome (shared/services/rollouts/jobs.ts, TaskOutcome), or its timeout. */
const CompleteInput = /* @__PURE__ */ z.object({
  release: ReleaseKey,
  job: z.union([
    z.object({
      jobId: Text,
      status: z.enum(['successful', 'failed']),
      message: z.optional(z.nullable(z.string())),
    }),
    z.object({ status: z.literal('timed_out') }),
  ]),
});

/** RecordFailure: the error a Catch caught ($.error). */
const FailInput = /* @__PURE__ */ z.object({
  release: ReleaseKey,
  error: z.optional(z.object({ Error: z.optional(z.string()), Cause: z.optional(z.string()) })),
});

export const begin = /* @__PURE__ */ inputHandler(StepInput, 'The Begin task input', (input) =>
  beginStep(runtime(), input.release),
);

export const evaluateGates = /* @__PURE__ */ inputHandler(StepInput, 'The Evaluate task input', (input) =>
  evaluate(runtime(), input.release),
);

export const wait = /* @__PURE__ */ inputHandler(WaitInput, 'The WaitForSignal task input', async (input) => {
  await registerWait(runtime(), input.release, input.signal, input.taskToken);
});

export const completeRelease = /* @__PURE__ */ inputHandler(
  CompleteInput,
  'The Complete task input',
  ({ release, job }) =>
    complete(runtime(), release, job.status === 'timed_out' ? job : { ...job, message: job.message ?? null }),
);

export const fail = /* @__PURE__ */ inputHandler(FailInput, 'The RecordFailure task input', async (input) => {
  await recordFailure(runtime(), input.release, input.error ?? {});
});
