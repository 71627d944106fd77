import * as z from 'zod/mini';
import { EVENT_SOURCE } from '../../shared/adapters/events';

/**
 * The EventBridge events the consumers take (functions/registry.ts, their rules): Gantry's own, whose
 * detail is the audit record shared/adapters/events.ts publishes, and the scheduled sweep's.
 */

const Text = z.string().check(z.minLength(1));

/** A release's event: what it names of the release (an event that names none is for no consumer). */
export const ReleaseEvent = z.object({
  source: z.literal(EVENT_SOURCE),
  'detail-type': z.string(),
  detail: z.object({
    deployment: z.optional(Text),
    version: z.optional(Text),
    environment: z.optional(Text),
  }),
});

/** `Work Requested` (shared/services/rollouts/work-queue.ts) names the work item; the schedule names nothing. */
export const WorkEvent = z.union([
  z.object({ source: z.literal('aws.events') }),
  z.object({ source: z.literal(EVENT_SOURCE), detail: z.object({ data: z.object({ workId: Text }) }) }),
]);
