import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { type Actor, DETAIL_TYPES, publish, releaseEvent } from '../../adapters/events';
import type { Runtime } from '../../adapters/runtime';
import { keys } from '../../adapters/store/keys';
import {
  getRelease,
  getTarget,
  getVersion,
  type ReleaseRecord,
  updateItem,
} from '../../adapters/store/rollouts';
import { signals, startRollout, stopRollout, wake } from '../../adapters/workflow';
import { isoNow } from '../../core/clock';
import { conflict, notFound } from '../../core/errors';
import { jobIdOf } from '../../core/ids';
import type { Answer } from '../../core/schemas/answers';
import { requireConfig } from '../inventory';
import { publishOutboxes, transitionWithEvents } from './outbox';
import { putReleaseUnderLease } from './reconcile';
import { cancelReleases, newRelease, renderRelease } from './versions';

/** Deployment-wide switches of docs/api.md section 5 (pause/resume). */
export interface DeploymentState {
  paused: boolean;
  pausedBy?: string | null;
  reason?: string | null;
  updatedAt?: string;
}

export async function getDeploymentState(rt: Runtime, deployment: string): Promise<DeploymentState> {
  const out = await rt.doc.send(
    new GetCommand({ TableName: rt.tableName, Key: keys.deploymentState(deployment), ConsistentRead: true }),
  );
  return {
    paused: out.Item?.paused === true,
    pausedBy: out.Item?.pausedBy ?? null,
    reason: out.Item?.reason ?? null,
  };
}

/**
 * Cancels the unfinished releases of a version, recorded as an override with its reason (docs/api.md
 * section 5). The event counts the releases cancelled before the answer; `continuing` says the rest
 * of a version over one chunk go on off the request, each with its own Release Cancelled.
 */
export async function cancelVersion(
  rt: Runtime,
  deployment: string,
  tag: string,
  reason: string | undefined,
  actor: Actor,
): Promise<void> {
  const { cancelled, continuing } = await cancelReleases(rt, deployment, tag, {
    onlyUndispatched: false,
    message: reason ? `Cancelled: ${reason}` : 'Cancelled.',
    actor,
  });
  await publish(rt, [
    {
      detailType: DETAIL_TYPES.overrideApplied,
      deployment,
      version: tag,
      actor,
      data: { override: 'cancel', reason: reason ?? null, cancelled, continuing },
    },
  ]);
}

export async function setPaused(
  rt: Runtime,
  deployment: string,
  paused: boolean,
  actor: Actor,
  reason?: string,
): Promise<Answer<'PauseState'>> {
  await requireConfig(rt, 'deployment', deployment);
  const state = {
    paused,
    pausedBy: paused ? (actor.keyId ?? null) : null,
    reason: reason ?? null,
    updatedAt: isoNow(),
  };
  await updateItem(rt, keys.deploymentState(deployment), { set: state });
  await publish(rt, [
    {
      detailType: DETAIL_TYPES.overrideApplied,
      deployment,
      actor,
      data: { override: paused ? 'pause' : 'resume', reason: reason ?? null },
    },
  ]);
  if (!paused) await wake(rt, signals.paused(deployment));
  return state;
}

/**
 * Force (docs/api.md section 5): skips the remaining gates of one release now. The release's execution
 * is replaced by one of the next generation, which sees `forced` and dispatches at once.
 */
export async function forceRelease(
  rt: Runtime,
  target: { deployment: string; environment: string; resource: string; tag: string; reason: string },
  actor: Actor,
) {
  const key = { ...target };
  const release = await getRelease(rt, key);
  if (!release) throw notFound(`The release of "${target.tag}" to ${target.environment}/${target.resource}`);
  const forced = { by: actor.keyId ?? 'unknown', reason: target.reason, at: isoNow() };
  const updated = await transitionWithEvents(rt, release, 'force', { forced }, [
    releaseEvent(
      release,
      DETAIL_TYPES.overrideApplied,
      { override: 'force', reason: target.reason, skipped: release.waitingFor },
      actor,
    ),
  ]);
  if (!updated) {
    throw conflict(`The release is ${release.status}; only a pending or waiting release can be forced.`);
  }
  await stopRollout(rt, release, `Forced by ${actor.keyId ?? 'unknown'}: ${target.reason}`);
  await startRollout(rt, updated.release);
  await publishOutboxes(rt, [updated.outbox]);
  return renderRelease(updated.release);
}

/**
 * Rollback on demand (docs/api.md section 5): redeploys `toVersion`, or else the successful version
 * before the current one, now and past every gate, as a job of kind `rollback`. The release of that
 * version on the target runs again as a new attempt (new job id) in a new execution generation.
 */
export async function rollbackTarget(
  rt: Runtime,
  input: { deployment: string; environment: string; resource: string; toVersion?: string; reason?: string },
  actor: Actor,
): Promise<Answer<'RollbackStarted'>> {
  const ref = { deployment: input.deployment, environment: input.environment, resource: input.resource };
  const target = await getTarget(rt, ref);
  if (!target)
    throw notFound(`The release target ${input.deployment}/${input.environment}/${input.resource}`);
  const toVersion =
    input.toVersion ?? (target.successfulVersions ?? []).find((tag) => tag !== target.currentVersion);
  if (!toVersion) throw conflict('There is no earlier successful version to roll back to.');
  const version = await getVersion(rt, input.deployment, toVersion);
  if (!version || version.status === 'rejected')
    throw conflict(`The version "${toVersion}" cannot be deployed.`);
  const key = { ...ref, tag: toVersion };
  const now = isoNow();
  const forced = { by: actor.keyId ?? 'unknown', reason: input.reason ?? 'rollback', at: now };
  const existing = await getRelease(rt, key);
  const applied = releaseEvent(
    key,
    DETAIL_TYPES.overrideApplied,
    { override: 'rollback', toVersion, from: target.currentVersion, reason: input.reason ?? null },
    actor,
  );
  let release: ReleaseRecord;
  if (!existing) {
    // The newest intent for the target (versionCreatedAt): it supersedes releases that have not dispatched.
    const fresh = {
      ...newRelease(version, { ...ref }, now),
      jobKind: 'rollback' as const,
      forced,
      versionCreatedAt: now,
    };
    if (!(await putReleaseUnderLease(rt, fresh)))
      throw conflict('A rollout of that version to this target started meanwhile; try again.');
    release = fresh;
    await startRollout(rt, release);
    await publish(rt, [applied]);
  } else {
    const message = `Rollback requested by ${actor.keyId ?? 'unknown'}.`;
    const redeploy = { forced, message, versionCreatedAt: now };
    const again = await transitionWithEvents(rt, existing, 'redeploy', redeploy, [applied]);
    if (!again) throw conflict(`A rollout of ${toVersion} to this target is in progress.`);
    release = again.release;
    await startRollout(rt, release);
    await publishOutboxes(rt, [again.outbox]);
  }
  // The release's deploy job, of kind rollback (functions/steps/jobs.ts dispatches it so).
  return { jobId: jobIdOf(release.releaseId, 'deploy', release.attempt), toVersion };
}
