import { ArnFormat, SecretValue, Stack, Validations } from 'aws-cdk-lib';
import { type IGrantable, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { type ISecret, Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';

export interface SecretsProps {
  /**
   * Where the secrets that deployments name (`secretRef`, `tokenSecretRef`) live: the secret
   * `<prefix><name>`. The team creates them; functions that need them may read nothing else.
   */
  readonly namedSecretPrefix: string;
  /** Make the OpenID Connect client secret (where a review page sign-in is configured). */
  readonly oidcClientSecret?: boolean;
}

/**
 * The secrets the stack owns (filled in after the first deploy, see docs/deploy.md) and the
 * prefix of the secrets the team adds. Nothing here is readable until granted to a function.
 */
export class Secrets extends Construct {
  /** JSON array of API keys (docs/api.md section 2); rotated by editing it, with no redeploy. */
  public readonly apiKeys: Secret;
  public readonly slackWebhookUrl: Secret;
  public readonly slackSigningSecret: Secret;
  /** Where a sign-in is configured; left as REPLACE..., the client is public (PKCE only). */
  public readonly oidcClientSecret?: Secret;
  public readonly namedSecretPrefix: string;
  /** Every secret under the prefix (Secrets Manager appends a random suffix to each ARN). */
  public readonly namedSecretsArn: string;

  constructor(scope: Construct, id: string, props: SecretsProps) {
    super(scope, id);
    this.apiKeys = new Secret(this, 'ApiKeys', {
      description: 'Gantry API keys: a JSON array of {"id", "secret", "scopes", "deployments"?}',
      // No key at all until the team writes the first one: every signed request answers 401.
      secretStringValue: SecretValue.unsafePlainText('[]'),
    });
    // A value starting with REPLACE reads as "Slack not configured" (shared/services/approvals.ts):
    // approval links are then only logged, and Slack interactions are refused.
    this.slackWebhookUrl = new Secret(this, 'SlackWebhookUrl', {
      description: 'Gantry: the Slack incoming webhook URL approval requests are posted to',
      secretStringValue: SecretValue.unsafePlainText('REPLACE with the Slack incoming webhook URL'),
    });
    this.slackSigningSecret = new Secret(this, 'SlackSigningSecret', {
      description: 'Gantry: the signing secret of the Slack app whose interactions are verified',
      secretStringValue: SecretValue.unsafePlainText('REPLACE with the signing secret of the Slack app'),
    });
    if (props.oidcClientSecret) {
      this.oidcClientSecret = new Secret(this, 'OidcClientSecret', {
        description: 'Gantry: the client secret of the review page sign-in at the OpenID Connect issuer',
        secretStringValue: SecretValue.unsafePlainText(
          'REPLACE with the client secret, or keep for a public client',
        ),
      });
    }
    const owned = [this.apiKeys, this.slackWebhookUrl, this.slackSigningSecret, this.oidcClientSecret];
    for (const secret of owned.filter((each) => each !== undefined)) {
      Validations.of(secret).acknowledge({
        id: 'AwsSolutions-SMG4',
        reason:
          'No rotation function can rotate these: Slack issues the webhook URL and the signing secret, the ' +
          'identity provider the OpenID Connect client secret, and ' +
          'API keys are rotated by the team without a redeploy (add the new key, move clients, remove the ' +
          'old one: docs/api.md section 2).',
      });
    }
    this.namedSecretPrefix = props.namedSecretPrefix;
    this.namedSecretsArn = Stack.of(this).formatArn({
      service: 'secretsmanager',
      resource: 'secret',
      resourceName: `${props.namedSecretPrefix}*`,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });
  }

  /** The values of these secrets, and nothing else: GetSecretValue is the only call the code makes. */
  public grantValue(grantee: IGrantable, ...secrets: ISecret[]): void {
    grantee.grantPrincipal.addToPrincipalPolicy(
      new PolicyStatement({
        actions: ['secretsmanager:GetSecretValue'],
        resources: secrets.map((secret) => secret.secretArn),
      }),
    );
  }

  /** The values of the secrets under the prefix, whatever their names. */
  public grantNamedSecretValues(grantee: IGrantable): void {
    grantee.grantPrincipal.addToPrincipalPolicy(
      new PolicyStatement({ actions: ['secretsmanager:GetSecretValue'], resources: [this.namedSecretsArn] }),
    );
  }
}
