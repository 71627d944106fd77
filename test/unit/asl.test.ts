import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import aslValidator from 'asl-validator';
import { describe, expect, it } from 'vitest';
import { aslSubstitutions, FUNCTIONS, STATE_MACHINES, substitute } from '../../functions/registry';
import { LocalStepFunctions } from '../../infra/local/stepfunctions';

const ROOT = join(import.meta.dirname, '../..');
/** AWS's documented transient errors of a Lambda integration (Step Functions developer guide). */
const TRANSIENT_LAMBDA_ERRORS = [
  'Lambda.ServiceException',
  'Lambda.AWSLambdaException',
  'Lambda.SdkClientException',
  'Lambda.TooManyRequestsException',
  'Lambda.ClientExecutionTimeoutException',
];
interface Retrier {
  ErrorEquals: string[];
  MaxAttempts?: number;
  BackoffRate?: number;
  JitterStrategy?: string;
}
const arnOf = (id: string) => `arn:aws:lambda:us-east-1:123456789012:function:gantry-${id}`;

describe.each(STATE_MACHINES)('statemachine $file', ({ file }) => {
  const raw = readFileSync(join(ROOT, file), 'utf8');
  const definition = JSON.parse(
    substitute(
      raw,
      aslSubstitutions((f) => arnOf(f.id)),
    ),
  ) as {
    States: Record<
      string,
      { Type: string; Resource?: string; Parameters?: { FunctionName?: string }; Retry?: Retrier[] }
    >;
  };

  it('is valid ASL once substituted', () => {
    const { isValid, errorsText } = aslValidator(definition as never);
    expect(isValid, errorsText('\n')).toBe(true);
  });

  it('uses every placeholder it names, and each one from the registry', () => {
    const placeholders = [...raw.matchAll(/\$\{([A-Za-z0-9_]+)\}/g)].map((m) => m[1]);
    const registered = new Set(FUNCTIONS.map((f) => f.aslKey).filter(Boolean));
    for (const key of placeholders) expect(registered).toContain(key);
  });

  it('writes JSONPath only (the local engine and AWS agree on it)', () => {
    expect(raw).not.toContain('QueryLanguage');
    expect(raw).not.toContain('{%');
  });

  it('is accepted by the local engine', () => {
    const engine = new LocalStepFunctions({ invokeFunction: async () => ({}) });
    expect(() =>
      engine.createStateMachine('arn:aws:states:us-east-1:123456789012:stateMachine:x', definition),
    ).not.toThrow();
    engine.close();
  });

  it('retries every Lambda task on the five transient Lambda errors, with backoff, jitter and a bound', () => {
    for (const [name, state] of Object.entries(definition.States)) {
      if (state.Type !== 'Task') continue;
      for (const error of TRANSIENT_LAMBDA_ERRORS) {
        const retrier = (state.Retry ?? []).find(
          (r) => r.ErrorEquals.includes(error) || r.ErrorEquals.includes('States.ALL'),
        );
        expect(retrier, `${name} retries ${error}`).toBeDefined();
        expect(retrier?.BackoffRate, `${name} ${error} BackoffRate`).toBe(2);
        expect(retrier?.JitterStrategy, `${name} ${error} JitterStrategy`).toBe('FULL');
        expect(retrier?.MaxAttempts, `${name} ${error} MaxAttempts`).toBeGreaterThan(0);
        expect(retrier?.MaxAttempts, `${name} ${error} MaxAttempts`).toBeLessThanOrEqual(10);
      }
    }
  });

  it('gives every callback task a timeout (AWS has no default; a lost callback must not hang forever)', () => {
    for (const [name, state] of Object.entries(definition.States)) {
      if (state.Resource?.endsWith('.waitForTaskToken')) {
        expect(JSON.stringify(state), name).toMatch(/TimeoutSeconds(Path)?/);
      }
    }
  });
});
