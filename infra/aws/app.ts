import { App } from 'aws-cdk-lib';
import { addNagChecks } from './nag';
import { GantryStack } from './stack';

/**
 * `npx cdk synth | deploy` (cdk.json). Optional context, e.g. `-c gantry:stackName=GantryStaging`:
 * gantry:stackName (default Gantry), gantry:publicUrl, gantry:alarmTopicArn, gantry:agentFunctionPrefix,
 * gantry:tableName (read by constructs/data.ts: use the table a destroyed stack retained, not a new one).
 * gantry:outboundAllow: GANTRY_OUTBOUND_ALLOW of every function (CIDRs and loopback, private, link-local).
 */
const app = new App();
const context = (key: string): string | undefined => app.node.tryGetContext(`gantry:${key}`);

new GantryStack(app, context('stackName') ?? 'Gantry', {
  description: 'Gantry: serverless deployment control plane',
  publicUrl: context('publicUrl'),
  alarmTopicArn: context('alarmTopicArn'),
  agentFunctionPrefix: context('agentFunctionPrefix'),
  outboundAllow: context('outboundAllow'),
});
addNagChecks(app);
