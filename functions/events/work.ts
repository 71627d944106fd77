import type { EventBridgeEvent } from 'aws-lambda';
import { runtime } from '../../shared/adapters/runtime';
import { resumeStalledWork, runWorkStep } from '../../shared/services/rollouts/work';

/** Work that has not moved for this long is asked for again by the scheduled sweep. */
export const STALLED_MS = 120_000;

/**
 * The work a write caused, one bounded chunk per invocation: `Work Requested` runs the next chunk of
 * one work item (which asks for the chunk after it); the scheduled sweep restarts stalled chains.
 */
export const handler = async (event: EventBridgeEvent<string, { data?: { workId?: unknown } }>) => {
  if (event.source === 'aws.events') {
    await resumeStalledWork(runtime(), STALLED_MS);
    return;
  }
  const id = event.detail?.data?.workId;
  if (typeof id === 'string' && id.length > 0) await runWorkStep(runtime(), id);
};
