import * as z from 'zod/mini';
import { CEL_MAX_LENGTH, CelCompileError, compileCel } from '../cel';

/**
 * A CEL expression, compiled when written so a bad one (or one over the limits) is a 400 that names it.
 * Apart from ./config.ts so a function that validates CEL but no configuration (subscriptions) does not
 * bundle the rrule parser.
 */
export const Cel = z.string().check(
  z.minLength(1),
  z.maxLength(CEL_MAX_LENGTH),
  z.superRefine((expression, ctx) => {
    try {
      compileCel(expression);
    } catch (error) {
      ctx.addIssue({
        code: 'custom',
        message: error instanceof CelCompileError ? error.message : 'invalid CEL',
      });
    }
  }),
);
