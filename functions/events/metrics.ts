import { runtime } from '../../shared/adapters/runtime';
import { recordOutcome } from '../../shared/services/delivery';
import { inputHandler } from '../task-input';
import { AuditEvent } from './input';

/** Release outcomes -> the delivery metrics' per-day aggregates (counted once per audit record id). */
export const handler = inputHandler(AuditEvent, 'The release event', async (event) => {
  await recordOutcome(runtime(), event.detail);
});
