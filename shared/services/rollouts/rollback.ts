import { DETAIL_TYPES, releaseEvent } from '../../adapters/events';
import type { Runtime } from '../../adapters/runtime';
import { listAllConfigCached } from '../../adapters/store/inventory';
import type { ReleaseReads } from '../../adapters/store/release-reads';
import {
  applyTransition,
  type ReleaseRecord,
  targetItemKey,
  updateItem,
} from '../../adapters/store/rollouts';
import { jobIdOf } from '../../core/ids';
import type { Decision, ReleaseIn } from '../../core/lifecycle';
import { isDependedOn } from '../../core/policy/dependency';
import { announceDependencyChange } from './dependency';
import { ending } from './drain';
import { type JobToSend, jobResult, type TaskOutcome } from './jobs';
import { releaseTargetLock } from './lock';
import { publishOutboxes, transitionAndPublish, transitionWithEvents } from './outbox';
import { renderVerification } from './verify';

/**
 * The automatic rollback of a failed release (docs/api.md section 4): a job of kind `rollback` that
 * deploys the target's last good version (`rolledBackTo`), ending the release `rolled_back`.
 */

/** The rollback job of a rolling-back release (none once it is not). */
export async function startRollbackJob(rt: Runtime, release: ReleaseRecord): Promise<JobToSend | undefined> {
  if (release.status !== 'rolling_back') return undefined;
  const jobId = jobIdOf(release.releaseId, 'rollback', release.attempt);
  const recorded =
    release.rollbackJobId === jobId || (await applyTransition(rt, release, 'dispatch_rollback', { jobId }));
  return recorded ? { release, kind: 'rollback', forTag: release.rolledBackTo } : undefined;
}

/** The rollback job finished: `rolled_back` with `rolledBackTo`, or `failed` when the rollback failed. */
export async function finishRollback(
  rt: Runtime,
  release: ReleaseIn<'rolling_back'>,
  outcome: TaskOutcome,
  reads: Pick<ReleaseReads, 'deployment'>,
): Promise<Decision> {
  const result = await jobResult(rt, release.rollbackJobId ?? '', outcome);
  const data = {
    rolledBackTo: release.rolledBackTo,
    reason: release.message,
    verification: renderVerification(release.verification),
  };
  if (result.status === 'successful') {
    const rolledBack = await transitionWithEvents(rt, release, 'rolled_back', {}, [
      releaseEvent(release, DETAIL_TYPES.releaseRolledBack, data),
    ]);
    if (rolledBack) {
      await updateItem(rt, targetItemKey(release), { set: { currentVersion: release.rolledBackTo } });
      await publishOutboxes(rt, [rolledBack.outbox]);
      // The target runs another version now: deployments that depend on this one re-check.
      if (isDependedOn(await listAllConfigCached(rt, 'policy'), release.deployment))
        await announceDependencyChange(rt, release);
    }
  } else {
    const message = `${release.message ?? 'The release failed.'} The rollback to ${release.rolledBackTo} failed: ${result.message ?? 'unknown error'}`;
    await transitionAndPublish(rt, release, 'fail', { message }, [
      releaseEvent(release, DETAIL_TYPES.releaseFailed, { ...data, message }),
    ]);
  }
  await releaseTargetLock(rt, release);
  return ending(rt, release, reads);
}
