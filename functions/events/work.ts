import { runtime } from '../../shared/adapters/runtime';
import { publishStalledOutboxes } from '../../shared/services/rollouts/outbox';
import { resumeStalledWork, runWorkStep } from '../../shared/services/rollouts/work';
import { inputHandler } from '../task-input';
import { WorkEvent } from './input';

/** Work that has not moved (and events not published) for this long is taken up again by the scheduled sweep. */
export const STALLED_MS = 120_000;

/**
 * The work a write caused, one bounded chunk per invocation: `Work Requested` runs the next chunk of
 * one work item (which asks for the chunk after it); the scheduled sweep restarts stalled chains and
 * publishes the events a crash left in releases' outboxes.
 */
export const handler = inputHandler(WorkEvent, 'The work event', async (event) => {
  if ('detail' in event) await runWorkStep(runtime(), event.detail.data.workId);
  else {
    await resumeStalledWork(runtime(), STALLED_MS);
    await publishStalledOutboxes(runtime(), STALLED_MS);
  }
});
