import { isoNow } from '../clock';
import { conflict } from '../errors';
import { SYSTEM } from '../events';
import type { Runtime } from '../runtime';
import type { DeploymentBody } from '../schemas/config';
import { listAllConfig, type Stored } from '../store/config';
import type { ConfigKind } from '../store/keys';
import { listTargets, listVersions, putReleaseIfAbsent, type TargetRecord } from '../store/rollouts';
import { computeReleaseTargets } from '../targets';
import { cancelReleases, inParallel, loadInventory, newRelease } from './versions';
import { startRollout } from './workflow';

/**
 * Keeps releases in step with the inventory (API.md section 4): a release target that appears gets
 * the deployment's newest ready version at once, through the same gates; a target that disappears
 * has its unfinished rollout cancelled.
 */
export async function reconcileDeployment(
  rt: Runtime,
  deploymentId: string,
  inventory?: Awaited<ReturnType<typeof loadInventory>>,
  deployments?: Stored<DeploymentBody>[],
): Promise<void> {
  const deployment = (deployments ?? (await listAllConfig<DeploymentBody>(rt, 'deployment'))).find(
    (d) => d.id === deploymentId,
  );
  if (!deployment) return;
  const { environments, resources } = inventory ?? (await loadInventory(rt));
  const { targets } = computeReleaseTargets(deployment, environments, resources);
  const wanted = new Set(targets.map((t) => `${t.environment}#${t.resource}`));
  const known = await listTargets(rt, deploymentId);
  const gone = known.filter((t) => !wanted.has(`${t.environment}#${t.resource}`) && t.activeTag);
  await inParallel(gone, async (target: TargetRecord) => {
    await cancelReleases(rt, deploymentId, target.activeTag as string, {
      onlyUndispatched: false,
      message: 'The release target no longer exists.',
      actor: SYSTEM,
      environment: target.environment,
      resource: target.resource,
    });
  });
  const newest = (await listVersions(rt, deploymentId)).find((v) => v.status === 'ready');
  if (!newest) return;
  const now = isoNow();
  await inParallel(targets, async (target) => {
    const { created, item } = await putReleaseIfAbsent(rt, newRelease(newest, target, now));
    if (created) await startRollout(rt, item);
  });
}

export async function reconcileAll(rt: Runtime): Promise<void> {
  const [inventory, deployments] = await Promise.all([
    loadInventory(rt),
    listAllConfig<DeploymentBody>(rt, 'deployment'),
  ]);
  for (const deployment of deployments) await reconcileDeployment(rt, deployment.id, inventory, deployments);
}

/** DELETE answers 409 while a rollout uses the object (API.md section 3). */
export async function assertNotInUse(rt: Runtime, kind: ConfigKind, id: string): Promise<void> {
  if (kind === 'policy') return;
  const deployments = kind === 'deployment' ? [id] : (await listAllConfig(rt, 'deployment')).map((d) => d.id);
  for (const deployment of deployments) {
    const active = (await listTargets(rt, deployment)).find(
      (t) =>
        t.activeTag &&
        (kind === 'deployment' || (kind === 'environment' ? t.environment === id : t.resource === id)),
    );
    if (active) {
      throw conflict(
        `The ${kind} "${id}" is in use by the rollout of ${deployment} ${active.activeTag} to ${active.environment}/${active.resource}.`,
      );
    }
  }
}
