import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import {
  SendTaskSuccessCommand,
  SFNClient,
  StartExecutionCommand,
  StopExecutionCommand,
} from '@aws-sdk/client-sfn';
import { DynamoDBDocumentClient, GetCommand, QueryCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FUNCTIONS, type FunctionSpec } from '../../functions/registry';
import { enforceIam, isAllowed, policyOf, requestOf, runAs } from '../../infra/local/iam';
import { ENV } from '../../shared/adapters/runtime';
import { TABLE } from '../../shared/adapters/store/table';

/**
 * The local runtime's IAM check: a call made while a function runs is evaluated against that
 * function's policy (infra/aws/grants.ts) and refused as AWS refuses it.
 */

const spec = (id: string) => FUNCTIONS.find((f) => f.id === id) as FunctionSpec;
const SM = 'arn:aws:states:us-east-1:000000000000:stateMachine:gantry-rollout';
const saved = { ...process.env };
// Nothing listens here: an allowed call fails on the connection, a denied one before it.
const endpoint = 'http://127.0.0.1:9';
const options = {
  endpoint,
  region: 'us-east-1',
  credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
  maxAttempts: 1,
};
const sfn = new SFNClient(options);
const doc = DynamoDBDocumentClient.from(new DynamoDBClient(options));

beforeAll(() => {
  Object.assign(process.env, { [ENV.table]: 'gantry', [ENV.bus]: 'gantry', [ENV.stateMachineArn]: SM });
  enforceIam();
});
afterAll(() => {
  process.env = saved;
});

const errorOf = async (call: () => Promise<unknown>) => {
  try {
    await call();
  } catch (error) {
    return error as Error;
  }
  throw new Error('The call succeeded');
};

describe('a call made while a function runs', () => {
  it('throws AccessDeniedException when the function has no grant for it (api-meta has no taskCallbacks)', async () => {
    const error = await errorOf(() =>
      runAs(spec('api-meta'), () => sfn.send(new SendTaskSuccessCommand({ taskToken: 't', output: '{}' }))),
    );

    expect(error.name).toBe('AccessDeniedException');
    expect(error.message).toContain('gantry-api-meta is not authorized to perform: states:SendTaskSuccess');
  });

  it('goes through when the grant is there (step-complete: the call reaches the network)', async () => {
    const error = await errorOf(() =>
      runAs(spec('step-complete'), () =>
        sfn.send(new SendTaskSuccessCommand({ taskToken: 't', output: '{}' })),
      ),
    );

    expect(error.name).not.toBe('AccessDeniedException');
  });

  it('is not checked outside any function (the runtime itself, tests)', async () => {
    const error = await errorOf(() => sfn.send(new SendTaskSuccessCommand({ taskToken: 't', output: '{}' })));

    expect(error.name).not.toBe('AccessDeniedException');
  });

  it('checks the document client by the operation it sends, on the table and index it names', async () => {
    const meta = spec('api-meta');
    const denied = async (call: () => Promise<unknown>) => (await errorOf(() => runAs(meta, call))).name;

    expect(
      await denied(() => doc.send(new GetCommand({ TableName: 'gantry', Key: { pk: 'a', sk: 'b' } }))),
    ).not.toBe('AccessDeniedException');
    expect(
      await denied(() => doc.send(new GetCommand({ TableName: 'other', Key: { pk: 'a', sk: 'b' } }))),
    ).toBe('AccessDeniedException');
    expect(await denied(() => doc.send(new ScanCommand({ TableName: 'gantry' })))).toBe(
      'AccessDeniedException',
    );
    const index = TABLE.indexes[0]?.name as string;
    const query = (IndexName: string) =>
      doc.send(new QueryCommand({ TableName: 'gantry', IndexName, KeyConditionExpression: 'a = :a' }));
    expect(await denied(() => query(index))).not.toBe('AccessDeniedException');
    expect(await denied(() => query('unlisted'))).toBe('AccessDeniedException');
  });

  it("refuses a lambda agent in another account, as the dispatch role's grant names only its own", async () => {
    process.env[ENV.agentFunctionPrefix] = 'gantry-agent-';
    const lambda = new LambdaClient(options);
    const invoke = (FunctionName: string) =>
      errorOf(() => runAs(spec('step-dispatch'), () => lambda.send(new InvokeCommand({ FunctionName }))));

    expect((await invoke('arn:aws:lambda:us-east-1:123456789012:function:gantry-agent-a')).name).toBe(
      'AccessDeniedException',
    );
    expect((await invoke('gantry-agent-a')).name).not.toBe('AccessDeniedException');
    expect((await invoke('other-function')).name).toBe('AccessDeniedException');
    delete process.env[ENV.agentFunctionPrefix];
  });

  it('keeps the context across awaits and into nested calls', async () => {
    const error = await errorOf(() =>
      runAs(spec('api-meta'), async () => {
        await new Promise((resolve) => setTimeout(resolve, 1));
        await Promise.resolve();
        return sfn.send(new StartExecutionCommand({ stateMachineArn: SM, input: '{}' }));
      }),
    );

    expect(error.name).toBe('AccessDeniedException');
  });
});

describe('the request of a command', () => {
  it.each([
    ['SFN', new StartExecutionCommand({ stateMachineArn: SM }), 'states:StartExecution', SM],
    [
      'SFN',
      new StopExecutionCommand({ executionArn: `${SM.replace('stateMachine', 'execution')}:r1` }),
      'states:StopExecution',
      'arn:aws:states:us-east-1:000000000000:execution:gantry-rollout:r1',
    ],
    [
      'EventBridge',
      new PutEventsCommand({ Entries: [{ EventBusName: 'gantry' }] }),
      'events:PutEvents',
      'arn:aws:events:us-east-1:000000000000:event-bus/gantry',
    ],
    [
      'Secrets Manager',
      new GetSecretValueCommand({ SecretId: 'gantry/local/agent' }),
      'secretsmanager:GetSecretValue',
      'arn:aws:secretsmanager:us-east-1:000000000000:secret:gantry/local/agent-AbCdEf',
    ],
    [
      'Lambda',
      new InvokeCommand({ FunctionName: 'agent-x', Qualifier: 'live' }),
      'lambda:InvokeFunction',
      'arn:aws:lambda:us-east-1:000000000000:function:agent-x:live',
    ],
  ])('%s %s', (service, command, action, resource) => {
    expect(requestOf(service, command)).toEqual({ action, resources: [resource] });
  });

  it('refuses a command it cannot map (map it before calling it)', () => {
    expect(() => requestOf('SFN', new (class ListExecutionsCommand {})())).toThrow(/no IAM mapping/);
  });
});

describe('the policies', () => {
  it('are the stack grants of each function, valid for the evaluator', async () => {
    for (const each of FUNCTIONS) {
      const actions = policyOf(each).Statement.flatMap((s) => s.Action);
      expect(actions.includes('states:SendTaskSuccess'), each.id).toBe(each.needs.includes('taskCallbacks'));
      expect(
        await isAllowed(each, 'dynamodb:GetItem', 'arn:aws:dynamodb:us-east-1:000000000000:table/gantry'),
      ).toBe(true);
    }
  });

  it('wraps the one base class every SDK client inherits', () => {
    const base = Object.getPrototypeOf(DynamoDBClient.prototype);
    for (const client of [
      SFNClient,
      EventBridgeClient,
      SecretsManagerClient,
      LambdaClient,
      CloudWatchClient,
    ]) {
      expect(Object.getPrototypeOf(client.prototype)).toBe(base);
    }
    expect(Object.getPrototypeOf(DynamoDBDocumentClient.prototype)).toBe(base);
  });

  it('decides thousands of cached calls per second', async () => {
    const step = spec('step-evaluate');
    const table = 'arn:aws:dynamodb:us-east-1:000000000000:table/gantry';
    await isAllowed(step, 'dynamodb:Query', table);
    const started = performance.now();
    for (let i = 0; i < 10_000; i++) await isAllowed(step, 'dynamodb:Query', table);
    expect(performance.now() - started).toBeLessThan(1000);
  });
});
