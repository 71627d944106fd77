import type { EventBridgeEvent } from 'aws-lambda';
import type { AuditRecord } from '../../shared/adapters/events';
import { runtime } from '../../shared/adapters/runtime';
import { recordOutcome } from '../../shared/services/delivery';

/** Release outcomes -> the delivery metrics' per-day aggregates (counted once per audit record id). */
export const handler = async (event: EventBridgeEvent<string, AuditRecord>) => {
  await recordOutcome(runtime(), event.detail);
};
