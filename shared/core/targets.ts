import { type CelOutcome, matches } from './cel';
import type { Stored } from './records';
import type { DeploymentBody, EnvironmentBody, ResourceBody } from './schemas/config';

/** What CEL selectors see (docs/api.md section 3). */
export interface CelScope {
  resource: { id: string; kind: string; name: string; metadata: Record<string, string> };
  environment: { id: string; name: string };
  deployment: { id: string; name: string };
}

export interface ReleaseTarget {
  deployment: string;
  environment: string;
  resource: string;
}

export interface Warning {
  expression: string;
  resource: string;
  environment?: string;
  message: string;
}

export const celResource = (r: Stored<ResourceBody>): CelScope['resource'] => ({
  id: r.id,
  kind: r.data.kind,
  name: r.data.name,
  metadata: r.data.metadata,
});
export const celEnvironment = (e: Stored<EnvironmentBody>): CelScope['environment'] => ({
  id: e.id,
  name: e.data.name ?? e.id,
});
export const celDeployment = (d: Stored<DeploymentBody>): CelScope['deployment'] => ({
  id: d.id,
  name: d.data.name ?? d.id,
});

/**
 * Work kept per inventory array (the cached inventory hands out the same frozen arrays until a write):
 * the resources' scope objects, and each environment's membership, for selectors that do not read
 * `deployment` (the same for every deployment).
 */
interface Derived {
  scopes: CelScope['resource'][];
  membership: WeakMap<Stored<EnvironmentBody>, CelOutcome[]>;
  /** Each deployment selector's outcome per resource (keyed by the deployment's id, name and selector). */
  deploymentMatches: Map<string, CelOutcome[]>;
}
const derived = new WeakMap<readonly Stored<ResourceBody>[], Derived>();

/** Whether an expression may read a variable (a textual check: a false positive only costs time). */
const mayRead = (expression: string, variable: string) => expression.includes(variable);

function derivedOf(resources: readonly Stored<ResourceBody>[]): Derived {
  let found = derived.get(resources);
  if (!found) {
    found = { scopes: resources.map(celResource), membership: new WeakMap(), deploymentMatches: new Map() };
    // Only arrays that cannot change are kept (a caller's own array may be pushed to).
    if (Object.isFrozen(resources)) derived.set(resources, found);
  }
  return found;
}

/**
 * Release targets (docs/api.md section 4): for each of the deployment's environments (all when it lists
 * none), every resource the environment's selector and the deployment's selector both match. An
 * expression that errors on a resource does not match it and is reported as a warning.
 */
export function computeReleaseTargets(
  deployment: Stored<DeploymentBody>,
  environments: readonly Stored<EnvironmentBody>[],
  resources: readonly Stored<ResourceBody>[],
): { targets: ReleaseTarget[]; warnings: Warning[] } {
  const byId = new Map(environments.map((e) => [e.id, e]));
  const chosen = deployment.data.environments
    ? deployment.data.environments.flatMap((id) => byId.get(id) ?? [])
    : [...environments].sort((a, b) => a.id.localeCompare(b.id));
  const targets: ReleaseTarget[] = [];
  const warnings: Warning[] = [];
  const dep = celDeployment(deployment);
  const deploymentSelector = deployment.data.resourceSelector ?? 'true';
  const everyResource = deploymentSelector.trim() === 'true';
  // A deployment selector that never reads `environment` is evaluated once per resource, and kept
  // with the inventory for the next version of the same deployment.
  const { scopes, membership, deploymentMatches } = derivedOf(resources);
  const selectorKey = `${dep.id}\n${dep.name}\n${deploymentSelector}`;
  const perResource = mayRead(deploymentSelector, 'environment')
    ? undefined
    : (deploymentMatches.get(selectorKey) ?? []);
  if (perResource && deploymentMatches.size > 1000) deploymentMatches.clear();
  if (perResource) deploymentMatches.set(selectorKey, perResource);
  for (const environment of chosen) {
    const env = celEnvironment(environment);
    const selector = environment.data.resourceSelector;
    const shared = !mayRead(selector, 'deployment');
    const known = shared ? membership.get(environment) : undefined;
    const outcomes: CelOutcome[] = known ?? [];
    const scope = { resource: scopes[0], environment: env, deployment: dep } as CelScope;
    for (let i = 0; i < resources.length; i++) {
      const resource = resources[i] as Stored<ResourceBody>;
      scope.resource = scopes[i] as CelScope['resource'];
      let inEnvironment = outcomes[i];
      if (!inEnvironment) {
        inEnvironment = matches(selector, scope as unknown as Record<string, unknown>);
        outcomes[i] = inEnvironment;
      }
      if (!inEnvironment.ok) {
        warnings.push({
          expression: selector,
          resource: resource.id,
          environment: env.id,
          message: inEnvironment.error,
        });
        continue;
      }
      if (!inEnvironment.value) continue;
      let inDeployment: CelOutcome | undefined = everyResource ? MATCH : perResource?.[i];
      if (!inDeployment) {
        inDeployment = matches(deploymentSelector, scope as unknown as Record<string, unknown>);
        if (perResource) perResource[i] = inDeployment;
      }
      if (!inDeployment.ok) {
        warnings.push({
          expression: deploymentSelector,
          resource: resource.id,
          environment: env.id,
          message: inDeployment.error,
        });
        continue;
      }
      if (inDeployment.value)
        targets.push({ deployment: deployment.id, environment: env.id, resource: resource.id });
    }
    if (shared && !known) membership.set(environment, outcomes);
  }
  return { targets, warnings };
}

const MATCH: CelOutcome = { ok: true, value: true };
