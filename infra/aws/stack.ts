import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type { ThrottleSettings } from 'aws-cdk-lib/aws-apigatewayv2';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { ROUTES, UNKNOWN_ROUTE_FUNCTION } from '../../functions/http/routes';
import { parseOutboundAllow } from '../../shared/adapters/outbound';
import { Alarms } from './constructs/alarms';
import { Api } from './constructs/api';
import { Data } from './constructs/data';
import { Events } from './constructs/events';
import { Functions, type OidcProps } from './constructs/functions';
import { Secrets } from './constructs/secrets';
import { machineIdentity, Workflows } from './constructs/workflows';

export interface GantryStackProps extends StackProps {
  /** Base of callback and approval links, e.g. a custom domain; default: the API's own URL. */
  readonly publicUrl?: string;
  /** An existing SNS topic the alarms notify. */
  readonly alarmTopicArn?: string;
  readonly throttle?: ThrottleSettings;
  /** Lambda job agents must be named with this prefix (the dispatch role's scope); default `<stack name>-agent-`, lower case. */
  readonly agentFunctionPrefix?: string;
  readonly logRetention?: RetentionDays;
  /** Take back the table a destroyed stack retained, by name, instead of creating an empty one. */
  readonly existingTableName?: string;
  /**
   * Address ranges outbound requests may reach besides public ones (GANTRY_OUTBOUND_ALLOW, e.g.
   * `10.20.0.0/16,private`); default none. A value that does not parse fails the synth.
   */
  readonly outboundAllow?: string;
  /** Sign-in on the approval review page (OpenID Connect); none by default. */
  readonly oidc?: OidcProps;
}

/** Gantry in one account and region (docs/architecture.md), put there by `cdk deploy` as in docs/deploy.md. */
export class GantryStack extends Stack {
  public readonly data: Data;
  public readonly events: Events;
  public readonly secrets: Secrets;
  public readonly api: Api;
  public readonly functions: Functions;
  public readonly workflows: Workflows;
  public readonly alarms: Alarms;

  constructor(scope: Construct, id: string, props: GantryStackProps = {}) {
    super(scope, id, props);
    const logRetention = props.logRetention ?? RetentionDays.ONE_MONTH;
    if (props.outboundAllow !== undefined) parseOutboundAllow(props.outboundAllow);

    this.data = new Data(this, 'Data', { existingTableName: props.existingTableName });
    this.events = new Events(this, 'Events');
    this.secrets = new Secrets(this, 'Secrets', {
      namedSecretPrefix: `gantry/${this.stackName}/`,
      oidcClientSecret: props.oidc !== undefined,
    });
    this.api = new Api(this, 'Api', { logRetention, throttle: props.throttle });
    const rollout = machineIdentity(this, 'rollout');

    this.functions = new Functions(this, 'Functions', {
      data: this.data,
      bus: this.events.bus,
      secrets: this.secrets,
      rollout,
      publicUrl: props.publicUrl ?? this.api.url,
      logRetention,
      agentFunctionPrefix: props.agentFunctionPrefix ?? `${this.stackName.toLowerCase()}-agent-`,
      outboundAllow: props.outboundAllow,
      oidc: props.oidc,
    });
    const functionOf = (fnId: string) => this.functions.get(fnId).function;
    this.api.addRoutes(ROUTES, functionOf, UNKNOWN_ROUTE_FUNCTION);
    for (const fn of this.functions.all.filter((each) => each.spec.kind === 'event')) {
      this.events.rule(fn.spec.subscribes ?? [], fn.function, fn.spec.id);
      if (fn.spec.schedule) this.events.schedule(fn.spec.schedule, fn.function, `${fn.spec.id}-schedule`);
    }
    this.workflows = new Workflows(this, 'Workflows', {
      versionOf: (spec) => this.functions.get(spec.id).version,
      identityOf: (machine) => machineIdentity(this, machine),
      logRetention,
    });

    this.alarms = new Alarms(this, 'Alarms', {
      stateMachines: this.workflows.stateMachines,
      api: this.api.httpApi,
      functions: new Map(this.functions.all.map((fn) => [fn.spec.id, fn.function])),
      deadLetterQueue: this.events.deadLetterQueue,
      topicArn: props.alarmTopicArn,
    });

    const output = (outputId: string, value: string, description: string) =>
      new CfnOutput(this, outputId, { value, description });
    output('ApiUrl', this.api.url, 'Base URL of the API: point CI and job agents here');
    output(
      'TableName',
      this.data.table.tableName,
      'The DynamoDB table (retained when the stack is deleted; deploy with -c gantry:tableName=<it> to take it back)',
    );
    output('StateMachineArn', this.workflows.get('rollout').stateMachineArn, 'The rollout state machine');
    output('EventBusName', this.events.bus.eventBusName, 'Gantry events are published here');
    output('ApiKeysSecretArn', this.secrets.apiKeys.secretArn, 'Fill with the JSON array of API keys');
    output(
      'SlackWebhookUrlSecretArn',
      this.secrets.slackWebhookUrl.secretArn,
      'Fill with the Slack webhook URL',
    );
    output(
      'SlackSigningSecretArn',
      this.secrets.slackSigningSecret.secretArn,
      "Fill with the Slack app's signing secret",
    );
    if (this.secrets.oidcClientSecret) {
      output(
        'OidcClientSecretArn',
        this.secrets.oidcClientSecret.secretArn,
        'Fill with the client secret of the review page sign-in (keep it for a public client)',
      );
      output(
        'OidcRedirectUri',
        `${props.publicUrl?.replace(/\/+$/, '') ?? this.api.url}/approvals/oidc/callback`,
        'Register this redirect URI with the OpenID Connect client at the issuer',
      );
    }
    output(
      'NamedSecretPrefix',
      this.secrets.namedSecretPrefix,
      'Create the secrets deployments name (secretRef, tokenSecretRef) as <prefix><name>',
    );
  }
}
