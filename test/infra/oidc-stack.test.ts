import { App, type CfnElement } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import type { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { FUNCTIONS } from '../../functions/registry';
import { STUB_CODE_CONTEXT } from '../../infra/aws/constructs/functions';
import { addNagChecks } from '../../infra/aws/nag';
import { GantryStack } from '../../infra/aws/stack';
import { ENV } from '../../shared/adapters/runtime';

/**
 * Sign-in on the review page in AWS (issue 17): the stack's OpenID Connect settings reach the
 * approvals function only, with its own client secret, readable by that function alone. Without
 * them the stack has no such secret and no function any OpenID setting.
 */
const OIDC = { issuer: 'https://accounts.google.com', clientId: 'gantry-client', identityClaim: 'email' };

function synth(oidc?: typeof OIDC) {
  const app = new App({ context: { [STUB_CODE_CONTEXT]: true } });
  const stack = new GantryStack(app, 'Test', { publicUrl: 'https://deploy.example.com/', oidc });
  addNagChecks(app);
  const resources = Template.fromStack(stack).toJSON() as {
    Resources: Record<string, { Type: string; Properties: Record<string, unknown> }>;
    Outputs: Record<string, { Value: unknown }>;
  };
  const logicalId = (construct: { node: { defaultChild?: unknown } }) =>
    stack.resolve((construct.node.defaultChild as CfnElement).logicalId) as string;
  const environmentOf = (fnId: string) => {
    const fn = resources.Resources[logicalId(stack.functions.get(fnId).function)];
    if (!fn) throw new Error(`no function ${fnId}`);
    return (fn.Properties.Environment as { Variables: Record<string, unknown> }).Variables;
  };
  /** The roles whose policies let them read `secretRef`'s value. */
  const readersOf = (secretRef: unknown) =>
    Object.values(resources.Resources)
      .filter((r) => r.Type === 'AWS::IAM::Policy')
      .filter((r) =>
        (r.Properties.PolicyDocument as { Statement: { Resource: unknown }[] }).Statement.some((s) =>
          JSON.stringify(s.Resource).includes(JSON.stringify(secretRef)),
        ),
      )
      .flatMap((r) => r.Properties.Roles as unknown[]);
  return { app, stack, resources, logicalId, environmentOf, readersOf };
}

describe('the stack with gantry:oidcIssuer and gantry:oidcClientId', () => {
  const { app, stack, resources, logicalId, environmentOf, readersOf } = synth(OIDC);
  const secret = stack.secrets.oidcClientSecret as Secret;

  it('gives the approvals function the settings and the client secret by ARN', () => {
    expect(secret).toBeDefined();
    expect(environmentOf('api-approvals')).toMatchObject({
      [ENV.oidcIssuer]: OIDC.issuer,
      [ENV.oidcClientId]: OIDC.clientId,
      [ENV.oidcIdentityClaim]: 'email',
      [ENV.oidcClientSecretId]: { Ref: logicalId(secret) },
    });
    expect(environmentOf('api-approvals')[ENV.oidcClientSecret]).toBeUndefined();
  });

  it('lets the approvals function alone read the client secret, and no other function see a setting', () => {
    const approvalsRole = { Ref: logicalId(stack.functions.get('api-approvals').role) };
    expect(readersOf({ Ref: logicalId(secret) })).toEqual([approvalsRole]);
    for (const spec of FUNCTIONS.filter((f) => f.id !== 'api-approvals'))
      expect(Object.keys(environmentOf(spec.id)).filter((name) => name.startsWith('GANTRY_OIDC_'))).toEqual(
        [],
      );
  });

  it('outputs the redirect URI to register at the issuer', () => {
    expect(resources.Outputs.OidcRedirectUri?.Value).toBe(
      'https://deploy.example.com/approvals/oidc/callback',
    );
  });

  it('has no cdk-nag finding left unacknowledged', () => {
    const report = new AwsSolutionsChecks().validateScope(app);
    expect(report.violations.map((v) => v.ruleName)).toEqual([]);
  });
});

describe('the stack without them', () => {
  const { stack, resources, environmentOf } = synth();

  it('has no client secret, and no function an OpenID setting', () => {
    expect(stack.secrets.oidcClientSecret).toBeUndefined();
    expect(Object.keys(resources.Outputs)).not.toContain('OidcRedirectUri');
    for (const spec of FUNCTIONS)
      expect(Object.keys(environmentOf(spec.id)).filter((name) => name.startsWith('GANTRY_OIDC_'))).toEqual(
        [],
      );
  });
});
