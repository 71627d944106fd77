import * as z from 'zod/mini';
import { Cel } from './cel';
import { SecretName, Url } from './common';

/**
 * The body of PUT /v1/subscriptions/{subscriptionId} (docs/api.md section 10), for the detail types a
 * subscription may name (the bus's public ones, given by the route table: the core knows no bus).
 */
export const subscriptionBody = (detailTypes: readonly [string, ...string[]]) =>
  z.strictObject({
    url: Url,
    secretRef: z.optional(SecretName),
    detailTypes: z.optional(z.array(z.enum(detailTypes)).check(z.minLength(1), z.maxLength(50))),
    /** CEL over `event` (its detailType, deployment, version, environment, resource, actor, data). */
    selector: z.optional(Cel),
  });
