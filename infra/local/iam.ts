import { AsyncLocalStorage } from 'node:async_hooks';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { runSimulation, runUnsafeSimulation } from '@cloud-copilot/iam-simulate';
import type { FunctionSpec } from '../../functions/registry';
import { ENV } from '../../shared/adapters/runtime';
import { type GrantResources, grantsOf } from '../aws/grants';
import { LOCAL_ACCOUNT, LOCAL_REGION } from './arns';

/**
 * IAM in the local runtime: every AWS SDK call a function makes is evaluated against the policy the
 * stack gives that function's role (infra/aws/grants.ts, with local ARNs) by a real policy
 * evaluator, and a denied call throws AccessDeniedException as AWS answers it. The function is the
 * one whose handler the local runtime is running (`runAs`); calls outside any handler (the runtime's
 * own start, tests) are not checked.
 */

const running = new AsyncLocalStorage<FunctionSpec>();

/** Runs `body` as `spec`: the AWS calls it makes, however deep, are checked against `spec`'s role. */
export function runAs<T>(spec: FunctionSpec, body: () => T): T {
  return running.run(spec, body);
}

export const currentFunction = (): FunctionSpec | undefined => running.getStore();

export class AccessDeniedException extends Error {
  readonly $fault = 'client';
  readonly $metadata = { httpStatusCode: 400 };
  constructor(spec: FunctionSpec, action: string, resource: string) {
    super(
      `User: arn:aws:sts::${LOCAL_ACCOUNT}:assumed-role/gantry-${spec.id}/gantry-${spec.id} is not ` +
        `authorized to perform: ${action} on resource: ${resource} because no identity-based policy ` +
        `allows the ${action} action`,
    );
    this.name = 'AccessDeniedException';
  }
}

const arn = (service: string, resource: string) =>
  `arn:aws:${service}:${LOCAL_REGION}:${LOCAL_ACCOUNT}:${resource}`;

/** A secret named without its ARN: AWS appends six random characters to every secret's name. */
const secretArn = (id: string) => (id.startsWith('arn:') ? id : arn('secretsmanager', `secret:${id}-AbCdEf`));

/** The resources of infra/aws/grants.ts as the local runtime names them (from its environment). */
export function localGrantResources(env: NodeJS.ProcessEnv = process.env): GrantResources {
  const stateMachineArn = env[ENV.stateMachineArn] ?? arn('states', 'stateMachine:gantry-rollout');
  return {
    tableArn: arn('dynamodb', `table/${env[ENV.table] ?? 'gantry'}`),
    busArn: arn('events', `event-bus/${env[ENV.bus] ?? 'gantry'}`),
    stateMachineArn,
    executionsArn: `${stateMachineArn.replace(':stateMachine:', ':execution:')}:*`,
    apiKeysSecretArn: secretArn(env[ENV.apiKeysSecretId] ?? 'gantry/local/api-keys'),
    slackWebhookSecretArn: secretArn(env[ENV.slackWebhookSecretId] ?? 'gantry/local/slack-webhook-url'),
    slackSigningSecretArn: secretArn(env[ENV.slackSigningSecretId] ?? 'gantry/local/slack-signing-secret'),
    oidcClientSecretArn: secretArn(env[ENV.oidcClientSecretId] ?? 'gantry/local/oidc-client-secret'),
    namedSecretsArn: arn('secretsmanager', `secret:${env[ENV.secretPrefix] ?? ''}*`),
    agentFunctionsArn: arn('lambda', `function:${env[ENV.agentFunctionPrefix] ?? ''}*`),
  };
}

export interface PolicyDocument {
  Version: '2012-10-17';
  Statement: { Effect: 'Allow'; Action: string[]; Resource: string[] }[];
}

/** The identity policy of a function's role, as the stack renders it (without logs and X-Ray). */
export function policyOf(spec: FunctionSpec, resources = localGrantResources()): PolicyDocument {
  return {
    Version: '2012-10-17',
    Statement: grantsOf(spec, resources).map((s) => ({
      Effect: 'Allow',
      Action: s.actions,
      Resource: s.resources,
    })),
  };
}

// ---- what an SDK call asks for ------------------------------------------------------------------

const SERVICE_PREFIX: Record<string, string> = {
  DynamoDB: 'dynamodb',
  SFN: 'states',
  EventBridge: 'events',
  'Secrets Manager': 'secretsmanager',
  Lambda: 'lambda',
  CloudWatch: 'cloudwatch',
};

export interface AwsRequest {
  action: string;
  resources: string[];
}

type Input = Record<string, unknown>;

/**
 * The IAM action and resource ARNs of one SDK command (the document client's commands by the
 * operation they send). A service or operation not listed here throws: map it before calling it.
 */
export function requestOf(
  serviceId: string,
  command: object,
  env: NodeJS.ProcessEnv = process.env,
): AwsRequest {
  const prefix = SERVICE_PREFIX[serviceId];
  const sent = (command as { clientCommand?: object }).clientCommand ?? command;
  const operation = sent.constructor.name.replace(/Command$/, '');
  const input = ((command as { input?: Input }).input ?? {}) as Input;
  const str = (value: unknown) => String(value ?? '');
  const request = (resources: string[], action = operation): AwsRequest => ({
    action: `${prefix}:${action}`,
    resources,
  });
  const table = (name: unknown, index?: unknown) =>
    arn('dynamodb', `table/${str(name)}${index ? `/index/${str(index)}` : ''}`);
  switch (`${prefix}:${operation}`) {
    case 'dynamodb:GetItem':
    case 'dynamodb:PutItem':
    case 'dynamodb:UpdateItem':
    case 'dynamodb:DeleteItem':
    case 'dynamodb:Query':
    case 'dynamodb:Scan':
      return request([table(input.TableName, input.IndexName)]);
    case 'dynamodb:BatchGetItem':
    case 'dynamodb:BatchWriteItem':
      return request(Object.keys((input.RequestItems ?? {}) as Input).map((name) => table(name)));
    case 'states:StartExecution':
      return request([str(input.stateMachineArn)]);
    case 'states:StopExecution':
    case 'states:DescribeExecution':
      return request([str(input.executionArn)]);
    case 'states:SendTaskSuccess':
    case 'states:SendTaskFailure':
    case 'states:SendTaskHeartbeat':
      // AWS checks the state machine of the token's execution; locally there is one machine.
      return request([localGrantResources(env).stateMachineArn]);
    case 'events:PutEvents': {
      const buses = ((input.Entries ?? []) as Input[]).map((e) => str(e.EventBusName || 'default'));
      return request(
        [...new Set(buses)].map((bus) => (bus.startsWith('arn:') ? bus : arn('events', `event-bus/${bus}`))),
      );
    }
    case 'secretsmanager:GetSecretValue':
      return request([secretArn(str(input.SecretId))]);
    case 'lambda:Invoke': {
      const name = str(input.FunctionName);
      const qualified = name.startsWith('arn:') ? name : arn('lambda', `function:${name}`);
      return request(
        [input.Qualifier ? `${qualified}:${str(input.Qualifier)}` : qualified],
        'InvokeFunction',
      );
    }
    case 'cloudwatch:GetMetricData':
      return request(['*']);
    case 'cloudwatch:DescribeAlarms': {
      const names = (input.AlarmNames ?? []) as string[];
      return request(names.length ? names.map((name) => arn('cloudwatch', `alarm:${name}`)) : ['*']);
    }
    default:
      throw new Error(`infra/local/iam.ts: no IAM mapping for ${serviceId} ${operation}`);
  }
}

// ---- the decision -------------------------------------------------------------------------------

/**
 * Actions the Service Authorization Reference lists without a resource type (so the evaluator's
 * validation wants `*`) that AWS nonetheless authorizes against a resource: these are evaluated
 * without that validation.
 */
const RESOURCE_CHECKED_ANYWAY = new Set([
  'states:SendTaskSuccess',
  'states:SendTaskFailure',
  'states:SendTaskHeartbeat',
]);

const POLICY_ENV = [
  ENV.table,
  ENV.bus,
  ENV.stateMachineArn,
  ENV.apiKeysSecretId,
  ENV.slackWebhookSecretId,
  ENV.slackSigningSecretId,
  ENV.oidcClientSecretId,
  ENV.secretPrefix,
  ENV.agentFunctionPrefix,
];
const decisions = new Map<string, boolean>();
const policies = new Map<string, PolicyDocument>();
const MAX_DECISIONS = 50_000;

/** Whether `spec`'s role may do `action` on `resource` (cached per function, policy, action and resource). */
export async function isAllowed(spec: FunctionSpec, action: string, resource: string): Promise<boolean> {
  // The policy follows the environment its ARNs come from (tests change it between servers).
  const policyKey = `${spec.id}|${POLICY_ENV.map((name) => process.env[name]).join('|')}`;
  const key = `${policyKey}|${action}|${resource}`;
  const cached = decisions.get(key);
  if (cached !== undefined) return cached;
  let policy = policies.get(policyKey);
  if (!policy) {
    policy = policyOf(spec, localGrantResources());
    policies.set(policyKey, policy);
  }
  const simulation = {
    identityPolicies: [{ name: `gantry-${spec.id}`, policy }],
    serviceControlPolicies: [],
    resourceControlPolicies: [],
    request: {
      action,
      principal: `arn:aws:iam::${LOCAL_ACCOUNT}:role/gantry-${spec.id}`,
      resource: { accountId: LOCAL_ACCOUNT, resource },
      contextVariables: {},
    },
  };
  let allowed: boolean;
  if (RESOURCE_CHECKED_ANYWAY.has(action)) {
    allowed = runUnsafeSimulation(simulation, {}) === 'Allowed';
  } else {
    const result = await runSimulation(simulation, {});
    if (result.resultType === 'error') {
      throw new Error(`IAM simulation of ${action} on ${resource} failed: ${JSON.stringify(result.errors)}`);
    }
    allowed = result.overallResult === 'Allowed';
  }
  if (decisions.size >= MAX_DECISIONS) decisions.clear();
  decisions.set(key, allowed);
  return allowed;
}

/** Throws AccessDeniedException unless `spec`'s role allows every resource the command names. */
export async function authorize(spec: FunctionSpec, serviceId: string, command: object): Promise<void> {
  const { action, resources } = requestOf(serviceId, command);
  for (const resource of resources) {
    if (!(await isAllowed(spec, action, resource))) throw new AccessDeniedException(spec, action, resource);
  }
}

type Send = (
  this: { config: { serviceId?: string } },
  command: object,
  ...rest: unknown[]
) => Promise<unknown>;
let installed = false;

/**
 * Checks every SDK call made while a function runs: one wrapper of the base class's `send`, which
 * every client of the AWS SDK v3 (and the DynamoDB document client) inherits. Local runtime only.
 */
export function enforceIam(): void {
  if (installed) return;
  installed = true;
  const base = Object.getPrototypeOf(DynamoDBClient.prototype) as { send: Send };
  const send = base.send;
  base.send = function (this, command, ...rest) {
    const spec = running.getStore();
    if (!spec) return send.call(this, command, ...rest);
    return authorize(spec, String(this.config.serviceId), command).then(() =>
      send.call(this, command, ...rest),
    );
  } as Send;
}
