import middy, { type MiddlewareObj } from '@middy/core';
import type { z } from 'zod/mini';

/**
 * The handlers of Step Functions tasks (functions/steps) and of bus events (functions/events): middy
 * around a plain async function, their input checked against a zod schema first, so an input of
 * another shape fails that invocation with a clear error instead of somewhere deep in a service.
 * A failed task goes to the workflow's RecordFailure (its Catch), a failed event to EventBridge's retries.
 */

type Issue = z.core.$ZodIssue;

/** What is wrong, in words that do not depend on zod's locale (the bundles load none). */
function problem(issue: Issue): string {
  if (issue.code === 'invalid_type') return `expected ${issue.expected}`;
  if (issue.code === 'invalid_value')
    return `expected ${issue.values.map((v) => JSON.stringify(v)).join(' or ')}`;
  if (issue.code === 'invalid_union')
    return `matches none of its shapes (${issue.errors.map((shape) => shape.map(describe).join(', ')).join('; or ')})`;
  return issue.message;
}

const describe = (issue: Issue): string =>
  `${issue.path.map(String).join('.') || 'the input'}: ${problem(issue)}`;

/** An input that is not what its schema says (the error's name is what a Catch or Retry matches). */
export class InvalidInput extends Error {
  constructor(what: string, issues: Issue[]) {
    super(`${what} is not valid: ${issues.map(describe).join('; ')}.`);
    this.name = 'Gantry.InvalidInput';
  }
}

/** Replaces the event with its parsed value, or throws InvalidInput. */
export const validInput = <S extends z.ZodMiniType>(schema: S, what: string): MiddlewareObj => ({
  before: (request) => {
    const result = schema.safeParse(request.event);
    if (!result.success) throw new InvalidInput(what, result.error.issues);
    request.event = result.data;
  },
});

/**
 * The Lambda handler of a task or event consumer: `run` gets the input as `schema` parses it. No early
 * timeout: a task that runs out of time fails as Lambda fails it, which the workflow's Retry names.
 * Where one file holds several handlers (functions/steps), each call is marked `@__PURE__`, so that a
 * function bundles only the code of its own handler (test/infra/grants.test.ts).
 */
export function inputHandler<S extends z.ZodMiniType, Result>(
  schema: S,
  what: string,
  run: (input: z.output<S>) => Promise<Result>,
) {
  // validInput has replaced the event with the schema's output by the time the handler runs.
  return middy<unknown, Result>((input: unknown) => run(input as z.output<S>), {
    timeoutEarlyInMillis: 0,
  }).use(validInput(schema, what));
}
