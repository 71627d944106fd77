import { DETAIL_TYPES, type DetailType, SUBSCRIBABLE_DETAIL_TYPES } from '../shared/adapters/events';

/**
 * Every function of Gantry, in one list read by the CDK stack (infra/aws) and the local runtime
 * (infra/local), so the two cannot drift: entry file, exported handler, the ASL placeholder it
 * fills, its size, and what it may touch (turned into IAM grants in AWS).
 */
export type Need =
  /** read and write the table */
  | 'table'
  /** StartExecution / StopExecution on the rollout state machine */
  | 'executions'
  /** SendTaskSuccess only (a parked task resumes with its outcome; see infra/aws/grants.ts) */
  | 'taskCallbacks'
  /** PutEvents on the bus */
  | 'events'
  /** read the API keys secret */
  | 'apiKeys'
  /** read agent and variable secrets (secretRef, tokenSecretRef) */
  | 'agentSecrets'
  /** read the Slack webhook URL and signing secret */
  | 'slack'
  /** sign-in on the review page: the OpenID Connect settings and client secret, where configured */
  | 'oidc'
  /** read CloudWatch metrics and alarms (verification providers) */
  | 'metrics'
  /** invoke the Lambda functions of lambda job agents (named with the stack's agent prefix) */
  | 'agentFunctions';

export interface FunctionSpec {
  id: string;
  entry: string;
  handler: string;
  /** http: behind API Gateway; step: a task of the state machine; event: a consumer of bus events. */
  kind: 'http' | 'step' | 'event';
  /** For event consumers: the detail types (source `gantry`) its rule delivers. */
  subscribes?: DetailType[];
  /** For event consumers: also invoked on this EventBridge schedule (a `rate(...)` expression). */
  schedule?: string;
  /** The `${Placeholder}` of statemachines/rollout.asl.json this function's ARN fills. */
  aslKey?: string;
  memoryMb: number;
  timeoutSeconds: number;
  needs: Need[];
}

const http = (id: string, file: string, needs: Need[], memoryMb = 512): FunctionSpec => ({
  id,
  entry: `functions/http/${file}.ts`,
  handler: 'handler',
  kind: 'http',
  memoryMb,
  timeoutSeconds: 29,
  needs: ['table', 'apiKeys', ...needs],
});

const step = (
  id: string,
  file: 'rollout' | 'complete' | 'jobs' | 'poll' | 'verify',
  handler: string,
  aslKey: string,
  needs: Need[],
  timeoutSeconds = 30,
): FunctionSpec => ({
  id,
  entry: `functions/steps/${file}.ts`,
  handler,
  kind: 'step',
  aslKey,
  memoryMb: 512,
  timeoutSeconds,
  needs: ['table', 'events', ...needs],
});

const consumer = (id: string, file: string, subscribes: DetailType[], needs: Need[]): FunctionSpec => ({
  id,
  entry: `functions/events/${file}.ts`,
  handler: 'handler',
  kind: 'event',
  subscribes,
  memoryMb: 1024,
  timeoutSeconds: 300,
  needs: ['table', ...needs],
});

export const FUNCTIONS: FunctionSpec[] = [
  // Queues the reconciliation a write causes (event-work runs it) and publishes events.
  http('api-config', 'config', ['events']),
  http('api-versions', 'versions', ['events', 'executions', 'taskCallbacks'], 1024),
  http('api-jobs', 'jobs', ['events', 'taskCallbacks']),
  http('api-approvals', 'approvals', ['events', 'executions', 'taskCallbacks', 'slack', 'oidc']),
  http('api-meta', 'meta', [], 256),
  http('api-ui', 'ui', []),
  // Plans evaluate every target against every policy and expand windows: CPU-bound, so a full vCPU.
  http('api-plan', 'plan', [], 1769),
  // Freezes: stored, announced, and the releases a deleted or changed one held woken (a work item).
  http('api-freezes', 'freezes', ['events']),
  http('api-subscriptions', 'subscriptions', ['events']),
  // Begin decides as Evaluate does: it may open an approval (Slack), stop a superseded release's
  // execution and wake the releases a decision frees.
  step('step-begin', 'rollout', 'begin', 'BeginFunctionArn', ['executions', 'taskCallbacks', 'slack']),
  step('step-evaluate', 'rollout', 'evaluateGates', 'EvaluateFunctionArn', [
    'executions',
    'taskCallbacks',
    'slack',
  ]),
  step('step-wait', 'rollout', 'wait', 'WaitFunctionArn', ['executions', 'taskCallbacks', 'slack']),
  // Sending a job retries with backoff (about 15 s at worst) before it fails the job.
  step(
    'step-dispatch',
    'jobs',
    'dispatch',
    'DispatchFunctionArn',
    ['taskCallbacks', 'agentSecrets', 'agentFunctions'],
    120,
  ),
  // A polling agent's status URL, one GET with a short retry; a job that times out ends the release's
  // hold on its target, which wakes the releases waiting for it; at the bound on an execution's loop
  // rounds it starts the release's next execution (shared/services/rollouts/rounds.ts).
  step('step-poll', 'poll', 'poll', 'PollFunctionArn', ['executions', 'taskCallbacks', 'agentSecrets']),
  step('step-complete', 'complete', 'completeRelease', 'CompleteFunctionArn', [
    'executions',
    'taskCallbacks',
  ]),
  // Measures run providers with their own timeouts (10 s each, in parallel).
  step(
    'step-measure',
    'verify',
    'measure',
    'MeasureFunctionArn',
    ['executions', 'taskCallbacks', 'agentSecrets', 'metrics'],
    60,
  ),
  step('step-fail', 'complete', 'fail', 'FailFunctionArn', ['taskCallbacks']),
  // The work a write causes (reconciliation, a version's releases), one bounded chunk per
  // invocation, off the request path; a scheduled sweep restarts chains that stalled.
  {
    ...consumer(
      'event-work',
      'work',
      [DETAIL_TYPES.workRequested],
      ['events', 'executions', 'taskCallbacks'],
    ),
    schedule: 'rate(1 minute)',
  },
  // Freezes over time: calendar feeds read (outbound, at most every refreshSeconds), starts and ends
  // announced; at once for a calendar freeze just written.
  {
    ...consumer('event-freezes', 'freezes', [DETAIL_TYPES.freezeRefreshRequested], ['events']),
    memoryMb: 512,
    timeoutSeconds: 60,
    schedule: 'rate(1 minute)',
  },
  // Environment progression is woken by the upstream outcome, not by polling (a failure wakes it
  // too, so a dependant says at once that the upstream cannot reach its threshold); deployment
  // dependencies by what a deployment others depend on runs (internal Dependency Changed).
  consumer(
    'event-progression',
    'progression',
    [
      DETAIL_TYPES.releaseSucceeded,
      DETAIL_TYPES.releaseFailed,
      DETAIL_TYPES.releaseRolledBack,
      DETAIL_TYPES.releaseCancelled,
      DETAIL_TYPES.dependencyChanged,
    ],
    ['taskCallbacks'],
  ),
  // Mirrors each version x environment as a GitHub Deployment, and posts a version's plan as a check
  // run on the commit it names (deployments with `github` settings); a failed post is an event.
  consumer(
    'event-github',
    'github',
    [
      DETAIL_TYPES.versionCreated,
      DETAIL_TYPES.versionReady,
      DETAIL_TYPES.jobDispatched,
      DETAIL_TYPES.releaseSucceeded,
      DETAIL_TYPES.releaseFailed,
      DETAIL_TYPES.releaseRolledBack,
      DETAIL_TYPES.releaseCancelled,
      DETAIL_TYPES.releaseSuperseded,
    ],
    ['events', 'agentSecrets'],
  ),
  // Delivery metrics (DORA): each release outcome is added to its deployment's day as it arrives;
  // the schedule sums the days of all deployments.
  {
    ...consumer(
      'event-metrics',
      'metrics',
      [DETAIL_TYPES.releaseSucceeded, DETAIL_TYPES.releaseFailed, DETAIL_TYPES.releaseRolledBack],
      [],
    ),
    schedule: 'rate(5 minutes)',
  },
  // Subscriptions (docs/subscriptions.md): every public event goes to the outbox of each subscription
  // it matches and is sent in order per release target; the schedule sends the retries. Off every
  // rollout's path: a failing subscriber holds back only its own lanes.
  {
    ...consumer('event-subscriptions', 'subscriptions', SUBSCRIBABLE_DETAIL_TYPES, [
      'events',
      'agentSecrets',
    ]),
    memoryMb: 256,
    schedule: 'rate(1 minute)',
  },
];

export const STATE_MACHINES = [{ id: 'rollout', file: 'statemachines/rollout.asl.json' }] as const;

/**
 * The `${Key}` placeholders of the ASL files, filled from the registry (the same map in CDK and locally),
 * for `specs` (default: every function with an `aslKey`). In AWS `arnOf` is the function's published
 * version, a qualified ARN (`...:function:NAME:7`), so an execution keeps invoking the code it started
 * with across deploys (infra/aws/constructs/workflows.ts); locally the unqualified ARN, and the local
 * invoke accepts either (infra/local/functions.ts).
 */
export function aslSubstitutions(
  arnOf: (spec: FunctionSpec) => string,
  specs: readonly FunctionSpec[] = FUNCTIONS,
): Record<string, string> {
  return Object.fromEntries(specs.filter((f) => f.aslKey).map((f) => [f.aslKey as string, arnOf(f)]));
}

export function substitute(text: string, values: Record<string, string>): string {
  return text.replace(/\$\{([A-Za-z0-9_]+)\}/g, (whole, key: string) => {
    const value = values[key];
    if (value === undefined) throw new Error(`No substitution for ${whole}`);
    return value;
  });
}
