import * as z from 'zod/mini';
import { Id, MapKey, ResourceId, StringMap, Tag, Text, Url, withinStoredSize } from './common';

/** Versions, job reports, overrides and approval decisions (docs/api.md sections 4-7). */

/**
 * Arbitrary JSON (version `config`) must fit DynamoDB: numbers finite, integers exact, magnitudes
 * within DynamoDB's range.
 */
function storableNumber(n: number): boolean {
  if (!Number.isFinite(n)) return false;
  if (Number.isInteger(n)) return Number.isSafeInteger(n);
  const magnitude = Math.abs(n);
  return magnitude >= 1e-130 && magnitude < 9.9e125;
}
function findUnstorable(value: unknown, path: string[] = []): string[] | undefined {
  if (typeof value === 'number') return storableNumber(value) ? undefined : path;
  if (value && typeof value === 'object') {
    for (const [key, child] of Object.entries(value)) {
      if (key === '__proto__') return [...path, key];
      const found = findUnstorable(child, [...path, key]);
      if (found) return found;
    }
  }
  return undefined;
}

const ConfigKey = z.string().check(
  z.maxLength(256),
  z.refine((key) => key !== '__proto__', 'may not be "__proto__"'),
);
const JsonConfig = z.record(ConfigKey, z.unknown()).check(
  z.superRefine((value, ctx) => {
    const path = findUnstorable(value);
    if (path) {
      ctx.addIssue({
        code: 'custom',
        path,
        message:
          'numbers must be finite, integers within ±2^53, magnitudes between 1e-130 and 9.9e125; no "__proto__" keys',
      });
    }
  }),
);

const Reason = z.optional(z.string().check(z.maxLength(1024)));

export const VersionBody = z
  .strictObject({
    tag: Tag,
    status: z._default(z.enum(['ready', 'building']), 'ready'),
    metadata: z._default(StringMap, {}),
    config: z._default(JsonConfig, {}),
  })
  .check(withinStoredSize);
export type VersionBody = z.infer<typeof VersionBody>;

export const VersionPatch = z.strictObject({ status: z.enum(['ready', 'rejected']) });

export const JobStatusBody = z.strictObject({
  status: z.enum(['in_progress', 'successful', 'failed']),
  message: z.optional(z.string().check(z.maxLength(2048))),
  links: z.optional(z.record(MapKey(64), Url)),
});
export type JobStatusBody = z.infer<typeof JobStatusBody>;

export const TargetRef = z.strictObject({ deployment: Id, environment: Id, resource: ResourceId });
export const RollbackBody = z.extend(TargetRef, { toVersion: z.optional(Tag), reason: Reason });
export type RollbackBody = z.infer<typeof RollbackBody>;
export const ForceBody = z.extend(TargetRef, { tag: Tag, reason: Text(1024) });
export type ForceBody = z.infer<typeof ForceBody>;
export const ReasonBody = z.strictObject({ reason: Reason });
export const ApprovalDecisionBody = z.strictObject({
  decision: z.enum(['approve', 'reject']),
  /** Optional: the approver is the key's (docs/api.md section 7); naming anyone else is 403. */
  approver: z.optional(Text(128)),
  reason: Reason,
});
