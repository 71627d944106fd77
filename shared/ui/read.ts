import { isoNow } from '../clock';
import { notFound } from '../errors';
import { type AuditRecord, listEvents } from '../events';
import { requireConfig } from '../inventory';
import { getDeploymentState } from '../rollouts/overrides';
import { planVersion } from '../rollouts/plan';
import { listReleaseTargets } from '../rollouts/targets-view';
import { loadInventory, renderRelease, renderVersion } from '../rollouts/versions';
import type { Runtime } from '../runtime';
import type { DeploymentBody, EnvironmentBody } from '../schemas/config';
import { listAllConfig, type Stored } from '../store/config';
import { getRelease, getVersion, listReleases, listVersions } from '../store/rollouts';
import { planTimelineOf, timelineOf } from './timeline';

/** The read model of the status page (GET /ui/api/...): what the page draws, shaped for drawing. */

const nameOf = (stored: Stored<{ name?: string }>) => stored.data.name ?? stored.id;

export async function deploymentsView(rt: Runtime, only: string | null) {
  const all = await listAllConfig<DeploymentBody>(rt, 'deployment');
  const items = all
    .filter((d) => only === null || d.id === only)
    .map((d) => ({ id: d.id, name: nameOf(d) }))
    .sort((a, b) => a.id.localeCompare(b.id));
  return { items };
}

/** The deployment's environments in its own order (all environments, by id, when it names none). */
function environmentsOf(deployment: Stored<DeploymentBody>, environments: Stored<EnvironmentBody>[]) {
  const byId = new Map(environments.map((e) => [e.id, e]));
  const ids = deployment.data.environments ?? environments.map((e) => e.id).sort();
  return ids.map((id) => {
    const env = byId.get(id);
    return { id, name: env ? nameOf(env) : id };
  });
}

const QUIET = new Set(['successful', null]);

/** Environments as columns, resources as rows, each cell the current version and the live status. */
export async function matrixView(rt: Runtime, deploymentId: string) {
  const deployment = await requireConfig<DeploymentBody>(rt, 'deployment', deploymentId);
  const [{ environments, resources }, targets, state] = await Promise.all([
    loadInventory(rt),
    listReleaseTargets(rt, { deployment: deploymentId }),
    getDeploymentState(rt, deploymentId),
  ]);
  const columns = environmentsOf(deployment, environments);
  for (const t of targets)
    if (!columns.some((c) => c.id === t.environment))
      columns.push({ id: t.environment, name: t.environment });
  const resourceById = new Map(resources.map((r) => [r.id, r]));
  // Rows in the order of the first environment each resource is in, then by id.
  const firstColumn = new Map<string, number>();
  for (const t of targets) {
    const column = columns.findIndex((c) => c.id === t.environment);
    firstColumn.set(t.resource, Math.min(firstColumn.get(t.resource) ?? column, column));
  }
  const rowIds = [...firstColumn.keys()].sort(
    (a, b) => (firstColumn.get(a) ?? 0) - (firstColumn.get(b) ?? 0) || a.localeCompare(b),
  );
  // The live release says why it waits or failed; quiet cells need no second read.
  const cells = await Promise.all(
    targets.map(async (t) => {
      const live =
        QUIET.has(t.status) || !t.desiredVersion
          ? undefined
          : await getRelease(rt, { ...t, tag: t.desiredVersion });
      return {
        environment: t.environment,
        resource: t.resource,
        currentVersion: t.currentVersion,
        desiredVersion: t.desiredVersion,
        status: t.status,
        waitingFor: t.waitingFor,
        message: live?.message ?? null,
        lastSucceededAt: t.lastSucceededAt,
      };
    }),
  );
  return {
    now: isoNow(),
    deployment: {
      id: deployment.id,
      name: nameOf(deployment),
      paused: state.paused,
      pausedReason: state.reason,
    },
    environments: columns,
    resources: rowIds.map((id) => {
      const r = resourceById.get(id);
      return { id, name: r ? r.data.name : id };
    }),
    cells,
  };
}

const RECENT_VERSIONS = 30;

export async function versionsView(rt: Runtime, deploymentId: string) {
  await requireConfig(rt, 'deployment', deploymentId);
  const versions = await listVersions(rt, deploymentId);
  return {
    items: versions.slice(0, RECENT_VERSIONS).map((v) => ({
      tag: v.tag,
      status: v.status,
      createdAt: v.createdAt,
    })),
  };
}

const EVENT_PAGES = 20;

/** The audit events of a deployment since a time, oldest first (bounded: 20 pages of 1000). */
async function eventsSince(rt: Runtime, deployment: string, since: string): Promise<AuditRecord[]> {
  const out: AuditRecord[] = [];
  let nextToken: string | undefined;
  for (let page = 0; page < EVENT_PAGES; page++) {
    const result = await listEvents(rt, { deployment, since, limit: 1000, nextToken });
    out.push(...result.items);
    nextToken = result.nextToken;
    if (!nextToken) break;
  }
  return out;
}

async function environmentOrder(rt: Runtime, deploymentId: string): Promise<string[]> {
  const deployment = await requireConfig<DeploymentBody>(rt, 'deployment', deploymentId);
  return deployment.data.environments ?? [];
}

export async function timelineView(rt: Runtime, deploymentId: string, tag: string) {
  const version = await getVersion(rt, deploymentId, tag);
  if (!version) throw notFound(`The version "${tag}" of deployment "${deploymentId}"`);
  const [releases, events, order] = await Promise.all([
    listReleases(rt, deploymentId, tag),
    eventsSince(rt, deploymentId, version.createdAt),
    environmentOrder(rt, deploymentId),
  ]);
  return {
    version: renderVersion(version),
    ...timelineOf(tag, releases.map(renderRelease), events, isoNow(), order),
  };
}

export async function planView(rt: Runtime, deploymentId: string, tag: string) {
  const [plan, order] = await Promise.all([
    planVersion(rt, deploymentId, tag),
    environmentOrder(rt, deploymentId),
  ]);
  return {
    version: plan.version,
    assumptions: plan.assumptions,
    warnings: plan.warnings.map((w) => w.message),
    ...planTimelineOf(plan, order),
  };
}
