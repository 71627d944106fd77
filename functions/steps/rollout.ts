import * as z from 'zod/mini';
import { runtime } from '../../shared/adapters/runtime';
import { begin as beginStep, evaluate, registerWait } from '../../shared/services/rollouts/steps';
import { inputHandler } from '../task-input';
import { ReleaseKey, StepInput, Text } from './input';

/**
 * Thin Lambda handlers of the rollout state machine's tasks (statemachines/rollout.asl.json): the
 * release's gates here, its ending in complete.ts, jobs in jobs.ts, verification in verify.ts. One
 * module per concern, bundled per module: a module's handlers share a bundle, so the gates' (Slack,
 * windows) and the ending's code stay apart. Each checks its input against what the state machine
 * passes it (input.ts).
 */

/** WaitForSignal: the signal that wakes it, and its task token. */
const WaitInput = /* @__PURE__ */ z.object({ release: ReleaseKey, signal: Text, taskToken: Text });

export const begin = /* @__PURE__ */ inputHandler(StepInput, 'The Begin task input', (input) =>
  beginStep(runtime(), input.release),
);

export const evaluateGates = /* @__PURE__ */ inputHandler(StepInput, 'The Evaluate task input', (input) =>
  evaluate(runtime(), input.release),
);

export const wait = /* @__PURE__ */ inputHandler(WaitInput, 'The WaitForSignal task input', async (input) => {
  await registerWait(runtime(), input.release, input.signal, input.taskToken);
});
