import type { Runtime } from '../../adapters/runtime';
import { type ReleaseRecord, updateReleaseFields } from '../../adapters/store/rollouts';
import { startRollout } from '../../adapters/workflow';

/**
 * Step Functions keeps at most 25,000 history events per execution. The rollout's time-driven loops
 * (polling the deploy job, verification, polling the rollback job) add 9 events a round each (Wait
 * entered/exited, Task entered, scheduled, started, succeeded, exited, Choice entered/exited). Their
 * rounds are counted together on the release, per execution, and at this bound the rollout continues
 * in a new execution of the release's next generation (`-g<n>`), which resumes from the table:
 * 1,000 rounds are 9,000 events, and the rest of a rollout (gates, dispatches, retries) stays far
 * below the other 16,000.
 */
export const MAX_ROUNDS_PER_EXECUTION = 1000;

/** Rounds the current execution (the release's generation) has run; another generation's count is 0. */
export const roundsOf = (release: ReleaseRecord) =>
  release.executionRounds?.generation === (release.generation ?? 0) ? release.executionRounds.count : 0;

/** The update that counts one more round (for a step that writes the release anyway). */
export const oneMoreRound = (release: ReleaseRecord): Pick<ReleaseRecord, 'executionRounds'> => ({
  executionRounds: { generation: release.generation ?? 0, count: roundsOf(release) + 1 },
});

/**
 * At the bound: moves the release to its next generation and starts that execution; true when it
 * did, and the current execution should end (Done).
 */
export async function continuedInNewExecution(rt: Runtime, release: ReleaseRecord): Promise<boolean> {
  if (roundsOf(release) < MAX_ROUNDS_PER_EXECUTION) return false;
  const next = await updateReleaseFields(rt, release, { generation: (release.generation ?? 0) + 1 });
  // The release moved on meanwhile (a callback, a cancel): this execution sees it next round.
  if (!next) return false;
  await startRollout(rt, next);
  return true;
}

/** A Poll round that found the job still running: counted, or the end of this execution at the bound. */
export async function pollRound(rt: Runtime, release: ReleaseRecord): Promise<'poll' | 'continued'> {
  if (await continuedInNewExecution(rt, release)) return 'continued';
  await updateReleaseFields(rt, release, oneMoreRound(release));
  return 'poll';
}
