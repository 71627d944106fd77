import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { SYSTEM } from '../../adapters/events';
import type { Runtime } from '../../adapters/runtime';
import { batchGet } from '../../adapters/store/batch';
import type { Item } from '../../adapters/store/client';
import { listAllConfig, type Stored } from '../../adapters/store/config';
import { listAllConfigCached } from '../../adapters/store/inventory';
import { type ConfigKind, keys } from '../../adapters/store/keys';
import { LeaseBusy, LeaseExpired, type LeaseOptions, withLease } from '../../adapters/store/lease';
import {
  deleteIdleTarget,
  getVersion,
  newestReadyVersion,
  putNewReleases,
  putReleaseIfAbsent,
  type ReleaseKey,
  type ReleaseRecord,
  readReleaseStarts,
  releaseKeyString,
  type TargetRecord,
  type VersionRecord,
} from '../../adapters/store/rollouts';
import { startRollouts } from '../../adapters/workflow';
import { isoNow } from '../../core/clock';
import { conflict } from '../../core/errors';
import type { ReleaseIn } from '../../core/lifecycle';
import type { DeploymentBody, EnvironmentBody, ResourceBody } from '../../core/schemas/config';
import { TERMINAL_RELEASE } from '../../core/status';
import { computeReleaseTargets, type ReleaseTarget } from '../../core/targets';
import { cancelReleaseRecords, inParallel, newRelease } from './versions';
import type { WorkTask } from './work-queue';

/**
 * Keeps releases in step with the inventory (docs/api.md sections 3 and 4), off the request and in bounded
 * chunks: a release target that appears gets the deployment's newest ready version, through the same
 * gates; a target that disappears has its unfinished rollout cancelled; a version that becomes ready
 * gets one release per target. A change computes only what it affects (a resource: its targets; an
 * environment: that environment's; a deployment: that deployment's). Every chunk is idempotent
 * (only missing releases written, under a lease; deterministic execution names; conditional
 * cancels), so a chunk cut short by a crash is simply run again.
 */
/** No chunk writes more than this many releases (nor starts more executions). */
export const TARGETS_PER_CHUNK = 500;
/** Resources read per chunk when a whole deployment or environment is reconciled. */
const RESOURCES_PER_READ = 1000;
export const RESOURCE_IDS_PER_TASK = 100;

interface Cursor {
  /** The deployment being worked on (deployments are taken in id order). */
  deployment: string;
  phase: 'resources' | 'targets';
  /** The last resource or target key done in this phase. */
  after?: string;
}

interface Context {
  rt: Runtime;
  deployment: Stored<DeploymentBody>;
  environments: Stored<EnvironmentBody>[];
  /** The version whose releases are ensured (the newest ready one when reconciling). */
  version: VersionRecord | undefined;
}

const decode = (cursor: string | null): Cursor | undefined =>
  cursor ? (JSON.parse(cursor) as Cursor) : undefined;

/** Runs one chunk of a task; answers the cursor of the next chunk, or null when the task is done. */
export async function runChunk(rt: Runtime, task: WorkTask, cursor: string | null): Promise<string | null> {
  const deployments = [...(await listAllConfigCached(rt, 'deployment'))].sort((a, b) =>
    a.id < b.id ? -1 : 1,
  );
  const environments = await listAllConfigCached(rt, 'environment');
  let at = decode(cursor);
  const inScope = deployments.filter((d) => concerns(task, d));
  at ??= inScope[0] ? { deployment: inScope[0].id, phase: 'resources' } : undefined;
  const deployment = at && inScope.find((d) => d.id >= (at as Cursor).deployment);
  if (!at || !deployment) return null;
  if (deployment.id !== at.deployment) at = { deployment: deployment.id, phase: 'resources' };

  const version =
    task.type === 'release-version'
      ? await getVersion(rt, task.deployment, task.tag)
      : await newestReadyVersion(rt, deployment.id);
  if (task.type === 'release-version' && version?.status !== 'ready') return null;
  const chosen = environmentsOf(deployment, environments).filter(
    (e) => task.type !== 'reconcile' || !('environment' in task.scope) || e.id === task.scope.environment,
  );
  const ctx: Context = { rt, deployment, environments: chosen, version };

  // With no ready version there is no release to ensure: a whole-inventory pass would read every
  // resource for nothing, so only the targets that vanished are looked for.
  const nothingToEnsure = !version && !(task.type === 'reconcile' && 'resources' in task.scope);
  const after = await (at.phase === 'resources'
    ? task.type === 'reconcile' && 'resources' in task.scope
      ? reconcileResources(ctx, task.scope.resources).then(() => undefined)
      : nothingToEnsure
        ? Promise.resolve(undefined)
        : ensureResourcePage(ctx, at.after)
    : cancelVanishedPage(ctx, at.after));
  const next = nextCursor(task, at, after, inScope);
  return next ? JSON.stringify(next) : null;
}

function nextCursor(task: WorkTask, at: Cursor, after: string | undefined, inScope: { id: string }[]) {
  if (after !== undefined) return { ...at, after };
  // Targets that vanished are looked for only when a whole deployment or environment is reconciled
  // (a resource task looks at its own resources' targets in the same chunk).
  const lookForVanished =
    at.phase === 'resources' && task.type === 'reconcile' && !('resources' in task.scope);
  if (lookForVanished) return { deployment: at.deployment, phase: 'targets' as const };
  const following = inScope.find((d) => d.id > at.deployment);
  return following ? { deployment: following.id, phase: 'resources' as const } : undefined;
}

function concerns(task: WorkTask, deployment: Stored<DeploymentBody>): boolean {
  if (task.type === 'release-version') return deployment.id === task.deployment;
  const { scope } = task;
  if ('deployment' in scope) return deployment.id === scope.deployment;
  if ('environment' in scope)
    return !deployment.data.environments || deployment.data.environments.includes(scope.environment);
  return true;
}

function environmentsOf(
  deployment: Stored<DeploymentBody>,
  environments: readonly Stored<EnvironmentBody>[],
): Stored<EnvironmentBody>[] {
  if (!deployment.data.environments) return [...environments];
  const listed = new Set(deployment.data.environments);
  return environments.filter((e) => listed.has(e.id));
}

const resourceOf = (item: Item): Stored<ResourceBody> => ({
  id: item.sk as string,
  data: item.data as ResourceBody,
  createdAt: item.createdAt as string,
  updatedAt: item.updatedAt as string,
});

/**
 * Ensures the releases of one page of resources and answers the last resource done, or undefined at
 * the end. A page stops early once it holds TARGETS_PER_CHUNK targets, so a chunk stays bounded
 * whatever the selectors.
 */
async function ensureResourcePage(ctx: Context, after: string | undefined): Promise<string | undefined> {
  const out = await ctx.rt.doc.send(
    new QueryCommand({
      TableName: ctx.rt.tableName,
      KeyConditionExpression: after ? 'pk = :pk AND sk > :after' : 'pk = :pk',
      ExpressionAttributeValues: {
        ':pk': keys.configPartition('resource'),
        ...(after ? { ':after': after } : {}),
      },
      ConsistentRead: true,
      Limit: RESOURCES_PER_READ,
    }),
  );
  const resources = (out.Items ?? []).map(resourceOf);
  const targets: ReleaseTarget[] = [];
  let last: string | undefined;
  for (const resource of resources) {
    targets.push(...computeReleaseTargets(ctx.deployment, ctx.environments, [resource]).targets);
    last = resource.id;
    if (targets.length >= TARGETS_PER_CHUNK) break;
  }
  await ensureReleases(ctx, targets);
  const more = last !== undefined && (last !== resources.at(-1)?.id || out.LastEvaluatedKey !== undefined);
  return more ? last : undefined;
}

/** A resource task: the targets of these resources are ensured, and those that vanished cancelled. */
async function reconcileResources(ctx: Context, ids: string[]): Promise<void> {
  const found = await batchGet(
    ctx.rt,
    ids.map((id) => keys.config('resource', id)),
  );
  const resources = [...found.values()].map(resourceOf);
  const { targets } = computeReleaseTargets(ctx.deployment, ctx.environments, resources);
  await ensureReleases(ctx, targets);
  const wanted = new Set(targets.map((t) => `${t.environment}#${t.resource}`));
  const candidates = ctx.environments.flatMap((e) =>
    ids.filter((id) => !wanted.has(`${e.id}#${id}`)).map((id) => keys.target(ctx.deployment.id, e.id, id)),
  );
  const vanished = [...(await batchGet(ctx.rt, candidates)).values()] as unknown as TargetRecord[];
  await retire(ctx, vanished);
  // A release of the newest version not yet begun holds no target item: it is cancelled too.
  const { version } = ctx;
  if (!version) return;
  const unstarted = await batchGet(
    ctx.rt,
    ctx.environments.flatMap((e) =>
      ids
        .filter((id) => !wanted.has(`${e.id}#${id}`))
        .map((id) => keys.release(ctx.deployment.id, version.tag, e.id, id)),
    ),
  );
  await cancelVanished(ctx.rt, [...unstarted.values()] as unknown as ReleaseRecord[]);
}

/** One page of the deployment's targets: those held by a rollout whose target vanished are cancelled. */
async function cancelVanishedPage(ctx: Context, after: string | undefined): Promise<string | undefined> {
  const pk = keys.targetsOfDeployment(ctx.deployment.id);
  const only = ctx.environments.length === 1 ? `${ctx.environments[0]?.id}#` : undefined;
  const out = await ctx.rt.doc.send(
    new QueryCommand({
      TableName: ctx.rt.tableName,
      KeyConditionExpression: after
        ? 'pk = :pk AND sk > :after'
        : only
          ? 'pk = :pk AND begins_with(sk, :env)'
          : 'pk = :pk',
      ExpressionAttributeValues: {
        ':pk': pk,
        ...(after ? { ':after': after } : only ? { ':env': only } : {}),
      },
      ConsistentRead: true,
      Limit: TARGETS_PER_CHUNK,
    }),
  );
  const page = (out.Items ?? []) as (Item & TargetRecord)[];
  const inPage = only ? page.filter((t) => (t.sk as string).startsWith(only)) : page;
  if (inPage.length > 0) {
    const found = await batchGet(
      ctx.rt,
      inPage.map((t) => keys.config('resource', t.resource)),
    );
    const resources = [...found.values()].map(resourceOf);
    const { targets } = computeReleaseTargets(ctx.deployment, ctx.environments, resources);
    const wanted = new Set(targets.map((t) => `${t.environment}#${t.resource}`));
    await retire(
      ctx,
      inPage.filter((t) => !wanted.has(`${t.environment}#${t.resource}`)),
    );
  }
  const stop = only !== undefined && inPage.length < page.length;
  return out.LastEvaluatedKey && !stop ? (page.at(-1)?.sk as string) : undefined;
}

/** Creates the missing releases of the chunk's targets and starts them. */
async function ensureReleases(ctx: Context, targets: ReleaseTarget[]): Promise<void> {
  const { version } = ctx;
  if (!version || targets.length === 0) return;
  const now = isoNow();
  const wanted = [...new Map(targets.map((t) => [`${t.environment}#${t.resource}`, t])).values()];
  const toStart = await writeMissingReleases(
    ctx.rt,
    ctx.deployment.id,
    wanted.map((t) => newRelease(version, t, now)),
  );
  await startRollouts(ctx.rt, toStart);
}

/** How long the lease on a deployment's release creation lasts, and how long a chunk waits for it. */
const RELEASES_LEASE: LeaseOptions = { ttlMs: 600_000, waitMs: 60_000 };
const LEASE_ATTEMPTS = 3;

/**
 * Writes those of `releases` that do not exist (one consistent BatchGetItem per 100, one batch
 * write request per 25) and answers what to start: the new ones, and the existing ones still
 * pending (a crash may have cut their start off; starting a running one is a no-op). A batch write
 * carries no condition, so the read and the write hold the deployment's lease, which every creator
 * of releases takes: no release can appear between them and be reset by the write. The lease lasts
 * 10 minutes, twice event-work's Lambda timeout, so in AWS it never runs out under a live holder;
 * locally, where no handler is killed, its fence stops a holder's writes after 5.
 */
async function writeMissingReleases(
  rt: Runtime,
  deployment: string,
  releases: ReleaseIn<'pending'>[],
): Promise<(ReleaseKey & { generation?: number })[]> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await withLease(rt, keys.releasesLease(deployment), RELEASES_LEASE, async (fence) => {
        const existing = await readReleaseStarts(rt, releases);
        const missing = releases.filter((r) => !existing.has(releaseKeyString(r)));
        await putNewReleases(rt, missing, fence);
        const pending = releases.flatMap((r) => {
          const found = existing.get(releaseKeyString(r));
          return found?.status === 'pending' ? [{ ...r, generation: found.generation }] : [];
        });
        return [...missing, ...pending];
      });
    } catch (error) {
      // Cut off by its fence: nothing more was written; the read and the write run again.
      if (!(error instanceof LeaseExpired) || attempt === LEASE_ATTEMPTS) throw error;
    }
  }
}

/**
 * Creates one release unless it exists (a rollback's: shared/services/rollouts/overrides.ts), under the
 * same lease, so it cannot land between a chunk's read and its write. Its one request under the
 * lease, a conditional put, is sent as soon as the lease is taken, minutes before the fence.
 */
export async function putReleaseUnderLease(rt: Runtime, release: ReleaseIn<'pending'>): Promise<boolean> {
  const options = { ...RELEASES_LEASE, waitMs: 10_000 };
  try {
    return await withLease(
      rt,
      keys.releasesLease(release.deployment),
      options,
      async () => (await putReleaseIfAbsent(rt, release)).created,
    );
  } catch (error) {
    if (error instanceof LeaseBusy)
      throw conflict('Releases of this deployment are being written; try again.');
    throw error;
  }
}

/**
 * Targets that no longer exist: the rollout holding one is cancelled, then its item is deleted (unless
 * a rollout holds it again), so `GET /v1/release-targets` stops listing it.
 */
async function retire(ctx: Context, vanished: TargetRecord[]): Promise<void> {
  if (vanished.length === 0) return;
  const active = vanished.filter((t) => t.activeTag);
  const releases = await batchGet(
    ctx.rt,
    active.map((t) => keys.release(t.deployment, t.activeTag as string, t.environment, t.resource)),
  );
  await cancelVanished(ctx.rt, [...releases.values()] as unknown as ReleaseRecord[]);
  await inParallel(vanished, async (t) => {
    await deleteIdleTarget(ctx.rt, t);
  });
}

const cancelVanished = (rt: Runtime, releases: ReleaseRecord[]) =>
  cancelReleaseRecords(
    rt,
    releases.filter((r) => !TERMINAL_RELEASE.has(r.status)),
    { onlyUndispatched: false, message: 'The release target no longer exists.', actor: SYSTEM },
  );

/**
 * DELETE answers 409 while a rollout uses the object (docs/api.md section 3). Bounded reads: a resource is
 * looked up by its target keys; an environment or deployment by its targets, stopping at the first
 * one a rollout holds.
 */
export async function assertNotInUse(rt: Runtime, kind: ConfigKind, id: string): Promise<void> {
  if (kind === 'policy') return;
  const deployments = kind === 'deployment' ? [id] : (await listAllConfig(rt, 'deployment')).map((d) => d.id);
  let active: TargetRecord | undefined;
  if (kind === 'resource') {
    const environments = await listAllConfig(rt, 'environment');
    const found = await batchGet(
      rt,
      deployments.flatMap((d) => environments.map((e) => keys.target(d, e.id, id))),
    );
    active = ([...found.values()] as unknown as TargetRecord[]).find((t) => t.activeTag);
  } else {
    for (const deployment of deployments) {
      active ??= await firstHeldTarget(rt, deployment, kind === 'environment' ? id : undefined);
    }
  }
  if (active) {
    throw conflict(
      `The ${kind} "${id}" is in use by the rollout of ${active.deployment} ${active.activeTag} to ${active.environment}/${active.resource}.`,
    );
  }
}

async function firstHeldTarget(
  rt: Runtime,
  deployment: string,
  environment?: string,
): Promise<TargetRecord | undefined> {
  let start: Record<string, unknown> | undefined;
  do {
    const out = await rt.doc.send(
      new QueryCommand({
        TableName: rt.tableName,
        KeyConditionExpression: environment ? 'pk = :pk AND begins_with(sk, :env)' : 'pk = :pk',
        FilterExpression: 'attribute_exists(activeTag) AND activeTag <> :none',
        ExpressionAttributeValues: {
          ':pk': keys.targetsOfDeployment(deployment),
          ':none': null,
          ...(environment ? { ':env': `${environment}#` } : {}),
        },
        ExclusiveStartKey: start,
      }),
    );
    const held = out.Items?.[0];
    if (held) return held as unknown as TargetRecord;
    start = out.LastEvaluatedKey;
  } while (start);
  return undefined;
}
