import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { documentClient, type StoreContext } from './store/client';

/** Environment, read once per cold start; a missing variable fails loudly. */
export function requiredEnv(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`Environment variable ${name} is not set.`);
  return value;
}

export const ENV = {
  table: 'GANTRY_TABLE',
  bus: 'GANTRY_BUS',
  stateMachineArn: 'GANTRY_STATE_MACHINE_ARN',
  publicUrl: 'GANTRY_PUBLIC_URL',
  apiKeys: 'GANTRY_API_KEYS',
  apiKeysSecretId: 'GANTRY_API_KEYS_SECRET_ID',
  secrets: 'GANTRY_SECRETS',
  secretPrefix: 'GANTRY_SECRET_PREFIX',
  agentFunctionPrefix: 'GANTRY_AGENT_FUNCTION_PREFIX',
  timeScale: 'GANTRY_TIME_SCALE',
  /** Address ranges outbound requests may reach besides public ones (shared/adapters/outbound.ts). */
  outboundAllow: 'GANTRY_OUTBOUND_ALLOW',
  slackWebhookUrl: 'SLACK_WEBHOOK_URL',
  slackSigningSecret: 'SLACK_SIGNING_SECRET',
  slackWebhookSecretId: 'GANTRY_SLACK_WEBHOOK_SECRET_ID',
  slackSigningSecretId: 'GANTRY_SLACK_SIGNING_SECRET_ID',
  oidcIssuer: 'GANTRY_OIDC_ISSUER',
  oidcClientId: 'GANTRY_OIDC_CLIENT_ID',
  oidcClientSecret: 'GANTRY_OIDC_CLIENT_SECRET',
  oidcClientSecretId: 'GANTRY_OIDC_CLIENT_SECRET_ID',
  oidcIdentityClaim: 'GANTRY_OIDC_IDENTITY_CLAIM',
  oidcScopes: 'GANTRY_OIDC_SCOPES',
  /** Set by the local server (`npm start`), never in AWS. */
  localRuntime: 'GANTRY_LOCAL_RUNTIME',
} as const;

/** Whether this is the local runtime: what may be printed to its console is not logged in AWS. */
export const runsLocally = (): boolean => process.env[ENV.localRuntime] === '1';

export interface Runtime extends StoreContext {
  events: EventBridgeClient;
  busName: string;
  stateMachineArn: string;
  publicUrl: string;
}

let cached: Runtime | undefined;

/** AWS clients built once; endpoints come from the standard AWS_ENDPOINT_URL_* variables locally. */
export function runtime(): Runtime {
  cached ??= {
    doc: documentClient(),
    tableName: requiredEnv(ENV.table),
    events: new EventBridgeClient({}),
    busName: requiredEnv(ENV.bus),
    stateMachineArn: requiredEnv(ENV.stateMachineArn),
    publicUrl: requiredEnv(ENV.publicUrl).replace(/\/+$/, ''),
  };
  return cached;
}

/** Tests and the local runtime rebuild clients after changing the environment. */
export function resetRuntime(): void {
  cached = undefined;
}
