import { currentDate, isoNow } from '../clock';
import { DETAIL_TYPES, publish, releaseEvent, SYSTEM } from '../events';
import { requireConfig } from '../inventory';
import type { Runtime } from '../runtime';
import type { DeploymentBody } from '../schemas/config';
import { type ReleaseStatus, TERMINAL_RELEASE, type WaitingFor } from '../status';
import { ConditionFailed } from '../store/client';
import { type ReleaseRead, type ReleaseReads, readForRelease } from '../store/release-reads';
import {
  type DrainState,
  getJob,
  getRelease,
  getTarget,
  putWaiter,
  type ReleaseKey,
  type ReleaseRecord,
  releaseItemKey,
  targetItemKey,
  updateItem,
  updateRelease,
} from '../store/rollouts';
import { closedGate, policyContext } from './gates';
import { type JobOutcome, recordJobStatus } from './jobs';
import { claimTarget, releaseTargetLock } from './lock';
import { continuedInNewExecution } from './rounds';
import { abortOf, getAbort, haltIfNeeded, rollBackEnvironment } from './safety';
import {
  initialVerification,
  measureRound,
  renderVerification,
  secondsUntilNextDue,
  type VerificationState,
} from './verify';
import { resumeTask, signals } from './workflow';

/** What Evaluate tells the state machine to do next (the Choice state routes on `next`). */
export type Decision =
  | { next: 'done' }
  | { next: 'dispatch'; jobTimeoutSeconds: number }
  /** Verification runs: wait, then Measure. */
  | { next: 'verify'; waitSeconds: number }
  /** Roll the target back to its last good version with a job of kind `rollback`. */
  | { next: 'rollback'; jobTimeoutSeconds: number }
  /** Traffic drain: send the drain job, wait the drain time, deploy; send undrain at the end. */
  | { next: 'drain'; jobTimeoutSeconds: number }
  | { next: 'drain_wait'; waitSeconds: number; jobTimeoutSeconds: number }
  | { next: 'undrain'; jobTimeoutSeconds: number }
  | { next: 'wait_until'; until: string; waitingFor: WaitingFor }
  | { next: 'wait_signal'; signal: string; waitingFor: WaitingFor | null; timeoutSeconds: number };

/** A parked execution re-checks its gates at least this often (a missed wake-up costs at most this). */
export const MAX_SIGNAL_WAIT_SECONDS = 24 * 3600;

const ACTIVE: ReleaseStatus[] = ['pending', 'waiting', 'deploying', 'verifying', 'rolling_back'];

async function load(rt: Runtime, key: ReleaseKey): Promise<ReleaseRecord> {
  const release = await getRelease(rt, key);
  if (!release) throw new Error('The release of this execution does not exist.');
  return release;
}

/** What a step read with its release, the release required. */
type Loaded<K extends ReleaseRead> = Pick<ReleaseReads, K> & { release: ReleaseRecord };

/** The release and what the step needs with it, in one read (shared/store/release-reads.ts). */
async function loadWith<K extends ReleaseRead>(rt: Runtime, key: ReleaseKey, wanted: readonly K[]) {
  const reads = await readForRelease(rt, key, ['release', ...wanted]);
  if (!reads.release) throw new Error('The release of this execution does not exist.');
  return reads as Loaded<K>;
}

/** What deciding reads: the pause switch, the abort record, the configuration policies match on. */
const DECIDE_READS = ['deploymentState', 'abort', 'deployment', 'environment', 'resource'] as const;
type DecideReads = Loaded<(typeof DECIDE_READS)[number]>;

const jobTimeoutOf = async (rt: Runtime, reads: Pick<ReleaseReads, 'deployment'>, deployment: string) =>
  (reads.deployment ?? (await requireConfig<DeploymentBody>(rt, 'deployment', deployment))).data
    .jobTimeoutSeconds ?? 3600;

/**
 * Begin: mark the release started (once), then decide as Evaluate does, in the same task: a rollout
 * that can go at once costs no second task (and no second read of the release).
 */
export async function begin(rt: Runtime, key: ReleaseKey, now = currentDate()): Promise<Decision> {
  const reads = await loadWith(rt, key, DECIDE_READS);
  if (!TERMINAL_RELEASE.has(reads.release.status) && !reads.release.startedAt) {
    try {
      reads.release = await updateRelease(rt, key, { startedAt: isoNow() }, ACTIVE, {
        expression: 'attribute_not_exists(startedAt) OR startedAt = :null',
        values: { ':null': null },
      });
      await publish(rt, [releaseEvent(key, DETAIL_TYPES.releaseStarted)]);
    } catch (error) {
      if (!(error instanceof ConditionFailed)) throw error;
      reads.release = await load(rt, key);
    }
  }
  return decideAndShow(rt, reads, now);
}

/** Moves the release to `waiting` (or `pending` with a message) and says so once per change. */
async function markWaiting(
  rt: Runtime,
  release: ReleaseRecord,
  waitingFor: WaitingFor | null,
  message: string | null,
  until?: Date,
) {
  const status: ReleaseStatus = waitingFor ? 'waiting' : 'pending';
  if (release.status === status && release.waitingFor === waitingFor && release.message === message) return;
  try {
    await updateRelease(rt, release, { status, waitingFor, message }, ['pending', 'waiting']);
  } catch (error) {
    if (error instanceof ConditionFailed) return;
    throw error;
  }
  if (waitingFor) {
    await publish(rt, [
      releaseEvent(release, DETAIL_TYPES.releaseWaiting, {
        waitingFor,
        message,
        until: until?.toISOString() ?? null,
      }),
    ]);
  }
}

interface Verdict {
  decision: Decision;
  /** What a waiting release shows: `waitingFor` (null = held by another version's job) and why. */
  waiting?: { waitingFor: WaitingFor | null; message: string; until?: Date };
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
 * The release's next step. Cheap checks first: is it still active, does it hold the target; then the
 * policy gates (skipped for a forced release); then, right before any job, the pause switch.
 */
async function decide(rt: Runtime, reads: DecideReads, now: Date): Promise<Verdict> {
  const { release } = reads;
  const key: ReleaseKey = release;
  const jobTimeout = () => jobTimeoutOf(rt, reads, key.deployment);
  const drain = release.drain;
  if (drain?.state === 'undraining') {
    return { decision: { next: 'undrain', jobTimeoutSeconds: await jobTimeout() } };
  }
  if (TERMINAL_RELEASE.has(release.status)) return { decision: afterward(release, await jobTimeout()) };
  if (drain?.state === 'draining') {
    return { decision: { next: 'drain', jobTimeoutSeconds: await jobTimeout() } };
  }
  if (drain?.state === 'drained' && release.status === 'deploying' && drain.drainedAt) {
    const left = Math.max(
      0,
      Math.ceil((Date.parse(drain.drainedAt) + drain.seconds * 1000 - now.getTime()) / 1000),
    );
    if (left > 0) {
      return {
        decision: {
          next: 'drain_wait',
          waitSeconds: left,
          jobTimeoutSeconds: await jobTimeout(),
        },
      };
    }
  }
  // A re-run (restart, new generation) resumes where the release is.
  if (release.status === 'verifying') {
    const state = release.verification as VerificationState | undefined;
    return { decision: { next: 'verify', waitSeconds: state ? secondsUntilNextDue(state, now) : 0 } };
  }
  if (release.status === 'rolling_back') {
    return { decision: { next: 'rollback', jobTimeoutSeconds: await jobTimeout() } };
  }
  if (release.jobId) return { decision: { next: 'dispatch', jobTimeoutSeconds: await jobTimeout() } };

  const claim = await claimTarget(rt, release);
  if (claim.type === 'superseded') {
    if (await finish(rt, release, 'superseded', `Superseded by ${claim.by}.`, ['pending', 'waiting'])) {
      await publish(rt, [releaseEvent(release, DETAIL_TYPES.releaseSuperseded, { by: claim.by })]);
    }
    return { decision: { next: 'done' } };
  }
  if (claim.type === 'busy') {
    return signalWait(
      signals.target(key),
      null,
      `Waiting for the job of ${claim.holder} on this target to finish.`,
    );
  }
  const aborted = abortOf(reads.abort);
  if (aborted && !release.forced) {
    await finish(rt, release, 'cancelled', aborted.reason, ['pending', 'waiting']);
    await releaseTargetLock(rt, release);
    return { decision: { next: 'done' } };
  }
  const ctx = await policyContext(rt, release, reads);
  if (!release.forced) {
    const gate = await closedGate(rt, release, ctx, now);
    if (gate && 'until' in gate) {
      return {
        decision: { next: 'wait_until', until: gate.until.toISOString(), waitingFor: gate.gate },
        waiting: { waitingFor: gate.gate, message: gate.message, until: gate.until },
      };
    }
    if (gate) return signalWait(gate.signal, gate.gate, gate.message, gate.timeoutSeconds);
  }
  // Pause holds only dispatch (API.md section 5): the gates before it, an approval request among
  // them, go on, so approvers can approve while paused and the release ships the moment it resumes.
  // The pause switch's item (shared/rollouts/overrides.ts): paused while `paused` is true.
  if (reads.deploymentState?.paused === true) {
    return signalWait(signals.paused(key.deployment), 'paused', 'The deployment is paused.');
  }
  const jobTimeoutSeconds = ctx.deployment.jobTimeoutSeconds ?? 3600;
  // Traffic drain is not a gate: even a forced release drains first.
  if (ctx.rules.trafficDrain && !drain) return { decision: { next: 'drain', jobTimeoutSeconds } };
  return { decision: { next: 'dispatch', jobTimeoutSeconds } };
}

/** How a finished release leaves the workflow: through the undrain job when its target was drained. */
function afterward(release: ReleaseRecord, jobTimeoutSeconds: number): Decision {
  return release.drain?.state === 'drained' ? { next: 'undrain', jobTimeoutSeconds } : { next: 'done' };
}

/**
 * After the rollout's last job: undrain if drained, else done. `release` is one read in this step
 * (its drain state is not changed by ending it), `reads` may hold the deployment for the timeout.
 */
async function ending(
  rt: Runtime,
  release: ReleaseRecord,
  reads: Pick<ReleaseReads, 'deployment'> = {},
): Promise<Decision> {
  if (release.drain?.state !== 'drained') return { next: 'done' };
  return afterward(release, await jobTimeoutOf(rt, reads, release.deployment));
}

/** Evaluate: decide, and show a waiting release's gate and reason. */
export async function evaluate(rt: Runtime, key: ReleaseKey, now = currentDate()): Promise<Decision> {
  return decideAndShow(rt, await loadWith(rt, key, DECIDE_READS), now);
}

async function decideAndShow(rt: Runtime, reads: DecideReads, now: Date): Promise<Decision> {
  const verdict = await decide(rt, reads, now);
  if (verdict.waiting) {
    await markWaiting(
      rt,
      reads.release,
      verdict.waiting.waitingFor,
      verdict.waiting.message,
      verdict.waiting.until,
    );
  }
  return verdict.decision;
}

/** The deployment's job timeout: one read, for steps that need nothing else of its configuration. */
export async function jobTimeout(rt: Runtime, deployment: string): Promise<number> {
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
  const again = await decide(rt, await loadWith(rt, key, DECIDE_READS), currentDate());
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

/** The outcome of a job from the workflow's point of view, a timeout included. */
async function jobResult(
  rt: Runtime,
  jobId: string,
  outcome: JobOutcome | { status: 'timed_out' },
): Promise<JobOutcome> {
  if (outcome.status !== 'timed_out') return outcome;
  const job = await getJob(rt, jobId);
  const recorded = job
    ? await recordJobStatus(rt, jobId, { status: 'failed', message: 'The job timed out.' }, SYSTEM).catch(
        () => undefined,
      )
    : undefined;
  const final = recorded?.job ?? (await getJob(rt, jobId));
  return {
    jobId,
    status: final?.status === 'successful' ? 'successful' : 'failed',
    message: final?.message ?? 'The job timed out.',
  };
}

async function succeed(
  rt: Runtime,
  release: ReleaseRecord,
  from: ReleaseStatus[],
  data: Record<string, unknown>,
  reads: Pick<ReleaseReads, 'target'> = {},
): Promise<void> {
  // The target first: a reader who sees the release successful also sees it as the current version.
  // Its history may come from the step's read: while the release holds the target, nothing else
  // changes it.
  const target = 'target' in reads ? reads.target : await getTarget(rt, release);
  const history = [
    release.tag,
    ...(target?.successfulVersions ?? []).filter((tag) => tag !== release.tag),
  ].slice(0, 20);
  await updateItem(rt, targetItemKey(release), {
    set: { currentVersion: release.tag, lastSucceededAt: isoNow(), successfulVersions: history },
  });
  const changed = await finish(rt, release, 'successful', null, from);
  await releaseTargetLock(rt, release);
  if (changed) await publish(rt, [releaseEvent(release, DETAIL_TYPES.releaseSucceeded, data)]);
}

/**
 * A failed job or verification: roll back to the target's last good version when the policy asks
 * and there is one, else end `failed`.
 */
async function failOrRollBack(
  rt: Runtime,
  release: ReleaseRecord,
  cause: 'job' | 'verification' | 'environment',
  message: string,
  data: Record<string, unknown>,
  reads: Pick<ReleaseReads, 'deployment' | 'environment' | 'resource' | 'target'> = {},
): Promise<Decision> {
  const { rules, deployment } = await policyContext(rt, release, reads);
  // An all-or-nothing rollback of the environment rolls this target back whatever the cause rules say.
  const wanted =
    cause === 'environment' ||
    (cause === 'job' ? rules.rollback?.onJobFailure : rules.rollback?.onVerificationFailure);
  const target = 'target' in reads ? reads.target : await getTarget(rt, release);
  const lastGood = (target?.successfulVersions ?? []).find((tag) => tag !== release.tag) ?? null;
  let decision: Decision = { next: 'done' };
  if (wanted && lastGood) {
    try {
      await updateRelease(
        rt,
        release,
        { status: 'rolling_back', message, rolledBackTo: lastGood, waitingFor: null },
        ['deploying', 'verifying'],
      );
      decision = { next: 'rollback', jobTimeoutSeconds: deployment.jobTimeoutSeconds ?? 3600 };
    } catch (error) {
      if (!(error instanceof ConditionFailed)) throw error;
    }
  } else {
    const reason =
      wanted && !lastGood ? `${message} No earlier successful version to roll back to.` : message;
    if (await finish(rt, release, 'failed', reason, ['deploying', 'verifying'])) {
      await publish(rt, [
        releaseEvent(release, DETAIL_TYPES.releaseFailed, { ...data, cause, message: reason }),
      ]);
    }
    await releaseTargetLock(rt, release);
    decision = await ending(rt, release, reads);
  }
  await haltIfNeeded(rt, release, rules);
  if (rules.rollback?.scope === 'environment' && wanted) await rollBackEnvironment(rt, release);
  return decision;
}

/** What Complete reads with the release: what the policies match on, the abort record, the target. */
const COMPLETE_READS = ['deployment', 'environment', 'resource', 'abort', 'target'] as const;

/**
 * Complete: the job's outcome decides what follows. A deploy that succeeded is verified when
 * policies name metrics; a failure rolls back or fails; a rollback job's outcome ends the release.
 */
export async function complete(
  rt: Runtime,
  key: ReleaseKey,
  outcome: JobOutcome | { status: 'timed_out' },
): Promise<Decision> {
  const reads = await loadWith(rt, key, COMPLETE_READS);
  const { release } = reads;
  if (release.drain?.state === 'draining') return finishDrain(rt, release, outcome, reads);
  if (release.drain?.state === 'undraining') return finishUndrain(rt, release, outcome);
  if (release.status === 'rolling_back') return finishRollback(rt, release, outcome, reads);
  if (release.status !== 'deploying') return ending(rt, release, reads);
  const result = await jobResult(rt, release.jobId ?? '', outcome);
  if (result.status === 'failed') {
    return failOrRollBack(
      rt,
      release,
      'job',
      result.message ?? 'The job failed.',
      { jobId: result.jobId },
      reads,
    );
  }
  const { rules } = await policyContext(rt, release, reads);
  const aborted = abortOf(reads.abort);
  if (aborted?.mode === 'rollback')
    return failOrRollBack(rt, release, 'environment', aborted.reason, { jobId: result.jobId }, reads);
  if (rules.verification.length > 0 && release.jobKind !== 'rollback') {
    const now = currentDate();
    const state = initialVerification(rules.verification, now);
    try {
      await updateRelease(rt, release, { status: 'verifying', verification: state }, ['deploying']);
    } catch (error) {
      if (error instanceof ConditionFailed) return { next: 'done' };
      throw error;
    }
    return { next: 'verify', waitSeconds: secondsUntilNextDue(state, now) };
  }
  await succeed(rt, release, ['deploying'], { jobId: result.jobId, message: result.message }, reads);
  return ending(rt, release, reads);
}

/** Measure: one round of the verification loop. */
export async function measureStep(rt: Runtime, key: ReleaseKey): Promise<Decision> {
  const release = await load(rt, key);
  if (release.status !== 'verifying') return { next: 'done' };
  if (await continuedInNewExecution(rt, release)) return { next: 'done' };
  const { rules } = await policyContext(rt, release);
  const round = await measureRound(rt, release, rules.verification);
  const measurements = renderVerification(round);
  if (round.verdict === 'passed') {
    const aborted = await getAbort(rt, release, release.environment);
    if (aborted?.mode === 'rollback') {
      return failOrRollBack(rt, await load(rt, key), 'environment', aborted.reason, {
        verification: measurements,
      });
    }
    const measured = await load(rt, key);
    await succeed(rt, measured, ['verifying'], { verification: measurements });
    return ending(rt, measured);
  }
  if (round.verdict === 'failed') {
    const failing = Object.values(round.metrics)
      .filter((m) => m.verdict === 'failed')
      .map((m) => m.progress.name);
    return failOrRollBack(
      rt,
      await load(rt, key),
      'verification',
      `Verification failed: ${failing.join(', ')}.`,
      {
        verification: measurements,
      },
    );
  }
  return { next: 'verify', waitSeconds: Math.max(1, secondsUntilNextDue(round, currentDate())) };
}

/** The rollback job finished: `rolled_back` with `rolledBackTo`, or `failed` when the rollback failed. */
async function finishRollback(
  rt: Runtime,
  release: ReleaseRecord,
  outcome: JobOutcome | { status: 'timed_out' },
  reads: Pick<ReleaseReads, 'deployment'>,
): Promise<Decision> {
  const result = await jobResult(rt, release.rollbackJobId ?? '', outcome);
  const data = {
    rolledBackTo: release.rolledBackTo,
    reason: release.message,
    verification: renderVerification(release.verification as VerificationState | undefined),
  };
  if (result.status === 'successful') {
    if (await finish(rt, release, 'rolled_back', release.message, ['rolling_back'])) {
      await updateItem(rt, targetItemKey(release), { set: { currentVersion: release.rolledBackTo } });
      await publish(rt, [releaseEvent(release, DETAIL_TYPES.releaseRolledBack, data)]);
    }
  } else {
    const message = `${release.message ?? 'The release failed.'} The rollback to ${release.rolledBackTo} failed: ${result.message ?? 'unknown error'}`;
    if (await finish(rt, release, 'failed', message, ['rolling_back'])) {
      await publish(rt, [releaseEvent(release, DETAIL_TYPES.releaseFailed, { ...data, message })]);
    }
  }
  await releaseTargetLock(rt, release);
  return ending(rt, release, reads);
}

/** The drain job answered: wait the drain time before the deploy, or fail the release and undrain. */
async function finishDrain(
  rt: Runtime,
  release: ReleaseRecord,
  outcome: JobOutcome | { status: 'timed_out' },
  reads: Pick<ReleaseReads, 'deployment'>,
): Promise<Decision> {
  const drain = release.drain as DrainState;
  const result = await jobResult(rt, drain.jobId, outcome);
  const jobTimeoutSeconds = await jobTimeoutOf(rt, reads, release.deployment);
  if (result.status === 'successful') {
    await updateRelease(
      rt,
      release,
      { drain: { ...drain, state: 'drained', drainedAt: isoNow() }, message: null },
      ['deploying'],
    );
    return { next: 'drain_wait', waitSeconds: drain.seconds, jobTimeoutSeconds };
  }
  const message = `The traffic drain failed: ${result.message ?? 'unknown error'}`;
  await updateRelease(rt, release, { drain: { ...drain, state: 'drained', failed: true } }, ['deploying']);
  if (await finish(rt, release, 'failed', message, ['deploying'])) {
    await publish(rt, [releaseEvent(release, DETAIL_TYPES.releaseFailed, { cause: 'drain', message })]);
  }
  await releaseTargetLock(rt, release);
  return { next: 'undrain', jobTimeoutSeconds };
}

async function finishUndrain(
  rt: Runtime,
  release: ReleaseRecord,
  outcome: JobOutcome | { status: 'timed_out' },
): Promise<Decision> {
  const drain = release.drain as DrainState;
  const result = await jobResult(rt, drain.undrainJobId ?? '', outcome);
  await updateItem(rt, releaseItemKey(release), {
    set: {
      drain: { ...drain, state: 'undrained' },
      ...(result.status === 'failed'
        ? {
            message:
              `${release.message ?? ''} The undrain job failed: ${result.message ?? 'unknown error'}`.trim(),
          }
        : {}),
    },
  });
  return { next: 'done' };
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
    await publish(rt, [releaseEvent(key, DETAIL_TYPES.releaseFailed, { error: error.Error ?? null })]);
  }
}
