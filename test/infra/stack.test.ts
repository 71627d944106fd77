import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { App, type CfnElement, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { Queue } from 'aws-cdk-lib/aws-sqs';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { describe, expect, it } from 'vitest';
import { ROUTES, routeKey, UNKNOWN_ROUTE_FUNCTION } from '../../functions/http/routes';
import {
  aslSubstitutions,
  FUNCTIONS,
  type FunctionSpec,
  type Need,
  STATE_MACHINES,
  substitute,
} from '../../functions/registry';
import { ROOT, RUNTIME } from '../../infra/aws/bundling';
import { STUB_CODE_CONTEXT } from '../../infra/aws/constructs/functions';
import { referencedFunctions } from '../../infra/aws/constructs/workflows';
import { addNagChecks } from '../../infra/aws/nag';
import { GantryStack } from '../../infra/aws/stack';
import { EVENT_SOURCE } from '../../shared/adapters/events';
import { ENV } from '../../shared/adapters/runtime';
import { TABLE } from '../../shared/adapters/store/table';

// Prepare: the app as infra/aws/app.ts builds it (nag plugin included), with stub code so no bundling
// runs. Template.fromStack synthesizes, which fails on a dependency cycle between resources (the state
// machine and the functions it invokes are the risk) and, through the nag plugin, on any finding.
const app = new App({ context: { [STUB_CODE_CONTEXT]: true } });
const stack = new GantryStack(app, 'Test');
addNagChecks(app);
const template = Template.fromStack(stack);
const resources = template.toJSON().Resources as Record<string, CfnResourceJson>;

interface CfnResourceJson {
  Type: string;
  Properties: Record<string, unknown>;
}
interface Statement {
  Effect: string;
  Action: string | string[];
  Resource: unknown;
}
interface PolicyProps {
  Roles: unknown[];
  PolicyDocument: { Statement: Statement[] };
}

function propsOf<T>(id: string): T {
  const resource = resources[id];
  if (!resource) throw new Error(`No resource ${id}`);
  return resource.Properties as T;
}
const policies = Object.values(resources)
  .filter((r) => r.Type === 'AWS::IAM::Policy')
  .map((r) => r.Properties as unknown as PolicyProps);

const logicalId = (construct: IConstruct) =>
  stack.resolve((construct.node.defaultChild as CfnElement).logicalId) as string;
const fnOf = (id: string) => stack.functions.get(id);
const fnLogicalId = (id: string) => logicalId(fnOf(id).function);
const getAttArn = (id: string) => ({ 'Fn::GetAtt': [id, 'Arn'] });
const list = <T>(value: T | T[]): T[] => (Array.isArray(value) ? value : [value]);

/** Every Allow statement of the policies attached to a role. */
function statementsOf(roleLogicalId: string): Statement[] {
  return policies
    .filter((p) => p.Roles.some((role) => JSON.stringify(role) === JSON.stringify({ Ref: roleLogicalId })))
    .flatMap((p) => p.PolicyDocument.Statement)
    .filter((s) => s.Effect === 'Allow');
}
const functionStatements = (spec: FunctionSpec) => statementsOf(logicalId(fnOf(spec.id).role));
const allows = (statements: Statement[], action: string) =>
  statements.filter((s) => list(s.Action).includes(action));

describe('GantryStack', () => {
  describe('cdk-nag (AwsSolutions)', () => {
    it('has no finding left unacknowledged', () => {
      const report = new AwsSolutionsChecks().validateScope(app);
      expect(report.violations.map((v) => `${v.ruleName} ${v.violatingResources[0]?.constructPath}`)).toEqual(
        [],
      );
    });

    it('fails synthesis on an unacknowledged finding (the plugin is really wired)', () => {
      const other = new App();
      const bad = new Stack(other, 'Bad');
      new Queue(bad, 'Plain', { enforceSSL: false });
      addNagChecks(other);
      expect(() => other.synth()).toThrow(/AwsSolutions-SQS/);
    });
  });

  describe('API', () => {
    const routes = template.findResources('AWS::ApiGatewayV2::Route');
    const integrations = template.findResources('AWS::ApiGatewayV2::Integration');
    const apiId = logicalId(stack.api.httpApi);

    it.each(ROUTES.map((route) => [routeKey(route), route] as const))(
      'routes %s to its function',
      (key, route) => {
        const found = Object.values(routes).filter((r) => r.Properties.RouteKey === key);
        expect(found).toHaveLength(1);
        const target = found[0]!.Properties.Target as { 'Fn::Join': [string, [string, { Ref: string }]] };
        expect(target['Fn::Join'][1][0]).toBe('integrations/');
        const integration = integrations[target['Fn::Join'][1][1].Ref];
        expect(integration?.Properties).toMatchObject({
          ApiId: { Ref: apiId },
          IntegrationType: 'AWS_PROXY',
          IntegrationUri: getAttArn(fnLogicalId(route.fn)),
          PayloadFormatVersion: '2.0',
        });
      },
    );

    it('lets this API, and nothing else, invoke each function that serves a route', () => {
      for (const fn of new Set(ROUTES.map((route) => route.fn))) {
        template.hasResourceProperties('AWS::Lambda::Permission', {
          Action: 'lambda:InvokeFunction',
          FunctionName: getAttArn(fnLogicalId(fn)),
          Principal: 'apigateway.amazonaws.com',
          SourceArn: {
            'Fn::Join': ['', Match.arrayWith([':execute-api:', { Ref: apiId }, '/*/*/*'])],
          },
        });
      }
      const permissions = Object.values(template.findResources('AWS::Lambda::Permission'));
      expect(permissions.map((p) => p.Properties.Principal)).not.toContain('*');
    });

    it('lets every route, $default included, invoke its function (the SourceArn matches the route ARN)', () => {
      // What API Gateway sends as the invoke's source: <api>/<stage>/<method>/<path>, or
      // <api>/<stage>/$default for the catch-all route; permissions match it with IAM's wildcards.
      const permissions = Object.values(template.findResources('AWS::Lambda::Permission'))
        .map((p) => p.Properties)
        .filter((p) => p.Principal === 'apigateway.amazonaws.com' && p.Action === 'lambda:InvokeFunction');
      const unmatched = Object.values(routes).filter((route) => {
        const key = route.Properties.RouteKey as string;
        const target = route.Properties.Target as { 'Fn::Join': [string, [string, { Ref: string }]] };
        const fn = integrations[target['Fn::Join'][1][1].Ref]?.Properties.IntegrationUri;
        const arn =
          `arn:aws:execute-api:eu-west-1:123456789012:API/$default/` +
          (key === '$default' ? '$default' : key.replace(' ', ''));
        return !permissions.some(
          (p) =>
            JSON.stringify(p.FunctionName) === JSON.stringify(fn) &&
            arnMatches(renderArn(p.SourceArn, { [apiId]: 'API' }), arn),
        );
      });
      expect(unmatched.map((route) => route.Properties.RouteKey)).toEqual([]);
      expect(Object.keys(routes).length).toBe(ROUTES.length + 1);
    });

    it('matches ARNs with wildcards as AWS does (the check above cannot pass vacuously)', () => {
      expect(arnMatches('arn:aws:x:r:a:API/*/*/*', 'arn:aws:x:r:a:API/$default/GET/v1/a')).toBe(true);
      expect(arnMatches('arn:aws:x:r:a:API/*/*/*', 'arn:aws:x:r:a:API/$default/$default')).toBe(false);
      expect(arnMatches('arn:aws:x:r:a:API/*/$default', 'arn:aws:x:r:a:API/$default/$default')).toBe(true);
      expect(arnMatches('arn:aws:x:r:a:API/?/x', 'arn:aws:x:r:a:API/ab/x')).toBe(false);
    });

    it('serves no route that ROUTES does not list, and $default for everything else', () => {
      const keys = Object.values(routes).map((r) => r.Properties.RouteKey as string);
      expect(keys.sort()).toEqual([...ROUTES.map(routeKey), '$default'].sort());
    });

    it('sends an unlisted method or path to the function that answers the contract 404', () => {
      const [fallback] = Object.values(routes).filter((r) => r.Properties.RouteKey === '$default');
      const target = fallback!.Properties.Target as { 'Fn::Join': [string, [string, { Ref: string }]] };
      expect(integrations[target['Fn::Join'][1][1].Ref]?.Properties).toMatchObject({
        IntegrationUri: getAttArn(fnLogicalId(UNKNOWN_ROUTE_FUNCTION)),
        PayloadFormatVersion: '2.0',
      });
    });

    it('serves them from the $default stage, auto-deployed, throttled, with access logs', () => {
      template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
        ApiId: { Ref: apiId },
        StageName: '$default',
        AutoDeploy: true,
        AccessLogSettings: { DestinationArn: getAttArn(logicalId(stack.api.accessLogs)) },
        DefaultRouteSettings: {
          ThrottlingRateLimit: Match.anyValue(),
          ThrottlingBurstLimit: Match.anyValue(),
        },
      });
    });
  });

  describe.each(STATE_MACHINES)('state machine $id', (machine) => {
    const asl = readFileSync(join(ROOT, machine.file), 'utf8');
    const smId = logicalId(stack.workflows.get(machine.id));
    const props = propsOf<{
      DefinitionString: unknown;
      DefinitionSubstitutions: Record<string, unknown>;
      RoleArn: { 'Fn::GetAtt': [string, string] };
      LoggingConfiguration: unknown;
      TracingConfiguration: unknown;
    }>(smId);
    const invoked = referencedFunctions(asl, machine.file);

    it('runs the ASL file with each placeholder filled by the published version of its registry function', () => {
      expect(typeof props.DefinitionString).toBe('string');
      // A version's Ref is its qualified ARN (`...:function:NAME:7`): the code the execution started with.
      const asLogicalIds = Object.fromEntries(
        Object.entries(props.DefinitionSubstitutions).map(([key, value]) => {
          const versionId = (value as { Ref: string }).Ref;
          expect(resources[versionId]?.Type, key).toBe('AWS::Lambda::Version');
          return [key, propsOf<{ FunctionName: { Ref: string } }>(versionId).FunctionName.Ref];
        }),
      );
      const deployed = JSON.parse(substitute(props.DefinitionString as string, asLogicalIds));
      const expected = JSON.parse(
        substitute(
          asl,
          aslSubstitutions((spec) => fnLogicalId(spec.id)),
        ),
      );
      expect(deployed).toEqual(expected);
    });

    it('may invoke exactly the functions it references, in every version', () => {
      const statements = statementsOf(props.RoleArn['Fn::GetAtt'][0]);
      const lambdaStatements = statements.filter((s) => list(s.Action).some((a) => a.startsWith('lambda:')));
      expect(lambdaStatements.flatMap((s) => list(s.Action))).toEqual(['lambda:InvokeFunction']);
      const granted = lambdaStatements.flatMap((s) => list(s.Resource));
      const expected = invoked.flatMap((spec) => [
        getAttArn(fnLogicalId(spec.id)),
        { 'Fn::Join': ['', [getAttArn(fnLogicalId(spec.id)), ':*']] },
      ]);
      expect(granted).toEqual(expect.arrayContaining(expected));
      expect(granted).toHaveLength(expected.length);
    });

    it('logs every execution event (without execution data) and traces', () => {
      expect(props.LoggingConfiguration).toMatchObject({ Level: 'ALL', IncludeExecutionData: false });
      expect(props.TracingConfiguration).toEqual({ Enabled: true });
    });
  });

  it('names the rollout state machine in every function (GANTRY_STATE_MACHINE_ARN)', () => {
    const name = propsOf<{ StateMachineName: unknown }>(
      logicalId(stack.workflows.get('rollout')),
    ).StateMachineName;
    const arn = {
      'Fn::Join': [
        '',
        [
          'arn:',
          { Ref: 'AWS::Partition' },
          ':states:',
          { Ref: 'AWS::Region' },
          ':',
          { Ref: 'AWS::AccountId' },
          ':stateMachine:',
          name,
        ],
      ],
    };
    for (const spec of FUNCTIONS) expect(environmentOf(spec)[ENV.stateMachineArn], spec.id).toEqual(arn);
  });

  describe('data', () => {
    it('keeps the table: retained, protected, point-in-time recovery, TTL, keys from shared/adapters/store/table.ts', () => {
      template.hasResource('AWS::DynamoDB::Table', {
        DeletionPolicy: 'Retain',
        UpdateReplacePolicy: 'Retain',
        Properties: {
          BillingMode: 'PAY_PER_REQUEST',
          DeletionProtectionEnabled: true,
          PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
          TimeToLiveSpecification: { AttributeName: TABLE.ttlAttribute, Enabled: true },
          SSESpecification: { SSEEnabled: true },
          KeySchema: [
            { AttributeName: TABLE.partitionKey, KeyType: 'HASH' },
            { AttributeName: TABLE.sortKey, KeyType: 'RANGE' },
          ],
          GlobalSecondaryIndexes: TABLE.indexes.map((index) =>
            Match.objectLike({
              IndexName: index.name,
              KeySchema: [
                { AttributeName: index.partitionKey, KeyType: 'HASH' },
                { AttributeName: index.sortKey, KeyType: 'RANGE' },
              ],
            }),
          ),
        },
      });
    });
  });

  describe.each(FUNCTIONS.map((spec) => [spec.id, spec] as const))('function %s', (_id, spec) => {
    const fnId = fnLogicalId(spec.id);
    const props = propsOf<Record<string, unknown>>(fnId);
    const statements = functionStatements(spec);
    const has = (need: Need) => spec.needs.includes(need);

    it('runs on arm64, the chosen Node LTS, traced, sized from the registry, logging to its own group', () => {
      expect(props).toMatchObject({
        Architectures: ['arm64'],
        Runtime: RUNTIME.name,
        TracingConfig: { Mode: 'Active' },
        MemorySize: spec.memoryMb,
        Timeout: spec.timeoutSeconds,
        Handler: `index.${spec.handler}`,
      });
      const logGroup = (props.LoggingConfig as { LogGroup: { Ref: string } }).LogGroup.Ref;
      expect(propsOf<{ RetentionInDays: number }>(logGroup).RetentionInDays).toBeGreaterThan(0);
    });

    it('gets the variables shared/adapters/runtime.ts reads, and source maps', () => {
      const env = environmentOf(spec);
      expect(env).toMatchObject({
        [ENV.table]: { Ref: logicalId(stack.data.table) },
        [ENV.bus]: { Ref: logicalId(stack.events.bus) },
        [ENV.publicUrl]: { 'Fn::GetAtt': [logicalId(stack.api.httpApi), 'ApiEndpoint'] },
        NODE_OPTIONS: '--enable-source-maps',
      });
      expect(env[ENV.apiKeysSecretId] !== undefined).toBe(has('apiKeys'));
      expect(env[ENV.secretPrefix] !== undefined).toBe(has('agentSecrets'));
      expect(env[ENV.agentFunctionPrefix]).toBe(has('agentFunctions') ? 'test-agent-' : undefined);
      const slackSecretIds = ['GANTRY_SLACK_WEBHOOK_SECRET_ID', 'GANTRY_SLACK_SIGNING_SECRET_ID'];
      expect(slackSecretIds.map((name) => env[name] !== undefined)).toEqual([has('slack'), has('slack')]);
    });

    it('gets exactly the grants its needs name', () => {
      expect(allows(statements, 'dynamodb:PutItem').length > 0).toBe(has('table'));
      expect(allows(statements, 'events:PutEvents').length > 0).toBe(has('events'));
      expect(allows(statements, 'states:StartExecution').length > 0).toBe(has('executions'));
      expect(allows(statements, 'states:StopExecution').length > 0).toBe(has('executions'));
      expect(allows(statements, 'states:SendTaskSuccess').length > 0).toBe(has('taskCallbacks'));
      expect(allows(statements, 'lambda:InvokeFunction').length > 0).toBe(has('agentFunctions'));
      for (const s of allows(statements, 'lambda:InvokeFunction')) {
        expect(list(s.Resource)).toEqual([
          {
            'Fn::Join': [
              '',
              [
                'arn:',
                { Ref: 'AWS::Partition' },
                ':lambda:',
                { Ref: 'AWS::Region' },
                ':',
                { Ref: 'AWS::AccountId' },
                ':function:test-agent-*',
              ],
            ],
          },
        ]);
      }
      for (const s of allows(statements, 'dynamodb:PutItem')) {
        expect(list(s.Resource)).toEqual([
          getAttArn(logicalId(stack.data.table)),
          ...TABLE.indexes.map((index) => ({
            'Fn::Join': ['', [getAttArn(logicalId(stack.data.table)), `/index/${index.name}`]],
          })),
        ]);
      }
    });

    it('reads only the secrets its needs name, each one by ARN or by the stack prefix', () => {
      const secretStatements = statements.filter((s) =>
        list(s.Action).some((a) => a.startsWith('secretsmanager:')),
      );
      const resourcesRead = secretStatements.flatMap((s) => list(s.Resource));
      const expected: unknown[] = [];
      if (has('apiKeys')) expected.push({ Ref: logicalId(stack.secrets.apiKeys) });
      if (has('slack')) {
        expected.push({ Ref: logicalId(stack.secrets.slackWebhookUrl) });
        expected.push({ Ref: logicalId(stack.secrets.slackSigningSecret) });
      }
      if (has('agentSecrets')) {
        expected.push({
          'Fn::Join': [
            '',
            [
              'arn:',
              { Ref: 'AWS::Partition' },
              ':secretsmanager:',
              { Ref: 'AWS::Region' },
              ':',
              { Ref: 'AWS::AccountId' },
              ':secret:gantry/Test/*',
            ],
          ],
        });
      }
      const sorted = (items: unknown[]) => items.map((item) => JSON.stringify(item)).sort();
      expect(sorted(resourcesRead)).toEqual(sorted(expected));
      if (has('agentSecrets')) expect(environmentOf(spec)[ENV.secretPrefix]).toBe('gantry/Test/');
    });

    it('has error and throttle alarms', () => {
      for (const metric of ['Errors', 'Throttles']) {
        template.hasResourceProperties('AWS::CloudWatch::Alarm', {
          Namespace: 'AWS/Lambda',
          MetricName: metric,
          Dimensions: [{ Name: 'FunctionName', Value: { Ref: fnId } }],
        });
      }
    });
  });

  describe.each(FUNCTIONS.filter((spec) => spec.kind === 'event').map((spec) => [spec.id, spec] as const))(
    'event consumer %s',
    (_id, spec) => {
      const fnId = fnLogicalId(spec.id);
      it('receives its detail types from the bus, failures parked in the DLQ', () => {
        const dlq = getAttArn(logicalId(stack.events.deadLetterQueue));
        template.hasResourceProperties('AWS::Events::Rule', {
          EventBusName: { Ref: logicalId(stack.events.bus) },
          EventPattern: { source: [EVENT_SOURCE], 'detail-type': spec.subscribes },
          Targets: [Match.objectLike({ Arn: getAttArn(fnId), DeadLetterConfig: { Arn: dlq } })],
        });
        template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
          FunctionName: { Ref: fnId },
          DestinationConfig: { OnFailure: { Destination: dlq } },
        });
      });
    },
  );

  it('grants a bare "*" resource only for X-Ray, log delivery and CloudWatch metric reads, which have nothing narrower', () => {
    // The IAM5[Resource::*] acknowledgements on each role rest on this.
    const starActions = policies
      .flatMap((p) => p.PolicyDocument.Statement)
      .filter((s) => list(s.Resource).includes('*'))
      .flatMap((s) => list(s.Action));
    expect(
      starActions.filter(
        (action) =>
          !/^(xray:|cloudwatch:(GetMetricData|DescribeAlarms)$|logs:(\w+LogDelivery|\w+LogDeliveries|\w+ResourcePolic\w+|DescribeLogGroups)$)/.test(
            action,
          ),
      ),
    ).toEqual([]);
  });

  it('lets no function read a secret through a bare wildcard', () => {
    const secretResources = policies
      .flatMap((p) => p.PolicyDocument.Statement)
      .filter((s) => list(s.Action).some((a) => a.startsWith('secretsmanager:')))
      .flatMap((s) => list(s.Resource));
    expect(secretResources).not.toContain('*');
  });

  it('sets no variable that the code does not read', () => {
    const source = ['shared', 'functions']
      .flatMap((dir) => walk(join(ROOT, dir)))
      .filter((file) => file.endsWith('.ts'))
      .map((file) => readFileSync(file, 'utf8'))
      .join('\n');
    const names = new Set(FUNCTIONS.flatMap((spec) => Object.keys(environmentOf(spec))));
    names.delete('NODE_OPTIONS');
    expect([...names].filter((name) => !source.includes(`'${name}'`))).toEqual([]);
  });

  it('alarms on failed and timed-out executions, API 5xx and dead letters', () => {
    const alarmOn = (namespace: string, metricName: string) =>
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        Namespace: namespace,
        MetricName: metricName,
      });
    alarmOn('AWS/States', 'ExecutionsFailed');
    alarmOn('AWS/States', 'ExecutionsTimedOut');
    alarmOn('AWS/ApiGateway', '5xx');
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: [
        {
          Name: 'QueueName',
          Value: { 'Fn::GetAtt': [logicalId(stack.events.deadLetterQueue), 'QueueName'] },
        },
      ],
    });
  });

  it('outputs what a team needs after deploying', () => {
    expect(Object.keys(template.findOutputs('*')).sort()).toEqual(
      [
        'ApiKeysSecretArn',
        'ApiUrl',
        'EventBusName',
        'NamedSecretPrefix',
        'SlackSigningSecretArn',
        'SlackWebhookUrlSecretArn',
        'StateMachineArn',
        'TableName',
      ].sort(),
    );
  });
});

function environmentOf(spec: FunctionSpec): Record<string, unknown> {
  return propsOf<{ Environment: { Variables: Record<string, unknown> } }>(fnLogicalId(spec.id)).Environment
    .Variables;
}

/** A template value (`Fn::Join` of `Ref`s) as the string it deploys to, in eu-west-1 of account 123456789012. */
function renderArn(value: unknown, refs: Record<string, string>): string {
  const known: Record<string, string> = {
    'AWS::Partition': 'aws',
    'AWS::Region': 'eu-west-1',
    'AWS::AccountId': '123456789012',
    ...refs,
  };
  if (typeof value === 'string') return value;
  const ref = (value as { Ref?: string }).Ref;
  if (ref !== undefined) {
    if (!(ref in known)) throw new Error(`No value for Ref ${ref}`);
    return known[ref] as string;
  }
  const join = (value as { 'Fn::Join'?: [string, unknown[]] })['Fn::Join'];
  if (join) return join[1].map((part) => renderArn(part, refs)).join(join[0]);
  throw new Error(`Cannot render ${JSON.stringify(value)}`);
}

/** IAM's ARN matching: `*` is any run of characters (slashes too), `?` exactly one. */
function arnMatches(pattern: string, arn: string): boolean {
  const source = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${source}$`).test(arn);
}

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? walk(path) : [path];
  });
}
