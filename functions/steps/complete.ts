import * as z from 'zod/mini';
import { runtime } from '../../shared/adapters/runtime';
import { complete } from '../../shared/services/rollouts/complete';
import { recordFailure } from '../../shared/services/rollouts/steps';
import { inputHandler } from '../task-input';
import { ReleaseKey, Text } from './input';

/**
 * Thin Lambda handlers of the rollout state machine's ending (statemachines/rollout.asl.json):
 * Complete, which the job's outcome decides, and RecordFailure (the gates are in rollout.ts).
 */

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

export const completeRelease = /* @__PURE__ */ inputHandler(
  CompleteInput,
  'The Complete task input',
  ({ release, job }) =>
    complete(runtime(), release, job.status === 'timed_out' ? job : { ...job, message: job.message ?? null }),
);

export const fail = /* @__PURE__ */ inputHandler(FailInput, 'The RecordFailure task input', async (input) => {
  await recordFailure(runtime(), input.release, input.error ?? {});
});
