/**
 * The names executions park on (WaitForSignal) and are woken by (workflow.ts `wake`): plain strings,
 * so deciding which one a release waits for needs no AWS client.
 */
type TargetRef = { deployment: string; environment: string; resource: string };

export const signals = {
  target: (r: TargetRef) => `target:${r.deployment}#${r.environment}#${r.resource}`,
  paused: (deployment: string) => `paused:${deployment}`,
  approval: (approvalId: string) => `approval:${approvalId}`,
  progression: (deployment: string, tag: string, environment: string) =>
    `progression:${deployment}#${tag}#${environment}`,
  concurrency: (deployment: string, environment: string) => `concurrency:${deployment}#${environment}`,
  /**
   * Make before break: the release after `predecessor` (a resource) waits for that one release, so a
   * completion wakes only its successor. Without `predecessor`: the name every waiter of the
   * environment parked on before (functions/events/progression.ts still wakes it, for those).
   */
  verified: (deployment: string, tag: string, environment: string, predecessor?: string) =>
    `verified:${deployment}#${tag}#${environment}${predecessor === undefined ? '' : `#${predecessor}`}`,
  /** Releases that depend on what a deployment runs in an environment (rule deploymentDependency). */
  dependency: (deployment: string, environment: string) => `dependency:${deployment}#${environment}`,
  /** Releases held by a freeze, woken when it is deleted or changed. */
  freeze: (freezeId: string) => `freeze:${freezeId}`,
} as const;
