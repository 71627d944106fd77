import type { Runtime } from '../../adapters/runtime';
import { policiesAndFreezes } from '../../adapters/store/inventory';
import { keys } from '../../adapters/store/keys';
import { releasesAfter } from '../../adapters/store/pages';
import type { ReleaseReads } from '../../adapters/store/release-reads';
import {
  getRelease,
  listReleases,
  putIfAbsent,
  type ReleaseRecord,
  releaseKeyString,
} from '../../adapters/store/rollouts';
import { releaseSlot, slotHolders, takeSlot } from '../../adapters/store/slots';
import type { GateWait } from '../../core/lifecycle';
import { isDependedOn } from '../../core/policy/dependency';
import { type FreezeRecord, freezeHold } from '../../core/policy/freeze';
import { type MergedRules, matchingPolicies, mergeRules } from '../../core/policy/merge';
import { progressionState } from '../../core/policy/progression';
import { rolloutOrder, slotTime } from '../../core/policy/rollout-order';
import { nextDispatchableAt } from '../../core/policy/window';
import type { DeploymentBody, EnvironmentBody, ResourceBody } from '../../core/schemas/config';
import { signals } from '../../core/signals';
import { TERMINAL_RELEASE } from '../../core/status';
import { type CelScope, celDeployment, celEnvironment, celResource } from '../../core/targets';
import {
  APPROVAL_TARGETS,
  approvalIdOf,
  expire,
  getApproval,
  isExpired,
  openApproval,
  requireApproval,
} from '../approvals';
import { requireConfig } from '../inventory';
import { dependencyGate } from './dependency';
import { getAbort } from './safety';

export interface PolicyContext {
  scope: CelScope;
  rules: MergedRules;
  deployment: DeploymentBody;
  /** Some policy names this deployment in a deploymentDependency: its successes wake dependants. */
  dependedOn: boolean;
  /** Every freeze (docs/api.md section 10), from the same cache as the policies. */
  freezes: readonly FreezeRecord[];
}

/**
 * Loads the release's deployment, environment and resource and the policies that target it. A step
 * that already read them (readForRelease) passes them: only the policies are read then (and what was
 * missing, which requireConfig reports as not found).
 */
export async function policyContext(
  rt: Runtime,
  release: Pick<ReleaseRecord, 'deployment' | 'environment' | 'resource'>,
  loaded?: Pick<ReleaseReads, 'deployment' | 'environment' | 'resource'>,
): Promise<PolicyContext> {
  const [deployment, environment, resource, { policies, freezes }] = await Promise.all([
    loaded?.deployment ?? requireConfig<DeploymentBody>(rt, 'deployment', release.deployment),
    loaded?.environment ?? requireConfig<EnvironmentBody>(rt, 'environment', release.environment),
    loaded?.resource ?? requireConfig<ResourceBody>(rt, 'resource', release.resource),
    // Every policy and freeze: from the container's cache, revalidated by one GetItem
    // (shared/adapters/store/inventory.ts).
    policiesAndFreezes(rt),
  ]);
  const scope: CelScope = {
    deployment: celDeployment(deployment),
    environment: celEnvironment(environment),
    resource: celResource(resource),
  };
  return {
    scope,
    rules: mergeRules(matchingPolicies(policies, scope).matched),
    deployment: deployment.data,
    dependedOn: isDependedOn(policies, release.deployment),
    freezes,
  };
}

const policyList = (ids: string[]) => (ids.length === 1 ? `policy ${ids[0]}` : `policies ${ids.join(', ')}`);

/**
 * The policy gates in the order a person reads them: upstream environments, other deployments,
 * approval, freezes, windows, the gradual rollout slot, concurrency. The first closed gate is
 * returned; undefined = all open.
 */
export async function closedGate(
  rt: Runtime,
  release: ReleaseRecord,
  ctx: PolicyContext,
  now: Date,
): Promise<GateWait | undefined> {
  const { rules } = ctx;

  if (rules.environmentProgression) {
    const rule = rules.environmentProgression;
    for (const upstream of rule.dependsOnEnvironments) {
      const aborted = await getAbort(rt, release, upstream);
      if (aborted) {
        return {
          gate: 'environment_progression',
          signal: signals.progression(release.deployment, release.tag, upstream),
          message: `${upstream} stopped this version (${aborted.reason}); it will not progress.`,
        };
      }
      const releases = await listReleases(rt, release.deployment, release.tag, upstream);
      const state = progressionState(releases, rule, now);
      const signal = signals.progression(release.deployment, release.tag, upstream);
      if (state.type === 'soaking') {
        return {
          gate: 'environment_progression',
          until: state.until,
          message: `Soaking after ${upstream} succeeded (${policyList(rule.policies)}).`,
        };
      }
      if (state.type !== 'open') {
        const detail = state.type === 'blocked' ? 'cannot reach' : 'has not reached';
        return {
          gate: 'environment_progression',
          signal,
          message: `${upstream} ${detail} ${rule.minSuccessPercentage}% success (${state.successes}/${state.total}) (${policyList(rule.policies)}).`,
        };
      }
    }
  }

  // Other deployments first (deploy A before B), before an approval is asked for.
  if (rules.deploymentDependency) {
    const waiting = await dependencyGate(rt, release, rules.deploymentDependency, now);
    if (waiting) return waiting;
  }

  if (rules.approval) {
    const approvalId = approvalIdOf(release.deployment, release.tag, release.environment);
    // The targets are read only to open the approval, and at most one page of them: every release
    // of the environment reaches this gate, and the approval, once notified, needs nothing more.
    let approval = await getApproval(rt, approvalId);
    if (!approval?.notifiedAt) {
      const first = approval
        ? undefined
        : await releasesAfter(rt, release.deployment, release.tag, {
            environment: release.environment,
            limit: APPROVAL_TARGETS,
          });
      approval = await openApproval(rt, release, rules.approval, {
        deploymentName: ctx.scope.deployment.name,
        environmentName: ctx.scope.environment.name,
        targets: first?.items.map((r) => r.resource) ?? [],
        moreTargets: first && first.last !== undefined,
      });
    }
    if (isExpired(approval, now.getTime())) {
      await expire(rt, approval);
      approval = await requireApproval(rt, approvalId);
    }
    if (approval.status !== 'approved') {
      const approvals = approval.decisions.filter((d) => d.decision === 'approve').length;
      const secondsLeft = Math.max(1, Math.ceil((Date.parse(approval.expiresAt) - now.getTime()) / 1000));
      return {
        gate: 'approval',
        signal: signals.approval(approvalId),
        timeoutSeconds: secondsLeft,
        message: `Waiting for approval ${approvalId} (${approvals}/${approval.minApprovals}, ${policyList(rules.approval.policies)}).`,
      };
    }
  }

  // Freezes (docs/api.md section 10) after the approval, so approvers may approve during a freeze, and
  // before the rollout slot and concurrency, so a frozen release neither starts the slots' clock nor
  // holds a slot. Freezes come cached with the policies (no read of their own).
  const hold = freezeHold(ctx.freezes, ctx.scope, now);
  if (hold) {
    const { freeze, until, count } = hold;
    const more = count > 1 ? ` and ${count - 1} more` : '';
    return {
      gate: 'freeze',
      signal: signals.freeze(freeze.id),
      ...(until ? { timeoutSeconds: Math.max(1, Math.ceil((until.getTime() - now.getTime()) / 1000)) } : {}),
      message: `Frozen by ${freeze.id}${more} ${until ? `until ${until.toISOString()}` : 'until it is deleted'}: ${freeze.reason}`,
    };
  }

  if (rules.deploymentWindows.length > 0) {
    const next = nextDispatchableAt(rules.deploymentWindows, now);
    if (!next || next.getTime() > now.getTime()) {
      const policies = [...new Set(rules.deploymentWindows.map((w) => w.policy))];
      return next
        ? {
            gate: 'deployment_window',
            until: next,
            message: `Outside the deployment window until ${next.toISOString()} (${policyList(policies)}).`,
          }
        : {
            gate: 'deployment_window',
            signal: `window:${release.deployment}`,
            message: `No deployment window opens within a year (${policyList(policies)}).`,
          };
    }
  }

  const gradual = rules.gradualRollout;
  if (gradual && (gradual.intervalSeconds > 0 || gradual.waitForVerified)) {
    const anchor = await rolloutAnchor(rt, release, now);
    const peers = await listReleases(rt, release.deployment, release.tag, release.environment);
    const order = rolloutOrder(peers.map(releaseKeyString), release.tag);
    const position = order.indexOf(releaseKeyString(release));
    const slot = slotTime(anchor, position, gradual.intervalSeconds);
    const where = `Position ${position + 1} of ${peers.length}`;
    if (slot > now) {
      return {
        gate: 'gradual_rollout',
        until: slot,
        message: `${where}; slot opens at ${slot.toISOString()} (${policyList(gradual.policies)}).`,
      };
    }
    // Make before break: the target before this one must be verified successful first.
    const before = position > 0 ? peers.find((p) => releaseKeyString(p) === order[position - 1]) : undefined;
    if (gradual.waitForVerified && before && before.status !== 'successful') {
      return {
        gate: 'gradual_rollout',
        signal: signals.verified(release.deployment, release.tag, release.environment, before.resource),
        message: `${where}; waiting for ${before.resource} to be verified successful (${policyList(gradual.policies)}).`,
      };
    }
  }

  if (rules.concurrency) {
    const acquired = await acquireSlot(rt, release, rules.concurrency.maxParallel);
    if (!acquired) {
      return {
        gate: 'concurrency',
        signal: signals.concurrency(release.deployment, release.environment),
        message: `At most ${rules.concurrency.maxParallel} in ${release.environment} at once (${policyList(rules.concurrency.policies)}).`,
      };
    }
  }
  return undefined;
}

/** The moment the version's gradual rollout began in the environment: set once, by the first target. */
async function rolloutAnchor(rt: Runtime, release: ReleaseRecord, now: Date): Promise<Date> {
  const key = keys.rolloutAnchor(release.deployment, release.tag, release.environment);
  const { item } = await putIfAbsent(rt, key, { startedAt: now.toISOString() });
  return new Date(item.startedAt);
}

/**
 * Takes one of `max` slots of the deployment in the environment. A holder that finished without
 * giving its slot back (a crash between two writes) is removed first.
 */
async function acquireSlot(rt: Runtime, release: ReleaseRecord, max: number): Promise<boolean> {
  if (await takeSlot(rt, release, max)) return true;
  let freed = false;
  for (const holder of await slotHolders(rt, release.deployment, release.environment)) {
    const held = await getRelease(rt, holder);
    if (held && !TERMINAL_RELEASE.has(held.status)) continue;
    freed = (await releaseSlot(rt, holder)) || freed;
  }
  return freed ? takeSlot(rt, release, max) : false;
}
