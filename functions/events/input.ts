import * as z from 'zod/mini';
import { DETAIL_TYPES, EVENT_SOURCE } from '../../shared/adapters/events';

/**
 * The EventBridge events the consumers take (functions/registry.ts, their rules): Gantry's own, whose
 * detail is the audit record shared/adapters/events.ts publishes, and the scheduled sweep's.
 */

const Text = z.string().check(z.minLength(1));

/** An audit record on the bus (shared/adapters/events.ts, AuditRecord): what it concerns and who acted. */
export const AuditEvent = z.object({
  source: z.literal(EVENT_SOURCE),
  'detail-type': z.string(),
  detail: z.object({
    id: Text,
    time: Text,
    detailType: z.enum(Object.values(DETAIL_TYPES)),
    deployment: z.optional(Text),
    version: z.optional(Text),
    environment: z.optional(Text),
    resource: z.optional(Text),
    actor: z.object({
      keyId: z.optional(z.string()),
      approver: z.optional(z.string()),
      system: z.optional(z.string()),
    }),
    data: z.optional(z.record(z.string(), z.unknown())),
  }),
});

/** `Work Requested` (shared/services/rollouts/work-queue.ts) names the work item; the schedule names nothing. */
export const WorkEvent = z.union([
  z.object({ source: z.literal('aws.events') }),
  z.object({ source: z.literal(EVENT_SOURCE), detail: z.object({ data: z.object({ workId: Text }) }) }),
]);

/** `Freeze Refresh Requested` names the calendar freeze to read at once; the schedule sweeps them all. */
export const FreezeEvent = z.union([
  z.object({ source: z.literal('aws.events') }),
  z.object({ source: z.literal(EVENT_SOURCE), detail: z.object({ data: z.object({ freezeId: Text }) }) }),
]);

/**
 * Every public event (to the subscriptions it matches, as the audit trail keeps it: a field this
 * schema does not name is kept), and the schedule (their retries).
 */
export const SubscriptionEvent = z.union([
  z.object({ source: z.literal('aws.events') }),
  z.extend(AuditEvent, { detail: z.looseObject(AuditEvent.shape.detail.shape) }),
]);
