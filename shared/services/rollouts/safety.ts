import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { SYSTEM } from '../../adapters/events';
import type { Runtime } from '../../adapters/runtime';
import type { Item } from '../../adapters/store/client';
import { keys } from '../../adapters/store/keys';
import {
  applyTransition,
  getTarget,
  listReleases,
  putIfAbsent,
  type ReleaseRecord,
} from '../../adapters/store/rollouts';
import { signals, startRollout, wake } from '../../adapters/workflow';
import { isoNow } from '../../core/clock';
import type { MergedRules } from '../../core/policy/merge';
import type { ReleaseStatus } from '../../core/status';
import { cancelReleases } from './versions';

/**
 * Safety controls of docs/api.md section 3 that act on a version in a whole environment: halt on
 * failures, and all-or-nothing rollback. Both leave an abort record that every later step of that
 * version in the environment (and environments that depend on it) respects.
 */
export interface AbortRecord {
  mode: 'halt' | 'rollback';
  reason: string;
  at: string;
}

export async function getAbort(
  rt: Runtime,
  r: Pick<ReleaseRecord, 'deployment' | 'tag'>,
  environment: string,
): Promise<AbortRecord | undefined> {
  const out = await rt.doc.send(
    new GetCommand({
      TableName: rt.tableName,
      Key: keys.abort(r.deployment, r.tag, environment),
      ConsistentRead: true,
    }),
  );
  return out.Item ? (out.Item as unknown as AbortRecord) : undefined;
}

/** The abort record of a step that read it with its release (readForRelease). */
export const abortOf = (item: Item | undefined): AbortRecord | undefined =>
  item ? (item as unknown as AbortRecord) : undefined;

/** Records the abort once; false when one was already there (its first reason stands). */
async function putAbort(rt: Runtime, r: ReleaseRecord, record: AbortRecord): Promise<boolean> {
  return (await putIfAbsent(rt, keys.abort(r.deployment, r.tag, r.environment), record)).created;
}

const COUNTS_AS_FAILED: ReadonlySet<ReleaseStatus> = new Set(['failed', 'rolled_back', 'rolling_back']);

/** halt.maxFailures reached: failed, rolled back and rolling back releases count; nothing else does. */
export function haltReached(
  statuses: ReleaseStatus[],
  maxFailures: number,
): { halted: boolean; failures: number } {
  const failures = statuses.filter((s) => COUNTS_AS_FAILED.has(s)).length;
  return { halted: failures >= maxFailures, failures };
}

/**
 * halt.maxFailures: once that many releases of the version failed in the environment, stop the rest.
 * Called for a failure only (failOrRollBack), and a stopped environment has nothing left to halt: so
 * the environment's releases are read by at most the failures before the halt (about maxFailures).
 */
export async function haltIfNeeded(rt: Runtime, release: ReleaseRecord, rules: MergedRules): Promise<void> {
  if (!rules.halt || (await getAbort(rt, release, release.environment))) return;
  const releases = await listReleases(rt, release.deployment, release.tag, release.environment);
  const { halted, failures } = haltReached(
    releases.map((r) => r.status),
    rules.halt.maxFailures,
  );
  if (!halted) return;
  const reason = `Halted: ${failures} of ${releases.length} releases failed in ${release.environment} (halt.maxFailures ${rules.halt.maxFailures}).`;
  if (!(await putAbort(rt, release, { mode: 'halt', reason, at: isoNow() }))) return;
  await cancelReleases(rt, release.deployment, release.tag, {
    onlyUndispatched: true,
    environment: release.environment,
    message: reason,
    actor: SYSTEM,
  });
  // Dependent environments look again, and see that this version will not progress.
  await wake(rt, signals.progression(release.deployment, release.tag, release.environment));
}

/**
 * rollback.scope "environment": when one target rolls back, every target of the environment that
 * already took the version rolls back too, each with a rollback job of its own; releases not yet
 * dispatched are cancelled, and those still deploying or verifying roll back when they finish.
 */
export async function rollBackEnvironment(rt: Runtime, failing: ReleaseRecord): Promise<void> {
  const reason = `All-or-nothing rollback: ${failing.resource} failed in ${failing.environment}.`;
  if (!(await putAbort(rt, failing, { mode: 'rollback', reason, at: isoNow() }))) return;
  await cancelReleases(rt, failing.deployment, failing.tag, {
    onlyUndispatched: true,
    environment: failing.environment,
    message: reason,
    actor: SYSTEM,
  });
  const took = (await listReleases(rt, failing.deployment, failing.tag, failing.environment)).filter(
    (r) => r.status === 'successful' && r.resource !== failing.resource,
  );
  for (const release of took) {
    const target = await getTarget(rt, release);
    const lastGood = (target?.successfulVersions ?? []).find((tag) => tag !== release.tag);
    if (!lastGood) continue;
    const reopened = await applyTransition(rt, release, 'roll_back', { to: lastGood, message: reason });
    // The target's lock belongs to the rollback now; a newer version waits for it.
    if (reopened) await startRollout(rt, reopened);
  }
}
