import { isoNow } from '../clock';
import { DETAIL_TYPES, type GantryEvent, publish, SYSTEM } from '../events';
import { requireConfig } from '../inventory';
import type { Runtime } from '../runtime';
import type { DeploymentBody } from '../schemas';
import { type ReleaseStatus, TERMINAL_RELEASE, type WaitingFor } from '../status';
import { ConditionFailed } from '../store/client';
import {
  getJob,
  getRelease,
  getTarget,
  putWaiter,
  type ReleaseKey,
  type ReleaseRecord,
  targetItemKey,
  updateItem,
  updateRelease,
} from '../store/rollouts';
import { type JobOutcome, recordJobStatus } from './jobs';
import { claimTarget, releaseTargetLock } from './lock';
import { getDeploymentState } from './overrides';
import { resumeTask, signals } from './workflow';

/** What Evaluate tells the state machine to do next (the Choice state routes on `next`). */
export type Decision =
  | { next: 'done' }
  | { next: 'dispatch'; jobTimeoutSeconds: number }
  | { next: 'wait_until'; until: string; waitingFor: WaitingFor }
  | { next: 'wait_signal'; signal: string; waitingFor: WaitingFor | null; timeoutSeconds: number };

/** A parked execution re-checks its gates at least this often (a missed wake-up costs at most this). */
export const MAX_SIGNAL_WAIT_SECONDS = 24 * 3600;

const ACTIVE: ReleaseStatus[] = ['pending', 'waiting', 'deploying', 'verifying', 'rolling_back'];

function event(
  release: ReleaseKey,
  detailType: GantryEvent['detailType'],
  data?: Record<string, unknown>,
): GantryEvent {
  return {
    detailType,
    deployment: release.deployment,
    version: release.tag,
    environment: release.environment,
    resource: release.resource,
    actor: SYSTEM,
    data,
  };
}

async function load(rt: Runtime, key: ReleaseKey): Promise<ReleaseRecord> {
  const release = await getRelease(rt, key);
  if (!release) throw new Error('The release of this execution does not exist.');
  return release;
}

/** Begin: mark the release started (once). */
export async function begin(rt: Runtime, key: ReleaseKey): Promise<{ next: 'evaluate' | 'done' }> {
  const release = await load(rt, key);
  if (TERMINAL_RELEASE.has(release.status)) return { next: 'done' };
  if (!release.startedAt) {
    try {
      await updateRelease(rt, key, { startedAt: isoNow() }, ACTIVE, {
        expression: 'attribute_not_exists(startedAt) OR startedAt = :null',
        values: { ':null': null },
      });
      await publish(rt, [event(key, DETAIL_TYPES.releaseStarted)]);
    } catch (error) {
      if (!(error instanceof ConditionFailed)) throw error;
    }
  }
  return { next: 'evaluate' };
}

async function isPaused(rt: Runtime, deployment: string): Promise<boolean> {
  return (await getDeploymentState(rt, deployment)).paused;
}

/** Moves the release to `waiting` (or `pending` with a message) and says so once per change. */
async function markWaiting(
  rt: Runtime,
  release: ReleaseRecord,
  waitingFor: WaitingFor | null,
  message: string | null,
) {
  const status: ReleaseStatus = waitingFor ? 'waiting' : 'pending';
  if (release.status === status && release.waitingFor === waitingFor && release.message === message) return;
  try {
    await updateRelease(rt, release, { status, waitingFor, message }, ['pending', 'waiting']);
  } catch (error) {
    if (error instanceof ConditionFailed) return;
    throw error;
  }
  if (waitingFor) await publish(rt, [event(release, DETAIL_TYPES.releaseWaiting, { waitingFor, message })]);
}

/**
 * Evaluate: the release's next step. Cheap checks first: is it still active, does it hold the
 * target, is the deployment paused; then the policy gates.
 */
export async function evaluate(rt: Runtime, key: ReleaseKey): Promise<Decision> {
  const release = await load(rt, key);
  if (TERMINAL_RELEASE.has(release.status)) return { next: 'done' };
  if (release.jobId) return { next: 'dispatch', jobTimeoutSeconds: await jobTimeout(rt, key.deployment) };

  const claim = await claimTarget(rt, release);
  if (claim.type === 'superseded') {
    await finish(rt, release, 'superseded', `Superseded by ${claim.by}.`, ['pending', 'waiting']);
    return { next: 'done' };
  }
  if (claim.type === 'busy') {
    await markWaiting(rt, release, null, `Waiting for the job of ${claim.holder} on this target to finish.`);
    return {
      next: 'wait_signal',
      signal: signals.target(key),
      waitingFor: null,
      timeoutSeconds: MAX_SIGNAL_WAIT_SECONDS,
    };
  }
  if (await isPaused(rt, key.deployment)) {
    await markWaiting(rt, release, 'paused', 'The deployment is paused.');
    return {
      next: 'wait_signal',
      signal: signals.paused(key.deployment),
      waitingFor: 'paused',
      timeoutSeconds: MAX_SIGNAL_WAIT_SECONDS,
    };
  }
  return { next: 'dispatch', jobTimeoutSeconds: await jobTimeout(rt, key.deployment) };
}

async function jobTimeout(rt: Runtime, deployment: string): Promise<number> {
  return (await requireConfig<DeploymentBody>(rt, 'deployment', deployment)).data.jobTimeoutSeconds ?? 3600;
}

/**
 * Parks the execution on a signal with its task token, then looks again: a wake-up that came between
 * Evaluate and this registration would otherwise be lost.
 */
export async function registerWait(
  rt: Runtime,
  key: ReleaseKey,
  signal: string,
  taskToken: string,
): Promise<void> {
  await putWaiter(rt, { signal, release: key, taskToken, since: isoNow() });
  const again = await evaluateWithoutSideEffects(rt, key);
  if (!(again.next === 'wait_signal' && again.signal === signal))
    await resumeTask(rt, taskToken, { woken: 'recheck' });
}

/** The same decision as Evaluate for the gates that can open while an execution parks. */
async function evaluateWithoutSideEffects(
  rt: Runtime,
  key: ReleaseKey,
): Promise<Decision | { next: 'evaluate' }> {
  const release = await load(rt, key);
  if (TERMINAL_RELEASE.has(release.status)) return { next: 'done' };
  const target = await getTarget(rt, key);
  if (target?.activeTag && target.activeTag !== key.tag) {
    return {
      next: 'wait_signal',
      signal: signals.target(key),
      waitingFor: null,
      timeoutSeconds: MAX_SIGNAL_WAIT_SECONDS,
    };
  }
  if (await isPaused(rt, key.deployment)) {
    return {
      next: 'wait_signal',
      signal: signals.paused(key.deployment),
      waitingFor: 'paused',
      timeoutSeconds: MAX_SIGNAL_WAIT_SECONDS,
    };
  }
  return { next: 'evaluate' };
}

/** Marks the release deploying with its job id, unless it was cancelled or superseded meanwhile. */
export async function startDeploying(
  rt: Runtime,
  key: ReleaseKey,
  jobId: string,
): Promise<ReleaseRecord | undefined> {
  try {
    return await updateRelease(
      rt,
      key,
      { status: 'deploying', waitingFor: null, message: null, jobId },
      ['pending', 'waiting', 'deploying'],
      {
        expression: 'attribute_not_exists(jobId) OR jobId = :null OR jobId = :job',
        values: { ':null': null, ':job': jobId },
      },
    );
  } catch (error) {
    if (error instanceof ConditionFailed) return undefined;
    throw error;
  }
}

async function finish(
  rt: Runtime,
  release: ReleaseRecord,
  status: ReleaseStatus,
  message: string | null,
  from: ReleaseStatus[],
  extra: Partial<ReleaseRecord> = {},
): Promise<boolean> {
  try {
    await updateRelease(
      rt,
      release,
      { status, message, finishedAt: isoNow(), waitingFor: null, ...extra },
      from,
    );
    return true;
  } catch (error) {
    if (error instanceof ConditionFailed) return false;
    throw error;
  }
}

/** Complete: record the job's outcome on the release and the target, let go of the target. */
export async function complete(
  rt: Runtime,
  key: ReleaseKey,
  outcome: JobOutcome | { status: 'timed_out' },
): Promise<{ status: ReleaseStatus }> {
  const release = await load(rt, key);
  let result: JobOutcome;
  if (outcome.status === 'timed_out') {
    const jobId = release.jobId ?? '';
    const job = await getJob(rt, jobId);
    const recorded = job
      ? await recordJobStatus(rt, jobId, { status: 'failed', message: 'The job timed out.' }, SYSTEM).catch(
          () => undefined,
        )
      : undefined;
    const final = recorded?.job ?? (await getJob(rt, jobId));
    result = {
      jobId,
      status: final?.status === 'successful' ? 'successful' : 'failed',
      message: final?.message ?? 'The job timed out.',
    };
  } else {
    result = outcome;
  }
  const succeeded = result.status === 'successful';
  const changed = await finish(
    rt,
    release,
    succeeded ? 'successful' : 'failed',
    succeeded ? null : (result.message ?? 'The job failed.'),
    ['deploying', 'verifying'],
  );
  if (succeeded && changed) {
    const target = await getTarget(rt, key);
    const history = [key.tag, ...(target?.successfulVersions ?? []).filter((tag) => tag !== key.tag)].slice(
      0,
      20,
    );
    await updateItem(rt, targetItemKey(key), {
      set: { currentVersion: key.tag, lastSucceededAt: isoNow(), successfulVersions: history },
    });
  }
  await releaseTargetLock(rt, key);
  if (changed) {
    await publish(rt, [
      event(key, succeeded ? DETAIL_TYPES.releaseSucceeded : DETAIL_TYPES.releaseFailed, {
        jobId: result.jobId,
        message: result.message,
      }),
    ]);
  }
  const after = await load(rt, key);
  return { status: after.status };
}

/** The failure path of the state machine: an unexpected error ends the release `failed`. */
export async function recordFailure(
  rt: Runtime,
  key: ReleaseKey,
  error: { Error?: string; Cause?: string },
): Promise<void> {
  const release = await getRelease(rt, key);
  if (!release || TERMINAL_RELEASE.has(release.status)) return;
  const message = `The rollout failed: ${error.Error ?? 'unknown error'}.`;
  if (await finish(rt, release, 'failed', message, ACTIVE)) {
    await releaseTargetLock(rt, key);
    await publish(rt, [event(key, DETAIL_TYPES.releaseFailed, { error: error.Error ?? null })]);
  }
}
