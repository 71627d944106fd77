import { type ChoiceRule, isTimestamp, validateRule } from './choice';
import { isObject, SfnApiError, StatesError } from './common';
import { intrinsicPaths } from './intrinsics';
import { parsePath } from './jsonpath';

/** The JSONPath ASL subset the local engine runs, validated up front by parseDefinition. */
export interface Retrier {
  ErrorEquals: string[];
  IntervalSeconds?: number;
  MaxAttempts?: number;
  BackoffRate?: number;
  MaxDelaySeconds?: number;
  JitterStrategy?: 'FULL' | 'NONE';
}
export interface Catcher {
  ErrorEquals: string[];
  ResultPath?: string | null;
  Next: string;
}
export interface State {
  Type: 'Pass' | 'Task' | 'Choice' | 'Wait' | 'Succeed' | 'Fail';
  Next?: string;
  End?: boolean;
  InputPath?: string | null;
  OutputPath?: string | null;
  ResultPath?: string | null;
  Parameters?: unknown;
  ResultSelector?: unknown;
  Result?: unknown;
  Resource?: string;
  TimeoutSeconds?: number;
  TimeoutSecondsPath?: string;
  HeartbeatSeconds?: number;
  HeartbeatSecondsPath?: string;
  Retry?: Retrier[];
  Catch?: Catcher[];
  Choices?: ChoiceRule[];
  Default?: string;
  Seconds?: number;
  SecondsPath?: string;
  Timestamp?: string;
  TimestampPath?: string;
  Error?: string;
  ErrorPath?: string;
  Cause?: string;
  CausePath?: string;
}
export interface Definition {
  StartAt: string;
  States: Record<string, State>;
  TimeoutSeconds?: number;
}

/** How a Task's Resource is run. */
export type TaskKind = 'function' | 'lambdaInvoke' | 'callback';
const LAMBDA_INVOKE = 'arn:aws:states:::lambda:invoke';
export function taskKind(resource: string): TaskKind | undefined {
  if (resource === LAMBDA_INVOKE) return 'lambdaInvoke';
  if (resource === `${LAMBDA_INVOKE}.waitForTaskToken`) return 'callback';
  return resource.startsWith('arn:aws:states:::') ? undefined : 'function';
}

const IO = ['InputPath', 'OutputPath'];
const FIELDS: Record<State['Type'], Set<string>> = {
  Pass: new Set([...IO, 'Next', 'End', 'ResultPath', 'Parameters', 'Result']),
  Task: new Set([
    ...IO,
    ...['Next', 'End', 'ResultPath', 'Parameters', 'ResultSelector', 'Resource', 'Retry', 'Catch'],
    ...['TimeoutSeconds', 'TimeoutSecondsPath', 'HeartbeatSeconds', 'HeartbeatSecondsPath'],
  ]),
  Choice: new Set([...IO, 'Choices', 'Default']),
  Wait: new Set([...IO, 'Next', 'End', 'Seconds', 'SecondsPath', 'Timestamp', 'TimestampPath']),
  Succeed: new Set(IO),
  Fail: new Set(['Error', 'ErrorPath', 'Cause', 'CausePath']),
};
const COMMON_FIELDS = new Set(['Type', 'Comment', 'QueryLanguage']);
const TOP_LEVEL_FIELDS = new Set([
  'StartAt',
  'States',
  'Comment',
  'Version',
  'TimeoutSeconds',
  'QueryLanguage',
]);

/** Parses `$...` and `$$...` (context object) paths. */
export const parseAnyPath = (path: string) => parsePath(path.startsWith('$$') ? path.slice(1) : path);

/** A `.$` value: a path, a context path or an intrinsic function call. */
function validateExpression(expr: unknown) {
  if (typeof expr !== 'string')
    throw new Error(`expected a path or intrinsic function, got ${JSON.stringify(expr)}`);
  if (expr.startsWith('$')) parseAnyPath(expr);
  else intrinsicPaths(expr).forEach(parseAnyPath);
}

function validateTemplate(template: unknown): void {
  if (Array.isArray(template)) template.forEach(validateTemplate);
  else if (isObject(template)) {
    for (const [key, value] of Object.entries(template)) {
      if (key.endsWith('.$')) validateExpression(value);
      else validateTemplate(value);
    }
  }
}

const messageOf = (e: unknown) =>
  e instanceof StatesError ? e.cause : e instanceof Error ? e.message : String(e);
const positiveInteger = (v: unknown) => typeof v === 'number' && Number.isInteger(v) && v > 0;

function validateErrorEquals(list: unknown) {
  if (!Array.isArray(list) || list.length === 0 || !list.every((e) => typeof e === 'string')) {
    throw new Error('ErrorEquals must be a non-empty array of strings');
  }
  if (list.includes('States.ALL') && list.length > 1)
    throw new Error('States.ALL must appear alone in ErrorEquals');
}

function validateTask(s: Record<string, unknown>, next: (target: unknown, field: string) => void) {
  if (typeof s.Resource !== 'string') throw new Error('Resource must be a string');
  const kind = taskKind(s.Resource);
  if (!kind) {
    throw new SfnApiError(
      'States.Runtime',
      `Task Resource '${s.Resource}' is not supported by the local Step Functions engine ` +
        `(supported: Lambda function ARNs, ${LAMBDA_INVOKE}, ${LAMBDA_INVOKE}.waitForTaskToken)`,
    );
  }
  if (kind !== 'function') {
    const p = s.Parameters;
    if (!isObject(p) || !('FunctionName' in p || 'FunctionName.$' in p)) {
      throw new Error(`${s.Resource} needs Parameters.FunctionName`);
    }
  }
  validateTemplate(s.ResultSelector);
  for (const f of ['TimeoutSeconds', 'HeartbeatSeconds']) {
    if (s[f] !== undefined && !positiveInteger(s[f])) throw new Error(`${f} must be a positive integer`);
  }
  if (s.Retry !== undefined) {
    if (!Array.isArray(s.Retry)) throw new Error('Retry must be an array');
    for (const r of s.Retry) {
      if (!isObject(r)) throw new Error('a Retrier must be an object');
      validateErrorEquals(r.ErrorEquals);
      for (const f of ['IntervalSeconds', 'MaxAttempts', 'BackoffRate', 'MaxDelaySeconds']) {
        if (r[f] !== undefined && (typeof r[f] !== 'number' || r[f] < 0))
          throw new Error(`${f} must be >= 0`);
      }
      if (r.JitterStrategy !== undefined && r.JitterStrategy !== 'FULL' && r.JitterStrategy !== 'NONE') {
        throw new Error('JitterStrategy must be FULL or NONE');
      }
    }
  }
  if (s.Catch !== undefined) {
    if (!Array.isArray(s.Catch)) throw new Error('Catch must be an array');
    for (const c of s.Catch) {
      if (!isObject(c)) throw new Error('a Catcher must be an object');
      validateErrorEquals(c.ErrorEquals);
      if (typeof c.ResultPath === 'string') parsePath(c.ResultPath);
      next(c.Next, 'Catch.Next');
    }
  }
}

function validateState(s: Record<string, unknown>, next: (target: unknown, field: string) => void) {
  const type = s.Type;
  if (type === 'Parallel' || type === 'Map') {
    throw new Error(`${type} states are not supported by the local Step Functions engine`);
  }
  if (typeof type !== 'string' || !Object.hasOwn(FIELDS, type))
    throw new Error(`unknown Type ${String(type)}`);
  const allowed = FIELDS[type as State['Type']];
  for (const field of Object.keys(s)) {
    if (!allowed.has(field) && !COMMON_FIELDS.has(field)) throw new Error(`unsupported field ${field}`);
  }
  if (s.QueryLanguage !== undefined && s.QueryLanguage !== 'JSONPath')
    throw new Error('only JSONPath is supported');

  for (const f of ['InputPath', 'OutputPath', 'ResultPath']) {
    const path = s[f];
    if (path !== undefined && path !== null) {
      if (typeof path !== 'string') throw new Error(`${f} must be a string or null`);
      parsePath(path);
    }
  }
  for (const f of ['TimeoutSecondsPath', 'HeartbeatSecondsPath', 'SecondsPath', 'TimestampPath']) {
    if (s[f] !== undefined) validateExpression(s[f]);
  }
  for (const f of ['ErrorPath', 'CausePath']) if (s[f] !== undefined) validateExpression(s[f]);
  validateTemplate(s.Parameters);

  if (type === 'Pass' || type === 'Task' || type === 'Wait') {
    if ((s.End === true) === (s.Next !== undefined))
      throw new Error('exactly one of Next and End:true is required');
    if (s.Next !== undefined) next(s.Next, 'Next');
  }
  if (type === 'Task') validateTask(s, next);
  if (type === 'Wait') {
    const given = ['Seconds', 'SecondsPath', 'Timestamp', 'TimestampPath'].filter((f) => s[f] !== undefined);
    if (given.length !== 1)
      throw new Error('exactly one of Seconds, SecondsPath, Timestamp, TimestampPath is required');
    if (s.Seconds !== undefined && !(Number.isInteger(s.Seconds) && (s.Seconds as number) >= 0)) {
      throw new Error('Seconds must be a non-negative integer');
    }
    if (s.Timestamp !== undefined && !isTimestamp(s.Timestamp))
      throw new Error('Timestamp must be an RFC 3339 string');
  }
  if (type === 'Choice') {
    if (!Array.isArray(s.Choices) || s.Choices.length === 0)
      throw new Error('Choices must be a non-empty array');
    for (const rule of s.Choices) {
      validateRule(rule);
      next(isObject(rule) ? rule.Next : undefined, 'Choices[].Next');
    }
    if (s.Default !== undefined) next(s.Default, 'Default');
  }
  if (type === 'Fail') {
    if (s.Error !== undefined && s.ErrorPath !== undefined)
      throw new Error('Error and ErrorPath are exclusive');
    if (s.Cause !== undefined && s.CausePath !== undefined)
      throw new Error('Cause and CausePath are exclusive');
  }
}

/**
 * Validates a definition (JSON text or object). Problems throw SfnApiError 'InvalidDefinition',
 * except an unsupported Task resource, which throws 'States.Runtime'.
 */
export function parseDefinition(source: object | string): Definition {
  let def: unknown;
  try {
    def = typeof source === 'string' ? JSON.parse(source) : source;
  } catch (e) {
    throw new SfnApiError('InvalidDefinition', `Definition is not valid JSON: ${messageOf(e)}`);
  }
  if (!isObject(def) || !isObject(def.States) || typeof def.StartAt !== 'string') {
    throw new SfnApiError('InvalidDefinition', 'Definition needs StartAt and States');
  }
  const states = def.States;
  const startAt = def.StartAt;
  const check = (where: string, fn: () => void) => {
    try {
      fn();
    } catch (e) {
      if (e instanceof SfnApiError) throw new SfnApiError(e.name, `${where}: ${e.message}`);
      throw new SfnApiError('InvalidDefinition', `${where}: ${messageOf(e)}`);
    }
  };
  check('Definition', () => {
    for (const field of Object.keys(def))
      if (!TOP_LEVEL_FIELDS.has(field)) throw new Error(`unsupported field ${field}`);
    if (def.QueryLanguage !== undefined && def.QueryLanguage !== 'JSONPath') {
      throw new Error('only QueryLanguage JSONPath is supported');
    }
    if (def.TimeoutSeconds !== undefined && !positiveInteger(def.TimeoutSeconds)) {
      throw new Error('TimeoutSeconds must be a positive integer');
    }
    if (!Object.hasOwn(states, startAt)) throw new Error(`StartAt '${startAt}' is not a state`);
  });
  for (const [name, state] of Object.entries(states)) {
    check(`State '${name}'`, () => {
      if (!isObject(state)) throw new Error('must be an object');
      validateState(state, (target, field) => {
        if (typeof target !== 'string' || !Object.hasOwn(states, target)) {
          throw new Error(`${field} '${String(target)}' is not a state`);
        }
      });
    });
  }
  return def as unknown as Definition;
}
