import { createHash } from 'node:crypto';
import { type Actor, DETAIL_TYPES, type GantryEvent, publish, releaseEvent } from '../../adapters/events';
import type { Runtime } from '../../adapters/runtime';
import { ConditionFailed } from '../../adapters/store/client';
import { loadInventory } from '../../adapters/store/inventory';
import { listReleasesPage, releaseStatusCounts, releasesAfter } from '../../adapters/store/pages';
import {
  getRelease,
  getVersion,
  type Outbox,
  putVersionIfAbsent,
  type ReleaseKey,
  type ReleaseRecord,
  updateItem,
  type VersionRecord,
  versionKey,
} from '../../adapters/store/rollouts';
import { stopRollout } from '../../adapters/workflow';
import { isoNow } from '../../core/clock';
import { commitOf } from '../../core/commit';
import { committedAtOf } from '../../core/delivery';
import { conflict, notFound } from '../../core/errors';
import { releaseIdOf } from '../../core/ids';
import { canonicalJson } from '../../core/json';
import type { ReleaseIn } from '../../core/lifecycle';
import type { Answer } from '../../core/schemas/answers';
import type { DeploymentBody } from '../../core/schemas/config';
import type { VersionBody } from '../../core/schemas/rollouts';
import { TERMINAL_RELEASE } from '../../core/status';
import { computeReleaseTargets, type ReleaseTarget } from '../../core/targets';
import { versionWarnings } from '../../core/warnings';
import { requireConfig } from '../inventory';
import { releaseTargetLock } from './lock';
import { publishOutboxes, transitionWithEvents } from './outbox';
import { renderVerification } from './verify';
import { CANCELS_PER_CHUNK, type CancelTask, queueVersionRelease, queueWork } from './work-queue';

const PARALLEL = 32;

/** Runs `work` over items with at most PARALLEL in flight. */
export async function inParallel<T>(items: T[], work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.min(PARALLEL, items.length) }, async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      await work(item);
    }
  });
  await Promise.all(workers);
}

export const bodyHashOf = (body: VersionBody) =>
  createHash('sha256').update(canonicalJson(body)).digest('hex');

export function newRelease(version: VersionRecord, target: ReleaseTarget, now: string): ReleaseIn<'pending'> {
  const key: ReleaseKey = { ...target, tag: version.tag };
  const committedAt = committedAtOf(version.metadata);
  return {
    ...key,
    releaseId: releaseIdOf(key),
    status: 'pending',
    waitingFor: null,
    message: null,
    jobId: null,
    attempt: 1,
    versionCreatedAt: version.createdAt,
    ...(committedAt ? { committedAt } : {}),
    createdAt: now,
    startedAt: null,
    finishedAt: null,
    rolledBackTo: null,
    updatedAt: now,
  };
}

const readyEvent = (version: VersionRecord, actor: Actor): GantryEvent => ({
  detailType: DETAIL_TYPES.versionReady,
  deployment: version.deployment,
  version: version.tag,
  actor,
  data: { commit: commitOf(version.metadata) ?? null },
});

/** A version, its releases counted per status, and one page of its releases; `nextToken` reads on. */
export type VersionView = Answer<'VersionDetail'>;

/** A version as lists show it: without its config (docs/api.md section 4). */
export function renderVersionItem(v: Omit<VersionRecord, 'config'>): Answer<'VersionList'>['items'][number] {
  return {
    deployment: v.deployment,
    tag: v.tag,
    status: v.status,
    metadata: v.metadata,
    createdAt: v.createdAt,
    updatedAt: v.updatedAt,
  };
}

/** A version on its own (one version's config is at most one item, 400 KB). */
export function renderVersion(v: VersionRecord): Answer<'VersionDetail'>['version'] {
  return { ...renderVersionItem(v), config: v.config };
}

export function renderRelease(r: ReleaseRecord): Answer<'Release'> {
  return {
    environment: r.environment,
    resource: r.resource,
    status: r.status,
    waitingFor: r.status === 'waiting' ? r.waitingFor : null,
    jobId: r.jobId,
    startedAt: r.startedAt,
    finishedAt: r.finishedAt,
    rolledBackTo: r.rolledBackTo,
    message: r.message,
    verification: renderVerification(r.verification),
  };
}

/** The releases of a version one answer carries, by default and at most. */
export const RELEASES_PAGE_LIMIT = 1000;

/**
 * A version, its releases counted per status, and one page of its releases: one Query page (at most
 * 1 MB read) beside one item, so the answer stays far below Lambda's 6 MB whatever the version's size.
 */
export async function viewVersion(
  rt: Runtime,
  deployment: string,
  tag: string,
  page: { limit?: number; nextToken?: string } = {},
): Promise<VersionView> {
  const version = await getVersion(rt, deployment, tag);
  if (!version) throw notFound(`The version "${tag}" of deployment "${deployment}"`);
  const [summary, releases] = await Promise.all([
    releaseStatusCounts(rt, deployment, tag),
    listReleasesPage(rt, deployment, tag, {
      limit: Math.min(page.limit ?? RELEASES_PAGE_LIMIT, RELEASES_PAGE_LIMIT),
      nextToken: page.nextToken,
    }),
  ]);
  return {
    version: renderVersion(version),
    summary,
    releases: releases.items.map(renderRelease),
    ...(releases.nextToken ? { nextToken: releases.nextToken } : {}),
  };
}

/** The create answer lists at most this many release targets; `releaseTargetCount` counts them all. */
export const LISTED_TARGETS = 1000;

export async function createVersion(
  rt: Runtime,
  deploymentId: string,
  body: VersionBody,
  actor: Actor,
): Promise<Answer<'VersionCreated'> & { created: boolean }> {
  const deployment = await requireConfig<DeploymentBody>(rt, 'deployment', deploymentId);
  const now = isoNow();
  const record: VersionRecord = {
    deployment: deploymentId,
    tag: body.tag,
    status: body.status,
    metadata: body.metadata,
    config: body.config,
    bodyHash: bodyHashOf(body),
    createdAt: now,
    updatedAt: now,
    createdBy: actor.keyId,
  };
  const { created, item } = await putVersionIfAbsent(rt, record);
  if (!created && item.bodyHash !== record.bodyHash) {
    throw conflict(`The version "${body.tag}" already exists with a different body.`);
  }
  const { environments, resources } = await loadInventory(rt);
  const { targets } = computeReleaseTargets(deployment, environments, resources);
  // The releases are written and started off the request, in bounded chunks (shared/services/rollouts/work.ts).
  if (item.status === 'ready') await queueVersionRelease(rt, deploymentId, body.tag);
  await publish(rt, [
    ...(created
      ? [
          {
            detailType: DETAIL_TYPES.versionCreated,
            deployment: deploymentId,
            version: body.tag,
            actor,
            data: {
              status: body.status,
              releaseTargetCount: targets.length,
              commit: commitOf(body.metadata) ?? null,
            },
          },
        ]
      : []),
    ...(item.status === 'ready' ? [readyEvent(item, actor)] : []),
  ]);
  return {
    created,
    version: renderVersion(item),
    releaseTargets: targets
      .slice(0, LISTED_TARGETS)
      .map((t) => ({ environment: t.environment, resource: t.resource })),
    releaseTargetCount: targets.length,
    warnings: versionWarnings(
      {
        named: deployment.data.environments,
        environmentIds: environments.map((e) => e.id),
        resourceCount: resources.length,
      },
      targets.length,
    ),
  };
}

export async function patchVersion(
  rt: Runtime,
  deploymentId: string,
  tag: string,
  status: 'ready' | 'rejected',
  actor: Actor,
): Promise<VersionView> {
  await requireConfig<DeploymentBody>(rt, 'deployment', deploymentId);
  const current = await getVersion(rt, deploymentId, tag);
  if (!current) throw notFound(`The version "${tag}" of deployment "${deploymentId}"`);
  if (current.status !== status) {
    try {
      await updateItem<VersionRecord>(
        rt,
        versionKey(deploymentId, tag),
        { set: { status, updatedAt: isoNow() } },
        // building -> ready | rejected; ready -> rejected. A rejected version stays rejected.
        status === 'ready'
          ? { expression: '#s = :building', names: { '#s': 'status' }, values: { ':building': 'building' } }
          : { expression: '#s <> :rejected', names: { '#s': 'status' }, values: { ':rejected': 'rejected' } },
      );
    } catch (error) {
      if (error instanceof ConditionFailed)
        throw conflict(`The version "${tag}" is ${current.status}; it cannot become ${status}.`);
      throw error;
    }
  }
  const updated = (await getVersion(rt, deploymentId, tag)) as VersionRecord;
  if (status === 'ready') {
    await queueVersionRelease(rt, deploymentId, tag);
    await publish(rt, [readyEvent(updated, actor)]);
  } else {
    await cancelReleases(rt, deploymentId, tag, {
      onlyUndispatched: true,
      message: 'The version was rejected.',
      actor,
    });
  }
  return viewVersion(rt, deploymentId, tag);
}

/**
 * Cancels the unfinished releases of a version (in one environment): all of them, or only those with
 * no job yet. The first CANCELS_PER_CHUNK releases are looked at now; a version with more queues the
 * rest as work that goes on off the request, chunk by chunk (runWorkStep), so a request never does
 * work that grows with the fleet. `continuing` says so. A release the version's fan-out writes
 * meanwhile is cancelled only when a chunk still to run reads it (docs/api.md section 5).
 */
export async function cancelReleases(
  rt: Runtime,
  deployment: string,
  tag: string,
  options: Omit<CancelTask, 'type' | 'deployment' | 'tag'>,
): Promise<{ cancelled: number; continuing: boolean }> {
  const task: CancelTask = { type: 'cancel-version', deployment, tag, ...options };
  const { cancelled, last } = await cancelChunk(rt, task);
  if (last !== undefined) await queueWork(rt, [task], last);
  return { cancelled, continuing: last !== undefined };
}

/**
 * One chunk of a cancel: the unfinished ones among the next CANCELS_PER_CHUNK releases after `after`
 * (a release key). Idempotent: each cancel is a conditional transition, so a chunk run again cancels
 * nothing twice. `last` is where the next chunk starts, absent when this one read the end.
 */
export async function cancelChunk(
  rt: Runtime,
  task: CancelTask,
  after?: string,
): Promise<{ cancelled: number; last?: string }> {
  const page = await releasesAfter(rt, task.deployment, task.tag, {
    environment: task.environment,
    after,
    limit: CANCELS_PER_CHUNK,
  });
  const unfinished = page.items.filter((r) => !TERMINAL_RELEASE.has(r.status));
  return { cancelled: await cancelReleaseRecords(rt, unfinished, task), last: page.last };
}

/**
 * Cancels these releases. Each is a conditional write on its status, so a release that dispatched
 * (when only undispatched ones are cancelled) or finished meanwhile is left alone.
 */
export async function cancelReleaseRecords(
  rt: Runtime,
  releases: ReleaseRecord[],
  options: { onlyUndispatched: boolean; message: string; actor: Actor },
): Promise<number> {
  const cancelled: Outbox[] = [];
  await inParallel(releases, async (release) => {
    const event = options.onlyUndispatched ? 'withdraw' : 'cancel';
    const said = releaseEvent(
      release,
      DETAIL_TYPES.releaseCancelled,
      { message: options.message },
      options.actor,
    );
    const updated = await transitionWithEvents(rt, release, event, { message: options.message }, [said]);
    if (!updated) return;
    cancelled.push(updated.outbox);
    await stopRollout(rt, release, options.message);
    await releaseTargetLock(rt, release);
  });
  await publishOutboxes(rt, cancelled);
  return cancelled.length;
}

export async function requireRelease(rt: Runtime, key: ReleaseKey): Promise<ReleaseRecord> {
  const release = await getRelease(rt, key);
  if (!release) throw notFound(`The release of "${key.tag}" to ${key.environment}/${key.resource}`);
  return release;
}
