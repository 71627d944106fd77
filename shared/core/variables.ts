import { evaluateCel } from './cel';
import type { DeploymentBody } from './schemas/config';

/**
 * Deployment variables (docs/api.md section 3), resolved per release target: the first override whose
 * selector matches wins, else the default. A `secretRef` variable is only named here; its value is
 * read at dispatch and goes to the agent alone.
 */
export type PlannedVariable =
  | { value: string; from: 'default' | `override ${number}` }
  | { secretRef: string };

export function planVariables(
  deployment: DeploymentBody,
  scope: Record<string, unknown>,
): Record<string, PlannedVariable> {
  const planned: Record<string, PlannedVariable> = {};
  for (const [name, variable] of Object.entries(deployment.variables ?? {})) {
    if ('secretRef' in variable) {
      planned[name] = { secretRef: variable.secretRef };
      continue;
    }
    const index = (variable.overrides ?? []).findIndex((o) => {
      const outcome = evaluateCel(o.selector, scope);
      return outcome.ok && outcome.value === true;
    });
    const override = index >= 0 ? variable.overrides?.[index] : undefined;
    if (override) planned[name] = { value: override.value, from: `override ${index}` };
    else if (variable.default !== undefined) planned[name] = { value: variable.default, from: 'default' };
  }
  return planned;
}

export async function resolveVariables(
  deployment: DeploymentBody,
  scope: Record<string, unknown>,
  secretSource: { get(name: string): Promise<string> },
): Promise<Record<string, string>> {
  const resolved: Record<string, string> = {};
  for (const [name, planned] of Object.entries(planVariables(deployment, scope))) {
    resolved[name] = 'secretRef' in planned ? await secretSource.get(planned.secretRef) : planned.value;
  }
  return resolved;
}
