import { measureStep } from '../../shared/rollouts/steps';
import { runtime } from '../../shared/runtime';
import type { StepInput } from './rollout';

/** The rollout's verification task: one round of metric measurements. */
export const measure = async (input: StepInput) => measureStep(runtime(), input.release);
