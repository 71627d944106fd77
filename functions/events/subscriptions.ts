import { runtime } from '../../shared/adapters/runtime';
import { consumeEvent, sweepSubscriptions } from '../../shared/services/subscriptions';
import { inputHandler } from '../task-input';
import { SubscriptionEvent } from './input';

/**
 * Subscriptions (docs/subscriptions.md): every public event puts a delivery in the outbox of each
 * subscription it matches and sends what is due in its lane; the schedule sends the retries.
 */
export const handler = inputHandler(SubscriptionEvent, 'The subscription event', async (event) => {
  if ('detail' in event) await consumeEvent(runtime(), event.detail);
  else await sweepSubscriptions(runtime());
});
