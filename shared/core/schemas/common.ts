import { en } from 'zod/locales';
import * as z from 'zod/mini';

/**
 * The schemas every HTTP function needs (ids, tags, API keys), kept apart from the configuration
 * schemas so a function that never validates a CEL expression or an rrule does not bundle their
 * parsers. zod/mini: the same validation as classic zod at a third of the bundle size.
 */

// zod/mini ships no messages; the English ones are what clients see in `details`.
z.config(en());

export const ID_PATTERN = /^[a-z0-9][a-z0-9-]{0,62}$/;
export const RESOURCE_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:@-]{0,254}$/;
export const TAG_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$/;

export const Id = z.string().check(z.regex(ID_PATTERN, 'must match ^[a-z0-9][a-z0-9-]{0,62}$'));
export const ResourceId = z
  .string()
  .check(z.regex(RESOURCE_ID_PATTERN, 'must match ^[A-Za-z0-9][A-Za-z0-9._:@-]{0,254}$'));
export const Tag = z.string().check(z.regex(TAG_PATTERN, 'must match ^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$'));
export const SecretName = z
  .string()
  .check(z.regex(/^[A-Za-z0-9/_+=.@-]{1,512}$/, 'must be a secret name (letters, digits and /_+=.@-)'));
export const Url = z.url({ protocol: /^https?$/ }).check(z.maxLength(2048));
export const Text = (max: number) => z.string().check(z.minLength(1), z.maxLength(max));
/** Integers within [min, max]. */
export const Int = (min: number, max: number) => z.int().check(z.minimum(min), z.maximum(max));
/** A map key; `__proto__` would become an object's prototype instead of a key. */
export const MapKey = (max: number) =>
  z.string().check(
    z.minLength(1),
    z.maxLength(max),
    z.refine((key) => key !== '__proto__', 'may not be "__proto__"'),
  );
export const StringMap = z
  .record(MapKey(128), z.string().check(z.maxLength(1024)))
  .check(z.refine((map) => Object.keys(map).length <= 100, 'at most 100 entries'));

/** Stored objects stay well under DynamoDB's 400 KB item limit. */
const MAX_STORED_BYTES = 300 * 1024;
export const withinStoredSize = z.refine(
  (value: unknown) => Buffer.byteLength(JSON.stringify(value) ?? '') <= MAX_STORED_BYTES,
  'the object is larger than the 300 KiB Gantry stores',
);

// ---- API keys ---------------------------------------------------------------------------------

export const Scope = z.enum(['admin', 'read', 'versions:write', 'jobs:write', 'approvals:write']);
export type Scope = z.infer<typeof Scope>;
export const ApiKey = z.strictObject({
  id: z.string().check(z.regex(/^[A-Za-z0-9._-]{1,128}$/)),
  secret: z.string().check(z.minLength(16), z.maxLength(512)),
  scopes: z.array(Scope).check(z.minLength(1)),
  deployments: z.optional(z.array(Id)),
  /** Who decides approvals made with this key (docs/api.md section 2); the key id when absent. */
  approver: z.optional(z.string().check(z.minLength(1), z.maxLength(128))),
});
export type ApiKey = z.infer<typeof ApiKey>;
export const ApiKeys = z.array(ApiKey);
