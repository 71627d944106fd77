import type { Runtime } from '../../adapters/runtime';
import { decodeToken, encodeToken, type Stored } from '../../adapters/store/config';
import { listFreezes } from '../../adapters/store/freezes';
import { type InventorySnapshot, inventorySnapshot } from '../../adapters/store/inventory';
import { keys } from '../../adapters/store/keys';
import { releasesOfTargets } from '../../adapters/store/pages';
import {
  getVersion,
  listReleases,
  type ReleaseRecord,
  releaseKeyString,
} from '../../adapters/store/rollouts';
import { currentDate, isoNow } from '../../core/clock';
import { notFound } from '../../core/errors';
import { type MergedRules, matchingPolicies, mergeRules } from '../../core/policy/merge';
import { rolloutOrder } from '../../core/policy/rollout-order';
import { nextDispatchableAt } from '../../core/policy/window';
import type { Answer } from '../../core/schemas/answers';
import type { DeploymentBody, PolicyBody } from '../../core/schemas/config';
import {
  type CelScope,
  celDeployment,
  celEnvironment,
  celResource,
  computeReleaseTargets,
  type ReleaseTarget,
  type Warning,
} from '../../core/targets';
import { planVariables } from '../../core/variables';
import { planDependencies } from './plan-dependencies';
import { planFreezes } from './plan-freezes';
import { renderVersion } from './versions';

/**
 * The plan (docs/api.md section 4): for every release target, computed ahead of time with no side effects,
 * the ordered gates with the policies behind them, the rollout position and offset, the next window
 * opening and an estimated start. Job and verification durations are unknown, so estimates assume
 * jobs finish at once and approvals are given when asked; the plan says so in `assumptions`.
 */
interface PlannedGate {
  gate:
    | 'environment_progression'
    | 'deployment_dependency'
    | 'approval'
    | 'freeze'
    | 'deployment_window'
    | 'gradual_rollout'
    | 'concurrency';
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
  if (rules.deploymentDependency) {
    // Each dependency's verdict in the target's environment is added per request (plan-dependencies.ts).
    gates.push({
      gate: 'deployment_dependency',
      policies: rules.deploymentDependency.policies,
      detail: { dependsOn: rules.deploymentDependency.dependsOn },
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

/** Targets per plan page (docs/api.md section 4: every list pages with `limit`, at most 1,000). */
export const PLAN_PAGE_LIMIT = 1000;
/** Bytes of targets in one plan page, well inside Lambda's 6 MB with the version and warnings. */
const PLAN_PAGE_BYTES = 3 * 1024 * 1024;
/** Warnings in one answer: an expression that errors on every resource warns thousands of times. */
const MAX_WARNINGS = 100;

interface Planned {
  target: ReleaseTarget;
  key: string;
  scope: CelScope;
  rules: Ruleset;
}

/** The merged rules of one set of matching policies, with what the plan shows of them, built once. */
interface Ruleset {
  policies: string[];
  rules: MergedRules;
  gates: PlannedGate[];
  verification: { name: string; policy: string; count: number; intervalSeconds: number }[];
}

/**
 * What a plan is computed from besides the clock, over all of the version's targets: the merged rules
 * per target (policies matched once per target, rules merged once per distinct set of policies), the
 * rollout positions, and each environment's estimated start as an offset from now. It depends only on
 * the inventory snapshot, the deployment and the tag, so it is kept while the snapshot lives.
 */
interface StaticPlan {
  planned: Planned[];
  positions: Map<string, number>;
  /** Milliseconds after now; null: never starts (a missing or cyclic dependency). */
  environmentOffset: Map<string, number | null>;
  warnings: Warning[];
}

const staticPlans = new WeakMap<InventorySnapshot, Map<string, StaticPlan>>();
/** Plans kept per snapshot (each holds one entry per target). */
const MAX_STATIC_PLANS = 8;

function staticPlanOf(inventory: InventorySnapshot, deployment: Stored<DeploymentBody>, tag: string) {
  let plans = staticPlans.get(inventory);
  if (!plans) {
    plans = new Map();
    staticPlans.set(inventory, plans);
  }
  const id = `${deployment.id}#${tag}`;
  let plan = plans.get(id);
  if (!plan) {
    plan = staticPlan(inventory, deployment, tag);
    if (plans.size >= MAX_STATIC_PLANS) plans.delete(plans.keys().next().value as string);
    plans.set(id, plan);
  }
  return plan;
}

function staticPlan(
  inventory: InventorySnapshot,
  deployment: Stored<DeploymentBody>,
  tag: string,
): StaticPlan {
  const { environments, resources, policies } = inventory;
  const { targets, warnings } = computeReleaseTargets(deployment, environments, resources);
  const envById = new Map(environments.map((e) => [e.id, celEnvironment(e)]));
  const resourceById = new Map(resources.map((r) => [r.id, r]));
  const dep = celDeployment(deployment);
  const rulesets = new Map<string, Ruleset>();
  const rulesetOf = (matched: Stored<PolicyBody>[]): Ruleset => {
    const id = matched.map((p) => p.id).join('\n');
    let ruleset = rulesets.get(id);
    if (!ruleset) {
      const rules = mergeRules(matched);
      ruleset = {
        policies: matched.map((p) => p.id),
        rules,
        gates: gatesOf(rules),
        verification: rules.verification.map((m) => ({
          name: m.name,
          policy: m.policy,
          count: m.count,
          intervalSeconds: m.intervalSeconds,
        })),
      };
      rulesets.set(id, ruleset);
    }
    return ruleset;
  };

  const planned: Planned[] = targets.map((target) => {
    const environment = envById.get(target.environment);
    const resource = resourceById.get(target.resource);
    if (!environment || !resource) throw new Error('inventory changed while planning');
    const scope: CelScope = { deployment: dep, environment, resource: celResource(resource) };
    const { matched, warnings: policyWarnings } = matchingPolicies(policies, scope);
    for (const w of policyWarnings) warnings.push(w);
    return { target, key: releaseKeyString({ ...target, tag }), scope, rules: rulesetOf(matched) };
  });

  // Rollout order per environment, computed once per environment.
  const byEnvironment = new Map<string, Planned[]>();
  for (const p of planned) {
    const group = byEnvironment.get(p.target.environment);
    if (group) group.push(p);
    else byEnvironment.set(p.target.environment, [p]);
  }
  const positions = new Map<string, number>();
  for (const group of byEnvironment.values()) {
    rolloutOrder(
      group.map((p) => p.key),
      tag,
    ).forEach((key, index) => {
      positions.set(key, index);
    });
  }

  // Start per environment: after its upstream environments' last start plus soak.
  const environmentOffset = new Map<string, number | null>();
  const visiting = new Set<string>();
  const intervals = new Map<string, number>();
  const longestInterval = (envId: string): number => {
    if (!intervals.has(envId)) {
      let longest = 0;
      for (const u of byEnvironment.get(envId) ?? [])
        longest = Math.max(longest, u.rules.rules.gradualRollout?.intervalSeconds ?? 0);
      intervals.set(envId, longest);
    }
    return intervals.get(envId) ?? 0;
  };
  const estimateEnvironment = (envId: string): number | null => {
    if (environmentOffset.has(envId)) return environmentOffset.get(envId) ?? null;
    if (visiting.has(envId)) return null; // a dependency cycle never starts
    visiting.add(envId);
    let start: number | null = 0;
    for (const p of byEnvironment.get(envId) ?? []) {
      const progression = p.rules.rules.environmentProgression;
      for (const upstream of progression?.dependsOnEnvironments ?? []) {
        if (!byEnvironment.has(upstream)) {
          start = null;
          warnings.push({
            expression: '',
            resource: p.target.resource,
            environment: envId,
            message: `depends on ${upstream}, which has no release target of this deployment`,
          });
          continue;
        }
        const upstreamStart = estimateEnvironment(upstream);
        if (upstreamStart === null || start === null) {
          start = null;
          continue;
        }
        const upstreamCount = byEnvironment.get(upstream)?.length ?? 0;
        const upstreamDone =
          upstreamStart + Math.max(0, upstreamCount - 1) * longestInterval(upstream) * 1000;
        start = Math.max(start, upstreamDone + (progression?.minSoakSeconds ?? 0) * 1000);
      }
    }
    visiting.delete(envId);
    environmentOffset.set(envId, start);
    return start;
  };
  for (const envId of byEnvironment.keys()) estimateEnvironment(envId);
  return { planned, positions, environmentOffset, warnings };
}

/** The plan at `now`: the static part, and a renderer of one target with its release. */
async function planModel(rt: Runtime, deploymentId: string, tag: string, now: Date) {
  const [version, inventory, freezes] = await Promise.all([
    getVersion(rt, deploymentId, tag),
    inventorySnapshot(rt),
    listFreezes(rt),
  ]);
  const frozen = planFreezes(freezes, now);
  if (!version) throw notFound(`The version "${tag}" of deployment "${deploymentId}"`);
  const deployment = inventory.deployments.find((d) => d.id === deploymentId);
  if (!deployment) throw notFound(`The deployment "${deploymentId}"`);
  const { planned, positions, environmentOffset, warnings } = staticPlanOf(inventory, deployment, tag);
  const dependencies = await planDependencies(rt, inventory, planned);

  // Window searches are costly (the rrule package walks from DTSTART): one per rule set and start.
  const windowMemo = new Map<string, Date | null>();
  const nextOpening = (ruleset: Ruleset, from: Date) => {
    const key = `${from.getTime()}|${ruleset.policies.join('\n')}`;
    if (!windowMemo.has(key))
      windowMemo.set(key, nextDispatchableAt(ruleset.rules.deploymentWindows, from) ?? null);
    return windowMemo.get(key) ?? null;
  };
  const variablesMemo = hasOverrides(deployment.data) ? undefined : planVariables(deployment.data, {});

  const render = (p: Planned, release: ReleaseRecord | undefined) => {
    const { rules } = p.rules;
    const position = positions.get(p.key) ?? 0;
    const interval = rules.gradualRollout?.intervalSeconds ?? 0;
    const offset = environmentOffset.get(p.target.environment);
    let estimatedStart = offset === null || offset === undefined ? null : new Date(now.getTime() + offset);
    // A freeze that holds the target then pushes it past its end (none known: no estimate).
    if (estimatedStart) estimatedStart = frozen.after(p.scope, estimatedStart);
    let nextWindowOpening: Date | null = null;
    if (estimatedStart && rules.deploymentWindows.length) {
      nextWindowOpening = nextOpening(p.rules, estimatedStart);
      estimatedStart = nextWindowOpening;
    }
    if (estimatedStart && interval > 0)
      estimatedStart = new Date(estimatedStart.getTime() + position * interval * 1000);
    return {
      environment: p.target.environment,
      resource: p.target.resource,
      status: release?.status ?? 'pending',
      waitingFor: release?.status === 'waiting' ? release.waitingFor : null,
      message: release?.message ?? null,
      policies: p.rules.policies,
      gates: dependencies.withVerdicts(p.target.environment, frozen.withGate(p.scope, p.rules.gates)),
      position: rules.gradualRollout ? position : null,
      rolloutOffsetSeconds: interval > 0 ? position * interval : null,
      nextWindowOpening: nextWindowOpening?.toISOString() ?? null,
      estimatedStart: actualStart(release) ?? estimatedStart?.toISOString() ?? null,
      verification: p.rules.verification,
      rollback: rules.rollback ?? null,
      variables:
        variablesMemo ?? planVariables(deployment.data, p.scope as unknown as Record<string, unknown>),
    };
  };

  return {
    head: {
      version: renderVersion(version),
      generatedAt: isoNow(now.getTime()),
      assumptions: [
        'jobs and verification finish at once',
        'approvals are given as soon as they are asked for',
      ],
    },
    planned,
    warnings,
    render,
  };
}

const hasOverrides = (deployment: DeploymentBody) =>
  Object.values(deployment.variables ?? {}).some((v) => 'overrides' in v && (v.overrides?.length ?? 0) > 0);

/** The whole plan, every target (the status page's timeline). */
export async function planVersion(rt: Runtime, deploymentId: string, tag: string, now = currentDate()) {
  const [model, releases] = await Promise.all([
    planModel(rt, deploymentId, tag, now),
    listReleases(rt, deploymentId, tag),
  ]);
  const releaseByKey = new Map(releases.map((r) => [releaseKeyString(r), r]));
  return {
    ...model.head,
    targets: model.planned.map((p) => model.render(p, releaseByKey.get(p.key))),
    // A copy: the static plan's own list is kept for later requests.
    warnings: [...model.warnings],
  };
}

/**
 * One page of the plan (GET .../plan): at most `limit` targets, in the order of the whole plan, with a
 * nextToken naming the last target's release key; the releases read are only the page's.
 */
export async function planVersionPage(
  rt: Runtime,
  deploymentId: string,
  tag: string,
  page: { limit?: number; nextToken?: string },
  now = currentDate(),
): Promise<Answer<'Plan'>> {
  const after = decodeToken(page.nextToken, { name: 'pk', value: keys.releasesOfVersion(deploymentId, tag) });
  const model = await planModel(rt, deploymentId, tag, now);
  const limit = Math.min(page.limit ?? PLAN_PAGE_LIMIT, PLAN_PAGE_LIMIT);
  let from = 0;
  if (after) {
    const afterKey = `${deploymentId}#${tag}#${String(after.sk)}`;
    const index = model.planned.findIndex((p) => p.key === afterKey);
    // A target that left the inventory since: the page continues after where it stood.
    from = index >= 0 ? index + 1 : model.planned.findIndex((p) => p.key > afterKey);
    if (from < 0) from = model.planned.length;
  }
  const slice = model.planned.slice(from, from + limit);
  const releases = await releasesOfTargets(
    rt,
    deploymentId,
    tag,
    slice.map((p) => p.target),
  );
  // Rules come from policies of up to 300 KiB each: a page also ends at a byte budget.
  const targets: ReturnType<typeof model.render>[] = [];
  let bytes = 0;
  for (const p of slice) {
    const item = model.render(p, releases.get(p.key));
    bytes += JSON.stringify(item).length;
    if (bytes > PLAN_PAGE_BYTES && targets.length > 0) break;
    targets.push(item);
  }
  const last = targets.at(-1);
  const more = from + targets.length < model.planned.length;
  return {
    ...model.head,
    targetCount: model.planned.length,
    targets,
    warnings: model.warnings.slice(0, MAX_WARNINGS),
    warningCount: model.warnings.length,
    ...(more && last
      ? { nextToken: encodeToken(keys.release(deploymentId, tag, last.environment, last.resource)) }
      : {}),
  };
}

function actualStart(release: ReleaseRecord | undefined): string | null {
  if (!release) return null;
  if (release.status === 'deploying' || release.status === 'verifying' || DONE.has(release.status))
    return release.startedAt;
  return null;
}
