import { matches } from '../cel';
import type { Stored } from '../records';
import type { PolicyBody, Rules } from '../schemas/config';
import type { CelScope, Warning } from '../targets';
import type { DependsOn } from './dependency';

/**
 * The policies whose `targets` match a release target, merged strictest-wins (docs/api.md section 3):
 * the highest minApprovals, every progression dependency, the longest interval, every window, every
 * metric, every deployment dependency. Each merged rule remembers the policies behind it, for the plan and for messages.
 */
type Metric = NonNullable<Rules['verification']>['metrics'][number];
type Window = NonNullable<Rules['deploymentWindow']>;

export interface MergedRules {
  approval?: { minApprovals: number; approvers?: string[]; expiresAfterSeconds?: number; policies: string[] };
  environmentProgression?: {
    dependsOnEnvironments: string[];
    minSoakSeconds: number;
    minSuccessPercentage: number;
    policies: string[];
  };
  gradualRollout?: { intervalSeconds: number; waitForVerified: boolean; policies: string[] };
  deploymentWindows: (Window & { policy: string })[];
  verification: (Metric & { policy: string })[];
  rollback?: {
    onJobFailure: boolean;
    onVerificationFailure: boolean;
    scope: 'target' | 'environment';
    policies: string[];
  };
  concurrency?: { maxParallel: number; policies: string[] };
  halt?: { maxFailures: number; policies: string[] };
  trafficDrain?: { seconds: number; policies: string[] };
  /** Every dependency of every policy (the same deployment and condition once), each with its policy. */
  deploymentDependency?: { dependsOn: (DependsOn & { policy: string })[]; policies: string[] };
}

export function matchingPolicies(
  policies: readonly Stored<PolicyBody>[],
  scope: CelScope,
): { matched: Stored<PolicyBody>[]; warnings: Warning[] } {
  const matched: Stored<PolicyBody>[] = [];
  const warnings: Warning[] = [];
  for (const policy of policies) {
    const outcome = matches(policy.data.targets, scope as unknown as Record<string, unknown>);
    if (!outcome.ok) {
      warnings.push({
        expression: policy.data.targets,
        resource: scope.resource.id,
        environment: scope.environment.id,
        message: `policy ${policy.id}: ${outcome.error}`,
      });
    } else if (outcome.value) {
      matched.push(policy);
    }
  }
  // Higher priority first, so where order shows (plan, messages) the important policy leads.
  matched.sort((a, b) => (b.data.priority ?? 0) - (a.data.priority ?? 0) || a.id.localeCompare(b.id));
  return { matched, warnings };
}

const union = <T>(a: T[] | undefined, b: T[]) => [...new Set([...(a ?? []), ...b])];

/** Approver lists narrow each other (strictest wins); a policy without a list does not widen it. */
function narrow(a: string[] | undefined, b: string[] | undefined): string[] | undefined {
  if (!a) return b;
  if (!b) return a;
  return a.filter((x) => b.includes(x));
}

export function mergeRules(policies: Stored<PolicyBody>[]): MergedRules {
  const merged: MergedRules = { deploymentWindows: [], verification: [] };
  for (const { id, data } of policies) {
    const r = data.rules;
    if (r.approval) {
      const m = merged.approval;
      merged.approval = {
        minApprovals: Math.max(m?.minApprovals ?? 0, r.approval.minApprovals ?? 1),
        approvers: narrow(m?.approvers, r.approval.approvers),
        expiresAfterSeconds:
          m?.expiresAfterSeconds === undefined
            ? r.approval.expiresAfterSeconds
            : Math.min(m.expiresAfterSeconds, r.approval.expiresAfterSeconds ?? Number.POSITIVE_INFINITY),
        policies: union(m?.policies, [id]),
      };
    }
    if (r.environmentProgression) {
      const m = merged.environmentProgression;
      merged.environmentProgression = {
        dependsOnEnvironments: union(
          m?.dependsOnEnvironments,
          r.environmentProgression.dependsOnEnvironments,
        ),
        minSoakSeconds: Math.max(m?.minSoakSeconds ?? 0, r.environmentProgression.minSoakSeconds ?? 0),
        minSuccessPercentage: Math.max(
          m?.minSuccessPercentage ?? 0,
          r.environmentProgression.minSuccessPercentage ?? 100,
        ),
        policies: union(m?.policies, [id]),
      };
    }
    if (r.gradualRollout) {
      const m = merged.gradualRollout;
      merged.gradualRollout = {
        intervalSeconds: Math.max(m?.intervalSeconds ?? 0, r.gradualRollout.intervalSeconds),
        waitForVerified: Boolean(m?.waitForVerified || r.gradualRollout.waitForVerified),
        policies: union(m?.policies, [id]),
      };
    }
    if (r.deploymentWindow) merged.deploymentWindows.push({ ...r.deploymentWindow, policy: id });
    for (const metric of r.verification?.metrics ?? []) merged.verification.push({ ...metric, policy: id });
    if (r.rollback) {
      const m = merged.rollback;
      merged.rollback = {
        onJobFailure: Boolean(m?.onJobFailure || r.rollback.onJobFailure),
        onVerificationFailure: Boolean(m?.onVerificationFailure || r.rollback.onVerificationFailure),
        scope: m?.scope === 'environment' || r.rollback.scope === 'environment' ? 'environment' : 'target',
        policies: union(m?.policies, [id]),
      };
    }
    if (r.concurrency) {
      merged.concurrency = {
        maxParallel: Math.min(
          merged.concurrency?.maxParallel ?? Number.POSITIVE_INFINITY,
          r.concurrency.maxParallel,
        ),
        policies: union(merged.concurrency?.policies, [id]),
      };
    }
    if (r.halt) {
      merged.halt = {
        maxFailures: Math.min(merged.halt?.maxFailures ?? Number.POSITIVE_INFINITY, r.halt.maxFailures),
        policies: union(merged.halt?.policies, [id]),
      };
    }
    if (r.trafficDrain) {
      merged.trafficDrain = {
        seconds: Math.max(merged.trafficDrain?.seconds ?? 0, r.trafficDrain.seconds),
        policies: union(merged.trafficDrain?.policies, [id]),
      };
    }
    if (r.deploymentDependency) {
      const dependsOn = [...(merged.deploymentDependency?.dependsOn ?? [])];
      for (const d of r.deploymentDependency.dependsOn) {
        const known = dependsOn.some(
          (x) => x.deployment === d.deployment && x.versionCondition === d.versionCondition,
        );
        if (!known) dependsOn.push({ ...d, policy: id });
      }
      merged.deploymentDependency = {
        dependsOn,
        policies: union(merged.deploymentDependency?.policies, [id]),
      };
    }
  }
  return merged;
}
