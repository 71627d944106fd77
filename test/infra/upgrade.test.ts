import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { App, type CfnElement, type Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import type { IConstruct } from 'constructs';
import { describe, expect, it } from 'vitest';
import { FUNCTIONS, STATE_MACHINES } from '../../functions/registry';
import { ROOT } from '../../infra/aws/bundling';
import { TABLE_NAME_CONTEXT } from '../../infra/aws/constructs/data';
import { STUB_CODE_CONTEXT } from '../../infra/aws/constructs/functions';
import { referencedFunctions } from '../../infra/aws/constructs/workflows';
import { addNagChecks } from '../../infra/aws/nag';
import { GantryStack } from '../../infra/aws/stack';
import { functionArn } from '../../infra/local/arns';
import { invokeLocal, localFunctionOf } from '../../infra/local/functions';
import { ENV } from '../../shared/adapters/runtime';
import { TABLE } from '../../shared/adapters/store/table';

/**
 * Issue 16 item 9: a `cdk deploy` of new code lands under executions that wait days for an approval.
 * Each build is the stack as infra/aws/app.ts makes it (nag included), with stub code tagged with a
 * build name, so the two builds differ exactly as two bundles do: in the code of every function.
 */

interface CfnResource {
  Type: string;
  Properties: Record<string, unknown>;
  DeletionPolicy?: string;
  UpdateReplacePolicy?: string;
}
interface Statement {
  Effect: string;
  Action: string | string[];
  Resource: unknown;
}

function synth(context: Record<string, unknown>) {
  const app = new App({ context: { [STUB_CODE_CONTEXT]: true, ...context } });
  const stack = new GantryStack(app, 'Test');
  addNagChecks(app);
  const resources = Template.fromStack(stack).toJSON().Resources as Record<string, CfnResource>;
  return { stack, resources };
}
type Build = ReturnType<typeof synth>;

const logicalIdOf = (stack: Stack, construct: IConstruct) =>
  stack.resolve((construct.node.defaultChild as CfnElement).logicalId) as string;
const list = <T>(value: T | T[]): T[] => (Array.isArray(value) ? value : [value]);
const machine = STATE_MACHINES[0];
const invoked = referencedFunctions(readFileSync(join(ROOT, machine.file), 'utf8'), machine.file);

function stateMachineOf(build: Build) {
  const found = Object.values(build.resources).filter((r) => r.Type === 'AWS::StepFunctions::StateMachine');
  expect(found).toHaveLength(1);
  return found[0]?.Properties as {
    DefinitionSubstitutions: Record<string, { Ref: string }>;
    RoleArn: { 'Fn::GetAtt': [string, string] };
  };
}

/** Each ASL key -> the version resource the definition names (its Ref is the qualified ARN). */
function versionsNamed(build: Build): Record<string, string> {
  return Object.fromEntries(
    Object.entries(stateMachineOf(build).DefinitionSubstitutions).map(([key, value]) => [key, value.Ref]),
  );
}

function statementsOf(build: Build, roleLogicalId: string): Statement[] {
  return Object.values(build.resources)
    .filter((r) => r.Type === 'AWS::IAM::Policy')
    .filter((r) => JSON.stringify(r.Properties.Roles).includes(JSON.stringify({ Ref: roleLogicalId })))
    .flatMap((r) => (r.Properties.PolicyDocument as { Statement: Statement[] }).Statement)
    .filter((s) => s.Effect === 'Allow');
}

/** A resource of a statement as IAM sees it in account 123456789012, eu-west-1 (function names = logical ids). */
function render(value: unknown): string {
  if (typeof value === 'string') return value;
  const getAtt = (value as { 'Fn::GetAtt'?: [string, string] })['Fn::GetAtt'];
  if (getAtt) return `arn:aws:lambda:eu-west-1:123456789012:function:${getAtt[0]}`;
  const join = (value as { 'Fn::Join'?: [string, unknown[]] })['Fn::Join'];
  if (join) return join[1].map(render).join(join[0]);
  throw new Error(`Cannot render ${JSON.stringify(value)}`);
}
const arnMatches = (pattern: string, arn: string) =>
  new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`).test(arn);

describe('upgrades under running rollouts: an execution finishes on the build it started with', () => {
  // Prepare: two builds of the same stack, and build 1 again (an unchanged redeploy).
  const build1 = synth({ [STUB_CODE_CONTEXT]: 'build-1' });
  const build2 = synth({ [STUB_CODE_CONTEXT]: 'build-2' });
  const build1Again = synth({ [STUB_CODE_CONTEXT]: 'build-1' });
  const named1 = versionsNamed(build1);
  const named2 = versionsNamed(build2);

  it('names every step function in the definition by a version of that function', () => {
    expect(Object.keys(named1).sort()).toEqual(invoked.map((spec) => spec.aslKey).sort());
    for (const spec of invoked) {
      const version = build1.resources[named1[spec.aslKey as string] as string];
      expect(version?.Type, spec.id).toBe('AWS::Lambda::Version');
      const fnId = logicalIdOf(build1.stack, build1.stack.functions.get(spec.id).function);
      expect(version?.Properties.FunctionName, spec.id).toEqual({ Ref: fnId });
    }
  });

  it("(a) build 1's definition names other versions than build 2's; an unchanged build names the same", () => {
    for (const spec of invoked) {
      const key = spec.aslKey as string;
      expect(named1[key], spec.id).toBeDefined();
      expect(named2[key], spec.id).not.toBe(named1[key]);
      // Build 1's versions are gone from build 2's template: CloudFormation removes them from the stack...
      expect(build2.resources[named1[key] as string], spec.id).toBeUndefined();
    }
    // ...while the functions themselves are the same resources, updated in place.
    const functionIds = (build: Build) =>
      Object.entries(build.resources)
        .filter(([, r]) => r.Type === 'AWS::Lambda::Function')
        .map(([id]) => id)
        .sort();
    expect(functionIds(build2)).toEqual(functionIds(build1));
    expect(versionsNamed(build1Again)).toEqual(named1);
  });

  it("(b) retains every version, so the deploy of build 2 does not delete the versions build 1's executions invoke", () => {
    for (const build of [build1, build2])
      for (const versionId of Object.values(versionsNamed(build))) {
        // CloudFormation applies the DeletionPolicy of the template that last had the resource:
        // build 1's, when build 2's deploy drops it.
        expect(build.resources[versionId]).toMatchObject({
          DeletionPolicy: 'Retain',
          UpdateReplacePolicy: 'Retain',
        });
      }
  });

  it('(c) lets the state machine role invoke any version of exactly the functions it names', () => {
    for (const build of [build1, build2]) {
      const role = stateMachineOf(build).RoleArn['Fn::GetAtt'][0];
      const patterns = statementsOf(build, role)
        .filter((s) => list(s.Action).includes('lambda:InvokeFunction'))
        .flatMap((s) => list(s.Resource).map(render));
      for (const spec of invoked) {
        const fnId = logicalIdOf(build.stack, build.stack.functions.get(spec.id).function);
        const fn = `arn:aws:lambda:eu-west-1:123456789012:function:${fnId}`;
        // A version build 1 published, one this build published, and the unqualified ARN (executions
        // started before definitions named versions).
        for (const arn of [`${fn}:1`, `${fn}:42`, fn])
          expect(
            patterns.some((p) => arnMatches(p, arn)),
            `${spec.id} ${arn}`,
          ).toBe(true);
      }
      const other = 'arn:aws:lambda:eu-west-1:123456789012:function:SomethingElse:1';
      expect(patterns.some((p) => arnMatches(p, other))).toBe(false);
    }
  });
});

describe('the local runtime invokes qualified ARNs as AWS does', () => {
  it.each(FUNCTIONS.map((spec) => [spec.id, spec] as const))(
    'resolves %s by version and alias',
    (_id, spec) => {
      for (const qualifier of ['', ':7', ':$LATEST', ':live'])
        expect(localFunctionOf(`${functionArn(spec)}${qualifier}`)?.id, qualifier).toBe(spec.id);
    },
  );

  it('runs the handler a qualified ARN names, and refuses an unknown function with or without a qualifier', async () => {
    const meta = FUNCTIONS.find((spec) => spec.id === 'api-meta');
    const event = {
      version: '2.0',
      routeKey: 'GET /healthz',
      rawPath: '/healthz',
      rawQueryString: '',
      headers: {},
      requestContext: {
        http: { method: 'GET', path: '/healthz' },
        requestId: 'r',
        routeKey: 'GET /healthz',
        stage: '$default',
      },
      isBase64Encoded: false,
    };
    await expect(invokeLocal(`${functionArn(meta!)}:7`, event)).resolves.toMatchObject({ statusCode: 200 });
    const unknown = functionArn({ ...meta!, id: 'nope' });
    for (const arn of [unknown, `${unknown}:7`, `${functionArn(meta!)}:7:8`])
      await expect(invokeLocal(arn, event)).rejects.toMatchObject({
        name: 'Lambda.ResourceNotFoundException',
      });
  });
});

describe('taking back the table a destroyed stack retained (context gantry:tableName)', () => {
  // Prepare: the stack as infra/aws/app.ts makes it with `-c gantry:tableName=gantry-old-table`.
  const tableName = 'gantry-old-table';
  const { stack, resources } = synth({ [TABLE_NAME_CONTEXT]: tableName });
  const tableArn = `arn:aws:dynamodb:eu-west-1:123456789012:table/${tableName}`;

  const renderAny = (value: unknown): string => {
    if (typeof value === 'string') return value;
    const ref = (value as { Ref?: string }).Ref;
    if (ref !== undefined)
      return (
        { 'AWS::Partition': 'aws', 'AWS::Region': 'eu-west-1', 'AWS::AccountId': '123456789012' }[ref] ??
        `<${ref}>`
      );
    const join = (value as { 'Fn::Join'?: [string, unknown[]] })['Fn::Join'];
    if (join) return join[1].map(renderAny).join(join[0]);
    return JSON.stringify(value);
  };

  it('creates no table', () => {
    expect(Object.values(resources).filter((r) => r.Type === 'AWS::DynamoDB::Table')).toEqual([]);
  });

  it.each(FUNCTIONS.map((spec) => [spec.id, spec] as const))(
    'points %s at it: GANTRY_TABLE and its grants',
    (_id, spec) => {
      const fn = stack.functions.get(spec.id);
      const fnProps = resources[logicalIdOf(stack, fn.function)]?.Properties as {
        Environment: { Variables: Record<string, unknown> };
      };
      expect(fnProps.Environment.Variables[ENV.table]).toBe(tableName);
      const role = logicalIdOf(stack, fn.role);
      const tableStatements = statementsOf({ stack, resources }, role).filter((s) =>
        list(s.Action).some((a) => a.startsWith('dynamodb:')),
      );
      expect(tableStatements).toHaveLength(1);
      expect(list(tableStatements[0]?.Resource).map(renderAny)).toEqual([
        tableArn,
        ...TABLE.indexes.map((index) => `${tableArn}/index/${index.name}`),
      ]);
    },
  );

  it('outputs the table it uses', () => {
    const outputs = Template.fromStack(stack).toJSON().Outputs as Record<string, { Value: unknown }>;
    expect(outputs.TableName?.Value).toBe(tableName);
  });
});
