import type { Runtime } from '../../../shared/adapters/runtime';
import { listAllConfig, type Stored } from '../../../shared/adapters/store/config';
import { listVersionsPage } from '../../../shared/adapters/store/pages';
import { getVersion } from '../../../shared/adapters/store/rollouts';
import {
  eventsOfTargets,
  getTargetsOf,
  pageReleasesIn,
  releaseTallies,
  resourceNames,
  searchReleasesIn,
  targetTallies,
} from '../../../shared/adapters/store/ui';
import { isoNow } from '../../../shared/core/clock';
import { notFound } from '../../../shared/core/errors';
import type { Answer } from '../../../shared/core/schemas/answers';
import type { DeploymentBody, EnvironmentBody } from '../../../shared/core/schemas/config';
import type { ReleaseStatus } from '../../../shared/core/status';
import { summarize } from '../../../shared/core/summary';
import { deliveryMetrics } from '../../../shared/services/delivery';
import { requireConfig } from '../../../shared/services/inventory';
import { getDeploymentState } from '../../../shared/services/rollouts/overrides';
import { planVersionPage } from '../../../shared/services/rollouts/plan';
import { renderRelease, renderVersion } from '../../../shared/services/rollouts/versions';
import { planTimelineOf, timelineOf } from './timeline';

/** The read model of the status page (GET /ui/api/...): what the page draws, shaped for drawing. */

const nameOf = (stored: Stored<{ name?: string }>) => stored.data.name ?? stored.id;

export async function deploymentsView(
  rt: Runtime,
  only: string | null,
): Promise<Omit<Answer<'UiDeployments'>, 'expiresAt'>> {
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

/** The version the summary and the drill-down show: the one asked for, or the newest. */
async function versionOf(rt: Runtime, deploymentId: string, tag: string | undefined) {
  if (tag === undefined) return (await listVersionsPage(rt, deploymentId, { limit: 1 })).items[0] ?? null;
  const version = await getVersion(rt, deploymentId, tag);
  if (!version) throw notFound(`The version "${tag}" of deployment "${deploymentId}"`);
  return version;
}

/** Per environment: the version's progress (releases per status) and the versions its targets run. */
export async function summaryView(
  rt: Runtime,
  deploymentId: string,
  tag?: string,
): Promise<Answer<'UiSummary'>> {
  const [deployment, environments, state, version, targets] = await Promise.all([
    requireConfig<DeploymentBody>(rt, 'deployment', deploymentId),
    listAllConfig<EnvironmentBody>(rt, 'environment'),
    getDeploymentState(rt, deploymentId),
    versionOf(rt, deploymentId, tag),
    targetTallies(rt, deploymentId),
  ]);
  const releases = version ? await releaseTallies(rt, deploymentId, version.tag) : [];
  return {
    now: isoNow(),
    deployment: {
      id: deployment.id,
      name: nameOf(deployment),
      paused: state.paused,
      pausedReason: state.reason ?? null,
    },
    version: version && { tag: version.tag, status: version.status, createdAt: version.createdAt },
    ...summarize(environmentsOf(deployment, environments), releases, targets),
  };
}

export interface TargetQuery {
  environment?: string;
  status?: ReleaseStatus;
  q?: string;
  limit?: number;
  nextToken?: string;
}

const TARGETS_PAGE = 50;

/** One page of a version's releases, filtered as the drill-down asks (search, status, environment). */
function releasePage(rt: Runtime, deploymentId: string, tag: string, query: TargetQuery) {
  const filter = {
    statuses: query.status ? [query.status] : [],
    limit: query.limit ?? TARGETS_PAGE,
    nextToken: query.nextToken,
  };
  const q = query.q?.trim();
  if (q && query.environment !== undefined)
    return searchReleasesIn(rt, deploymentId, tag, query.environment, q, filter);
  return pageReleasesIn(rt, deploymentId, tag, query.environment, filter);
}

/** The drill-down into one environment: a page of its targets with the version's release on each. */
export async function targetsView(
  rt: Runtime,
  deploymentId: string,
  tag: string,
  query: TargetQuery,
): Promise<Answer<'UiTargets'>> {
  if (!(await getVersion(rt, deploymentId, tag)))
    throw notFound(`The version "${tag}" of deployment "${deploymentId}"`);
  const page = await releasePage(rt, deploymentId, tag, query);
  const ids = page.items.map((r) => r.resource);
  const [names, targets] = await Promise.all([
    resourceNames(rt, ids),
    query.environment === undefined ? [] : getTargetsOf(rt, deploymentId, query.environment, ids),
  ]);
  const current = new Map(targets.map((t) => [t.resource, t.currentVersion ?? null]));
  return {
    items: page.items.map((r) => ({
      environment: r.environment,
      resource: r.resource,
      name: names.get(r.resource) ?? r.resource,
      status: r.status,
      waitingFor: r.status === 'waiting' ? r.waitingFor : null,
      message: r.message,
      currentVersion: current.get(r.resource) ?? null,
      startedAt: r.startedAt,
      finishedAt: r.finishedAt,
    })),
    ...(page.nextToken ? { nextToken: page.nextToken } : {}),
  };
}

const RECENT_VERSIONS = 30;

export async function versionsView(rt: Runtime, deploymentId: string): Promise<Answer<'UiVersions'>> {
  await requireConfig(rt, 'deployment', deploymentId);
  const { items } = await listVersionsPage(rt, deploymentId, { limit: RECENT_VERSIONS });
  return { items: items.map((v) => ({ tag: v.tag, status: v.status, createdAt: v.createdAt })) };
}

async function environmentOrder(rt: Runtime, deploymentId: string): Promise<string[]> {
  const deployment = await requireConfig<DeploymentBody>(rt, 'deployment', deploymentId);
  return deployment.data.environments ?? [];
}

/** The timeline of the targets the drill-down shows (the first page of all of them without one). */
export async function timelineView(
  rt: Runtime,
  deploymentId: string,
  tag: string,
  query: TargetQuery = {},
): Promise<Answer<'UiTimeline'>> {
  const version = await getVersion(rt, deploymentId, tag);
  if (!version) throw notFound(`The version "${tag}" of deployment "${deploymentId}"`);
  const [page, order] = await Promise.all([
    releasePage(rt, deploymentId, tag, query),
    environmentOrder(rt, deploymentId),
  ]);
  const events = await eventsOfTargets(rt, deploymentId, tag, version.createdAt, {
    environment: query.environment,
    resources: page.items.map((r) => r.resource),
  });
  return {
    version: renderVersion(version),
    ...timelineOf(tag, page.items.map(renderRelease), events, isoNow(), order),
    ...(page.nextToken ? { nextToken: page.nextToken } : {}),
  };
}

const PLAN_ROWS = 100;

export async function planView(rt: Runtime, deploymentId: string, tag: string): Promise<Answer<'UiPlan'>> {
  const [plan, order] = await Promise.all([
    planVersionPage(rt, deploymentId, tag, { limit: PLAN_ROWS }),
    environmentOrder(rt, deploymentId),
  ]);
  const timeline = planTimelineOf(plan, order);
  return {
    version: plan.version,
    assumptions: plan.assumptions,
    warnings: plan.warnings.map((w) => w.message),
    ...timeline,
    // The page draws the first rows only: a plan over thousands of targets is read through the API.
    rowCount: plan.targetCount,
  };
}

/** The chart of delivery metrics: the last 30 days of the deployment (in one environment, or all). */
export async function deliveryView(
  rt: Runtime,
  query: { deployment: string; environment?: string },
): Promise<Answer<'UiDeliveryMetrics'>> {
  await requireConfig(rt, 'deployment', query.deployment);
  const { metrics, daily } = await deliveryMetrics(rt, query);
  return {
    ...metrics,
    daily: daily.map(({ day, successful, failed, rolledBack }) => ({ day, successful, failed, rolledBack })),
  };
}
