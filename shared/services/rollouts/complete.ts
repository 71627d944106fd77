import { DETAIL_TYPES, releaseEvent } from '../../adapters/events';
import type { Runtime } from '../../adapters/runtime';
import type { ReleaseReads } from '../../adapters/store/release-reads';
import {
  applyTransition,
  getTarget,
  type ReleaseKey,
  type ReleaseRecord,
  targetItemKey,
  updateItem,
} from '../../adapters/store/rollouts';
import { currentDate } from '../../core/clock';
import { deliveryStarts } from '../../core/delivery';
import { type Decision, secondsUntilNextDue } from '../../core/lifecycle';
import { announceDependencyChange } from './dependency';
import { ending, finishDrain, finishUndrain } from './drain';
import { policyContext } from './gates';
import { jobResult, type TaskOutcome } from './jobs';
import { releaseTargetLock } from './lock';
import { publishOutboxes, transitionAndPublish, transitionWithEvents } from './outbox';
import { loadWith } from './reads';
import { finishRollback } from './rollback';
import { abortOf, haltIfNeeded, rollBackEnvironment } from './safety';
import { initialVerification } from './verify';

/** What Complete reads with the release: what the policies match on, the abort record, the target. */
const COMPLETE_READS = ['deployment', 'environment', 'resource', 'abort', 'target'] as const;

/**
 * Complete: the job's outcome decides what follows. A deploy that succeeded is verified when
 * policies name metrics; a failure rolls back or fails; a rollback job's outcome ends the release;
 * the drain and undrain jobs move the drain along.
 */
export async function complete(rt: Runtime, key: ReleaseKey, outcome: TaskOutcome): Promise<Decision> {
  const reads = await loadWith(rt, key, COMPLETE_READS);
  const { release } = reads;
  if (release.drain?.state === 'draining') return finishDrain(rt, release, release.drain, outcome, reads);
  if (release.drain?.state === 'undraining') return finishUndrain(rt, release, release.drain, outcome);
  if (release.status === 'rolling_back') return finishRollback(rt, release, outcome, reads);
  if (release.status !== 'deploying') return ending(rt, release, reads);
  const result = await jobResult(rt, release.jobId, outcome);
  const job = { jobId: result.jobId };
  if (result.status === 'failed') {
    const message = result.message ?? 'The job failed.';
    return failOrRollBack(rt, release, { cause: 'job', message, data: job }, reads);
  }
  const { rules, dependedOn } = await policyContext(rt, release, reads);
  const aborted = abortOf(reads.abort);
  if (aborted?.mode === 'rollback') {
    return failOrRollBack(rt, release, { cause: 'environment', message: aborted.reason, data: job }, reads);
  }
  if (rules.verification.length > 0 && release.jobKind !== 'rollback') {
    const now = currentDate();
    const verification = initialVerification(rules.verification, now);
    if (!(await applyTransition(rt, release, 'verify', { verification }, now))) return { next: 'done' };
    return { next: 'verify', waitSeconds: secondsUntilNextDue(verification, now) };
  }
  await succeed(rt, release, { ...job, message: result.message }, reads, dependedOn);
  return ending(rt, release, reads);
}

/**
 * The release succeeded (its job, or its verification): the target's current version first.
 * `dependedOn` (PolicyContext): other deployments depend on this one, which re-check.
 */
export async function succeed(
  rt: Runtime,
  release: ReleaseRecord,
  data: Record<string, unknown>,
  reads: Pick<ReleaseReads, 'target'> = {},
  dependedOn = false,
): Promise<void> {
  // A reader who sees the release successful also sees it as the current version. The target's
  // history may come from the step's read: while the release holds the target, nothing else changes it.
  const target = 'target' in reads ? reads.target : await getTarget(rt, release);
  const history = [
    release.tag,
    ...(target?.successfulVersions ?? []).filter((tag) => tag !== release.tag),
  ].slice(0, 20);
  const now = currentDate();
  await updateItem(rt, targetItemKey(release), {
    set: { currentVersion: release.tag, lastSucceededAt: now.toISOString(), successfulVersions: history },
    remove: ['failingSince'],
  });
  // What the delivery metrics measure from (shared/services/delivery.ts): the event carries it, so
  // counting a success reads nothing.
  const measured = { ...data, ...deliveryStarts(release, target?.failingSince) };
  const changed = await transitionWithEvents(
    rt,
    release,
    'succeed',
    {},
    [releaseEvent(release, DETAIL_TYPES.releaseSucceeded, measured)],
    now,
  );
  await releaseTargetLock(rt, release);
  if (changed) await publishOutboxes(rt, [changed.outbox]);
  // Also on a re-run (changed or not): a refresh twice is harmless, a lost one leaves dependants waiting.
  if (dependedOn) await announceDependencyChange(rt, release);
}

export interface Failure {
  /** `environment`: an all-or-nothing rollback of the environment, whatever the cause rules say. */
  cause: 'job' | 'verification' | 'environment';
  message: string;
  /** What the release's event carries besides cause and message. */
  data: Record<string, unknown>;
}

/**
 * A failed job or verification: roll back to the target's last good version when the policy asks
 * and there is one, else end `failed`.
 */
export async function failOrRollBack(
  rt: Runtime,
  release: ReleaseRecord,
  { cause, message, data }: Failure,
  reads: Pick<ReleaseReads, 'deployment' | 'environment' | 'resource' | 'target'> = {},
): Promise<Decision> {
  const { rules, deployment } = await policyContext(rt, release, reads);
  const wanted =
    cause === 'environment' ||
    (cause === 'job' ? rules.rollback?.onJobFailure : rules.rollback?.onVerificationFailure);
  const target = 'target' in reads ? reads.target : await getTarget(rt, release);
  const lastGood = (target?.successfulVersions ?? []).find((tag) => tag !== release.tag) ?? null;
  let decision: Decision = { next: 'done' };
  if (wanted && lastGood) {
    if (await applyTransition(rt, release, 'roll_back', { to: lastGood, message })) {
      decision = { next: 'rollback', jobTimeoutSeconds: deployment.jobTimeoutSeconds ?? 3600 };
    }
  } else {
    const reason =
      wanted && !lastGood ? `${message} No earlier successful version to roll back to.` : message;
    await transitionAndPublish(rt, release, 'fail', { message: reason }, [
      releaseEvent(release, DETAIL_TYPES.releaseFailed, { ...data, cause, message: reason }),
    ]);
    await releaseTargetLock(rt, release);
    decision = await ending(rt, release, reads);
  }
  await haltIfNeeded(rt, release, rules);
  if (rules.rollback?.scope === 'environment' && wanted) await rollBackEnvironment(rt, release);
  return decision;
}
