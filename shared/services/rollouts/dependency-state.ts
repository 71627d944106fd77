import type { Runtime } from '../../adapters/runtime';
import { currentVersions, versionFacts } from '../../adapters/store/dependency';
import { type InventorySnapshot, listAllConfigCached } from '../../adapters/store/inventory';
import { invalid } from '../../core/errors';
import {
  cycleThrough,
  type DependencyVerdict,
  type DependsOn,
  dependencyGraph,
  dependencyVerdict,
  edgesOf,
  MAX_GRAPH_PAIRS,
  type Running,
  summarizeRunning,
  type VersionFacts,
} from '../../core/policy/dependency';
import type { Stored } from '../../core/records';
import type { DeploymentBody, PolicyBody } from '../../core/schemas/config';
import { celDeployment, computeReleaseTargets } from '../../core/targets';

/**
 * Deployment dependencies, read with no side effect: what a deployment runs in an environment (for the
 * gate's refresh and the plan), and the cycle check of policy and deployment writes.
 */

/**
 * What a deployment runs in an environment: its release targets there from the inventory (a target
 * never deployed has no target item yet), their current versions from one Query of its target items
 * (`current`: read already).
 */
export async function runningIn(
  rt: Runtime,
  inventory: InventorySnapshot,
  deployment: string,
  environment: string,
  current?: ReadonlyMap<string, string | null>,
): Promise<Running> {
  const stored = inventory.deployments.find((d) => d.id === deployment);
  const environments = inventory.environments.filter((e) => e.id === environment);
  if (!stored || environments.length === 0) return summarizeRunning(deployment, [], new Map());
  const { targets } = computeReleaseTargets(stored, environments, inventory.resources);
  current ??= targets.length > 0 ? await currentVersions(rt, deployment, environment) : new Map();
  return summarizeRunning(
    stored.data.name ?? deployment,
    targets.map((t) => t.resource),
    current,
  );
}

/** The facts of the versions that conditions will look at, per deployment and tag (one BatchGetItem). */
export async function factsFor(
  rt: Runtime,
  dependsOn: readonly DependsOn[],
  running: ReadonlyMap<string, Running>,
): Promise<Map<string, Map<string, VersionFacts>>> {
  const wanted = new Map<string, { deployment: string; tag: string }>();
  for (const d of dependsOn) {
    if (!d.versionCondition) continue;
    for (const tag of Object.keys(running.get(d.deployment)?.versions ?? {}))
      wanted.set(`${d.deployment}#${tag}`, { deployment: d.deployment, tag });
  }
  return versionFacts(rt, [...wanted.values()]);
}

/** For the plan: each dependency's verdict in each environment, now (key: `environment#deployment#condition`). */
export async function dependencyVerdicts(
  rt: Runtime,
  inventory: InventorySnapshot,
  wanted: readonly { environment: string; dependsOn: readonly DependsOn[] }[],
): Promise<Map<string, DependencyVerdict>> {
  const verdicts = new Map<string, DependencyVerdict>();
  await Promise.all(
    wanted.map(async ({ environment, dependsOn }) => {
      const deployments = [...new Set(dependsOn.map((d) => d.deployment))];
      const running = new Map(
        await Promise.all(
          deployments.map(async (d) => [d, await runningIn(rt, inventory, d, environment)] as const),
        ),
      );
      const facts = await factsFor(rt, dependsOn, running);
      for (const d of dependsOn) {
        const verdict = dependencyVerdict(
          d,
          environment,
          running.get(d.deployment) as Running,
          facts.get(d.deployment) ?? new Map(),
        );
        verdicts.set(verdictKey(environment, d), verdict);
      }
    }),
  );
  return verdicts;
}

export const verdictKey = (environment: string, d: DependsOn) =>
  `${environment}#${d.deployment}#${d.versionCondition ?? ''}`;

/**
 * Refuses (400, naming the cycle) a policy or deployment write after which deployments would depend on
 * each other in a cycle, self-dependency included: the policies' `targets` are judged per deployment,
 * and one that also needs the environment or the resource counts as applying (core/policy/dependency.ts).
 * Only cycles through the written object count: one left by concurrent writes does not block the rest.
 */
export async function assertNoDependencyCycle(
  rt: Runtime,
  written:
    | { kind: 'policy'; id: string; body: PolicyBody }
    | { kind: 'deployment'; id: string; body: DeploymentBody },
): Promise<void> {
  const stored = await listAllConfigCached(rt, 'policy');
  const policies: Stored<PolicyBody>[] = stored.filter(
    (p) => !(written.kind === 'policy' && p.id === written.id),
  );
  if (written.kind === 'policy') {
    if (!written.body.rules.deploymentDependency) return;
    // Last, so an edge other policies already make keeps their name: the written policy's are new.
    policies.push({ id: written.id, data: written.body, createdAt: '', updatedAt: '' });
  } else if (!policies.some((p) => p.data.rules.deploymentDependency)) return;
  const deployments = (await listAllConfigCached(rt, 'deployment'))
    .filter((d) => !(written.kind === 'deployment' && d.id === written.id))
    .map(celDeployment);
  if (written.kind === 'deployment')
    deployments.push({ id: written.id, name: written.body.name ?? written.id });
  const graph = dependencyGraph(policies, deployments);
  if (!graph) {
    throw invalid(
      `Deployment dependencies are checked for cycles over at most ${MAX_GRAPH_PAIRS} pairs of a policy with the rule and a deployment: this write would need more.`,
    );
  }
  const edges =
    written.kind === 'policy'
      ? [...graph].flatMap(([from, to]) =>
          [...to]
            .filter(([, policy]) => policy === written.id)
            .map(([dep]) => [from, dep] as [string, string]),
        )
      : edgesOf(graph, written.id);
  const cycle = cycleThrough(graph, edges);
  if (!cycle) return;
  const path = cycle.join(' -> ');
  const through = [
    ...new Set(cycle.slice(1).map((to, i) => graph.get(cycle[i] as string)?.get(to) as string)),
  ];
  const self =
    cycle.length === 2
      ? ` The targets of policy ${through[0]} may match ${cycle[0]} itself: name the deployments that depend on it (deployment.id == "...").`
      : '';
  throw invalid(
    `Deployment dependencies may not form a cycle: ${path} (${through.length === 1 ? 'policy' : 'policies'} ${through.join(', ')}).${self}`,
    [{ path: written.kind === 'policy' ? 'rules.deploymentDependency.dependsOn' : '', message: path }],
  );
}
