/**
 * What a valid write may still be wrong about (issue 18): answered as `warnings`, a list of sentences,
 * so a typo or an empty match is not met with silence. Never stored.
 */

export const unknownEnvironmentWarnings = (ids: readonly string[]) =>
  ids.map(
    (id) =>
      `The environment "${id}" does not exist: the deployment gets no release targets there until an environment with that id is created.`,
  );

export const unknownDependencyWarnings = (ids: readonly string[]) =>
  ids.map(
    (id) =>
      `The deployment "${id}" does not exist: a dependency on it is satisfied (it has no release targets) until a deployment with that id is created.`,
  );

export interface TargetInventory {
  /** The environments the deployment names (absent: all of them). */
  named: readonly string[] | undefined;
  environmentIds: readonly string[];
  resourceCount: number;
}

/** Why a version has no release targets, from the inventory its targets were computed from. */
export function noTargetsWarning({ named, environmentIds, resourceCount }: TargetInventory): string {
  const known = new Set(environmentIds);
  const reason =
    named?.length === 0
      ? 'the deployment names no environments'
      : named && !named.some((id) => known.has(id))
        ? 'none of the environments the deployment names exists'
        : known.size === 0
          ? 'there are no environments yet'
          : resourceCount === 0
            ? 'there are no resources yet'
            : "no resource matches both an environment's resourceSelector and the deployment's resourceSelector";
  return `The version has no release targets, so nothing will be deployed: ${reason}.`;
}

/** A version's warnings: the environments its deployment names that do not exist, and an empty match. */
export function versionWarnings(inventory: TargetInventory, targetCount: number): string[] {
  const known = new Set(inventory.environmentIds);
  return [
    ...unknownEnvironmentWarnings((inventory.named ?? []).filter((id) => !known.has(id))),
    ...(targetCount === 0 ? [noTargetsWarning(inventory)] : []),
  ];
}
