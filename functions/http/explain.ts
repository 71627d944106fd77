import { closest, distance } from 'fastest-levenshtein';
import { parse as parseLeniently, printParseErrorCode } from 'jsonc-parser';
import type { z } from 'zod/mini';

/**
 * The headline of a 400 (issue 18): the first cause of a bad request, with where it is, so a
 * newcomer reads the fix in `message` without digging through `details`.
 */

type Issue = z.core.$ZodIssue;
type Path = readonly PropertyKey[];
/** The parts of a zod schema's definition that lead to the keys of an object inside it. */
interface Def {
  type: string;
  shape?: Record<string, z.ZodMiniType>;
  innerType?: z.ZodMiniType;
  in?: z.ZodMiniType;
  options?: z.ZodMiniType[];
  element?: z.ZodMiniType;
  valueType?: z.ZodMiniType;
}

const defOf = (schema: z.ZodMiniType) => schema._zod.def as unknown as Def;

/** The keys the object schema at `path` accepts (every option's, through a union). */
function keysAt(schema: z.ZodMiniType, path: Path): string[] {
  const def = defOf(schema);
  const [head, ...rest] = path;
  if (def.innerType) return keysAt(def.innerType, path);
  if (def.type === 'pipe' && def.in) return keysAt(def.in, path);
  if (def.options) return def.options.flatMap((option) => keysAt(option, path));
  if (def.type === 'object' && def.shape) {
    if (head === undefined) return Object.keys(def.shape);
    const child = def.shape[String(head)];
    return child ? keysAt(child, rest) : [];
  }
  if (def.element && head !== undefined) return keysAt(def.element, rest);
  if (def.valueType && head !== undefined) return keysAt(def.valueType, rest);
  return [];
}

function valueAt(value: unknown, path: Path): unknown {
  let at = value;
  for (const key of path) {
    if (!at || typeof at !== 'object') return undefined;
    at = (at as Record<PropertyKey, unknown>)[key];
  }
  return at;
}

/** The accepted key a misspelt one most likely meant: close in spelling and not sent already. */
function meant(key: string, accepted: string[], sent: unknown): string | undefined {
  const candidates = accepted.filter(
    (name) => !(sent && typeof sent === 'object' && Object.hasOwn(sent, name)),
  );
  if (candidates.length === 0) return undefined;
  const lower = key.toLowerCase();
  const best = closest(
    lower,
    candidates.map((name) => name.toLowerCase()),
  );
  const index = candidates.findIndex((name) => name.toLowerCase() === best);
  return distance(lower, best) <= Math.ceil(key.length / 3) ? candidates[index] : undefined;
}

/**
 * `what` names the value (`The request body`, `The path parameter tag`); its keys are named by path.
 * An unknown key leads: a misspelt key also makes the key it meant missing, and the typo is the cause.
 */
export function leadingCause(schema: z.ZodMiniType, value: unknown, issues: Issue[], what: string): string {
  const issue = issues.find((each) => each.code === 'unrecognized_keys') ?? issues[0];
  if (!issue) return `${what} is invalid.`;
  const path = issue.path.map(String).join('.');
  let cause: string;
  if (issue.code === 'unrecognized_keys') {
    const [first = ''] = issue.keys;
    const suggestion = meant(first, keysAt(schema, issue.path), valueAt(value, issue.path));
    cause =
      `Unrecognized key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((key) => `"${key}"`).join(', ')}` +
      ` ${path ? `in ${path}` : 'at the top level'}${suggestion ? `; did you mean "${suggestion}"?` : ''}`;
  } else {
    const missing = issue.code === 'invalid_type' && valueAt(value, issue.path) === undefined;
    cause = `${path || what}: ${missing ? 'Required' : issue.message}`;
  }
  const more = issues.length - 1;
  return more > 0 ? `${cause} (and ${more} more problem${more > 1 ? 's' : ''} in details)` : cause;
}

/** What each of jsonc-parser's error codes means, for a reader of the message. */
const JSON_ERRORS: Record<string, string> = {
  InvalidSymbol: 'not a JSON value',
  InvalidNumberFormat: 'not a JSON number',
  PropertyNameExpected: 'expected a property name in double quotes',
  ValueExpected: 'expected a value',
  ColonExpected: "expected ':'",
  CommaExpected: "expected ',' or the end of the object or array",
  CloseBraceExpected: "expected '}'",
  CloseBracketExpected: "expected ']'",
  EndOfFileExpected: 'expected the end of the body',
  InvalidCommentToken: 'JSON has no comments',
  UnexpectedEndOfComment: 'JSON has no comments',
  UnexpectedEndOfString: 'the string is not closed; a line break inside a string is written \\n',
  UnexpectedEndOfNumber: 'the number is incomplete',
  InvalidUnicode: 'a \\u escape needs four hex digits',
  InvalidEscapeCharacter: 'not a JSON escape',
  InvalidCharacter: 'a control character in a string must be escaped',
};

/** 1-based line and column of a UTF-16 offset. */
export function lineAndColumn(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, offset);
  const lineStart = before.lastIndexOf('\n') + 1;
  return { line: (before.match(/\n/g)?.length ?? 0) + 1, column: offset - lineStart + 1 };
}

/**
 * Why `raw`, which JSON.parse refused, is not JSON, and where. JSON.parse's own message names no
 * position for some errors and differs between Node versions, so a strict scan of jsonc-parser
 * locates the first error instead.
 */
export function jsonSyntaxError(raw: string): string {
  const errors: { error: number; offset: number; length: number }[] = [];
  parseLeniently(raw, errors, {
    disallowComments: true,
    allowTrailingComma: false,
    allowEmptyContent: false,
  });
  const first = errors[0];
  if (!first) return 'The request body is not valid JSON.';
  const { line, column } = lineAndColumn(raw, first.offset);
  const token = raw.slice(first.offset, first.offset + Math.max(1, Math.min(first.length, 20)));
  const found = token ? `unexpected ${JSON.stringify(token)}` : 'unexpected end of the body';
  const reason = JSON_ERRORS[printParseErrorCode(first.error as Parameters<typeof printParseErrorCode>[0])];
  return `The request body is not valid JSON: ${found} at line ${line}, column ${column}${reason ? ` (${reason})` : ''}.`;
}
