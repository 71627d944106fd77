import type { Runtime } from '../../adapters/runtime';
import { listAllConfigCached } from '../../adapters/store/inventory';
import { getReleases, listTargetsPage, type PageRequest } from '../../adapters/store/pages';
import { releaseKeyString } from '../../adapters/store/rollouts';
import type { Answer } from '../../core/schemas/answers';

type Query = { deployment?: string; environment?: string };

/**
 * GET /v1/release-targets, one page: per target the current version, the desired one, and the live
 * status (the active release, read in batches of 100).
 */
export async function listReleaseTargetsPage(
  rt: Runtime,
  query: Query & PageRequest,
): Promise<Answer<'ReleaseTargetList'>> {
  const deployments = query.deployment
    ? [query.deployment]
    : (await listAllConfigCached(rt, 'deployment')).map((d) => d.id);
  const page = await listTargetsPage(rt, deployments, query.environment, query);
  const active = page.items.flatMap((t) => (t.activeTag ? [{ ...t, tag: t.activeTag }] : []));
  const live = await getReleases(rt, active);
  const items = page.items.map((target) => {
    const release = target.activeTag
      ? live.get(releaseKeyString({ ...target, tag: target.activeTag }))
      : undefined;
    return {
      deployment: target.deployment,
      environment: target.environment,
      resource: target.resource,
      currentVersion: target.currentVersion ?? null,
      desiredVersion: target.activeTag ?? target.currentVersion ?? null,
      status: release?.status ?? (target.currentVersion ? 'successful' : null),
      waitingFor: release?.status === 'waiting' ? release.waitingFor : null,
      jobId: release?.jobId ?? null,
      lastSucceededAt: target.lastSucceededAt ?? null,
    };
  });
  return { items, nextToken: page.nextToken };
}

/** Every release target the query names (internal readers; the API pages). */
export async function listReleaseTargets(rt: Runtime, query: Query) {
  const items = [];
  let nextToken: string | undefined;
  do {
    const page = await listReleaseTargetsPage(rt, { ...query, limit: 1000, nextToken });
    items.push(...page.items);
    nextToken = page.nextToken;
  } while (nextToken);
  return items;
}
