import type { Runtime } from '../../adapters/runtime';
import type { InventorySnapshot } from '../../adapters/store/inventory';
import type { DependencyVerdict, DependsOn } from '../../core/policy/dependency';
import type { MergedRules } from '../../core/policy/merge';
import { dependencyVerdicts, verdictKey } from './dependency-state';

/**
 * Deployment dependencies in the plan: each `deployment_dependency` gate shows, per dependency, whether
 * what that deployment runs in the target's environment satisfies it now, and why not. Read per
 * environment and dependency (one Query of the dependency's targets there), never per target; a plan
 * without the rule reads nothing more.
 */
export async function planDependencies(
  rt: Runtime,
  inventory: InventorySnapshot,
  planned: readonly { target: { environment: string }; rules: { rules: MergedRules } }[],
) {
  const wanted = new Map<string, Map<string, DependsOn>>();
  for (const p of planned) {
    const rule = p.rules.rules.deploymentDependency;
    if (!rule) continue;
    const { environment } = p.target;
    let entries = wanted.get(environment);
    if (!entries) {
      entries = new Map();
      wanted.set(environment, entries);
    }
    for (const d of rule.dependsOn) entries.set(verdictKey(environment, d), d);
  }
  const verdicts =
    wanted.size === 0
      ? new Map<string, DependencyVerdict>()
      : await dependencyVerdicts(
          rt,
          inventory,
          [...wanted].map(([environment, entries]) => ({ environment, dependsOn: [...entries.values()] })),
        );
  return {
    /** The target's gates, its deployment_dependency gate with each dependency's verdict in `environment`. */
    withVerdicts<G extends { gate: string; detail: Record<string, unknown> }>(
      environment: string,
      gates: G[],
    ): G[] {
      return gates.map((g) => {
        if (g.gate !== 'deployment_dependency') return g;
        const dependsOn = (g.detail.dependsOn as (DependsOn & { policy: string })[]).map((d) => {
          const verdict = verdicts.get(verdictKey(environment, d));
          return {
            ...d,
            satisfied: verdict?.satisfied ?? false,
            message: verdict?.satisfied ? null : (verdict?.message ?? null),
          };
        });
        return { ...g, detail: { ...g.detail, dependsOn } };
      });
    },
  };
}
