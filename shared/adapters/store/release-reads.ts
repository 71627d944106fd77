import type { DeploymentBody, EnvironmentBody, ResourceBody } from '../../core/schemas/config';
import { batchGet, itemId } from './batch';
import type { Item, StoreContext } from './client';
import type { Stored } from './config';
import { keys } from './keys';
import {
  type ReleaseKey,
  type ReleaseRecord,
  releaseItemKey,
  type TargetRecord,
  targetItemKey,
  type VersionRecord,
} from './rollouts';

/**
 * What a rollout step reads about its release, in one consistent BatchGetItem instead of one
 * GetItem each: the release, its deployment, environment and resource, and whichever of the
 * version, the release target, the deployment's pause switch and the version's abort record in
 * the release's environment the step needs.
 */
export interface ReleaseReads {
  release?: ReleaseRecord;
  deployment?: Stored<DeploymentBody>;
  environment?: Stored<EnvironmentBody>;
  resource?: Stored<ResourceBody>;
  version?: VersionRecord;
  target?: TargetRecord;
  /** The raw items of overrides.ts (pause) and safety.ts (abort); absent = none. */
  deploymentState?: Item;
  abort?: Item;
}

export type ReleaseRead = keyof ReleaseReads;

const KEYS: Record<ReleaseRead, (r: ReleaseKey) => { pk: string; sk: string }> = {
  release: releaseItemKey,
  deployment: (r) => keys.config('deployment', r.deployment),
  environment: (r) => keys.config('environment', r.environment),
  resource: (r) => keys.config('resource', r.resource),
  version: (r) => keys.version(r.deployment, r.tag),
  target: targetItemKey,
  deploymentState: (r) => keys.deploymentState(r.deployment),
  abort: (r) => keys.abort(r.deployment, r.tag, r.environment),
};

const CONFIG: ReadonlySet<ReleaseRead> = new Set(['deployment', 'environment', 'resource']);

/** A stored item without its key attributes (the record as the store's getters return it). */
function record(item: Item): Item {
  const { pk: _pk, sk: _sk, gsi1pk: _g1, gsi1sk: _g2, ...rest } = item;
  return rest;
}

/** A config item as shared/adapters/store/config.ts stores it (id in sk, body in data). */
function stored(item: Item): Stored<unknown> {
  return {
    id: item.sk as string,
    data: item.data,
    createdAt: item.createdAt as string,
    updatedAt: item.updatedAt as string,
    ...(item.provider ? { provider: item.provider as string } : {}),
  };
}

export async function readForRelease<K extends ReleaseRead>(
  ctx: StoreContext,
  key: ReleaseKey,
  wanted: readonly K[],
): Promise<Pick<ReleaseReads, K>> {
  const found = await batchGet(
    ctx,
    wanted.map((name) => KEYS[name](key)),
  );
  const out: ReleaseReads = {};
  // Every wanted name is present, undefined when there is no such item: `'target' in reads` tells
  // "read, and absent" from "not read".
  for (const name of wanted) {
    const item = found.get(itemId(KEYS[name](key)));
    (out as Record<string, unknown>)[name] = !item
      ? undefined
      : CONFIG.has(name)
        ? stored(item)
        : name === 'deploymentState' || name === 'abort'
          ? item
          : record(item);
  }
  return out as Pick<ReleaseReads, K>;
}
