import type { FunctionSpec, Need } from '../../functions/registry';
import { TABLE } from '../../shared/adapters/store/table';

/**
 * What each `need` of functions/registry.ts allows, as IAM statements: the one source of the
 * policies the stack renders (infra/aws/constructs/functions.ts, with CDK tokens for ARNs) and of
 * the policies the local runtime enforces (infra/local/iam.ts, with local ARNs). No CDK import, so
 * the local runtime can load it.
 */

/**
 * The item operations the functions send (test/infra/grants.test.ts derives them from the bundles).
 * No Scan: only the local runtime's restart scans.
 */
export const TABLE_ACTIONS = [
  'dynamodb:GetItem',
  'dynamodb:PutItem',
  'dynamodb:UpdateItem',
  'dynamodb:DeleteItem',
  'dynamodb:Query',
  'dynamodb:BatchGetItem',
  'dynamodb:BatchWriteItem',
] as const;

/** The resources the grants name. */
export interface GrantResources {
  readonly tableArn: string;
  readonly busArn: string;
  readonly stateMachineArn: string;
  /** Every execution of the rollout machine: `arn:...:execution:<name>:*`. */
  readonly executionsArn: string;
  readonly apiKeysSecretArn: string;
  readonly slackWebhookSecretArn: string;
  readonly slackSigningSecretArn: string;
  /** The OpenID Connect client secret: only where a sign-in issuer is configured. */
  readonly oidcClientSecretArn?: string;
  /** Every secret under the stack's prefix: `arn:...:secret:<prefix>*`. */
  readonly namedSecretsArn: string;
  /** Every function named with the agent prefix: `arn:...:function:<prefix>*`. */
  readonly agentFunctionsArn: string;
}

export interface GrantStatement {
  readonly actions: string[];
  readonly resources: string[];
  /** Why a wildcard resource is as narrow as it gets (the stack acknowledges cdk-nag's IAM5 with it). */
  readonly wildcard?: { resource: string; reason: string };
}

export function statementsFor(need: Need, r: GrantResources): GrantStatement[] {
  switch (need) {
    case 'table':
      // The table and its named indexes: no `index/*` wildcard, no table admin.
      return [
        {
          actions: [...TABLE_ACTIONS],
          resources: [r.tableArn, ...TABLE.indexes.map((index) => `${r.tableArn}/index/${index.name}`)],
        },
      ];
    case 'events':
      return [{ actions: ['events:PutEvents'], resources: [r.busArn] }];
    case 'executions':
      return [
        { actions: ['states:StartExecution'], resources: [r.stateMachineArn] },
        {
          actions: ['states:StopExecution'],
          resources: [r.executionsArn],
          wildcard: {
            resource: r.executionsArn,
            reason:
              'Executions are named per release at run time (StartExecution is idempotent by name); the ' +
              'wildcard covers the executions of the rollout state machine and of nothing else.',
          },
        },
      ];
    case 'taskCallbacks':
      // Success only: a parked task resumes with its outcome in the output and is never failed or
      // heartbeated. The Service Authorization Reference lists no resource type for SendTaskSuccess,
      // yet AWS authorizes it against the state machine of the token's execution (its
      // AccessDeniedException names that ARN), as CDK's grantTaskResponse does.
      return [{ actions: ['states:SendTaskSuccess'], resources: [r.stateMachineArn] }];
    case 'apiKeys':
      return [{ actions: ['secretsmanager:GetSecretValue'], resources: [r.apiKeysSecretArn] }];
    case 'slack':
      return [
        {
          actions: ['secretsmanager:GetSecretValue'],
          resources: [r.slackWebhookSecretArn, r.slackSigningSecretArn],
        },
      ];
    case 'oidc':
      return r.oidcClientSecretArn
        ? [{ actions: ['secretsmanager:GetSecretValue'], resources: [r.oidcClientSecretArn] }]
        : [];
    case 'agentSecrets':
      return [
        {
          actions: ['secretsmanager:GetSecretValue'],
          resources: [r.namedSecretsArn],
          wildcard: {
            resource: r.namedSecretsArn,
            reason:
              'Deployments name their secrets (secretRef, tokenSecretRef) at run time; the team creates them ' +
              "under this stack's prefix, and the wildcard also covers the random suffix Secrets Manager " +
              'appends to every secret ARN. GetSecretValue only.',
          },
        },
      ];
    case 'agentFunctions':
      return [
        {
          actions: ['lambda:InvokeFunction'],
          resources: [r.agentFunctionsArn],
          wildcard: {
            resource: r.agentFunctionsArn,
            reason:
              'Deployments name their lambda agent at run time; the team names agent functions with this ' +
              "stack's prefix, and the wildcard also covers their aliases and versions. InvokeFunction only.",
          },
        },
      ];
    case 'metrics':
      return [
        {
          actions: ['cloudwatch:GetMetricData', 'cloudwatch:DescribeAlarms'],
          resources: ['*'],
          wildcard: {
            resource: '*',
            reason:
              'Verification reads the metrics and alarms that policies name at run time; cloudwatch:GetMetricData ' +
              'supports no resource-level permission. Read-only actions.',
          },
        },
      ];
    default: {
      const unknown: never = need;
      throw new Error(`No grant for need "${unknown}"`);
    }
  }
}

/** Every statement a function's role gets from its needs (besides logs and X-Ray, which CDK adds). */
export function grantsOf(spec: FunctionSpec, r: GrantResources): GrantStatement[] {
  return spec.needs.flatMap((need) => statementsFor(need, r));
}
