import { createHash } from 'node:crypto';
import { isoNow } from '../clock';
import { conflict, notFound } from '../errors';
import { type Actor, DETAIL_TYPES, type GantryEvent, publish, releaseEvent } from '../events';
import { requireConfig } from '../inventory';
import { canonicalJson } from '../json';
import type { Runtime } from '../runtime';
import type { DeploymentBody, EnvironmentBody, ResourceBody } from '../schemas/config';
import type { VersionBody } from '../schemas/rollouts';
import { type ReleaseStatus, TERMINAL_RELEASE, UNDISPATCHED_RELEASE } from '../status';
import { ConditionFailed } from '../store/client';
import { listAllConfig, type Stored } from '../store/config';
import {
  getRelease,
  getVersion,
  listReleases,
  putReleaseIfAbsent,
  putReleasesInBatches,
  putVersionIfAbsent,
  type ReleaseKey,
  type ReleaseRecord,
  updateItem,
  updateRelease,
  type VersionRecord,
  versionKey,
} from '../store/rollouts';
import { computeReleaseTargets, type ReleaseTarget } from '../targets';
import { releaseIdOf } from './ids';
import { releaseTargetLock } from './lock';
import { renderVerification, type VerificationState } from './verify';
import { startRollout, stopRollout } from './workflow';

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

export async function loadInventory(rt: Runtime) {
  const [environments, resources] = await Promise.all([
    listAllConfig<EnvironmentBody>(rt, 'environment'),
    listAllConfig<ResourceBody>(rt, 'resource'),
  ]);
  return { environments, resources };
}

export async function targetsOf(rt: Runtime, deployment: Stored<DeploymentBody>) {
  const { environments, resources } = await loadInventory(rt);
  return computeReleaseTargets(deployment, environments, resources);
}

export function newRelease(version: VersionRecord, target: ReleaseTarget, now: string): ReleaseRecord {
  const key: ReleaseKey = { ...target, tag: version.tag };
  return {
    ...key,
    releaseId: releaseIdOf(key),
    status: 'pending',
    waitingFor: null,
    message: null,
    jobId: null,
    attempt: 1,
    versionCreatedAt: version.createdAt,
    createdAt: now,
    startedAt: null,
    finishedAt: null,
    rolledBackTo: null,
    updatedAt: now,
  };
}

/** Creates each target's release once (a retry finds them); their executions start from `Version Ready`. */
export async function createReleases(
  rt: Runtime,
  version: VersionRecord,
  targets: ReleaseTarget[],
  options: { fresh?: boolean } = {},
): Promise<void> {
  const now = isoNow();
  const releases = targets.map((target) => newRelease(version, target, now));
  // A version this very request created has no releases yet: write them in batches of 25. A retry
  // or a PATCH may find some, so they are created one by one, each only if absent.
  if (options.fresh) await putReleasesInBatches(rt, releases);
  else await inParallel(releases, async (release) => void (await putReleaseIfAbsent(rt, release)));
}

/**
 * The fan-out, run by the `Version Ready` consumer off the request path (so a version over
 * thousands of targets answers at once): starts every unfinished release's execution, idempotently.
 */
export async function startReleases(rt: Runtime, deployment: string, tag: string): Promise<number> {
  const releases = (await listReleases(rt, deployment, tag)).filter((r) => !TERMINAL_RELEASE.has(r.status));
  await inParallel(releases, (release) => startRollout(rt, release));
  return releases.length;
}

const readyEvent = (version: VersionRecord, actor: Actor): GantryEvent => ({
  detailType: DETAIL_TYPES.versionReady,
  deployment: version.deployment,
  version: version.tag,
  actor,
});

export interface VersionView {
  version: Record<string, unknown>;
  releases: Record<string, unknown>[];
}

export function renderVersion(v: VersionRecord) {
  return {
    deployment: v.deployment,
    tag: v.tag,
    status: v.status,
    metadata: v.metadata,
    config: v.config,
    createdAt: v.createdAt,
    updatedAt: v.updatedAt,
  };
}

export function renderRelease(r: ReleaseRecord) {
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
    verification: renderVerification(r.verification as VerificationState | undefined),
  };
}

export async function viewVersion(rt: Runtime, deployment: string, tag: string): Promise<VersionView> {
  const version = await getVersion(rt, deployment, tag);
  if (!version) throw notFound(`The version "${tag}" of deployment "${deployment}"`);
  const releases = await listReleases(rt, deployment, tag);
  return { version: renderVersion(version), releases: releases.map(renderRelease) };
}

export async function createVersion(
  rt: Runtime,
  deploymentId: string,
  body: VersionBody,
  actor: Actor,
): Promise<{
  created: boolean;
  version: Record<string, unknown>;
  releaseTargets: { environment: string; resource: string }[];
}> {
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
  const { targets } = await targetsOf(rt, deployment);
  if (item.status === 'ready') await createReleases(rt, item, targets, { fresh: created });
  // A retried create publishes `Version Ready` again, which heals a fan-out that was cut short.
  await publish(rt, [
    ...(created
      ? [
          {
            detailType: DETAIL_TYPES.versionCreated,
            deployment: deploymentId,
            version: body.tag,
            actor,
            data: { status: body.status },
          },
        ]
      : []),
    ...(item.status === 'ready' ? [readyEvent(item, actor)] : []),
  ]);
  return {
    created,
    version: renderVersion(item),
    releaseTargets: targets.map((t) => ({ environment: t.environment, resource: t.resource })),
  };
}

export async function patchVersion(
  rt: Runtime,
  deploymentId: string,
  tag: string,
  status: 'ready' | 'rejected',
  actor: Actor,
): Promise<VersionView> {
  const deployment = await requireConfig<DeploymentBody>(rt, 'deployment', deploymentId);
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
    const { targets } = await targetsOf(rt, deployment);
    await createReleases(rt, updated, targets);
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
 * Cancels the unfinished releases of a version (all of them, or only those with no job yet). Each is
 * a conditional write on its status, so a release that dispatched meanwhile is left alone.
 */
export async function cancelReleases(
  rt: Runtime,
  deployment: string,
  tag: string,
  options: {
    onlyUndispatched: boolean;
    message: string;
    actor: Actor;
    environment?: string;
    resource?: string;
  },
): Promise<number> {
  const releases = (await listReleases(rt, deployment, tag, options.environment)).filter(
    (r) =>
      (options.resource === undefined || r.resource === options.resource) && !TERMINAL_RELEASE.has(r.status),
  );
  const from: ReleaseStatus[] = options.onlyUndispatched
    ? [...UNDISPATCHED_RELEASE]
    : ['pending', 'waiting', 'deploying', 'verifying', 'rolling_back'];
  let cancelled = 0;
  const events: GantryEvent[] = [];
  await inParallel(releases, async (release) => {
    try {
      await updateRelease(
        rt,
        release,
        { status: 'cancelled', finishedAt: isoNow(), message: options.message },
        from,
      );
    } catch (error) {
      if (error instanceof ConditionFailed) return;
      throw error;
    }
    cancelled++;
    await stopRollout(rt, release, options.message);
    await releaseTargetLock(rt, release);
    events.push(
      releaseEvent(release, DETAIL_TYPES.releaseCancelled, { message: options.message }, options.actor),
    );
  });
  await publish(rt, events);
  return cancelled;
}

export async function requireRelease(rt: Runtime, key: ReleaseKey): Promise<ReleaseRecord> {
  const release = await getRelease(rt, key);
  if (!release) throw notFound(`The release of "${key.tag}" to ${key.environment}/${key.resource}`);
  return release;
}
