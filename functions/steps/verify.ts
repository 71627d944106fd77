import { runtime } from '../../shared/adapters/runtime';
import { measureStep } from '../../shared/services/rollouts/steps';
import type { StepInput } from './rollout';

/** The rollout's verification task: one round of metric measurements. */
export const measure = async (input: StepInput) => measureStep(runtime(), input.release);
