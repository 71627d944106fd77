import { type CelOutcome, matches } from './cel';
import type { DeploymentBody, EnvironmentBody, ResourceBody } from './schemas/config';
import type { Stored } from './store/config';

/** What CEL selectors see (API.md section 3). */
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

/** Scope objects are built once per stored object (cached inventories keep their objects). */
const resourceScopes = new WeakMap<Stored<ResourceBody>, CelScope['resource']>();
export const celResource = (r: Stored<ResourceBody>): CelScope['resource'] => {
  let scope = resourceScopes.get(r);
  if (!scope) {
    scope = { id: r.id, kind: r.data.kind, name: r.data.name, metadata: r.data.metadata };
    resourceScopes.set(r, scope);
  }
  return scope;
};
export const celEnvironment = (e: Stored<EnvironmentBody>): CelScope['environment'] => ({
  id: e.id,
  name: e.data.name ?? e.id,
});
export const celDeployment = (d: Stored<DeploymentBody>): CelScope['deployment'] => ({
  id: d.id,
  name: d.data.name ?? d.id,
});

/**
 * Environment membership per (environment, resource) object, for selectors that do not read
 * `deployment`: the same for every deployment, so each pair is evaluated once while both objects live.
 */
const membership = new WeakMap<Stored<EnvironmentBody>, WeakMap<Stored<ResourceBody>, CelOutcome>>();

/** Whether an expression may read a variable (a textual check: a false positive only costs time). */
const mayRead = (expression: string, variable: string) => expression.includes(variable);

/**
 * Release targets (API.md section 4): for each of the deployment's environments (all when it lists
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
  // A deployment selector that never reads `environment` is evaluated once per resource.
  const perResource = mayRead(deploymentSelector, 'environment') ? undefined : new Map<number, CelOutcome>();
  for (const environment of chosen) {
    const env = celEnvironment(environment);
    const selector = environment.data.resourceSelector;
    const memo = mayRead(selector, 'deployment') ? undefined : memoOf(environment);
    const scope: CelScope = {
      resource: undefined as unknown as CelScope['resource'],
      environment: env,
      deployment: dep,
    };
    for (let i = 0; i < resources.length; i++) {
      const resource = resources[i] as Stored<ResourceBody>;
      scope.resource = celResource(resource);
      let inEnvironment = memo?.get(resource);
      if (!inEnvironment) {
        inEnvironment = matches(selector, scope as unknown as Record<string, unknown>);
        memo?.set(resource, inEnvironment);
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
      let inDeployment: CelOutcome | undefined = everyResource ? MATCH : perResource?.get(i);
      if (!inDeployment) {
        inDeployment = matches(deploymentSelector, scope as unknown as Record<string, unknown>);
        perResource?.set(i, inDeployment);
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
  }
  return { targets, warnings };
}

const MATCH: CelOutcome = { ok: true, value: true };

function memoOf(environment: Stored<EnvironmentBody>) {
  let memo = membership.get(environment);
  if (!memo) {
    memo = new WeakMap();
    membership.set(environment, memo);
  }
  return memo;
}
