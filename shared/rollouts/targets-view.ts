import type { Runtime } from '../runtime';
import type { DeploymentBody } from '../schemas/config';
import { listAllConfig } from '../store/config';
import { getRelease, listTargets } from '../store/rollouts';

/** GET /v1/release-targets: per target the current version, the desired one, and the live status. */
export async function listReleaseTargets(rt: Runtime, query: { deployment?: string; environment?: string }) {
  const deployments = query.deployment
    ? [query.deployment]
    : (await listAllConfig<DeploymentBody>(rt, 'deployment')).map((d) => d.id);
  const items = [];
  for (const deployment of deployments) {
    for (const target of await listTargets(rt, deployment, query.environment)) {
      const live = target.activeTag ? await getRelease(rt, { ...target, tag: target.activeTag }) : undefined;
      items.push({
        deployment,
        environment: target.environment,
        resource: target.resource,
        currentVersion: target.currentVersion ?? null,
        desiredVersion: target.activeTag ?? target.currentVersion ?? null,
        status: live?.status ?? (target.currentVersion ? 'successful' : null),
        waitingFor: live?.status === 'waiting' ? live.waitingFor : null,
        jobId: live?.jobId ?? null,
        lastSucceededAt: target.lastSucceededAt ?? null,
      });
    }
  }
  return items;
}
