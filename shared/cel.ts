import { parse } from '@marcbachmann/cel-js';

/**
 * CEL selectors and conditions. Expressions are compiled once when they are written (a bad one is a
 * 400 naming the expression and position) and the compiled programs are cached by source text.
 */
type Program = (context: Record<string, unknown>) => unknown;

const cache = new Map<string, Program>();
const MAX_CACHED = 5_000;

export class CelCompileError extends Error {
  constructor(
    readonly expression: string,
    detail: string,
  ) {
    super(`CEL expression "${expression}" does not compile: ${detail}`);
    this.name = 'CelCompileError';
  }
}

export function compileCel(expression: string): Program {
  const cached = cache.get(expression);
  if (cached) return cached;
  let program: Program;
  try {
    program = parse(expression) as unknown as Program;
  } catch (error) {
    throw new CelCompileError(expression, oneLine(error));
  }
  if (cache.size >= MAX_CACHED) cache.delete(cache.keys().next().value as string);
  cache.set(expression, program);
  return program;
}

export type CelOutcome = { ok: true; value: unknown } | { ok: false; error: string };

/** Evaluates without throwing: an expression that errors on one input (a missing key) reports why. */
export function evaluateCel(expression: string, context: Record<string, unknown>): CelOutcome {
  try {
    return { ok: true, value: compileCel(expression)(context) };
  } catch (error) {
    return { ok: false, error: oneLine(error) };
  }
}

/** A selector matches only when it evaluates to exactly `true`. */
export function matches(expression: string, context: Record<string, unknown>): CelOutcome {
  const outcome = evaluateCel(expression, context);
  return outcome.ok ? { ok: true, value: outcome.value === true } : outcome;
}

/** "Unexpected token: EOF\n\n> 1 | a ==\n ^" -> "Unexpected token: EOF at column 5". */
function oneLine(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  const [first = text, ...rest] = text.split('\n');
  const caret = rest.find((line) => line.trim() === '^');
  const source = rest.find((line) => /^>\s+\d+ \|/.test(line));
  if (caret && source) {
    const column = caret.indexOf('^') - source.indexOf('|') - 1;
    return `${first.trim()} at column ${Math.max(column, 1)}`;
  }
  return first.trim();
}
