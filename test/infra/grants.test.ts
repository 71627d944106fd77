import { App, type CfnElement } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { FUNCTIONS, type FunctionSpec, type Need } from '../../functions/registry';
import { STUB_CODE_CONTEXT } from '../../infra/aws/constructs/functions';
import { TABLE_ACTIONS } from '../../infra/aws/grants';
import { GantryStack } from '../../infra/aws/stack';
import { policyOf } from '../../infra/local/iam';
import { actionsOf, type BundledActions } from './sdk-actions';

/**
 * Each function's role, as synthesized, against the AWS calls its bundle can make: the commands
 * constructed anywhere in the code its handler reaches (through every module), not only in the
 * files it imports itself (issue 16, item 2: a config write reached SendTaskSuccess through
 * reconcile -> cancel -> lock release -> wake-up).
 */

const app = new App({ context: { [STUB_CODE_CONTEXT]: true } });
const stack = new GantryStack(app, 'Test');
const resources = Template.fromStack(stack).toJSON().Resources as Record<
  string,
  { Type: string; Properties: Record<string, unknown> }
>;
interface Statement {
  Effect: string;
  Action: string | string[];
}
const list = <T>(value: T | T[]): T[] => (Array.isArray(value) ? value : [value]);
const logicalIdOf = (construct: { node: { defaultChild?: unknown } }) =>
  stack.resolve((construct.node.defaultChild as CfnElement).logicalId) as string;

/** The actions the synthesized policies attached to a function's role allow. */
function allowedActions(spec: FunctionSpec): string[] {
  const role = JSON.stringify({ Ref: logicalIdOf(stack.functions.get(spec.id).role) });
  return [
    ...new Set(
      Object.values(resources)
        .filter((r) => r.Type === 'AWS::IAM::Policy')
        .filter((r) => (r.Properties.Roles as unknown[]).some((each) => JSON.stringify(each) === role))
        .flatMap((r) => (r.Properties.PolicyDocument as { Statement: Statement[] }).Statement)
        .filter((s) => s.Effect === 'Allow')
        .flatMap((s) => list(s.Action)),
    ),
  ].sort();
}

/** The services whose calls the code makes (logs and X-Ray are Lambda's own). */
const CHECKED = /^(dynamodb|states|events|secretsmanager|lambda|cloudwatch):/;

/**
 * Which secret each module that reads one reads: GetSecretValue is one action for three needs, and
 * shared/adapters/secrets.ts is a port (Slack and agent secrets both go through it), so the module that names
 * the secret decides which grant a function must have. A new reader fails the test until listed.
 */
const SECRET_READERS: Record<string, Need> = {
  'shared/adapters/keys.ts': 'apiKeys',
  'shared/services/approvals.ts': 'slack',
  'shared/services/signin.ts': 'oidc',
  'shared/services/rollouts/jobs.ts': 'agentSecrets',
  'shared/services/rollouts/verify.ts': 'agentSecrets',
  'shared/adapters/github.ts': 'agentSecrets',
  'shared/services/subscriptions.ts': 'agentSecrets',
};
const SECRET_PORT = 'shared/adapters/secrets.ts';
/** Bundled code that reads a secret: the SDK command itself, or the port of shared/adapters/secrets.ts. */
const READS_SECRET =
  /new\s+GetSecretValueCommand\d*\s*\(|new\s+SecretsManagerSource\d*\s*\(|\bsecrets\d*\(\)|\bsecretsById\d*\b/;

/**
 * Granted but not reached, on purpose: the table's item actions come as one statement, and these
 * pairs come with the need that names them. Anything else granted and never called is a finding.
 */
const ALLOWED_EXTRAS: Record<string, string[]> = {
  'api-approvals': ['states:StartExecution'],
  'step-begin': ['states:StartExecution'],
  'step-evaluate': ['states:StartExecution'],
  // Starts the release's next execution at the bound on loop rounds (shared/services/rollouts/rounds.ts).
  'step-poll': ['states:StopExecution'],
  'step-wait': ['states:StartExecution'],
};

const bundles = new Map<string, BundledActions>();
beforeAll(async () => {
  for (const spec of FUNCTIONS) bundles.set(spec.id, await actionsOf(spec));
}, 120_000);

describe.each(FUNCTIONS.map((spec) => [spec.id, spec] as const))('function %s', (_id, spec) => {
  it('is allowed every AWS call its bundled code can make', () => {
    const reached = bundles.get(spec.id) as BundledActions;
    const allowed = allowedActions(spec);
    const missing = [...reached.actions]
      .filter(([action]) => !allowed.includes(action))
      .map(([action, modules]) => `${action} (${modules.join(', ')})`);
    expect(missing).toEqual([]);
  });

  it('is the policy the local runtime enforces for it (infra/local/iam.ts)', () => {
    const local = policyOf(spec).Statement.flatMap((s) => s.Action);
    expect(allowedActions(spec).filter((action) => CHECKED.test(action))).toEqual([...new Set(local)].sort());
  });

  it('has the grant of each secret its bundled code reads, and of no other', () => {
    const { code } = bundles.get(spec.id) as BundledActions;
    const readers = [...code]
      .filter(([module, text]) => module !== SECRET_PORT && READS_SECRET.test(text))
      .map(([module]) => module);
    for (const module of readers) {
      expect(SECRET_READERS[module], `${module} reads a secret: say which in SECRET_READERS`).toBeDefined();
      expect(spec.needs, `${module} is bundled`).toContain(SECRET_READERS[module]);
    }
    const needed = new Set(readers.map((module) => SECRET_READERS[module]));
    const secretNeeds = spec.needs.filter((need) => Object.values(SECRET_READERS).includes(need));
    expect(
      secretNeeds.filter((need) => !needed.has(need)),
      'secret grants nothing reads',
    ).toEqual([]);
  });

  it('is allowed nothing else on those services but the extras listed (and the table as one grant)', () => {
    const reached = (bundles.get(spec.id) as BundledActions).actions;
    const extras = allowedActions(spec)
      .filter((action) => CHECKED.test(action) && !reached.has(action))
      .filter((action) => !(TABLE_ACTIONS as readonly string[]).includes(action));
    expect(extras).toEqual(ALLOWED_EXTRAS[spec.id] ?? []);
  });
});

it('derives through every layer: step-poll reaches SendTaskSuccess through the job timeout path', () => {
  expect(bundles.get('step-poll')?.actions.get('states:SendTaskSuccess')).toEqual([
    'shared/adapters/workflow.ts',
  ]);
  expect(bundles.get('step-poll')?.modules).not.toContain('functions/steps/rollout.ts');
});

it('leaves out the code of other handlers of the same file (step-fail shares functions/steps/complete.ts)', () => {
  expect(bundles.get('step-fail')?.actions.has('states:StartExecution')).toBe(false);
  expect(bundles.get('step-complete')?.actions.has('states:StartExecution')).toBe(true);
});

it('checks every item action the table grant names against some function', () => {
  const reached = new Set([...bundles.values()].flatMap((b) => [...b.actions.keys()]));
  expect(TABLE_ACTIONS.filter((action) => !reached.has(action))).toEqual([]);
});
