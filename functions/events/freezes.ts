import { runtime } from '../../shared/adapters/runtime';
import { sweepFreezes } from '../../shared/services/freeze-sweep';
import { inputHandler } from '../task-input';
import { FreezeEvent } from './input';

/**
 * Freezes over time (docs/api.md section 10): the schedule sweeps every freeze (calendar feeds that are
 * due, starts and ends that time brought); `Freeze Refresh Requested` reads one calendar freeze's
 * feed at once, after it was written.
 */
export const handler = inputHandler(FreezeEvent, 'The freeze event', async (event) => {
  if ('detail' in event) await sweepFreezes(runtime(), { only: event.detail.data.freezeId });
  else await sweepFreezes(runtime());
});
