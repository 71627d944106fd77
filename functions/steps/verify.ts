import { runtime } from '../../shared/adapters/runtime';
import { measureStep } from '../../shared/services/rollouts/steps';
import { inputHandler } from '../task-input';
import { StepInput } from './input';

/** The rollout's verification task: one round of metric measurements. */
export const measure = inputHandler(StepInput, 'The Measure task input', (input) =>
  measureStep(runtime(), input.release),
);
