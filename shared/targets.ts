import { matches } from './cel';
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
 * Release targets (API.md section 4): for each of the deployment's environments (all when it lists
 * none), every resource the environment's selector and the deployment's selector both match. An
 * expression that errors on a resource does not match it and is reported as a warning.
 */
export function computeReleaseTargets(
  deployment: Stored<DeploymentBody>,
  environments: Stored<EnvironmentBody>[],
  resources: Stored<ResourceBody>[],
): { targets: ReleaseTarget[]; warnings: Warning[] } {
  const byId = new Map(environments.map((e) => [e.id, e]));
  const chosen = deployment.data.environments
    ? deployment.data.environments.flatMap((id) => byId.get(id) ?? [])
    : [...environments].sort((a, b) => a.id.localeCompare(b.id));
  const targets: ReleaseTarget[] = [];
  const warnings: Warning[] = [];
  const dep = celDeployment(deployment);
  const deploymentSelector = deployment.data.resourceSelector ?? 'true';
  for (const environment of chosen) {
    const env = celEnvironment(environment);
    for (const resource of resources) {
      const scope = { resource: celResource(resource), environment: env, deployment: dep };
      const inEnvironment = matches(environment.data.resourceSelector, scope);
      if (!inEnvironment.ok) {
        warnings.push({
          expression: environment.data.resourceSelector,
          resource: resource.id,
          environment: env.id,
          message: inEnvironment.error,
        });
        continue;
      }
      if (!inEnvironment.value) continue;
      const inDeployment = matches(deploymentSelector, scope);
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
