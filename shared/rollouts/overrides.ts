import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { isoNow } from '../clock';
import { conflict, notFound } from '../errors';
import { type Actor, DETAIL_TYPES, publish } from '../events';
import { requireConfig } from '../inventory';
import type { Runtime } from '../runtime';
import { ConditionFailed } from '../store/client';
import { keys } from '../store/keys';
import { getRelease, type ReleaseRecord, updateItem, updateRelease } from '../store/rollouts';
import { renderRelease } from './versions';
import { signals, startRollout, stopRollout, wake } from './workflow';

/** Deployment-wide switches of API.md section 5 (pause/resume). */
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

export async function setPaused(
  rt: Runtime,
  deployment: string,
  paused: boolean,
  actor: Actor,
  reason?: string,
): Promise<DeploymentState> {
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
 * Force (API.md section 5): skips the remaining gates of one release now. The release's execution
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
  let updated: ReleaseRecord;
  try {
    updated = await updateRelease(
      rt,
      release,
      {
        forced: { by: actor.keyId ?? 'unknown', reason: target.reason, at: isoNow() },
        generation: (release.generation ?? 0) + 1,
      },
      ['pending', 'waiting'],
    );
  } catch (error) {
    if (error instanceof ConditionFailed)
      throw conflict(`The release is ${release.status}; only a pending or waiting release can be forced.`);
    throw error;
  }
  await stopRollout(rt, release, `Forced by ${actor.keyId ?? 'unknown'}: ${target.reason}`);
  await startRollout(rt, updated);
  await publish(rt, [
    {
      detailType: DETAIL_TYPES.overrideApplied,
      deployment: target.deployment,
      version: target.tag,
      environment: target.environment,
      resource: target.resource,
      actor,
      data: { override: 'force', reason: target.reason, skipped: release.waitingFor },
    },
  ]);
  return renderRelease(updated);
}
