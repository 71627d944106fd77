import * as z from 'zod/mini';
import { runtime } from '../../shared/adapters/runtime';
import { recordOutcome, rollUpAllDeployments } from '../../shared/services/delivery';
import { inputHandler } from '../task-input';
import { AuditEvent } from './input';

/** A release outcome, or the schedule's event (which names nothing): told apart by their source. */
const MetricsEvent = z.discriminatedUnion('source', [
  z.object({ source: z.literal('aws.events') }),
  AuditEvent,
]);

/**
 * Release outcomes -> their deployment's per-day aggregate (counted once per audit record id); the
 * schedule -> the days of all deployments summed.
 */
export const handler = inputHandler(MetricsEvent, 'The release event', async (event) => {
  if ('detail' in event) await recordOutcome(runtime(), event.detail);
  else await rollUpAllDeployments(runtime());
});
