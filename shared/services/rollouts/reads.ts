import type { Runtime } from '../../adapters/runtime';
import { type ReleaseRead, type ReleaseReads, readForRelease } from '../../adapters/store/release-reads';
import { getRelease, type ReleaseKey, type ReleaseRecord } from '../../adapters/store/rollouts';
import type { DeploymentBody } from '../../core/schemas/config';
import { requireConfig } from '../inventory';

/** What a rollout step reads: its release (which must exist), and what it needs with it in the same read. */

export async function loadRelease(rt: Runtime, key: ReleaseKey): Promise<ReleaseRecord> {
  const release = await getRelease(rt, key);
  if (!release) throw new Error('The release of this execution does not exist.');
  return release;
}

/** What a step read with its release, the release required. */
export type Loaded<K extends ReleaseRead> = Pick<ReleaseReads, K> & { release: ReleaseRecord };

/** The release and what the step needs with it, in one read (shared/adapters/store/release-reads.ts). */
export async function loadWith<K extends ReleaseRead>(
  rt: Runtime,
  key: ReleaseKey,
  wanted: readonly K[],
): Promise<Loaded<K>> {
  const reads = await readForRelease(rt, key, ['release', ...wanted]);
  if (!reads.release) throw new Error('The release of this execution does not exist.');
  return reads as Loaded<K>;
}

/** The deployment's job timeout: from what the step read, or one read of its configuration. */
export async function jobTimeout(
  rt: Runtime,
  deployment: string,
  reads: Pick<ReleaseReads, 'deployment'> = {},
): Promise<number> {
  const config = reads.deployment ?? (await requireConfig<DeploymentBody>(rt, 'deployment', deployment));
  return config.data.jobTimeoutSeconds ?? 3600;
}
