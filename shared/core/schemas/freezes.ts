import * as z from 'zod/mini';
import { Cel } from './cel';
import { Int, Text, Url } from './common';

/** A freeze (docs/api.md section 10): `PUT /v1/freezes/{freezeId}`. */
export const FreezeBody = z
  .strictObject({
    reason: Text(1024),
    /** CEL over `deployment` and `environment`; every release when absent. */
    selector: z.optional(
      Cel.check(
        z.refine(
          (expression) => !/\bresource\b/.test(expression),
          'a freeze selector sees deployment and environment, not resource',
        ),
      ),
    ),
    until: z.optional(z.iso.datetime({ offset: true })),
    calendar: z.optional(
      z.strictObject({
        icsUrl: Url,
        /** How often the feed is read again; default 900. */
        refreshSeconds: z.optional(Int(60, 86_400)),
      }),
    ),
  })
  .check(
    z.refine((body) => !(body.until && body.calendar), {
      message: 'give either until or calendar, not both',
      path: ['calendar'],
    }),
  );
export type FreezeBody = z.infer<typeof FreezeBody>;

export const DEFAULT_REFRESH_SECONDS = 900;
