import { currentDate, isoNow } from '../clock';
import { notFound } from '../errors';
import { requireConfig } from '../inventory';
import { type MergedRules, matchingPolicies, mergeRules } from '../policy/merge';
import { rolloutOrder } from '../policy/rollout-order';
import { nextDispatchableAt } from '../policy/window';
import type { Runtime } from '../runtime';
import type { DeploymentBody, PolicyBody } from '../schemas/config';
import { listAllConfig } from '../store/config';
import { getVersion, listReleases, type ReleaseRecord, releaseKeyString } from '../store/rollouts';
import {
  celDeployment,
  celEnvironment,
  celResource,
  computeReleaseTargets,
  type ReleaseTarget,
  type Warning,
} from '../targets';
import { planVariables } from '../variables';
import { loadInventory, renderVersion } from './versions';

/**
 * The plan (API.md section 4): for every release target, computed ahead of time with no side effects,
 * the ordered gates with the policies behind them, the rollout position and offset, the next window
 * opening and an estimated start. Job and verification durations are unknown, so estimates assume
 * jobs finish at once and approvals are given when asked; the plan says so in `assumptions`.
 */
interface PlannedGate {
  gate: 'environment_progression' | 'approval' | 'deployment_window' | 'gradual_rollout' | 'concurrency';
  policies: string[];
  detail: Record<string, unknown>;
}

function gatesOf(rules: MergedRules): PlannedGate[] {
  const gates: PlannedGate[] = [];
  const p = rules.environmentProgression;
  if (p) {
    gates.push({
      gate: 'environment_progression',
      policies: p.policies,
      detail: {
        dependsOnEnvironments: p.dependsOnEnvironments,
        minSoakSeconds: p.minSoakSeconds,
        minSuccessPercentage: p.minSuccessPercentage,
      },
    });
  }
  if (rules.approval) {
    gates.push({
      gate: 'approval',
      policies: rules.approval.policies,
      detail: { minApprovals: rules.approval.minApprovals, approvers: rules.approval.approvers ?? null },
    });
  }
  if (rules.deploymentWindows.length) {
    gates.push({
      gate: 'deployment_window',
      policies: [...new Set(rules.deploymentWindows.map((w) => w.policy))],
      detail: { windows: rules.deploymentWindows.map(({ policy: _p, ...w }) => w) },
    });
  }
  if (
    rules.gradualRollout &&
    (rules.gradualRollout.intervalSeconds > 0 || rules.gradualRollout.waitForVerified)
  ) {
    gates.push({
      gate: 'gradual_rollout',
      policies: rules.gradualRollout.policies,
      detail: {
        intervalSeconds: rules.gradualRollout.intervalSeconds,
        waitForVerified: rules.gradualRollout.waitForVerified,
      },
    });
  }
  if (rules.concurrency) {
    gates.push({
      gate: 'concurrency',
      policies: rules.concurrency.policies,
      detail: { maxParallel: rules.concurrency.maxParallel },
    });
  }
  return gates;
}

const DONE = new Set(['successful', 'failed', 'rolled_back', 'superseded', 'cancelled']);

export async function planVersion(rt: Runtime, deploymentId: string, tag: string, now = currentDate()) {
  const version = await getVersion(rt, deploymentId, tag);
  if (!version) throw notFound(`The version "${tag}" of deployment "${deploymentId}"`);
  const deployment = await requireConfig<DeploymentBody>(rt, 'deployment', deploymentId);
  const [{ environments, resources }, policies, releases] = await Promise.all([
    loadInventory(rt),
    listAllConfig<PolicyBody>(rt, 'policy'),
    listReleases(rt, deploymentId, tag),
  ]);
  const { targets, warnings } = computeReleaseTargets(deployment, environments, resources);
  const allWarnings: Warning[] = [...warnings];
  const envById = new Map(environments.map((e) => [e.id, e]));
  const resourceById = new Map(resources.map((r) => [r.id, r]));
  const releaseByKey = new Map(releases.map((r) => [releaseKeyString(r), r]));
  const dep = celDeployment(deployment);

  const planned = targets.map((target: ReleaseTarget) => {
    const environment = envById.get(target.environment);
    const resource = resourceById.get(target.resource);
    if (!environment || !resource) throw new Error('inventory changed while planning');
    const scope = {
      deployment: dep,
      environment: celEnvironment(environment),
      resource: celResource(resource),
    };
    const { matched, warnings: policyWarnings } = matchingPolicies(policies, scope);
    allWarnings.push(...policyWarnings);
    const rules = mergeRules(matched);
    const release = releaseByKey.get(releaseKeyString({ ...target, tag }));
    const variables = planVariables(deployment.data, scope as unknown as Record<string, unknown>);
    return { target, rules, release, policies: matched.map((p) => p.id), variables };
  });

  // Rollout order per environment, computed once per environment.
  const byEnvironment = new Map<string, typeof planned>();
  for (const p of planned) {
    const group = byEnvironment.get(p.target.environment);
    if (group) group.push(p);
    else byEnvironment.set(p.target.environment, [p]);
  }
  const positions = new Map<string, number>();
  for (const group of byEnvironment.values()) {
    const keys = group.map((p) => releaseKeyString({ ...p.target, tag }));
    rolloutOrder(keys, tag).forEach((key, index) => {
      positions.set(key, index);
    });
  }

  // Estimated start per environment: after its upstream environments' last start plus soak, inside a window.
  const environmentStart = new Map<string, Date | null>();
  const visiting = new Set<string>();
  const intervals = new Map<string, number>();
  const longestInterval = (envId: string): number => {
    if (!intervals.has(envId)) {
      let longest = 0;
      for (const u of byEnvironment.get(envId) ?? [])
        longest = Math.max(longest, u.rules.gradualRollout?.intervalSeconds ?? 0);
      intervals.set(envId, longest);
    }
    return intervals.get(envId) ?? 0;
  };
  const estimateEnvironment = (envId: string): Date | null => {
    if (environmentStart.has(envId)) return environmentStart.get(envId) ?? null;
    if (visiting.has(envId)) return null; // a dependency cycle never starts
    visiting.add(envId);
    const group = byEnvironment.get(envId) ?? [];
    let start: Date | null = now;
    for (const p of group) {
      const progression = p.rules.environmentProgression;
      for (const upstream of progression?.dependsOnEnvironments ?? []) {
        if (!byEnvironment.has(upstream)) {
          start = null;
          allWarnings.push({
            expression: '',
            resource: p.target.resource,
            environment: envId,
            message: `depends on ${upstream}, which has no release target of this deployment`,
          });
          continue;
        }
        const upstreamStart = estimateEnvironment(upstream);
        const upstreamCount = byEnvironment.get(upstream)?.length ?? 0;
        const upstreamInterval = longestInterval(upstream);
        if (upstreamStart === null || start === null) {
          start = null;
          continue;
        }
        const upstreamDone =
          upstreamStart.getTime() + Math.max(0, upstreamCount - 1) * upstreamInterval * 1000;
        const ready = new Date(upstreamDone + (progression?.minSoakSeconds ?? 0) * 1000);
        if (ready > start) start = ready;
      }
    }
    visiting.delete(envId);
    environmentStart.set(envId, start);
    return start;
  };

  // Window searches are costly (the rrule package walks from DTSTART): one per rule set and start.
  const windowMemo = new Map<string, Date | null>();
  const nextOpening = (windows: MergedRules['deploymentWindows'], from: Date) => {
    const key = `${from.getTime()}|${JSON.stringify(windows)}`;
    if (!windowMemo.has(key)) windowMemo.set(key, nextDispatchableAt(windows, from) ?? null);
    return windowMemo.get(key) ?? null;
  };

  const items = planned.map(({ target, rules, release, policies: matched, variables }) => {
    const key = releaseKeyString({ ...target, tag });
    const position = positions.get(key) ?? 0;
    const interval = rules.gradualRollout?.intervalSeconds ?? 0;
    const envStart = estimateEnvironment(target.environment);
    let estimatedStart: Date | null = envStart;
    let nextWindowOpening: Date | null = null;
    if (estimatedStart && rules.deploymentWindows.length) {
      nextWindowOpening = nextOpening(rules.deploymentWindows, estimatedStart);
      estimatedStart = nextWindowOpening;
    }
    if (estimatedStart && interval > 0)
      estimatedStart = new Date(estimatedStart.getTime() + position * interval * 1000);
    const actual = actualStart(release);
    return {
      environment: target.environment,
      resource: target.resource,
      status: release?.status ?? 'pending',
      waitingFor: release?.status === 'waiting' ? release.waitingFor : null,
      message: release?.message ?? null,
      policies: matched,
      gates: gatesOf(rules),
      position: rules.gradualRollout ? position : null,
      rolloutOffsetSeconds: interval > 0 ? position * interval : null,
      nextWindowOpening: nextWindowOpening?.toISOString() ?? null,
      estimatedStart: actual ?? estimatedStart?.toISOString() ?? null,
      verification: rules.verification.map((m) => ({
        name: m.name,
        policy: m.policy,
        count: m.count,
        intervalSeconds: m.intervalSeconds,
      })),
      rollback: rules.rollback ?? null,
      variables,
    };
  });

  return {
    version: renderVersion(version),
    generatedAt: isoNow(now.getTime()),
    assumptions: [
      'jobs and verification finish at once',
      'approvals are given as soon as they are asked for',
    ],
    targets: items,
    warnings: allWarnings,
  };
}

function actualStart(release: ReleaseRecord | undefined): string | null {
  if (!release) return null;
  if (release.status === 'deploying' || release.status === 'verifying' || DONE.has(release.status))
    return release.startedAt;
  return null;
}
