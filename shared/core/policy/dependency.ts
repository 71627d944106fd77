import { matches } from '../cel';
import type { Stored } from '../records';
import type { PolicyBody } from '../schemas/config';

/**
 * Deployment dependencies (docs/api.md section 10, rule `deploymentDependency`): a release waits until
 * each deployment it depends on runs, on every one of its release targets in the same environment, a
 * successful version that satisfies the rule's `versionCondition`. Pure: what a deployment runs in an
 * environment, whether that satisfies a dependency, which changes wake the releases waiting on it, and
 * the graph between deployments that policy and deployment writes keep free of cycles.
 */
export interface DependsOn {
  deployment: string;
  versionCondition?: string;
}

/** Distinct current versions one summary keeps: past this it is `truncated`. */
export const MAX_VERSIONS = 20;

/** What a deployment runs in one environment, summed over its release targets there. */
export interface Running {
  /** The deployment's name, for conditions over `dependency.name`. */
  name: string;
  targets: number;
  /** Targets with no successful version yet. */
  missing: number;
  /** Current version -> how many targets run it (at most MAX_VERSIONS of them). */
  versions: Record<string, number>;
  truncated: boolean;
}

/** Sums the current versions (`current`: resource -> tag, absent or null for none) of the targets. */
export function summarizeRunning(
  name: string,
  resources: readonly string[],
  current: ReadonlyMap<string, string | null>,
): Running {
  const counts = new Map<string, number>();
  let missing = 0;
  for (const resource of resources) {
    const tag = current.get(resource);
    if (tag) counts.set(tag, (counts.get(tag) ?? 0) + 1);
    else missing++;
  }
  const tags = [...counts.keys()].sort();
  const versions: Record<string, number> = {};
  for (const tag of tags.slice(0, MAX_VERSIONS)) versions[tag] = counts.get(tag) as number;
  return { name, targets: resources.length, missing, versions, truncated: tags.length > MAX_VERSIONS };
}

/** What a `versionCondition` sees as `version`. */
export interface VersionFacts {
  tag: string;
  metadata: Record<string, string>;
  createdAt: string;
}

export type DependencyVerdict = { satisfied: true } | { satisfied: false; message: string };

const targetsText = (n: number) => (n === 1 ? '1 target' : `${n} targets`);

/**
 * Whether what the dependency runs in the environment satisfies it. A deployment with no release
 * target there is satisfied (docs/api.md: "on every target of that environment it has"); a version
 * the condition errors on does not satisfy it.
 */
export function dependencyVerdict(
  dependsOn: DependsOn,
  environment: string,
  running: Running,
  versions: ReadonlyMap<string, VersionFacts>,
): DependencyVerdict {
  const { deployment, versionCondition } = dependsOn;
  if (running.targets === 0) return { satisfied: true };
  if (running.missing > 0) {
    const where =
      running.missing < running.targets
        ? `${running.missing} of its ${targetsText(running.targets)}`
        : running.targets === 1
          ? 'its only target'
          : `any of its ${targetsText(running.targets)}`;
    return {
      satisfied: false,
      message: `${deployment} has no successful release on ${where} in ${environment}.`,
    };
  }
  if (!versionCondition) return { satisfied: true };
  if (running.truncated) {
    return {
      satisfied: false,
      message: `${deployment} runs more than ${MAX_VERSIONS} versions in ${environment}: too many to check against ${versionCondition}.`,
    };
  }
  const dependency = { id: deployment, name: running.name };
  for (const [tag, count] of Object.entries(running.versions)) {
    const version = versions.get(tag) ?? { tag, metadata: {}, createdAt: '' };
    const outcome = matches(versionCondition, { version, dependency });
    if (!outcome.ok || !outcome.value) {
      const why = outcome.ok ? '' : ` (${outcome.error})`;
      return {
        satisfied: false,
        message: `${deployment} runs ${tag} on ${count} of ${targetsText(running.targets)} in ${environment}, which does not satisfy ${versionCondition}${why}.`,
      };
    }
  }
  return { satisfied: true };
}

/**
 * Whether a new summary can satisfy a release that the one before could not: every target has a
 * successful version now, and the set of versions (all a verdict depends on) changed or was not complete.
 */
export function wakesDependants(before: Running | undefined, after: Running): boolean {
  if (after.missing > 0) return false;
  if (!before || before.missing > 0 || before.truncated !== after.truncated) return true;
  const tags = (r: Running) => Object.keys(r.versions).sort().join('\n');
  return tags(before) !== tags(after);
}

/** Whether any policy names the deployment as a dependency (its successes then wake dependants). */
export const isDependedOn = (policies: readonly Stored<PolicyBody>[], deployment: string): boolean =>
  policies.some((p) => p.data.rules.deploymentDependency?.dependsOn.some((d) => d.deployment === deployment));

// ---- the graph between deployments -------------------------------------------------------------

export interface DeploymentRef {
  id: string;
  name: string;
}

/** (policy with the rule, deployment) pairs a cycle check evaluates at most. */
export const MAX_GRAPH_PAIRS = 20_000;

/** deployment -> the deployments it depends on -> the first policy that says so. */
export type DependencyGraph = Map<string, Map<string, string>>;

/**
 * Which deployments a policy's `targets` may apply to, judged per deployment alone: an expression
 * that also needs `environment` or `resource` errors without them, and counts as "may apply".
 */
export function mayApply(policy: Stored<PolicyBody>, deployment: DeploymentRef): boolean {
  const outcome = matches(policy.data.targets, { deployment });
  return !outcome.ok || outcome.value === true;
}

/**
 * The dependency graph of the policies over the deployments (and over every deployment a rule names,
 * which may be created later, with its id as name); undefined when over MAX_GRAPH_PAIRS.
 */
export function dependencyGraph(
  policies: readonly Stored<PolicyBody>[],
  deployments: readonly DeploymentRef[],
): DependencyGraph | undefined {
  const withRule = policies.filter((p) => p.data.rules.deploymentDependency);
  const nodes = new Map(deployments.map((d) => [d.id, d]));
  for (const p of withRule)
    for (const d of p.data.rules.deploymentDependency?.dependsOn ?? [])
      if (!nodes.has(d.deployment)) nodes.set(d.deployment, { id: d.deployment, name: d.deployment });
  if (withRule.length * nodes.size > MAX_GRAPH_PAIRS) return undefined;
  const graph: DependencyGraph = new Map();
  for (const policy of withRule) {
    for (const node of nodes.values()) {
      if (!mayApply(policy, node)) continue;
      let edges = graph.get(node.id);
      if (!edges) {
        edges = new Map();
        graph.set(node.id, edges);
      }
      for (const d of policy.data.rules.deploymentDependency?.dependsOn ?? [])
        if (!edges.has(d.deployment)) edges.set(d.deployment, policy.id);
    }
  }
  return graph;
}

/**
 * A cycle that goes through one of the edges `from -> to`, as the path of deployments from `from`
 * back to it (`["api", "db", "api"]`), or undefined. Breadth first, so the shortest such cycle.
 */
export function cycleThrough(
  graph: DependencyGraph,
  edges: readonly (readonly [string, string])[],
): string[] | undefined {
  for (const [from, to] of edges) {
    const previous = new Map<string, string>([[to, to]]);
    const queue = [to];
    while (queue.length > 0) {
      const node = queue.shift() as string;
      if (node === from) {
        const path = [node];
        for (let at = node; at !== to; path.unshift(at)) at = previous.get(at) as string;
        return [from, ...path];
      }
      for (const next of [...(graph.get(node)?.keys() ?? [])].sort()) {
        if (previous.has(next)) continue;
        previous.set(next, node);
        queue.push(next);
      }
    }
  }
  return undefined;
}

/** The edges of one deployment, for cycleThrough. */
export const edgesOf = (graph: DependencyGraph, deployment: string): [string, string][] =>
  [...(graph.get(deployment)?.keys() ?? [])].map((to) => [deployment, to]);
