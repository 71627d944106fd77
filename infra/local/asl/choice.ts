import { isObject, runtimeError } from './common';
import { parsePath, readPath } from './jsonpath';

/** Choice rule evaluation: every JSONPath comparison operator of the ASL spec plus And/Or/Not. */
export type ChoiceRule = Record<string, unknown>;

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.\d+)?(?:Z|[+-](\d{2}):(\d{2}))$/;
/**
 * RFC 3339 as AWS accepts it: an upper-case T, Z or a numeric offset, and a real date and time
 * (Date.parse alone takes February 30 and 24:00).
 */
export function isTimestamp(v: unknown): v is string {
  const m = typeof v === 'string' ? RFC3339.exec(v) : null;
  if (!m) return false;
  const [year, month, day, hour, minute, second, offsetHour, offsetMinute] = Array.from(
    { length: 8 },
    (_, i) => Number(m[i + 1] ?? 0),
  ) as [number, number, number, number, number, number, number, number];
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  return (
    month >= 1 &&
    month <= 12 &&
    day >= 1 &&
    day <= daysInMonth &&
    hour <= 23 &&
    minute <= 59 &&
    second <= 59 &&
    offsetHour <= 23 &&
    offsetMinute <= 59
  );
}

/** `compare` is only called once `accepts` holds for both operands. */
interface Kind {
  accepts: (v: unknown) => boolean;
  compare: (a: unknown, b: unknown) => number;
}
const KINDS: Record<string, Kind> = {
  String: {
    accepts: (v) => typeof v === 'string',
    compare: (a, b) => (String(a) < String(b) ? -1 : String(a) > String(b) ? 1 : 0),
  },
  Numeric: { accepts: (v) => typeof v === 'number', compare: (a, b) => Number(a) - Number(b) },
  Timestamp: { accepts: isTimestamp, compare: (a, b) => Date.parse(String(a)) - Date.parse(String(b)) },
  Boolean: { accepts: (v) => typeof v === 'boolean', compare: (a, b) => (a === b ? 0 : 1) },
};
const RELATIONS: Record<string, (c: number) => boolean> = {
  Equals: (c) => c === 0,
  LessThan: (c) => c < 0,
  GreaterThan: (c) => c > 0,
  LessThanEquals: (c) => c <= 0,
  GreaterThanEquals: (c) => c >= 0,
};
const COMPARISON =
  /^(String|Numeric|Timestamp|Boolean)(Equals|LessThan|GreaterThan|LessThanEquals|GreaterThanEquals)(Path)?$/;
const TYPE_TESTS: Record<string, (v: unknown) => boolean> = {
  IsNull: (v) => v === null,
  IsNumeric: (v) => typeof v === 'number',
  IsString: (v) => typeof v === 'string',
  IsBoolean: (v) => typeof v === 'boolean',
  IsTimestamp: isTimestamp,
};
const NON_OPERATOR_FIELDS = new Set(['Variable', 'Next', 'Comment']);

/** The single operator field of a rule, e.g. 'StringEquals' or 'And'. */
function operatorOf(rule: ChoiceRule): string {
  const ops = Object.keys(rule).filter((k) => !NON_OPERATOR_FIELDS.has(k));
  if (ops.length !== 1 || ops[0] === undefined) {
    throw new Error(`a Choice rule needs exactly one operator, got ${JSON.stringify(ops)}`);
  }
  return ops[0];
}

/** Throws (plain Error) when a rule is malformed; run at createStateMachine. */
export function validateRule(rule: unknown): void {
  if (!isObject(rule)) throw new Error('a Choice rule must be an object');
  const op = operatorOf(rule);
  const operand = rule[op];
  if (op === 'And' || op === 'Or') {
    if (!Array.isArray(operand) || operand.length === 0) throw new Error(`${op} needs a non-empty array`);
    operand.forEach(validateRule);
    return;
  }
  if (op === 'Not') {
    validateRule(operand);
    return;
  }
  if (typeof rule.Variable !== 'string') throw new Error(`${op} needs a Variable`);
  parsePath(rule.Variable.startsWith('$$') ? rule.Variable.slice(1) : rule.Variable);
  const m = COMPARISON.exec(op);
  if (op === 'IsPresent' || op in TYPE_TESTS) {
    if (typeof operand !== 'boolean') throw new Error(`${op} needs a boolean`);
  } else if (op === 'StringMatches') {
    if (typeof operand !== 'string') throw new Error('StringMatches needs a string');
  } else if (m?.[1] && m[2]) {
    if (m[1] === 'Boolean' && m[2] !== 'Equals') throw new Error(`unknown operator ${op}`);
    if (m[3]) {
      if (typeof operand !== 'string') throw new Error(`${op} needs a path`);
      parsePath(operand.startsWith('$$') ? operand.slice(1) : operand);
    } else if (!KINDS[m[1]]?.accepts(operand)) {
      throw new Error(`${op} has an invalid operand ${JSON.stringify(operand)}`);
    }
  } else {
    throw new Error(`unknown Choice operator ${op}`);
  }
}

/** `*` matches any run of characters; `\*` and `\\` are literal. */
function wildcardToRegExp(pattern: string): RegExp {
  let source = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i] ?? '';
    if (c === '\\' && i + 1 < pattern.length) source += escapeRegExp(pattern[++i] ?? '');
    else source += c === '*' ? '.*' : escapeRegExp(c);
  }
  return new RegExp(`^${source}$`, 's');
}
const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Reads `$...` from the input or `$$...` from the context object. */
const read = (path: string, input: unknown, context: unknown) =>
  path.startsWith('$$') ? readPath(context, path.slice(1)) : readPath(input, path);

export function evaluateRule(rule: ChoiceRule, input: unknown, context: unknown): boolean {
  const op = operatorOf(rule);
  const operand = rule[op];
  if (op === 'And') return (operand as ChoiceRule[]).every((r) => evaluateRule(r, input, context));
  if (op === 'Or') return (operand as ChoiceRule[]).some((r) => evaluateRule(r, input, context));
  if (op === 'Not') return !evaluateRule(operand as ChoiceRule, input, context);

  const variablePath = String(rule.Variable);
  const value = read(variablePath, input, context);
  if (op === 'IsPresent') return (value !== undefined) === operand;
  if (value === undefined) {
    throw runtimeError(
      `Invalid path '${variablePath}': The choice state's condition path references an invalid value.`,
    );
  }
  const typeTest = TYPE_TESTS[op];
  if (typeTest) return typeTest(value) === operand;
  if (op === 'StringMatches')
    return typeof value === 'string' && wildcardToRegExp(String(operand)).test(value);

  const [, kindName = '', relation = '', isPath] = COMPARISON.exec(op) ?? [];
  const kind = KINDS[kindName];
  const holds = RELATIONS[relation];
  if (!kind || !holds) throw runtimeError(`Unknown Choice operator ${op}`);
  let expected = operand;
  if (isPath) {
    expected = read(String(operand), input, context);
    if (expected === undefined) throw runtimeError(`Invalid path '${String(operand)}' in ${op}`);
  }
  if (!kind.accepts(value) || !kind.accepts(expected)) return false;
  return holds(kind.compare(value, expected));
}
