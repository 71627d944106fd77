import type { EventBridgeEvent } from 'aws-lambda';
import { runtime } from '../../shared/adapters/runtime';
import { sweepFreezes } from '../../shared/services/freeze-sweep';

/**
 * Freezes over time (docs/api.md section 10): the schedule sweeps every freeze (calendar feeds that are
 * due, starts and ends that time brought); `Freeze Refresh Requested` reads one calendar freeze's
 * feed at once, after it was written.
 */
export const handler = async (event: EventBridgeEvent<string, { data?: { freezeId?: unknown } }>) => {
  if (event.source === 'aws.events') {
    await sweepFreezes(runtime());
    return;
  }
  const id = event.detail?.data?.freezeId;
  if (typeof id === 'string' && id.length > 0) await sweepFreezes(runtime(), { only: id });
};
