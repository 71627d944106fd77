import { DETAIL_TYPES, releaseEvent } from '../../adapters/events';
import type { Runtime } from '../../adapters/runtime';
import {
  applyTransition,
  getRelease,
  putWaiter,
  type ReleaseKey,
  type ReleaseRecord,
} from '../../adapters/store/rollouts';
import { resumeTask } from '../../adapters/workflow';
import { currentDate, isoNow } from '../../core/clock';
import { jobIdOf } from '../../core/ids';
import {
  type DecideContext,
  type Decided,
  type Decision,
  decide,
  secondsUntilNextDue,
  type Waiting,
} from '../../core/lifecycle';
import { TERMINAL_RELEASE } from '../../core/status';
import { failOrRollBack, succeed } from './complete';
import { ending, startDrain, startUndrain } from './drain';
import { closedGate, policyContext } from './gates';
import type { JobToSend, PayloadReads } from './jobs';
import { claimTarget, releaseTargetLock } from './lock';
import { publishOutboxes, transitionAndPublish, transitionWithEvents } from './outbox';
import { jobTimeout, type Loaded, loadRelease, loadWith } from './reads';
import { startRollbackJob } from './rollback';
import { continuedInNewExecution } from './rounds';
import { abortOf, getAbort } from './safety';
import { measureRound, renderVerification } from './verify';

/**
 * The rollout state machine's steps (statemachines/rollout.asl.json), each a composition of reads,
 * the pure lifecycle (lifecycle.ts) and its side effects (complete.ts, drain.ts, rollback.ts).
 */

/** What deciding reads with the release: the pause switch, the abort record, what policies match on. */
const DECIDE_READS = ['deploymentState', 'abort', 'deployment', 'environment', 'resource'] as const;
type DecideReads = Loaded<(typeof DECIDE_READS)[number]>;

/**
 * Decides, gathering what `decide` asks for (the claim on the target, then the policy gates) only
 * when it asks, and carries out the end it chooses (superseded, or withdrawn by an abort).
 */
async function settle(rt: Runtime, reads: DecideReads, now: Date): Promise<Decided> {
  const { release } = reads;
  const context: DecideContext = {
    jobTimeoutSeconds: await jobTimeout(rt, release.deployment, reads),
    paused: reads.deploymentState?.paused === true,
    abort: abortOf(reads.abort),
  };
  let verdict = decide(release, context, now);
  while ('need' in verdict) {
    if (verdict.need === 'claim') context.claim = await claimTarget(rt, release);
    else {
      const policies = await policyContext(rt, release, reads);
      context.gates = {
        closed: release.forced ? undefined : await closedGate(rt, release, policies, now),
        trafficDrain: Boolean(policies.rules.trafficDrain),
      };
    }
    verdict = decide(release, context, now);
  }
  const { end } = verdict;
  if (end?.event === 'supersede') {
    await transitionAndPublish(rt, release, 'supersede', { by: end.by }, [
      releaseEvent(release, DETAIL_TYPES.releaseSuperseded, { by: end.by }),
    ]);
  } else if (end?.event === 'withdraw') {
    await applyTransition(rt, release, 'withdraw', { message: end.message });
    await releaseTargetLock(rt, release);
  }
  return verdict;
}

/** Moves the release to `waiting` (or `pending` with a message) and says so once per change. */
async function markWaiting(rt: Runtime, release: ReleaseRecord, { waitingFor, message, until }: Waiting) {
  const status = waitingFor ? 'waiting' : 'pending';
  if (release.status === status && release.waitingFor === waitingFor && release.message === message) return;
  if (!waitingFor) {
    await applyTransition(rt, release, 'hold', { message });
  } else {
    await transitionAndPublish(rt, release, 'wait', { waitingFor, message }, [
      releaseEvent(release, DETAIL_TYPES.releaseWaiting, {
        waitingFor,
        message,
        until: until?.toISOString() ?? null,
      }),
    ]);
  }
}

/** Decides, and shows a waiting release's gate and reason. */
async function decideAndShow(rt: Runtime, reads: DecideReads, now: Date): Promise<Decision> {
  const verdict = await settle(rt, reads, now);
  if (verdict.waiting) await markWaiting(rt, reads.release, verdict.waiting);
  return verdict.decision;
}

/**
 * Begin: mark the release started (once), then decide as Evaluate does, in the same task: a rollout
 * that can go at once costs no second task (and no second read of the release).
 */
export async function begin(rt: Runtime, key: ReleaseKey, now = currentDate()): Promise<Decision> {
  const reads = await loadWith(rt, key, DECIDE_READS);
  if (!TERMINAL_RELEASE.has(reads.release.status) && !reads.release.startedAt) {
    const started = await transitionAndPublish(rt, reads.release, 'start', {}, [
      releaseEvent(key, DETAIL_TYPES.releaseStarted),
    ]);
    reads.release = started ?? (await loadRelease(rt, key));
  }
  return decideAndShow(rt, reads, now);
}

/** Evaluate: decide, and show a waiting release's gate and reason. */
export async function evaluate(rt: Runtime, key: ReleaseKey, now = currentDate()): Promise<Decision> {
  return decideAndShow(rt, await loadWith(rt, key, DECIDE_READS), now);
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
  const again = await settle(rt, await loadWith(rt, key, DECIDE_READS), currentDate());
  if (!(again.decision.next === 'wait_signal' && again.decision.signal === signal)) {
    await resumeTask(rt, taskToken, { woken: 'recheck' });
  }
}

/** Marks the release deploying with its deploy job's id, unless it was cancelled or superseded meanwhile. */
export const startDeploying = (rt: Runtime, release: ReleaseRecord) =>
  applyTransition(rt, release, 'dispatch', { jobId: jobIdOf(release.releaseId, 'deploy', release.attempt) });

/** Dispatch: the release's move that goes with a job of this kind, and the job to send (none: it closed). */
export async function startJob(
  rt: Runtime,
  kind: 'deploy' | 'rollback' | 'drain' | 'undrain',
  reads: PayloadReads & { release?: ReleaseRecord },
): Promise<JobToSend | undefined> {
  const { release } = reads;
  if (!release) return undefined;
  if (kind === 'undrain') return startUndrain(rt, release);
  if (kind === 'rollback') return startRollbackJob(rt, release);
  const deploying = await startDeploying(rt, release);
  if (!deploying) return undefined;
  if (kind === 'drain') return startDrain(rt, deploying, reads);
  // An on-demand rollback to this version is a release whose deploy job is of kind `rollback`.
  return { release: deploying, kind: deploying.jobKind ?? 'deploy', role: 'deploy' };
}

/** Measure: one round of the verification loop. */
export async function measureStep(rt: Runtime, key: ReleaseKey): Promise<Decision> {
  const release = await loadRelease(rt, key);
  if (release.status !== 'verifying') return { next: 'done' };
  if (await continuedInNewExecution(rt, release)) return { next: 'done' };
  const { rules, dependedOn } = await policyContext(rt, release);
  const round = await measureRound(rt, release, rules.verification);
  const data = { verification: renderVerification(round) };
  if (round.verdict === 'passed') {
    const aborted = await getAbort(rt, release, release.environment);
    const measured = await loadRelease(rt, key);
    if (aborted?.mode === 'rollback') {
      return failOrRollBack(rt, measured, { cause: 'environment', message: aborted.reason, data });
    }
    await succeed(rt, measured, data, undefined, dependedOn);
    return ending(rt, measured);
  }
  if (round.verdict === 'failed') {
    const failing = Object.values(round.metrics)
      .filter((m) => m.verdict === 'failed')
      .map((m) => m.progress.name);
    const message = `Verification failed: ${failing.join(', ')}.`;
    return failOrRollBack(rt, await loadRelease(rt, key), { cause: 'verification', message, data });
  }
  return { next: 'verify', waitSeconds: Math.max(1, secondsUntilNextDue(round, currentDate())) };
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
  const failed = await transitionWithEvents(rt, release, 'error', { message }, [
    releaseEvent(key, DETAIL_TYPES.releaseFailed, { error: error.Error ?? null }),
  ]);
  if (failed) {
    await releaseTargetLock(rt, key);
    await publishOutboxes(rt, [failed.outbox]);
  }
}
