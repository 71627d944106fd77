import { DETAIL_TYPES, releaseEvent } from '../../adapters/events';
import type { Runtime } from '../../adapters/runtime';
import { ConditionFailed } from '../../adapters/store/client';
import {
  getRelease,
  type ReleaseRecord,
  type TargetRecord,
  targetItemKey,
  updateItem,
} from '../../adapters/store/rollouts';
import { releaseSlot } from '../../adapters/store/slots';
import { signals, stopRollout, wake } from '../../adapters/workflow';
import type { ClaimOutcome } from '../../core/lifecycle';
import { TERMINAL_RELEASE, UNDISPATCHED_RELEASE } from '../../core/status';
import { publishOutboxes, transitionWithEvents } from './outbox';

const isNewer = (a: { createdAt: string; tag: string }, b: { createdAt: string; tag: string }) =>
  a.createdAt > b.createdAt || (a.createdAt === b.createdAt && a.tag > b.tag);

/**
 * At most one active rollout per release target (docs/api.md section 4). The target item holds the lock;
 * a newer version takes it from an older one that has not dispatched (which becomes `superseded`)
 * and waits for one that has.
 */
export async function claimTarget(rt: Runtime, release: ReleaseRecord): Promise<ClaimOutcome> {
  for (let round = 0; round < 5; round++) {
    let holder: TargetRecord | undefined;
    try {
      await updateItem(
        rt,
        targetItemKey(release),
        {
          // The first claim creates the target item, so it carries its identity too.
          set: {
            deployment: release.deployment,
            environment: release.environment,
            resource: release.resource,
            activeTag: release.tag,
            activeCreatedAt: release.versionCreatedAt,
          },
        },
        {
          expression: 'attribute_not_exists(activeTag) OR activeTag = :none OR activeTag = :me',
          values: { ':me': release.tag, ':none': null },
        },
      );
      return { type: 'claimed' };
    } catch (error) {
      if (!(error instanceof ConditionFailed)) throw error;
      holder = error.current as TargetRecord | undefined;
    }
    const holderTag = holder?.activeTag;
    if (!holder || !holderTag) continue;
    const mine = { createdAt: release.versionCreatedAt, tag: release.tag };
    if (isNewer({ createdAt: holder.activeCreatedAt ?? '', tag: holderTag }, mine)) {
      return { type: 'superseded', by: holderTag };
    }
    const other = await getRelease(rt, { ...release, tag: holderTag });
    if (!other || TERMINAL_RELEASE.has(other.status)) {
      // A holder that finished but had not let go (a crash between two writes).
      await releaseTargetLock(rt, { ...release, tag: holderTag }, false);
      continue;
    }
    if (!UNDISPATCHED_RELEASE.has(other.status)) return { type: 'busy', holder: holderTag };
    // Unless it dispatched meanwhile (or finished): then look again.
    const superseded = await transitionWithEvents(rt, other, 'supersede', { by: release.tag }, [
      releaseEvent(other, DETAIL_TYPES.releaseSuperseded, { by: release.tag }),
    ]);
    if (superseded) {
      await stopRollout(rt, other, `Superseded by ${release.tag}.`);
      await publishOutboxes(rt, [superseded.outbox]);
      await releaseTargetLock(rt, other, false);
    }
  }
  return { type: 'busy', holder: 'unknown' };
}

/** Lets go of the target if this version holds it, and wakes the releases waiting for it. */
export async function releaseTargetLock(
  rt: Runtime,
  release: Pick<ReleaseRecord, 'deployment' | 'tag' | 'environment' | 'resource'>,
  wakeWaiters = true,
): Promise<void> {
  try {
    await updateItem(
      rt,
      targetItemKey(release),
      { set: { activeTag: null, activeCreatedAt: null } },
      { expression: 'activeTag = :me', values: { ':me': release.tag } },
    );
  } catch (error) {
    if (!(error instanceof ConditionFailed)) throw error;
  }
  const heldSlot = await releaseSlot(rt, release);
  if (wakeWaiters) await wake(rt, signals.target(release));
  if (heldSlot) await wake(rt, signals.concurrency(release.deployment, release.environment));
}
