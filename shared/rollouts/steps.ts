import { currentDate, isoNow } from '../clock';
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
import { closedGate, policyContext } from './gates';
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

interface Verdict {
  decision: Decision;
  /** What a waiting release shows: `waitingFor` (null = held by another version's job) and why. */
  waiting?: { waitingFor: WaitingFor | null; message: string };
}

const signalWait = (
  signal: string,
  waitingFor: WaitingFor | null,
  message: string,
  timeoutSeconds = MAX_SIGNAL_WAIT_SECONDS,
): Verdict => ({
  decision: {
    next: 'wait_signal',
    signal,
    waitingFor,
    timeoutSeconds: Math.min(timeoutSeconds, MAX_SIGNAL_WAIT_SECONDS),
  },
  waiting: { waitingFor, message },
});

/**
 * The release's next step. Cheap checks first: is it still active, does it hold the target, is the
 * deployment paused; then the policy gates (skipped for a forced release).
 */
async function decide(rt: Runtime, release: ReleaseRecord, now: Date): Promise<Verdict> {
  if (TERMINAL_RELEASE.has(release.status)) return { decision: { next: 'done' } };
  const key: ReleaseKey = release;
  if (release.jobId)
    return { decision: { next: 'dispatch', jobTimeoutSeconds: await jobTimeout(rt, key.deployment) } };

  const claim = await claimTarget(rt, release);
  if (claim.type === 'superseded') {
    await finish(rt, release, 'superseded', `Superseded by ${claim.by}.`, ['pending', 'waiting']);
    return { decision: { next: 'done' } };
  }
  if (claim.type === 'busy') {
    return signalWait(
      signals.target(key),
      null,
      `Waiting for the job of ${claim.holder} on this target to finish.`,
    );
  }
  if (await isPaused(rt, key.deployment)) {
    return signalWait(signals.paused(key.deployment), 'paused', 'The deployment is paused.');
  }
  const ctx = await policyContext(rt, release);
  if (!release.forced) {
    const gate = await closedGate(rt, release, ctx, now);
    if (gate && 'until' in gate) {
      return {
        decision: { next: 'wait_until', until: gate.until.toISOString(), waitingFor: gate.gate },
        waiting: { waitingFor: gate.gate, message: gate.message },
      };
    }
    if (gate) return signalWait(gate.signal, gate.gate, gate.message, gate.timeoutSeconds);
  }
  return { decision: { next: 'dispatch', jobTimeoutSeconds: ctx.deployment.jobTimeoutSeconds ?? 3600 } };
}

/** Evaluate: decide, and show a waiting release's gate and reason. */
export async function evaluate(rt: Runtime, key: ReleaseKey, now = currentDate()): Promise<Decision> {
  const release = await load(rt, key);
  const verdict = await decide(rt, release, now);
  if (verdict.waiting) await markWaiting(rt, release, verdict.waiting.waitingFor, verdict.waiting.message);
  return verdict.decision;
}

async function jobTimeout(rt: Runtime, deployment: string): Promise<number> {
  return (await requireConfig<DeploymentBody>(rt, 'deployment', deployment)).data.jobTimeoutSeconds ?? 3600;
}

/**
 * Parks the execution on a signal with its task token, then decides again: a wake-up that came
 * between Evaluate and this registration would otherwise be lost.
 */
export async function registerWait(
  rt: Runtime,
  key: ReleaseKey,
  signal: string,
  taskToken: string,
): Promise<void> {
  await putWaiter(rt, { signal, release: key, taskToken, since: isoNow() });
  const again = await decide(rt, await load(rt, key), currentDate());
  if (!(again.decision.next === 'wait_signal' && again.decision.signal === signal)) {
    await resumeTask(rt, taskToken, { woken: 'recheck' });
  }
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
