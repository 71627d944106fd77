import { join } from 'node:path';
import { ArnFormat, Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import type { IEventBus } from 'aws-cdk-lib/aws-events';
import { PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Code, type IVersion, LoggingFormat, Tracing } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { FUNCTIONS, type FunctionSpec } from '../../../functions/registry';
import { ENV } from '../../../shared/adapters/runtime';
import { ARCHITECTURE, NODE_OPTIONS, NODEJS_BUNDLING, ROOT, RUNTIME } from '../bundling';
import { type GrantResources, type GrantStatement, grantsOf } from '../grants';
import { acknowledgeWildcardResource } from '../nag';
import type { Data } from './data';
import type { Secrets } from './secrets';
import type { MachineIdentity } from './workflows';

/**
 * Context key: when true, functions get a one-line inline stub instead of the esbuild bundle, so
 * infrastructure tests synthesize in seconds; a string is a build tag the stubs carry, so a test can
 * synthesize two builds (new code, new function versions). `cdk synth` and `cdk deploy` never set it.
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
    const stubContext: unknown = this.node.tryGetContext(STUB_CODE_CONTEXT);
    const stub = stubContext === true || typeof stubContext === 'string';
    const stubTag = typeof stubContext === 'string' ? ` // build ${stubContext}` : '';
    this.function = new NodejsFunction(this, 'Function', {
      description: `Gantry ${spec.id} (${spec.entry}#${spec.handler})`,
      entry: join(ROOT, spec.entry),
      handler: stub ? `index.${spec.handler}` : spec.handler,
      code: stub ? Code.fromInline(`exports.${spec.handler} = async () => {};${stubTag}`) : undefined,
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
      // `currentVersion` (the state machine invokes step functions by version): a version a running
      // execution still names must outlive the deploy that publishes the next one.
      currentVersionOptions: { removalPolicy: RemovalPolicy.RETAIN },
    });
    Validations.of(this.role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'Only the X-Ray statement CDK adds for active tracing (xray:PutTraceSegments, ' +
        'xray:PutTelemetryRecords): X-Ray supports no resource-level permissions.',
    });
  }

  /**
   * The version published from this deploy's code and configuration (a new one whenever either
   * changes), retained when the next deploy publishes another: what a state machine Task names, so an
   * execution keeps invoking the code it started with.
   */
  public get version(): IVersion {
    return this.function.currentVersion;
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
  /** GANTRY_OUTBOUND_ALLOW of every function; unset: only public addresses (shared/adapters/outbound.ts). */
  readonly outboundAllow?: string;
  /** The review page sign-in (its client secret is `secrets.oidcClientSecret`). */
  readonly oidc?: OidcProps;
}

/** OpenID Connect sign-in on the review page (docs/api.md section 7); the client secret is a stack secret. */
export interface OidcProps {
  readonly issuer: string;
  readonly clientId: string;
  /** Default `sub`. */
  readonly identityClaim?: string;
  /** Default `openid email profile`. */
  readonly scopes?: string;
}

/** Every function of functions/registry.ts, with exactly the grants and variables its `needs` name. */
export class Functions extends Construct {
  public readonly all: readonly GantryFunction[];
  private readonly byId: ReadonlyMap<string, GantryFunction>;

  constructor(scope: Construct, id: string, props: FunctionsProps) {
    super(scope, id);
    const resources = grantResources(this, props);
    this.all = FUNCTIONS.map((spec) => {
      const fn = new GantryFunction(this, spec.id, {
        spec,
        environment: environmentOf(spec, props),
        logRetention: props.logRetention,
      });
      grant(fn.role, grantsOf(spec, resources));
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

/** shared/adapters/runtime.ts requires the first four in every function; the rest come with their grants. */
function environmentOf(spec: FunctionSpec, props: FunctionsProps): Record<string, string> {
  return {
    [ENV.table]: props.data.table.tableName,
    [ENV.bus]: props.bus.eventBusName,
    [ENV.stateMachineArn]: props.rollout.arn,
    [ENV.publicUrl]: props.publicUrl,
    ...(props.outboundAllow === undefined ? {} : { [ENV.outboundAllow]: props.outboundAllow }),
    ...(spec.needs.includes('apiKeys') ? { [ENV.apiKeysSecretId]: props.secrets.apiKeys.secretArn } : {}),
    ...(spec.needs.includes('agentSecrets') ? { [ENV.secretPrefix]: props.secrets.namedSecretPrefix } : {}),
    ...(spec.needs.includes('agentFunctions')
      ? { [ENV.agentFunctionPrefix]: props.agentFunctionPrefix }
      : {}),
    ...(spec.needs.includes('oidc') && props.oidc && props.secrets.oidcClientSecret
      ? {
          [ENV.oidcIssuer]: props.oidc.issuer,
          [ENV.oidcClientId]: props.oidc.clientId,
          [ENV.oidcClientSecretId]: props.secrets.oidcClientSecret.secretArn,
          ...(props.oidc.identityClaim ? { [ENV.oidcIdentityClaim]: props.oidc.identityClaim } : {}),
          ...(props.oidc.scopes ? { [ENV.oidcScopes]: props.oidc.scopes } : {}),
        }
      : {}),
    ...(spec.needs.includes('slack')
      ? {
          [ENV.slackWebhookSecretId]: props.secrets.slackWebhookUrl.secretArn,
          [ENV.slackSigningSecretId]: props.secrets.slackSigningSecret.secretArn,
        }
      : {}),
  };
}

/** The ARNs of this stack that infra/aws/grants.ts turns into each need's statements. */
function grantResources(scope: Construct, props: FunctionsProps): GrantResources {
  return {
    tableArn: props.data.table.tableArn,
    busArn: props.bus.eventBusArn,
    stateMachineArn: props.rollout.arn,
    executionsArn: props.rollout.executionsArn,
    apiKeysSecretArn: props.secrets.apiKeys.secretArn,
    slackWebhookSecretArn: props.secrets.slackWebhookUrl.secretArn,
    slackSigningSecretArn: props.secrets.slackSigningSecret.secretArn,
    oidcClientSecretArn: props.secrets.oidcClientSecret?.secretArn,
    namedSecretsArn: props.secrets.namedSecretsArn,
    agentFunctionsArn: Stack.of(scope).formatArn({
      service: 'lambda',
      resource: 'function',
      resourceName: `${props.agentFunctionPrefix}*`,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    }),
  };
}

function grant(role: Role, statements: GrantStatement[]): void {
  for (const { actions, resources, wildcard } of statements) {
    role.addToPrincipalPolicy(new PolicyStatement({ actions, resources }));
    if (wildcard) acknowledgeWildcardResource(role, wildcard.resource, wildcard.reason);
  }
}
