import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { STUB_CODE_CONTEXT } from '../../infra/aws/constructs/functions';
import { GantryStack } from '../../infra/aws/stack';
import { ENV } from '../../shared/adapters/runtime';

/** Issue 17: `-c gantry:outboundAllow=...` is GANTRY_OUTBOUND_ALLOW of every function; a bad value stops the synth. */
const stubApp = () => new App({ context: { [STUB_CODE_CONTEXT]: true } });

function functionEnvironments(stack: GantryStack): Record<string, unknown>[] {
  const functions = Template.fromStack(stack).findResources('AWS::Lambda::Function');
  return Object.values(functions).map(
    (fn) => (fn.Properties as { Environment: { Variables: Record<string, unknown> } }).Environment.Variables,
  );
}

describe('gantry:outboundAllow', () => {
  it('sets GANTRY_OUTBOUND_ALLOW on every function', () => {
    const stack = new GantryStack(stubApp(), 'Allowed', { outboundAllow: '10.20.0.0/16,private' });

    const environments = functionEnvironments(stack);

    expect(environments.length).toBeGreaterThan(5);
    expect(environments.map((env) => env[ENV.outboundAllow])).toEqual(
      environments.map(() => '10.20.0.0/16,private'),
    );
  });

  it('refuses a value that does not parse, naming the entry', () => {
    expect(() => new GantryStack(stubApp(), 'Bad', { outboundAllow: 'loopback,10.0.0.0/33' })).toThrow(
      'GANTRY_OUTBOUND_ALLOW: "10.0.0.0/33" is neither a CIDR nor one of loopback, private, link-local',
    );
  });
});
