import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  DescribeExecutionCommand,
  ExecutionAlreadyExists,
  ListExecutionsCommand,
  SendTaskSuccessCommand,
  SFNClient,
  StartExecutionCommand,
  TaskDoesNotExist,
} from '@aws-sdk/client-sfn';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  type ExecutionDescription,
  type InvokeFunction,
  LocalStepFunctions,
  type LocalStepFunctionsOptions,
} from '../../infra/local/stepfunctions';

const SM = 'arn:aws:states:local:000000000000:stateMachine:test';
const FN = 'arn:aws:lambda:local:000000000000:function:worker';
const CALLBACK = 'arn:aws:states:::lambda:invoke.waitForTaskToken';

type Options = Partial<LocalStepFunctionsOptions>;
const engines: LocalStepFunctions[] = [];
afterEach(() => {
  for (const e of engines.splice(0)) e.close();
  vi.restoreAllMocks();
});

function engine(definition: object | string, opts: Options = {}): LocalStepFunctions {
  const sfn = new LocalStepFunctions({ invokeFunction: async () => null, timeScale: 1000, ...opts });
  engines.push(sfn);
  sfn.createStateMachine(SM, definition);
  return sfn;
}

/** Runs `definition` once on `input` and returns the finished execution with its parsed output. */
async function run(definition: object | string, input: unknown = {}, opts: Options = {}) {
  const sfn = engine(definition, opts);
  const { executionArn } = sfn.startExecution({ stateMachineArn: SM, input: JSON.stringify(input) });
  const result = await sfn.waitForExecution(executionArn);
  return { ...result, value: result.output === undefined ? undefined : JSON.parse(result.output) };
}

const single = (state: object) => ({ StartAt: 'S', States: { S: { End: true, ...state } } });
const pass = (state: object) => single({ Type: 'Pass', ...state });
const task = (state: object) => single({ Type: 'Task', Resource: FN, ...state });
const fail = (state: object) => ({ StartAt: 'F', States: { F: { Type: 'Fail', ...state } } });

async function until(condition: () => boolean, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 1));
  }
}

/** An invokeFunction that records the task tokens it is given (payload `{token}`). */
function tokenRecorder() {
  const tokens: string[] = [];
  const invokeFunction: InvokeFunction = async (_arn, payload) => {
    tokens.push((payload as { token: string }).token);
    return { ignored: true };
  };
  return { tokens, invokeFunction };
}

const callbackTask = (state: object = {}) =>
  single({
    Type: 'Task',
    Resource: CALLBACK,
    Parameters: { FunctionName: FN, Payload: { 'token.$': '$$.Task.Token' } },
    ...state,
  });

describe('definition validation', () => {
  it.each([
    [
      'Parallel',
      { StartAt: 'P', States: { P: { Type: 'Parallel', Branches: [], End: true } } },
      /Parallel states/,
    ],
    ['Map', { StartAt: 'M', States: { M: { Type: 'Map', End: true } } }, /Map states/],
    ['missing Next target', { StartAt: 'A', States: { A: { Type: 'Pass', Next: 'B' } } }, /Next 'B'/],
    ['unknown StartAt', { StartAt: 'X', States: { A: { Type: 'Pass', End: true } } }, /StartAt 'X'/],
    ['a typo in a field', pass({ Resultpath: '$.x' }), /unsupported field Resultpath/],
    ['JSONata', pass({ QueryLanguage: 'JSONata' }), /JSONPath/],
    ['a wildcard path', pass({ InputPath: '$.items[*]' }), /Unsupported JSONPath/],
    ['an unknown intrinsic', pass({ Parameters: { 'x.$': 'States.Nope(1)' } }), /unsupported function/],
    [
      'an unknown Choice operator',
      { StartAt: 'C', States: { C: { Type: 'Choice', Choices: [{ Variable: '$.a', Foo: 1, Next: 'C' }] } } },
      /Foo/,
    ],
    ['Wait without duration', single({ Type: 'Wait' }), /exactly one of Seconds/],
  ])('rejects %s with InvalidDefinition', (_, definition, message) => {
    const sfn = new LocalStepFunctions({ invokeFunction: async () => null });
    expect(() => sfn.createStateMachine(SM, definition)).toThrow(message);
    expect(() => sfn.createStateMachine(SM, definition)).toThrow(
      expect.objectContaining({ name: 'InvalidDefinition' }),
    );
  });

  it('rejects unsupported arn:aws:states::: integrations with States.Runtime', () => {
    const sfn = new LocalStepFunctions({ invokeFunction: async () => null });
    const definition = task({ Resource: 'arn:aws:states:::dynamodb:putItem', Parameters: {} });
    expect(() => sfn.createStateMachine(SM, definition)).toThrow(
      expect.objectContaining({ name: 'States.Runtime', message: expect.stringMatching(/dynamodb:putItem/) }),
    );
  });

  it('accepts a JSON string definition', async () => {
    const result = await run(JSON.stringify(pass({ Result: { ok: true } })));
    expect(result.value).toEqual({ ok: true });
  });
});

describe('input and output processing', () => {
  it('applies InputPath, Parameters, ResultSelector, ResultPath (on the raw input) and OutputPath in order', async () => {
    const payloads: unknown[] = [];
    const result = await run(
      task({
        InputPath: '$.data',
        Parameters: { 'sum.$': 'States.MathAdd($.x, $.y)', fixed: 'f', nested: { 'y.$': '$.y' } },
        ResultSelector: { 't.$': '$.total' },
        ResultPath: '$.data.result',
        OutputPath: '$.data',
      }),
      { data: { x: 1, y: 2 }, other: 'dropped by OutputPath' },
      {
        invokeFunction: async (_arn, payload) => {
          payloads.push(payload);
          return { total: (payload as { sum: number }).sum, extra: 'dropped by ResultSelector' };
        },
      },
    );
    expect(payloads).toEqual([{ sum: 3, fixed: 'f', nested: { y: 2 } }]);
    expect(result.status).toBe('SUCCEEDED');
    expect(result.value).toEqual({ x: 1, y: 2, result: { t: 3 } });
  });

  it('invokes a plain function ARN with the effective input and uses its return value', async () => {
    const calls: [string, unknown][] = [];
    const result = await run(
      task({}),
      { a: 1 },
      {
        invokeFunction: async (arn, payload) => {
          calls.push([arn, payload]);
          return { b: 2 };
        },
      },
    );
    expect(calls).toEqual([[FN, { a: 1 }]]);
    expect(result.value).toEqual({ b: 2 });
  });

  it('wraps arn:aws:states:::lambda:invoke results like AWS', async () => {
    const calls: [string, unknown][] = [];
    const result = await run(
      task({
        Resource: 'arn:aws:states:::lambda:invoke',
        Parameters: { FunctionName: 'worker', 'Payload.$': '$' },
        ResultPath: '$.out',
      }),
      { a: 1 },
      {
        invokeFunction: async (arn, payload) => {
          calls.push([arn, payload]);
          return 'hi';
        },
      },
    );
    expect(calls).toEqual([['worker', { a: 1 }]]);
    expect(result.value).toEqual({ a: 1, out: { Payload: 'hi', StatusCode: 200 } });
  });

  it('ResultPath null keeps the input; InputPath/OutputPath null give {}', async () => {
    expect(
      (await run(task({ ResultPath: null }), { a: 1 }, { invokeFunction: async () => 'x' })).value,
    ).toEqual({
      a: 1,
    });
    expect((await run(pass({ InputPath: null, ResultPath: '$.in' }), { a: 1 })).value).toEqual({
      a: 1,
      in: {},
    });
    expect((await run(pass({ OutputPath: null }), { a: 1 })).value).toEqual({});
  });

  it('Pass: Result wins over Parameters and is placed with ResultPath', async () => {
    const result = await run(pass({ Result: { r: 1 }, Parameters: { p: 1 }, ResultPath: '$.a.b' }), {
      a: { c: 0 },
    });
    expect(result.value).toEqual({ a: { c: 0, b: { r: 1 } } });
    expect((await run(pass({ Parameters: { 'p.$': '$.x' } }), { x: 5 })).value).toEqual({ p: 5 });
  });

  it('does not mutate shared values: the function gets a copy, undefined becomes null', async () => {
    const result = await run(
      {
        StartAt: 'T',
        States: { T: { Type: 'Task', Resource: FN, ResultPath: '$.r', Next: 'P' }, P: pass({}).States.S },
      },
      { list: [1] },
      {
        invokeFunction: async (_arn, payload) => {
          (payload as { list: number[] }).list.push(2);
          return undefined;
        },
      },
    );
    expect(result.value).toEqual({ list: [1], r: null });
  });

  it.each([
    ['InputPath', pass({ InputPath: '$.missing' })],
    ['Parameters', pass({ Parameters: { 'x.$': '$.missing' } })],
    ['OutputPath', pass({ OutputPath: '$.missing' })],
    ['ResultPath into a non-object', pass({ Result: 1, ResultPath: '$.s.x' })],
    [
      'ResultSelector',
      task({ ResultSelector: { 'x.$': '$.missing' }, Catch: [{ ErrorEquals: ['States.ALL'], Next: 'S' }] }),
    ],
  ])('fails with an uncatchable States.Runtime on a bad %s', async (_, definition) => {
    const result = await run(definition, { s: 'str' });
    expect(result.status).toBe('FAILED');
    expect(result.error).toBe('States.Runtime');
    expect(result.cause).toMatch(/missing|ReferencePath/);
  });
});

describe('Parameters: JSONPath, intrinsics and the context object', () => {
  it('exposes the context object', async () => {
    const now = () => Date.parse('2024-05-01T10:00:00.000Z');
    const sfn = engine(
      pass({
        Parameters: {
          'id.$': '$$.Execution.Id',
          'name.$': '$$.Execution.Name',
          'input.$': '$$.Execution.Input',
          'start.$': '$$.Execution.StartTime',
          'state.$': '$$.State.Name',
          'entered.$': '$$.State.EnteredTime',
          'retries.$': '$$.State.RetryCount',
          'machine.$': '$$.StateMachine.Id',
        },
      }),
      { now },
    );
    const { executionArn } = sfn.startExecution({ stateMachineArn: SM, name: 'run-1', input: '{"k":1}' });
    expect(executionArn).toBe('arn:aws:states:local:000000000000:execution:test:run-1');
    const result = await sfn.waitForExecution(executionArn);
    expect(JSON.parse(result.output ?? '')).toEqual({
      id: executionArn,
      name: 'run-1',
      input: { k: 1 },
      start: '2024-05-01T10:00:00.000Z',
      state: 'S',
      entered: '2024-05-01T10:00:00.000Z',
      retries: 0,
      machine: SM,
    });
  });

  it('supports $.a.b, $.a[0], $[\'x\'] and $["x y"] paths', async () => {
    const result = await run(
      pass({
        Parameters: {
          'a.$': '$.a.b',
          'b.$': '$.list[1]',
          'c.$': "$['odd.key']",
          'd.$': '$["x y"]',
          'e.$': '$',
        },
      }),
      { a: { b: 1 }, list: [10, 20], 'odd.key': 3, 'x y': 4 },
    );
    expect(result.value).toMatchObject({ a: 1, b: 20, c: 3, d: 4, e: { list: [10, 20] } });
  });

  it.each([
    ["States.Format('Hello {} #{}', $.name, $.n)", 'Hello Ada #7'],
    ["States.Format('\\{literal\\} \\'q\\' {}', $.flag)", "{literal} 'q' true"],
    ['States.StringToJson(\'{"a":[1]}\')', { a: [1] }],
    ['States.JsonToString($.obj)', '{"k":"v"}'],
    ["States.Array(1, 'two', $.n, null, true)", [1, 'two', 7, null, true]],
    ['States.MathAdd($.n, -2)', 5],
    ['States.ArrayLength($.list)', 3],
    ['States.ArrayGetItem($.list, 1)', 'b'],
    ["States.ArrayContains($.list, 'c')", true],
    ['States.ArrayPartition($.list, 2)', [['a', 'b'], ['c']]],
    ['States.ArrayRange(1, 9, 4)', [1, 5, 9]],
    ['States.ArrayUnique(States.Array(1, 1, 2))', [1, 2]],
    ["States.StringSplit('a,b;c', ',;')", ['a', 'b', 'c']],
    ["States.Base64Decode(States.Base64Encode('hé'))", 'hé'],
    ['States.JsonToString(States.StringToJson($.json))', '{"z":1}'],
    ["States.Format('{}', $$.State.Name)", 'S'],
  ])('evaluates %s', async (expression, expected) => {
    const input = { name: 'Ada', n: 7, flag: true, obj: { k: 'v' }, list: ['a', 'b', 'c'], json: '{"z": 1}' };
    const result = await run(pass({ Parameters: { 'v.$': expression } }), input);
    expect(result.status).toBe('SUCCEEDED');
    expect(result.value).toEqual({ v: expected });
  });

  it('States.UUID and States.MathRandom produce fresh values', async () => {
    const result = await run(
      pass({ Parameters: { 'u.$': 'States.UUID()', 'r.$': 'States.MathRandom(5, 6)' } }),
    );
    expect(result.value.u).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(result.value.r).toBe(5);
  });

  it('fails with States.Runtime on a bad intrinsic argument or $$.Task.Token outside a callback task', async () => {
    const bad = await run(pass({ Parameters: { 'v.$': 'States.MathAdd($.s, 1)' } }), { s: 'x' });
    expect([bad.error, bad.cause]).toEqual(['States.Runtime', expect.stringMatching(/MathAdd/)]);
    const noToken = await run(pass({ Parameters: { 't.$': '$$.Task.Token' } }));
    expect(noToken.error).toBe('States.Runtime');
  });
});

describe('Choice', () => {
  const choice = (rule: object) => ({
    StartAt: 'C',
    States: {
      C: { Type: 'Choice', Choices: [{ ...rule, Next: 'Yes' }], Default: 'No' },
      Yes: { Type: 'Pass', Result: true, End: true },
      No: { Type: 'Pass', Result: false, End: true },
    },
  });
  const t1 = '2024-01-01T00:00:00Z';
  const t2 = '2024-06-01T12:30:00.500+02:00';
  const input = {
    s: 'b',
    s2: 'b',
    a: 'a',
    c: 'c',
    n: 5,
    n2: 5,
    lo: 1,
    hi: 9,
    yes: true,
    t1,
    t2,
    t1b: '2024-01-01T01:00:00+01:00',
    nil: null,
    file: 'log-2024.txt',
    star: 'a*b',
  };

  it.each([
    [{ Variable: '$.s', StringEquals: 'b' }, true],
    [{ Variable: '$.s', StringEquals: 'x' }, false],
    [{ Variable: '$.n', StringEquals: '5' }, false],
    [{ Variable: '$.s', StringEqualsPath: '$.s2' }, true],
    [{ Variable: '$.s', StringLessThan: 'c' }, true],
    [{ Variable: '$.s', StringLessThan: 'b' }, false],
    [{ Variable: '$.s', StringLessThanPath: '$.a' }, false],
    [{ Variable: '$.s', StringGreaterThan: 'a' }, true],
    [{ Variable: '$.s', StringGreaterThanPath: '$.c' }, false],
    [{ Variable: '$.s', StringLessThanEquals: 'b' }, true],
    [{ Variable: '$.s', StringLessThanEqualsPath: '$.a' }, false],
    [{ Variable: '$.s', StringGreaterThanEquals: 'b' }, true],
    [{ Variable: '$.s', StringGreaterThanEqualsPath: '$.c' }, false],
    [{ Variable: '$.file', StringMatches: 'log-*.txt' }, true],
    [{ Variable: '$.file', StringMatches: '*.csv' }, false],
    [{ Variable: '$.star', StringMatches: 'a\\*b' }, true],
    [{ Variable: '$.file', StringMatches: 'log\\*' }, false],
    [{ Variable: '$.n', NumericEquals: 5 }, true],
    [{ Variable: '$.s', NumericEquals: 5 }, false],
    [{ Variable: '$.n', NumericEqualsPath: '$.n2' }, true],
    [{ Variable: '$.n', NumericLessThan: 6 }, true],
    [{ Variable: '$.n', NumericLessThanPath: '$.lo' }, false],
    [{ Variable: '$.n', NumericGreaterThan: 4.5 }, true],
    [{ Variable: '$.n', NumericGreaterThanPath: '$.hi' }, false],
    [{ Variable: '$.n', NumericLessThanEquals: 5 }, true],
    [{ Variable: '$.n', NumericLessThanEqualsPath: '$.lo' }, false],
    [{ Variable: '$.n', NumericGreaterThanEquals: 5 }, true],
    [{ Variable: '$.n', NumericGreaterThanEqualsPath: '$.hi' }, false],
    [{ Variable: '$.yes', BooleanEquals: true }, true],
    [{ Variable: '$.yes', BooleanEquals: false }, false],
    [{ Variable: '$.yes', BooleanEqualsPath: '$.yes' }, true],
    [{ Variable: '$.t1', TimestampEquals: t1 }, true],
    [{ Variable: '$.t1', TimestampEqualsPath: '$.t1b' }, true],
    [{ Variable: '$.s', TimestampEquals: t1 }, false],
    [{ Variable: '$.t1', TimestampLessThan: t2 }, true],
    [{ Variable: '$.t1', TimestampLessThanPath: '$.t1b' }, false],
    [{ Variable: '$.t2', TimestampGreaterThan: t1 }, true],
    [{ Variable: '$.t2', TimestampGreaterThanPath: '$.t1' }, true],
    [{ Variable: '$.t1', TimestampLessThanEquals: t1 }, true],
    [{ Variable: '$.t2', TimestampLessThanEqualsPath: '$.t1' }, false],
    [{ Variable: '$.t1', TimestampGreaterThanEquals: t2 }, false],
    [{ Variable: '$.t2', TimestampGreaterThanEqualsPath: '$.t2' }, true],
    [{ Variable: '$.nil', IsNull: true }, true],
    [{ Variable: '$.s', IsNull: true }, false],
    [{ Variable: '$.s', IsPresent: true }, true],
    [{ Variable: '$.missing', IsPresent: true }, false],
    [{ Variable: '$.missing', IsPresent: false }, true],
    [{ Variable: '$.n', IsNumeric: true }, true],
    [{ Variable: '$.s', IsNumeric: false }, true],
    [{ Variable: '$.s', IsString: true }, true],
    [{ Variable: '$.yes', IsBoolean: true }, true],
    [{ Variable: '$.t2', IsTimestamp: true }, true],
    [{ Variable: '$.s', IsTimestamp: true }, false],
    [{ Variable: '$$.Execution.Input.s', StringEquals: 'b' }, true],
    [
      {
        And: [
          { Variable: '$.n', NumericEquals: 5 },
          { Variable: '$.s', StringEquals: 'b' },
        ],
      },
      true,
    ],
    [
      {
        And: [
          { Variable: '$.n', NumericEquals: 5 },
          { Variable: '$.s', StringEquals: 'x' },
        ],
      },
      false,
    ],
    [
      {
        Or: [
          { Variable: '$.n', NumericEquals: 1 },
          { Variable: '$.s', StringEquals: 'b' },
        ],
      },
      true,
    ],
    [
      {
        Or: [
          { Variable: '$.missing', IsPresent: true },
          { Variable: '$.s', StringEquals: 'x' },
        ],
      },
      false,
    ],
    [{ Not: { Variable: '$.s', StringEquals: 'b' } }, false],
    [
      {
        And: [
          { Variable: '$.missing', IsPresent: true },
          { Variable: '$.missing', IsString: true },
        ],
      },
      false,
    ],
  ])('%j => %s', async (rule, expected) => {
    const result = await run(choice(rule), input);
    expect(result.status).toBe('SUCCEEDED');
    expect(result.value).toBe(expected);
  });

  it('passes its (InputPath/OutputPath filtered) input on and takes the first matching rule', async () => {
    const definition = {
      StartAt: 'C',
      States: {
        C: {
          Type: 'Choice',
          InputPath: '$.in',
          OutputPath: '$.v',
          Choices: [
            { Variable: '$.v', NumericGreaterThan: 100, Next: 'Never' },
            { Variable: '$.v', NumericGreaterThan: 1, Next: 'First' },
            { Variable: '$.v', NumericGreaterThan: 0, Next: 'Never' },
          ],
        },
        First: { Type: 'Pass', ResultPath: '$', Parameters: { 'got.$': '$' }, End: true },
        Never: { Type: 'Fail' },
      },
    };
    expect((await run(definition, { in: { v: 2 } })).value).toEqual({ got: 2 });
  });

  it('fails with States.NoChoiceMatched without Default, and States.Runtime on a missing Variable', async () => {
    const noDefault = {
      StartAt: 'C',
      States: { C: { Type: 'Choice', Choices: [{ Variable: '$.n', NumericEquals: 1, Next: 'C' }] } },
    };
    const r1 = await run(noDefault, { n: 2 });
    expect([r1.status, r1.error]).toEqual(['FAILED', 'States.NoChoiceMatched']);
    const r2 = await run(noDefault, {});
    expect([r2.status, r2.error]).toEqual(['FAILED', 'States.Runtime']);
  });
});

describe('Wait', () => {
  const wait = (state: object) => ({
    StartAt: 'W',
    States: { W: { Type: 'Wait', Next: 'Done', ...state }, Done: { Type: 'Succeed' } },
  });

  it('divides Seconds by timeScale (10 s at 1000x takes ~10 ms) without blocking other executions', async () => {
    const sfn = engine(wait({ Seconds: 10 }));
    const started = performance.now();
    const arns = [1, 2, 3].map(() => sfn.startExecution({ stateMachineArn: SM }).executionArn);
    const results = await Promise.all(arns.map((a) => sfn.waitForExecution(a)));
    const elapsed = performance.now() - started;
    expect(results.map((r) => r.status)).toEqual(['SUCCEEDED', 'SUCCEEDED', 'SUCCEEDED']);
    expect(elapsed).toBeGreaterThanOrEqual(9);
    expect(elapsed).toBeLessThan(500);
  });

  it('reads SecondsPath from the input', async () => {
    const started = performance.now();
    const result = await run(wait({ SecondsPath: '$.delay' }), { delay: 30 });
    expect(result.status).toBe('SUCCEEDED');
    expect(performance.now() - started).toBeGreaterThanOrEqual(29);
  });

  it('waits (Timestamp - now) / timeScale for Timestamp and TimestampPath', async () => {
    const now = () => Date.parse('2030-01-01T00:00:00Z');
    for (const state of [{ Timestamp: '2030-01-01T00:00:20Z' }, { TimestampPath: '$.at' }]) {
      const started = performance.now();
      const result = await run(wait(state), { at: '2030-01-01T01:00:20+01:00' }, { now });
      expect(result.status).toBe('SUCCEEDED');
      const elapsed = performance.now() - started;
      expect(elapsed).toBeGreaterThanOrEqual(19);
      expect(elapsed).toBeLessThan(500);
    }
    const past = await run(wait({ Timestamp: '2000-01-01T00:00:00Z' }), {}, { now });
    expect(past.status).toBe('SUCCEEDED');
  });

  it('fails with States.Runtime on an invalid SecondsPath or TimestampPath', async () => {
    expect((await run(wait({ SecondsPath: '$.d' }), { d: 'soon' })).error).toBe('States.Runtime');
    expect((await run(wait({ TimestampPath: '$.d' }), { d: 'tomorrow' })).error).toBe('States.Runtime');
  });

  it.each([
    ['a fraction', 1.5],
    ['a negative number', -1],
    ['a numeric string', '10'],
  ])(
    'fails with States.Runtime when SecondsPath resolves to %s (AWS wants a non-negative integer)',
    async (_, d) => {
      const result = await run(wait({ SecondsPath: '$.d' }), { d });
      expect([result.status, result.error]).toEqual(['FAILED', 'States.Runtime']);
    },
  );

  it.each([
    ['no Z or offset', '2030-01-01T00:00:00'],
    ['a lower-case t and z', '2030-01-01t00:00:00z'],
    ['a space for the T', '2030-01-01 00:00:00Z'],
    ['a date only', '2030-01-01'],
    ['February 30', '2030-02-30T00:00:00Z'],
    ['hour 24', '2030-01-01T24:00:00Z'],
    ['an offset without a colon', '2030-01-01T00:00:00+0100'],
    ['epoch milliseconds', 1_893_456_000_000],
  ])('fails with States.Runtime when TimestampPath resolves to %s', async (_, at) => {
    const result = await run(wait({ TimestampPath: '$.at' }), { at });
    expect([result.status, result.error]).toEqual(['FAILED', 'States.Runtime']);
  });

  it('accepts the RFC 3339 forms AWS accepts (fractional seconds, numeric offsets)', async () => {
    const now = () => Date.parse('2030-01-01T00:00:00Z');
    for (const at of ['2029-12-31T23:59:59.123Z', '2030-01-01T01:00:00+01:00', '2029-12-31T19:00:00-05:00']) {
      expect((await run(wait({ TimestampPath: '$.at' }), { at }, { now })).status, at).toBe('SUCCEEDED');
    }
  });

  it('refuses a fractional Seconds in the definition', () => {
    expect(() => engine(wait({ Seconds: 0.5 }))).toThrow(/Seconds must be a non-negative integer/);
  });
});

describe('payload limit (256 KiB, UTF-8)', () => {
  const LIMIT = 262_144;
  const big = (bytes: number) => 'x'.repeat(bytes);

  it('fails with States.DataLimitExceeded on a task result over 256 KiB, which no Catch catches', async () => {
    const result = await run(
      task({ Catch: [{ ErrorEquals: ['States.ALL'], Next: 'S' }], Retry: [{ ErrorEquals: ['States.ALL'] }] }),
      {},
      { invokeFunction: async () => big(LIMIT) },
    );
    expect([result.status, result.error]).toEqual(['FAILED', 'States.DataLimitExceeded']);
  });

  it('counts UTF-8 bytes: 100,000 euro signs are 300,000 bytes', async () => {
    const result = await run(task({}), {}, { invokeFunction: async () => '€'.repeat(100_000) });
    expect(result.error).toBe('States.DataLimitExceeded');
    const fits = await run(task({}), {}, { invokeFunction: async () => '€'.repeat(80_000) });
    expect(fits.status).toBe('SUCCEEDED');
  });

  it('fails with States.DataLimitExceeded on task parameters over 256 KiB', async () => {
    let invoked = false;
    const result = await run(
      task({ Parameters: { 'a.$': '$.half', 'b.$': '$.half' } }),
      { half: big(LIMIT / 2) },
      {
        invokeFunction: async () => {
          invoked = true;
          return {};
        },
      },
    );
    expect([result.status, result.error]).toEqual(['FAILED', 'States.DataLimitExceeded']);
    expect(invoked).toBe(false);
  });

  it('fails with States.DataLimitExceeded on a state output over 256 KiB', async () => {
    const result = await run(pass({ Parameters: { 'copy.$': '$.half' }, ResultPath: '$.copy' }), {
      half: big(LIMIT / 2),
    });
    expect([result.status, result.error]).toEqual(['FAILED', 'States.DataLimitExceeded']);
    const fits = await run(pass({ Parameters: { 'copy.$': '$.half' }, ResultPath: '$.copy' }), {
      half: big(LIMIT / 2 - 100),
    });
    expect(fits.status).toBe('SUCCEEDED');
  });

  it('refuses an execution input over 256 KiB (ValidationException)', () => {
    const sfn = engine(pass({}));
    expect(() =>
      sfn.startExecution({ stateMachineArn: SM, input: JSON.stringify({ a: big(LIMIT) }) }),
    ).toThrow(expect.objectContaining({ name: 'ValidationException' }));
  });
});

describe('Retry and Catch', () => {
  /** A function failing `failures` times with `errorName`, then returning 'ok'; records call times. */
  function flaky(failures: number, errorName = 'Flaky') {
    const calls: { at: number; payload: unknown }[] = [];
    const invokeFunction: InvokeFunction = async (_arn, payload) => {
      calls.push({ at: performance.now(), payload });
      if (calls.length <= failures) {
        const err = new Error(`attempt ${calls.length} failed`);
        err.name = errorName;
        throw err;
      }
      return 'ok';
    };
    return { calls, invokeFunction };
  }
  const gaps = (calls: { at: number }[]) => calls.slice(1).map((c, i) => c.at - (calls[i]?.at ?? 0));

  it('retries with exponential backoff and exposes $$.State.RetryCount', async () => {
    const { calls, invokeFunction } = flaky(3);
    const result = await run(
      task({
        Parameters: { 'retry.$': '$$.State.RetryCount' },
        Retry: [{ ErrorEquals: ['Flaky'], IntervalSeconds: 1, BackoffRate: 2, MaxAttempts: 3 }],
      }),
      {},
      { invokeFunction, timeScale: 100 },
    );
    expect(result.value).toBe('ok');
    expect(calls.map((c) => c.payload)).toEqual([{ retry: 0 }, { retry: 1 }, { retry: 2 }, { retry: 3 }]);
    const [g1 = 0, g2 = 0, g3 = 0] = gaps(calls);
    expect(g1).toBeGreaterThanOrEqual(9); // 1 s / 100
    expect(g2).toBeGreaterThanOrEqual(19); // 2 s / 100
    expect(g3).toBeGreaterThanOrEqual(39); // 4 s / 100
  });

  it('defaults to 3 attempts after the first and fails with the last error once exhausted', async () => {
    const { calls, invokeFunction } = flaky(10, 'Boom');
    const result = await run(task({ Retry: [{ ErrorEquals: ['States.ALL'] }] }), {}, { invokeFunction });
    expect(calls).toHaveLength(4);
    expect([result.status, result.error, result.cause]).toEqual(['FAILED', 'Boom', 'attempt 4 failed']);
  });

  it('MaxAttempts 0 never retries; MaxDelaySeconds caps the backoff', async () => {
    const none = flaky(1);
    await run(task({ Retry: [{ ErrorEquals: ['States.ALL'], MaxAttempts: 0 }] }), {}, none);
    expect(none.calls).toHaveLength(1);

    const capped = flaky(3);
    const result = await run(
      task({
        Retry: [{ ErrorEquals: ['States.ALL'], IntervalSeconds: 1, BackoffRate: 10, MaxDelaySeconds: 2 }],
      }),
      {},
      { ...capped, timeScale: 100 },
    );
    expect(result.status).toBe('SUCCEEDED');
    const [g1 = 0, g2 = 0, g3 = 0] = gaps(capped.calls);
    expect(g1).toBeGreaterThanOrEqual(9);
    expect(g2).toBeGreaterThanOrEqual(19);
    expect(g2).toBeLessThan(90); // 10 s uncapped
    expect(g3).toBeLessThan(90); // 100 s uncapped
  });

  it('JitterStrategy FULL picks a random delay up to the computed one', async () => {
    vi.spyOn(Math, 'random').mockReturnValue(0);
    const { calls, invokeFunction } = flaky(2);
    const result = await run(
      task({ Retry: [{ ErrorEquals: ['States.ALL'], IntervalSeconds: 3600, JitterStrategy: 'FULL' }] }),
      {},
      { invokeFunction, timeScale: 1 },
    );
    expect(result.status).toBe('SUCCEEDED');
    expect(calls).toHaveLength(3);
  });

  it('uses only the first matching retrier; States.TaskFailed does not match States.Timeout', async () => {
    const { calls, invokeFunction } = flaky(10, 'Specific');
    await run(
      task({
        Retry: [
          { ErrorEquals: ['Specific'], MaxAttempts: 1 },
          { ErrorEquals: ['States.ALL'], MaxAttempts: 5 },
        ],
      }),
      {},
      { invokeFunction },
    );
    expect(calls).toHaveLength(2);

    let slowCalls = 0;
    const slow = await run(
      task({ TimeoutSeconds: 5, Retry: [{ ErrorEquals: ['States.TaskFailed'] }] }),
      {},
      {
        invokeFunction: () => {
          slowCalls++;
          return new Promise(() => {});
        },
      },
    );
    expect([slow.error, slowCalls]).toEqual(['States.Timeout', 1]);
  });

  it('Catch puts {Error, Cause} at its ResultPath of the raw input and goes to Next', async () => {
    const { invokeFunction } = flaky(10, 'Boom');
    const definition = {
      StartAt: 'T',
      States: {
        T: {
          Type: 'Task',
          Resource: FN,
          InputPath: '$.ignored',
          Retry: [{ ErrorEquals: ['Other'] }],
          Catch: [
            { ErrorEquals: ['Other'], Next: 'Wrong' },
            { ErrorEquals: ['States.TaskFailed'], ResultPath: '$.failure', Next: 'Handled' },
          ],
          End: true,
        },
        Handled: { Type: 'Succeed' },
        Wrong: { Type: 'Fail' },
      },
    };
    const result = await run(definition, { keep: 1, ignored: {} }, { invokeFunction });
    expect(result.status).toBe('SUCCEEDED');
    expect(result.value).toEqual({
      keep: 1,
      ignored: {},
      failure: { Error: 'Boom', Cause: 'attempt 1 failed' },
    });
  });

  it('maps a plain Error to error "Error" and a Fail state to its Error/Cause (or ErrorPath/CausePath)', async () => {
    const plain = await run(
      task({}),
      {},
      {
        invokeFunction: async () => {
          throw new Error('bad');
        },
      },
    );
    expect([plain.error, plain.cause]).toEqual(['Error', 'bad']);
    const fixed = await run(fail({ Error: 'E', Cause: 'C' }));
    expect([fixed.status, fixed.error, fixed.cause]).toEqual(['FAILED', 'E', 'C']);
    const dynamic = await run(fail({ ErrorPath: '$.e', CausePath: "States.Format('n={}', $.n)" }), {
      e: 'Dyn',
      n: 2,
    });
    expect([dynamic.error, dynamic.cause]).toEqual(['Dyn', 'n=2']);
  });
});

describe('.waitForTaskToken callbacks', () => {
  it('invokes the function with a task token and completes on SendTaskSuccess', async () => {
    const { tokens, invokeFunction } = tokenRecorder();
    const sfn = engine(callbackTask({ ResultPath: '$.cb' }), { invokeFunction });
    const { executionArn } = sfn.startExecution({ stateMachineArn: SM, input: '{"a":1}' });
    await until(() => tokens.length === 1);
    await new Promise((r) => setTimeout(r, 5));
    expect(sfn.describeExecution({ executionArn }).status).toBe('RUNNING');
    expect(tokens[0]).toMatch(/^[\w-]{40,}$/);
    expect(() => sfn.sendTaskSuccess({ taskToken: tokens[0] ?? '', output: '{oops' })).toThrow(
      expect.objectContaining({ name: 'InvalidOutput' }),
    );
    sfn.sendTaskSuccess({ taskToken: tokens[0] ?? '', output: '{"approved":true}' });
    const result = await sfn.waitForExecution(executionArn);
    expect(JSON.parse(result.output ?? '')).toEqual({ a: 1, cb: { approved: true } });
    expect(() => sfn.sendTaskSuccess({ taskToken: tokens[0] ?? '', output: '{}' })).toThrow(
      expect.objectContaining({ name: 'TaskDoesNotExist' }),
    );
  });

  it('accepts a callback sent before the function returns', async () => {
    let sfn: LocalStepFunctions | undefined;
    const invokeFunction: InvokeFunction = async (_arn, payload) => {
      sfn?.sendTaskSuccess({ taskToken: (payload as { token: string }).token, output: '"early"' });
      return null;
    };
    sfn = engine(callbackTask(), { invokeFunction });
    const { executionArn } = sfn.startExecution({ stateMachineArn: SM });
    expect((await sfn.waitForExecution(executionArn)).output).toBe('"early"');
  });

  it('fails the task on SendTaskFailure, with a fresh token per retry', async () => {
    const { tokens, invokeFunction } = tokenRecorder();
    const sfn = engine(callbackTask({ Retry: [{ ErrorEquals: ['Rejected'], MaxAttempts: 1 }] }), {
      invokeFunction,
    });
    const { executionArn } = sfn.startExecution({ stateMachineArn: SM });
    await until(() => tokens.length === 1);
    sfn.sendTaskFailure({ taskToken: tokens[0] ?? '', error: 'Rejected', cause: 'no' });
    await until(() => tokens.length === 2);
    expect(tokens[1]).not.toBe(tokens[0]);
    sfn.sendTaskFailure({ taskToken: tokens[1] ?? '', error: 'Rejected', cause: 'still no' });
    const result = await sfn.waitForExecution(executionArn);
    expect([result.status, result.error, result.cause]).toEqual(['FAILED', 'Rejected', 'still no']);
  });

  it('fails the task when the function invocation fails', async () => {
    const result = await run(
      callbackTask(),
      {},
      {
        invokeFunction: async () => {
          throw Object.assign(new Error('cannot enqueue'), { name: 'QueueError' });
        },
      },
    );
    expect([result.error, result.cause]).toEqual(['QueueError', 'cannot enqueue']);
  });

  it('times out with States.Timeout after TimeoutSeconds / timeScale and forgets the token', async () => {
    const { tokens, invokeFunction } = tokenRecorder();
    const sfn = engine(callbackTask({ TimeoutSecondsPath: '$.timeout' }), { invokeFunction });
    const started = performance.now();
    const { executionArn } = sfn.startExecution({ stateMachineArn: SM, input: '{"timeout": 20}' });
    const result = await sfn.waitForExecution(executionArn);
    expect([result.status, result.error]).toEqual(['FAILED', 'States.Timeout']);
    expect(performance.now() - started).toBeGreaterThanOrEqual(19);
    expect(() => sfn.sendTaskSuccess({ taskToken: tokens[0] ?? '', output: '{}' })).toThrow(
      expect.objectContaining({ name: 'TaskDoesNotExist' }),
    );
  });

  it('times out with States.HeartbeatTimeout unless heartbeats keep it alive', async () => {
    const quiet = await run(
      callbackTask({ HeartbeatSeconds: 10, TimeoutSeconds: 5000 }),
      {},
      tokenRecorder(),
    );
    expect(quiet.error).toBe('States.HeartbeatTimeout');

    const { tokens, invokeFunction } = tokenRecorder();
    const sfn = engine(callbackTask({ HeartbeatSeconds: 50, TimeoutSeconds: 5000 }), { invokeFunction });
    const { executionArn } = sfn.startExecution({ stateMachineArn: SM });
    await until(() => tokens.length === 1);
    const token = tokens[0] ?? '';
    for (let i = 0; i < 10; i++) {
      await new Promise((r) => setTimeout(r, 15));
      sfn.sendTaskHeartbeat({ taskToken: token });
    }
    expect(sfn.describeExecution({ executionArn }).status).toBe('RUNNING');
    sfn.sendTaskSuccess({ taskToken: token, output: '1' });
    expect((await sfn.waitForExecution(executionArn)).status).toBe('SUCCEEDED');
  });
});

describe('executions', () => {
  const waitLong = { StartAt: 'W', States: { W: { Type: 'Wait', Seconds: 3600, End: true } } };

  it('StartExecution is idempotent for the same name and input while running, else ExecutionAlreadyExists', async () => {
    const sfn = engine(waitLong, { timeScale: 1 });
    const first = sfn.startExecution({ stateMachineArn: SM, name: 'once', input: '{"a":1}' });
    expect(sfn.startExecution({ stateMachineArn: SM, name: 'once', input: '{"a":1}' })).toEqual(first);
    expect(() => sfn.startExecution({ stateMachineArn: SM, name: 'once', input: '{"a":2}' })).toThrow(
      expect.objectContaining({ name: 'ExecutionAlreadyExists' }),
    );
    sfn.stopExecution({ executionArn: first.executionArn });
    expect(() => sfn.startExecution({ stateMachineArn: SM, name: 'once', input: '{"a":1}' })).toThrow(
      expect.objectContaining({ name: 'ExecutionAlreadyExists' }),
    );
  });

  it.each([
    [{ stateMachineArn: `${SM}-nope` }, 'StateMachineDoesNotExist'],
    [{ stateMachineArn: SM, name: 'has space' }, 'InvalidName'],
    [{ stateMachineArn: SM, input: '{not json' }, 'InvalidExecutionInput'],
  ])('StartExecution(%j) throws %s', (params, name) => {
    const sfn = engine(waitLong);
    expect(() => sfn.startExecution(params)).toThrow(expect.objectContaining({ name }));
  });

  it('stopExecution aborts a Wait at once and reports error/cause', async () => {
    const ended: ExecutionDescription[] = [];
    const sfn = engine(waitLong, { timeScale: 1, onExecutionEnd: (e) => ended.push(e) });
    const { executionArn } = sfn.startExecution({ stateMachineArn: SM });
    await new Promise((r) => setTimeout(r, 5));
    const { stopDate } = sfn.stopExecution({ executionArn, error: 'Manual', cause: 'operator' });
    const result = await sfn.waitForExecution(executionArn);
    expect(result).toMatchObject({ status: 'ABORTED', error: 'Manual', cause: 'operator', stopDate });
    expect(ended.map((e) => e.status)).toEqual(['ABORTED']);
    await sfn.idle();
  });

  it('fails with States.Timeout / TIMED_OUT when the state machine TimeoutSeconds elapses', async () => {
    const result = await run({ ...waitLong, TimeoutSeconds: 10 });
    expect([result.status, result.error]).toEqual(['TIMED_OUT', 'States.Timeout']);
  });

  it('lists executions newest first with a status filter; describe fails for unknown ARNs', async () => {
    const sfn = engine(waitLong, { timeScale: 1 });
    const a = sfn.startExecution({ stateMachineArn: SM, name: 'a' });
    const b = sfn.startExecution({ stateMachineArn: SM, name: 'b' });
    sfn.stopExecution({ executionArn: a.executionArn });
    expect(sfn.listExecutions({ stateMachineArn: SM }).map((e) => e.name)).toEqual(['b', 'a']);
    expect(
      sfn.listExecutions({ stateMachineArn: SM, statusFilter: 'RUNNING' }).map((e) => e.executionArn),
    ).toEqual([b.executionArn]);
    expect(() => sfn.describeExecution({ executionArn: `${b.executionArn}x` })).toThrow(
      expect.objectContaining({ name: 'ExecutionDoesNotExist' }),
    );
  });

  it('close() aborts running executions without further callbacks', async () => {
    const ended: ExecutionDescription[] = [];
    const sfn = engine(waitLong, { timeScale: 1, onExecutionEnd: (e) => ended.push(e) });
    const { executionArn } = sfn.startExecution({ stateMachineArn: SM });
    sfn.close();
    await sfn.idle();
    expect(sfn.describeExecution({ executionArn }).status).toBe('ABORTED');
    expect(ended).toEqual([]);
  });

  it('runs 500 executions concurrently', async () => {
    const definition = {
      StartAt: 'T',
      States: {
        T: { Type: 'Task', Resource: FN, ResultPath: '$.r', Next: 'W' },
        W: { Type: 'Wait', Seconds: 20, End: true },
      },
    };
    const sfn = engine(definition, {
      invokeFunction: async (_arn, payload) => new Promise((r) => setTimeout(() => r(payload), 5)),
    });
    const started = performance.now();
    const arns = Array.from(
      { length: 500 },
      (_, i) => sfn.startExecution({ stateMachineArn: SM, input: JSON.stringify({ i }) }).executionArn,
    );
    await sfn.idle();
    const results = arns.map((executionArn) => sfn.describeExecution({ executionArn }));
    expect(results.every((r) => r.status === 'SUCCEEDED')).toBe(true);
    expect(JSON.parse(results[42]?.output ?? '')).toEqual({ i: 42, r: { i: 42 } });
    expect(performance.now() - started).toBeLessThan(2000);
  });
});

describe('history events and state transitions', () => {
  it('counts AWS-like history events and one transition per state entered', async () => {
    const definition = {
      StartAt: 'P',
      States: {
        P: { Type: 'Pass', Next: 'T' },
        T: { Type: 'Task', Resource: FN, Retry: [{ ErrorEquals: ['States.ALL'] }], Next: 'C' },
        C: { Type: 'Choice', Choices: [{ Variable: '$', IsPresent: true, Next: 'S' }] },
        S: { Type: 'Succeed' },
      },
    };
    let calls = 0;
    const result = await run(
      definition,
      {},
      {
        invokeFunction: async () => {
          if (++calls === 1) throw new Error('once');
          return {};
        },
      },
    );
    // ExecutionStarted; P entered+exited; T entered, 2x(scheduled, started), failed, succeeded, exited;
    // C entered+exited; S entered+exited; ExecutionSucceeded.
    expect(result.historyEventCount).toBe(1 + 2 + (1 + 4 + 2 + 1) + 2 + 2 + 1);
    expect(result.stateTransitions).toBe(4);
  });

  it('fails an execution with States.Runtime when it would exceed 25,000 history events', async () => {
    const loop = { StartAt: 'L', States: { L: { Type: 'Pass', Next: 'L' } } };
    const result = await run(loop);
    expect([result.status, result.error]).toEqual(['FAILED', 'States.Runtime']);
    expect(result.cause).toMatch(/history exceeded the maximum of 25000 events/);
    expect(result.historyEventCount).toBe(25_000);
    expect(result.stateTransitions).toBe(12_499);
  });
});

describe('invocation concurrency', () => {
  it('runs at most maxConcurrentInvocations task invocations at once, the others in turn', async () => {
    let running = 0;
    let most = 0;
    const sfn = engine(task({}), {
      maxConcurrentInvocations: 2,
      invokeFunction: async () => {
        most = Math.max(most, ++running);
        await new Promise((r) => setTimeout(r, 5));
        running--;
        return {};
      },
    });
    const arns = Array.from(
      { length: 6 },
      (_, i) => sfn.startExecution({ stateMachineArn: SM, name: `e${i}` }).executionArn,
    );
    const results = await Promise.all(arns.map((arn) => sfn.waitForExecution(arn)));
    expect(results.map((r) => r.status)).toEqual(Array(6).fill('SUCCEEDED'));
    expect(most).toBe(2);
  });

  it('never invokes for an execution stopped while it waited for a slot', async () => {
    const invoked: string[] = [];
    let open: () => void = () => {};
    const sfn = engine(
      {
        StartAt: 'T',
        States: { T: { Type: 'Task', Resource: FN, Parameters: { 'n.$': '$$.Execution.Name' }, End: true } },
      },
      {
        maxConcurrentInvocations: 1,
        invokeFunction: async (_arn, payload) => {
          invoked.push((payload as { n: string }).n);
          if (invoked.length === 1) await new Promise<void>((r) => (open = r));
          return {};
        },
      },
    );
    const first = sfn.startExecution({ stateMachineArn: SM, name: 'first' }).executionArn;
    const second = sfn.startExecution({ stateMachineArn: SM, name: 'second' }).executionArn;
    await until(() => invoked.length === 1);
    sfn.stopExecution({ executionArn: second });
    open();
    await sfn.waitForExecution(first);
    await new Promise((r) => setTimeout(r, 20));
    expect(invoked).toEqual(['first']);
  });
});

describe('AWS JSON 1.0 protocol', () => {
  it('serves the real @aws-sdk/client-sfn', async () => {
    const { tokens, invokeFunction } = tokenRecorder();
    const sfn = engine(callbackTask({ ResultPath: '$.cb' }), { invokeFunction });
    const requests: { target: unknown; contentType: unknown }[] = [];
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        requests.push({ target: req.headers['x-amz-target'], contentType: req.headers['content-type'] });
        const text = Buffer.concat(chunks).toString('utf8');
        const { status, body } = sfn.handleJsonProtocol(
          String(req.headers['x-amz-target']),
          text ? JSON.parse(text) : {},
        );
        res.writeHead(status, { 'content-type': 'application/x-amz-json-1.0' });
        res.end(JSON.stringify(body));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const client = new SFNClient({
      endpoint: `http://127.0.0.1:${port}`,
      region: 'local',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
      maxAttempts: 1,
    });
    try {
      const start = await client.send(
        new StartExecutionCommand({ stateMachineArn: SM, name: 'sdk', input: '{"via":"sdk"}' }),
      );
      expect(start.executionArn).toBe('arn:aws:states:local:000000000000:execution:test:sdk');
      expect(start.startDate).toBeInstanceOf(Date);
      expect(requests[0]).toEqual({
        target: 'AWSStepFunctions.StartExecution',
        contentType: 'application/x-amz-json-1.0',
      });

      const conflict = await client
        .send(new StartExecutionCommand({ stateMachineArn: SM, name: 'sdk', input: '{"via":"other"}' }))
        .catch((e: unknown) => e);
      expect(conflict).toBeInstanceOf(ExecutionAlreadyExists);
      expect(conflict).toMatchObject({ name: 'ExecutionAlreadyExists', $metadata: { httpStatusCode: 400 } });

      const missing = await client
        .send(new SendTaskSuccessCommand({ taskToken: 'nope', output: '{}' }))
        .catch((e: unknown) => e);
      expect(missing).toBeInstanceOf(TaskDoesNotExist);

      await until(() => tokens.length === 1);
      await client.send(new SendTaskSuccessCommand({ taskToken: tokens[0], output: '{"ok":true}' }));
      await sfn.waitForExecution(start.executionArn ?? '');

      const described = await client.send(new DescribeExecutionCommand({ executionArn: start.executionArn }));
      expect(described).toMatchObject({
        executionArn: start.executionArn,
        stateMachineArn: SM,
        name: 'sdk',
        status: 'SUCCEEDED',
        input: '{"via":"sdk"}',
        output: '{"via":"sdk","cb":{"ok":true}}',
      });
      expect(described.startDate?.getTime()).toBe(start.startDate?.getTime());
      expect(described.stopDate).toBeInstanceOf(Date);

      const listed = await client.send(
        new ListExecutionsCommand({ stateMachineArn: SM, statusFilter: 'SUCCEEDED' }),
      );
      expect(listed.executions?.map((e) => e.name)).toEqual(['sdk']);
    } finally {
      client.destroy();
      server.closeAllConnections();
      server.close();
    }
  });

  it('answers unknown operations and missing parameters with 400 and __type', () => {
    const sfn = engine(pass({}));
    expect(sfn.handleJsonProtocol('AWSStepFunctions.DeleteEverything', {})).toEqual({
      status: 400,
      body: { __type: 'UnknownOperationException', message: expect.any(String) },
    });
    expect(sfn.handleJsonProtocol('AWSStepFunctions.DescribeExecution', {})).toMatchObject({
      status: 400,
      body: { __type: 'ValidationException' },
    });
  });
});
