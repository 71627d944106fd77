import { createRequire } from 'node:module';
import { Environment } from '@marcbachmann/cel-js';
import LRUCache from 'mnemonist/lru-cache';
import type { RE2JS } from 're2js';

/**
 * CEL selectors and conditions. Expressions are compiled once when they are written (a bad one is a
 * 400 naming the expression and position) and the compiled programs are cached by source text.
 * Evaluation is bounded (docs/api.md section 3): `matches()` runs on RE2, which takes time linear in its
 * input, and an expression over CEL_LIMITS does not compile, so it is refused when written and is an
 * error (no match, a warning) if it was stored before the limits.
 */
type Program = (context: Record<string, unknown>) => unknown;

/** Characters, checked by the schema (shared/core/schemas/config.ts): nodes and cost bound the rest. */
export const CEL_MAX_LENGTH = 4096;
const MAX_NODES = 1000;
const MAX_DEPTH = 32;
const MAX_NESTING = 2;
const MAX_COST = 100_000;
const MAX_PATTERN_SIZE = 300;

/** The limits docs/operations.md states ("Limits and known gaps"), for tests and benches. */
export const CEL_LIMITS = {
  maxLength: CEL_MAX_LENGTH,
  /** Nodes of the syntax tree, and how deeply they nest (parentheses, calls, member chains). */
  maxNodes: MAX_NODES,
  maxDepth: MAX_DEPTH,
  /** all, exists, exists_one, map, filter and cel.bind inside one another. */
  maxNesting: MAX_NESTING,
  /** Estimated steps of one evaluation (see `checkLimits`). */
  maxCost: MAX_COST,
  /** RE2 instructions of one `matches()` pattern: a match costs up to this many steps per character. */
  maxPatternSize: MAX_PATTERN_SIZE,
} as const;

/**
 * What a value read from the input counts as in the cost estimate: a resource's metadata has at most
 * 100 entries (StringMap in schemas/common.ts).
 */
const INPUT_SIZE = 100;
const COMPREHENSIONS = new Set(['all', 'exists', 'exists_one', 'map', 'filter']);

/** cel-js runs its `matches()` on JavaScript's backtracking RegExp: expressions call this instead. */
const RE2_METHOD = 'matchesRE2';

const OVER = 'is over the limits';

const search = (text: string, pattern: string) => {
  const compiled = compilePattern(pattern);
  if (typeof compiled === 'string') throw new Error(compiled);
  return compiled.test(text);
};
const environment = new Environment({
  unlistedVariablesAreDyn: true,
  limits: { maxAstNodes: MAX_NODES, maxDepth: MAX_DEPTH },
})
  .registerFunction(`string.${RE2_METHOD}(string): bool`, search)
  .registerFunction('matches(string, string): bool', search);

const programs = new LRUCache<string, Program>(5_000);

export class CelCompileError extends Error {
  constructor(
    readonly expression: string,
    detail: string,
  ) {
    super(`CEL expression "${expression}" ${detail}`);
    this.name = 'CelCompileError';
  }
}

export function compileCel(expression: string): Program {
  const cached = programs.get(expression);
  if (cached) return cached;
  let parsed: ReturnType<typeof environment.parse>;
  try {
    parsed = environment.parse(expression);
  } catch (error) {
    // The parser's own limits (nodes, depth) say "Exceeded maxDepth (32)".
    throw new CelCompileError(expression, `does not compile: ${oneLine(error)}`);
  }
  checkLimits(parsed.ast as unknown as Node, expression);
  const program = parsed as unknown as Program;
  programs.set(expression, program);
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

// ---- RE2 ---------------------------------------------------------------------------------------

// re2js is loaded at the first pattern, from node_modules: the Lambda bundles leave it out (146 KiB
// that most invocations never need) and ship it beside them (infra/aws/bundling.ts).
let engine: typeof RE2JS | undefined;

/** For a bundle with nothing beside it (the CLI's): the engine, from the bundle's own import of re2js. */
export function useRE2(re2: typeof RE2JS): void {
  engine = re2;
}

/** Compiled patterns, and the reason for those RE2 refuses (a pattern read from the input may repeat). */
const patterns = new LRUCache<string, RE2JS | string>(1_000);

function compilePattern(pattern: string): RE2JS | string {
  let compiled = patterns.get(pattern);
  if (compiled === undefined) {
    try {
      engine ??= (createRequire(import.meta.url)('re2js') as typeof import('re2js')).RE2JS;
      compiled = engine.compile(pattern);
      const size = compiled.programSize();
      if (size > MAX_PATTERN_SIZE)
        compiled = `pattern "${pattern}" ${OVER}: ${size} RE2 instructions, at most ${MAX_PATTERN_SIZE}`;
    } catch (error) {
      compiled = `pattern "${pattern}" cannot run on RE2: ${(error as Error).message}`;
    }
    patterns.set(pattern, compiled);
  }
  return compiled;
}

// ---- Limits ------------------------------------------------------------------------------------

/** A node of cel-js's syntax tree (its `ASTNode`, loosely typed for a walk over every kind). */
interface Node {
  op: string;
  args: unknown;
}
const isNode = (value: unknown): value is Node => (value as Node | null)?.op !== undefined;
const childrenOf = (args: unknown): Node[] =>
  isNode(args) ? [args] : Array.isArray(args) ? args.flatMap(childrenOf) : [];

/**
 * Walks the tree once: refuses it over the nesting and cost limits, checks literal patterns, and points
 * `matches()` at RE2. The cost is the number of node evaluations, estimated: a comprehension's body
 * counts once per element of its range; a `+` counts the size of what it builds (bindings can double
 * a value at each level); a `matches()` counts its pattern's RE2 instructions. Sizes are those of
 * literals where the expression has them, INPUT_SIZE for what it reads from its input.
 */
function checkLimits(root: Node, expression: string): void {
  function refuse(detail: string): never {
    throw new CelCompileError(expression, detail);
  }
  let cost = 0;
  /** `times`: how often the node is evaluated, at most; `sizes`: those of the variables in scope. */
  const visit = (node: Node, nesting: number, times: number, sizes: ReadonlyMap<string, number>): void => {
    cost += times * (node.op === '+' ? sizeOf(node, sizes) : 1);
    if (cost > MAX_COST) refuse(`${OVER}: an estimated cost over ${MAX_COST} steps`);
    if (node.op === 'value' || node.op === 'id') return;
    const [name, receiver, args] = (node.op === 'rcall' ? node.args : []) as [string, Node, Node[]];
    const loop = COMPREHENSIONS.has(name) && (args.length === 2 || name === 'map');
    const bind = name === 'bind' && receiver.op === 'id' && receiver.args === 'cel';
    if (loop || bind) {
      // range.all(variable, body) runs its body once per element; cel.bind(variable, value, body) once.
      const [variable, value, ...bodies] = (loop ? [args[0], receiver, ...args.slice(1)] : args) as Node[];
      visit(value as Node, nesting, times, sizes);
      if (nesting >= MAX_NESTING) refuse(`${OVER}: more than ${MAX_NESTING} nested loops or bindings`);
      const size = sizeOf(value as Node, sizes);
      const bound = loop ? sizeOf(value as Node, sizes, true) : size;
      const scoped = new Map(sizes).set((variable as Node).args as string, bound);
      for (const body of bodies) visit(body, nesting + 1, loop ? times * size : times, scoped);
      return;
    }
    const pattern = pointAtRE2(node);
    // A literal pattern is checked now; one computed at run time when it is evaluated.
    const compiled =
      pattern?.op === 'value' && typeof pattern.args === 'string' && compilePattern(pattern.args);
    if (typeof compiled === 'string') refuse(`is refused: ${compiled}`);
    if (pattern) cost += times * (compiled ? compiled.programSize() : MAX_PATTERN_SIZE);
    for (const child of childrenOf(node.args)) visit(child, nesting, times, sizes);
  };
  visit(root, 0, 1, new Map());
}

/** The pattern of `text.matches(pattern)`, which it points at RE2, or of `matches(text, pattern)`. */
function pointAtRE2(node: Node): Node | undefined {
  if (node.op !== 'rcall' && node.op !== 'call') return undefined;
  const [name, ...rest] = node.args as [string, ...unknown[]];
  if (name !== 'matches') return undefined;
  if (node.op === 'rcall') (node.args as unknown[])[0] = RE2_METHOD;
  return (rest.at(-1) as Node[]).at(-1);
}

/**
 * The estimated size of a node's value (with `element`, of one of its elements): elements of a list or
 * map, characters of a string.
 */
function sizeOf(node: Node, sizes: ReadonlyMap<string, number>, element = false): number {
  const { op, args } = node;
  // A string's or bytes' length; 1 for a number, a boolean or null.
  if (op === 'value') return (args as { length?: number } | null)?.length ?? 1;
  if (op === 'id') return sizes.get(args as string) ?? INPUT_SIZE;
  const parts = childrenOf(args).map((child) => sizeOf(child, sizes));
  if (op === '+') return parts.reduce((sum, part) => sum + part, 0);
  // Anything else made from parts (an element or field of one, a list mapped, filtered or split from
  // one) is taken to be no larger than its largest part.
  return Math.max((op === 'list' || op === 'map') && !element ? (args as unknown[]).length : 1, ...parts);
}

/** "Unexpected token: EOF\n\n> 1 | a ==\n ^" -> "Unexpected token: EOF at column 5". */
function oneLine(error: unknown): string {
  const text = (error instanceof Error ? error.message : String(error)).replaceAll(RE2_METHOD, 'matches');
  const [first = text, ...rest] = text.split('\n');
  const caret = rest.find((line) => line.trim() === '^');
  const source = rest.find((line) => /^>\s+\d+ \|/.test(line));
  if (caret && source) {
    const column = caret.indexOf('^') - source.indexOf('|') - 1;
    return `${first.trim()} at column ${Math.max(column, 1)}`;
  }
  return first.trim();
}
