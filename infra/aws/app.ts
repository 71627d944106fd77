import { App } from 'aws-cdk-lib';
import { addNagChecks } from './nag';
import { GantryStack } from './stack';

/**
 * `npx cdk synth | deploy` (cdk.json). Optional context, e.g. `-c gantry:stackName=GantryStaging`:
 * gantry:stackName (default Gantry), gantry:publicUrl, gantry:alarmTopicArn, gantry:agentFunctionPrefix,
 * gantry:tableName (read by constructs/data.ts: use the table a destroyed stack retained, not a new one),
 * gantry:oidcIssuer and gantry:oidcClientId (sign-in on the review page; also gantry:oidcIdentityClaim,
 * gantry:oidcScopes; the client secret is the stack's OidcClientSecret).
 * gantry:outboundAllow: GANTRY_OUTBOUND_ALLOW of every function (CIDRs and loopback, private, link-local).
 */
const app = new App();
const context = (key: string): string | undefined => app.node.tryGetContext(`gantry:${key}`);

function oidcContext() {
  const issuer = context('oidcIssuer');
  if (!issuer) return undefined;
  const clientId = context('oidcClientId');
  if (!clientId) throw new Error('gantry:oidcIssuer needs gantry:oidcClientId too.');
  return { issuer, clientId, identityClaim: context('oidcIdentityClaim'), scopes: context('oidcScopes') };
}

new GantryStack(app, context('stackName') ?? 'Gantry', {
  description: 'Gantry: serverless deployment control plane',
  publicUrl: context('publicUrl'),
  alarmTopicArn: context('alarmTopicArn'),
  agentFunctionPrefix: context('agentFunctionPrefix'),
  outboundAllow: context('outboundAllow'),
  oidc: oidcContext(),
});
addNagChecks(app);
