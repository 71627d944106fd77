import type { FreezeRecord } from '../../core/policy/freeze';
import type { DeploymentBody, EnvironmentBody, PolicyBody, ResourceBody } from '../../core/schemas/config';
import type { StoreContext } from './client';
import {
  getInventoryRevision,
  type InventoryRevision,
  listAllConfig,
  revisionStamp,
  type Stored,
} from './config';
import { listFreezes } from './freezes';
import type { ConfigKind } from './keys';

/**
 * The inventory (environments, resources, deployments, policies) cached in memory per container. Each
 * read first reads the revision counters (one consistent GetItem) that every config write bumps after
 * it stored, and reloads a kind whose counter moved. The revision is read before the listing, so a
 * cached kind is never older than a write that had answered when the read began.
 * The arrays are shared between callers and frozen: copy before sorting.
 */
type Kinds = {
  resource: ResourceBody;
  environment: EnvironmentBody;
  deployment: DeploymentBody;
  policy: PolicyBody;
};

interface Cached {
  revision: number;
  items: Promise<readonly unknown[]>;
}

export interface InventorySnapshot {
  environments: readonly Stored<EnvironmentBody>[];
  resources: readonly Stored<ResourceBody>[];
  deployments: readonly Stored<DeploymentBody>[];
  policies: readonly Stored<PolicyBody>[];
}

const byTable = new Map<string, Map<keyof InventoryRevision, Cached>>();
/** The same snapshot object while no counter moves, so callers can memoise work derived from it. */
const snapshots = new Map<string, { revision: string; snapshot: InventorySnapshot }>();

/** What `load` answers for this counter at this revision, loaded once per revision (a failed load is not kept). */
function cached<T>(
  ctx: StoreContext,
  counter: keyof InventoryRevision,
  revision: number,
  load: () => Promise<T[]>,
): Promise<readonly T[]> {
  let table = byTable.get(ctx.tableName);
  if (!table) {
    table = new Map();
    byTable.set(ctx.tableName, table);
  }
  const hit = table.get(counter);
  if (hit && hit.revision === revision) return hit.items as Promise<readonly T[]>;
  const items = load().then((all) => Object.freeze(all));
  const entry: Cached = { revision, items };
  table.set(counter, entry);
  items.catch(() => {
    if (table.get(counter) === entry) table.delete(counter);
  });
  return items;
}

const cachedKind = <K extends ConfigKind>(ctx: StoreContext, kind: K, revision: number) =>
  cached(ctx, kind, revision, () => listAllConfig<Kinds[K]>(ctx, kind));

/** Every object of a kind, from the cache when its revision has not moved. */
export async function listAllConfigCached<K extends ConfigKind>(
  ctx: StoreContext,
  kind: K,
): Promise<readonly Stored<Kinds[K]>[]> {
  const revision = await getInventoryRevision(ctx);
  return cachedKind(ctx, kind, revision[kind]);
}

/**
 * What the policy gates read, under one revision read: the policies and the freezes (whose writes
 * bump the same revision item), so a gate evaluation costs no read of its own for freezes.
 */
export async function policiesAndFreezes(ctx: StoreContext): Promise<{
  policies: readonly Stored<PolicyBody>[];
  freezes: readonly FreezeRecord[];
}> {
  const revision = await getInventoryRevision(ctx);
  const [policies, freezes] = await Promise.all([
    cachedKind(ctx, 'policy', revision.policy),
    cached(ctx, 'freeze', revision.freeze, () => listFreezes(ctx)),
  ]);
  return { policies, freezes };
}

/** What release targets are computed from. */
export async function loadInventory(ctx: StoreContext): Promise<{
  environments: readonly Stored<EnvironmentBody>[];
  resources: readonly Stored<ResourceBody>[];
}> {
  const revision = await getInventoryRevision(ctx);
  const [environments, resources] = await Promise.all([
    cachedKind(ctx, 'environment', revision.environment),
    cachedKind(ctx, 'resource', revision.resource),
  ]);
  return { environments, resources };
}

/** All four kinds under one revision read (or `read`, one the caller made); the same object until a config write. */
export async function inventorySnapshot(
  ctx: StoreContext,
  read?: InventoryRevision,
): Promise<InventorySnapshot> {
  const revision = read ?? (await getInventoryRevision(ctx));
  const [environments, resources, deployments, policies] = await Promise.all([
    cachedKind(ctx, 'environment', revision.environment),
    cachedKind(ctx, 'resource', revision.resource),
    cachedKind(ctx, 'deployment', revision.deployment),
    cachedKind(ctx, 'policy', revision.policy),
  ]);
  const stamp = revisionStamp(revision);
  const previous = snapshots.get(ctx.tableName);
  if (
    previous?.revision === stamp &&
    previous.snapshot.resources === resources &&
    previous.snapshot.environments === environments &&
    previous.snapshot.deployments === deployments &&
    previous.snapshot.policies === policies
  )
    return previous.snapshot;
  const snapshot = Object.freeze({ environments, resources, deployments, policies });
  snapshots.set(ctx.tableName, { revision: stamp, snapshot });
  return snapshot;
}
