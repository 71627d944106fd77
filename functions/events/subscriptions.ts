import type { EventBridgeEvent } from 'aws-lambda';
import type { AuditRecord } from '../../shared/adapters/events';
import { runtime } from '../../shared/adapters/runtime';
import { consumeEvent, sweepSubscriptions } from '../../shared/services/subscriptions';

/**
 * Subscriptions (docs/subscriptions.md): every public event puts a delivery in the outbox of each
 * subscription it matches and sends what is due in its lane; the scheduled sweep sends the retries.
 */
export const handler = async (event: EventBridgeEvent<string, AuditRecord>) => {
  if (event.source === 'aws.events') {
    await sweepSubscriptions(runtime());
    return;
  }
  if (event.detail?.id && event.detail.time) await consumeEvent(runtime(), event.detail);
};
