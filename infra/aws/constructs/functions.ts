import { join } from 'node:path';
import { ArnFormat, Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import type { IEventBus } from 'aws-cdk-lib/aws-events';
import { PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Code, LoggingFormat, Tracing } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { FUNCTIONS, type FunctionSpec, type Need } from '../../../functions/registry';
import { ENV } from '../../../shared/runtime';
import { ARCHITECTURE, NODE_OPTIONS, NODEJS_BUNDLING, ROOT, RUNTIME } from '../bundling';
import { acknowledgeWildcardResource } from '../nag';
import type { Data } from './data';
import type { Secrets } from './secrets';
import type { MachineIdentity } from './workflows';

/**
 * Context key: when true, functions get a one-line inline stub instead of the esbuild bundle, so
 * infrastructure tests synthesize in seconds. `cdk synth` and `cdk deploy` never set it.
 */
export const STUB_CODE_CONTEXT = 'gantry:stubCode';

export interface GantryFunctionProps {
  readonly spec: FunctionSpec;
  readonly environment: Record<string, string>;
  readonly logRetention: RetentionDays;
}

/**
 * The house Lambda function: a registry entry bundled as ESM for the newest Node LTS on arm64, with
 * its own log group and role (no managed policy, no log-group wildcard), X-Ray active.
 */
export class GantryFunction extends Construct {
  public readonly spec: FunctionSpec;
  public readonly function: NodejsFunction;
  public readonly role: Role;
  public readonly logGroup: LogGroup;

  constructor(scope: Construct, id: string, props: GantryFunctionProps) {
    super(scope, id);
    const { spec } = props;
    this.spec = spec;
    this.logGroup = new LogGroup(this, 'Logs', {
      retention: props.logRetention,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.role = new Role(this, 'Role', {
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
      description: `Gantry function ${spec.id}`,
    });
    this.logGroup.grantWrite(this.role);
    const stub = this.node.tryGetContext(STUB_CODE_CONTEXT) === true;
    this.function = new NodejsFunction(this, 'Function', {
      description: `Gantry ${spec.id} (${spec.entry}#${spec.handler})`,
      entry: join(ROOT, spec.entry),
      handler: stub ? `index.${spec.handler}` : spec.handler,
      code: stub ? Code.fromInline(`exports.${spec.handler} = async () => {};`) : undefined,
      projectRoot: ROOT,
      depsLockFilePath: join(ROOT, 'package-lock.json'),
      bundling: NODEJS_BUNDLING,
      runtime: RUNTIME,
      architecture: ARCHITECTURE,
      memorySize: spec.memoryMb,
      timeout: Duration.seconds(spec.timeoutSeconds),
      role: this.role,
      logGroup: this.logGroup,
      loggingFormat: LoggingFormat.JSON,
      tracing: Tracing.ACTIVE,
      environment: { ...props.environment, NODE_OPTIONS },
    });
    Validations.of(this.role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'Only the X-Ray statement CDK adds for active tracing (xray:PutTraceSegments, ' +
        'xray:PutTelemetryRecords): X-Ray supports no resource-level permissions.',
    });
  }
}

export interface FunctionsProps {
  readonly data: Data;
  readonly bus: IEventBus;
  readonly secrets: Secrets;
  /** The state machine behind GANTRY_STATE_MACHINE_ARN, and the target of `executions` / `taskCallbacks`. */
  readonly rollout: MachineIdentity;
  /** Base of callback and approval links (GANTRY_PUBLIC_URL). */
  readonly publicUrl: string;
  readonly logRetention: RetentionDays;
  /** The lambda job agent may invoke only functions whose name starts with this. */
  readonly agentFunctionPrefix: string;
}

/** Every function of functions/registry.ts, with exactly the grants and variables its `needs` name. */
export class Functions extends Construct {
  public readonly all: readonly GantryFunction[];
  private readonly byId: ReadonlyMap<string, GantryFunction>;

  constructor(scope: Construct, id: string, props: FunctionsProps) {
    super(scope, id);
    this.all = FUNCTIONS.map((spec) => {
      const fn = new GantryFunction(this, spec.id, {
        spec,
        environment: environmentOf(spec, props),
        logRetention: props.logRetention,
      });
      for (const need of spec.needs) grant(fn, need, props);
      return fn;
    });
    this.byId = new Map(this.all.map((fn) => [fn.spec.id, fn]));
  }

  public get(id: string): GantryFunction {
    const fn = this.byId.get(id);
    if (!fn) throw new Error(`No function "${id}" in functions/registry.ts`);
    return fn;
  }
}

/** shared/runtime.ts requires the first four in every function; the rest come with their grants. */
function environmentOf(spec: FunctionSpec, props: FunctionsProps): Record<string, string> {
  return {
    [ENV.table]: props.data.table.tableName,
    [ENV.bus]: props.bus.eventBusName,
    [ENV.stateMachineArn]: props.rollout.arn,
    [ENV.publicUrl]: props.publicUrl,
    ...(spec.needs.includes('apiKeys') ? { [ENV.apiKeysSecretId]: props.secrets.apiKeys.secretArn } : {}),
    ...(spec.needs.includes('agentSecrets') ? { [ENV.secretPrefix]: props.secrets.namedSecretPrefix } : {}),
    ...(spec.needs.includes('agentFunctions')
      ? { [ENV.agentFunctionPrefix]: props.agentFunctionPrefix }
      : {}),
    ...(spec.needs.includes('slack')
      ? {
          [ENV.slackWebhookSecretId]: props.secrets.slackWebhookUrl.secretArn,
          [ENV.slackSigningSecretId]: props.secrets.slackSigningSecret.secretArn,
        }
      : {}),
  };
}

function grant(fn: GantryFunction, need: Need, props: FunctionsProps): void {
  const { role } = fn;
  switch (need) {
    case 'table':
      props.data.grantItemAccess(role);
      return;
    case 'events':
      props.bus.grantPutEventsTo(role);
      return;
    case 'executions':
      role.addToPrincipalPolicy(
        new PolicyStatement({ actions: ['states:StartExecution'], resources: [props.rollout.arn] }),
      );
      role.addToPrincipalPolicy(
        new PolicyStatement({
          actions: ['states:StopExecution'],
          resources: [props.rollout.executionsArn],
        }),
      );
      acknowledgeWildcardResource(
        role,
        props.rollout.executionsArn,
        'Executions are named per release at run time (StartExecution is idempotent by name); the ' +
          'wildcard covers the executions of the rollout state machine and of nothing else.',
      );
      return;
    case 'taskCallbacks':
      // Success only: a parked task resumes with its outcome in the output and is never failed or
      // heartbeated (test/infra compares every grant with the SDK commands the code imports).
      role.addToPrincipalPolicy(
        new PolicyStatement({ actions: ['states:SendTaskSuccess'], resources: [props.rollout.arn] }),
      );
      return;
    case 'apiKeys':
      props.secrets.grantValue(role, props.secrets.apiKeys);
      return;
    case 'slack':
      props.secrets.grantValue(role, props.secrets.slackWebhookUrl, props.secrets.slackSigningSecret);
      return;
    case 'agentSecrets':
      props.secrets.grantNamedSecretValues(role);
      acknowledgeWildcardResource(
        role,
        props.secrets.namedSecretsArn,
        'Deployments name their secrets (secretRef, tokenSecretRef) at run time; the team creates them ' +
          "under this stack's prefix, and the wildcard also covers the random suffix Secrets Manager " +
          'appends to every secret ARN. GetSecretValue only.',
      );
      return;
    case 'agentFunctions': {
      const functions = Stack.of(role).formatArn({
        service: 'lambda',
        resource: 'function',
        resourceName: `${props.agentFunctionPrefix}*`,
        arnFormat: ArnFormat.COLON_RESOURCE_NAME,
      });
      role.addToPrincipalPolicy(
        new PolicyStatement({ actions: ['lambda:InvokeFunction'], resources: [functions] }),
      );
      acknowledgeWildcardResource(
        role,
        functions,
        'Deployments name their lambda agent at run time; the team names agent functions with this ' +
          "stack's prefix, and the wildcard also covers their aliases and versions. InvokeFunction only.",
      );
      return;
    }
    case 'metrics':
      // GetMetricData has no resource-level permissions; DescribeAlarms names alarms the policies pick at run time.
      role.addToPrincipalPolicy(
        new PolicyStatement({
          actions: ['cloudwatch:GetMetricData', 'cloudwatch:DescribeAlarms'],
          resources: ['*'],
        }),
      );
      acknowledgeWildcardResource(
        role,
        '*',
        'Verification reads the metrics and alarms that policies name at run time; cloudwatch:GetMetricData ' +
          'supports no resource-level permission. Read-only actions.',
      );
      return;
    default: {
      const unknown: never = need;
      throw new Error(`No grant for need "${unknown}"`);
    }
  }
}
