import * as z from 'zod/mini';

/**
 * What the rollout state machine (statemachines/rollout.asl.json) passes each task: its Parameters
 * and Payloads. The release is the execution's input (shared/adapters/workflow.ts, ExecutionInput).
 */

export const Text = z.string();

export const ReleaseKey = z.object({ deployment: Text, tag: Text, environment: Text, resource: Text });

/** Begin, Evaluate, Measure: the release. */
export const StepInput = z.object({ release: ReleaseKey });

/** The release ended while a job task was being scheduled: the workflow goes to Done. */
export class ReleaseClosed extends Error {
  constructor() {
    super('The release is no longer active.');
    this.name = 'Gantry.ReleaseClosed';
  }
}
