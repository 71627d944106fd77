import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { isoNow } from '../clock';
import { type Actor, DETAIL_TYPES, publish } from '../events';
import { requireConfig } from '../inventory';
import type { Runtime } from '../runtime';
import { keys } from '../store/keys';
import { updateItem } from '../store/rollouts';
import { signals, wake } from './workflow';

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
