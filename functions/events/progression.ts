import type { EventBridgeEvent } from 'aws-lambda';
import type { AuditRecord } from '../../shared/adapters/events';
import { runtime } from '../../shared/adapters/runtime';
import { signals, wake } from '../../shared/adapters/workflow';

/** A release finished upstream -> the releases of that version waiting on this environment re-check. */
export const handler = async (event: EventBridgeEvent<string, AuditRecord>) => {
  const { deployment, version, environment } = event.detail;
  if (!deployment || !version || !environment) return;
  // Downstream environments re-check their progression; the next target of a make-before-break
  // rollout in this environment re-checks its turn.
  const rt = runtime();
  await Promise.all([
    wake(rt, signals.progression(deployment, version, environment)),
    wake(rt, signals.verified(deployment, version, environment)),
  ]);
};
