import { conflict, invalid, notFound } from './errors';
import { canonicalJson } from './json';
import type { ResourceBody } from './schemas/config';
import type { StoreContext } from './store/client';
import { deleteConfig, getConfig, listProviderResources, putConfig, type Stored } from './store/config';
import type { ConfigKind } from './store/keys';

/** The API shape of a stored config object: its id, its body, and the timestamps. */
export function render<T extends object>(stored: Stored<T>): Record<string, unknown> {
  return {
    id: stored.id,
    ...stored.data,
    ...(stored.provider ? { provider: stored.provider } : {}),
    createdAt: stored.createdAt,
    updatedAt: stored.updatedAt,
  };
}

export async function requireConfig<T>(ctx: StoreContext, kind: ConfigKind, id: string): Promise<Stored<T>> {
  const found = await getConfig<T>(ctx, kind, id);
  if (!found) throw notFound(`The ${kind} "${id}"`);
  return found;
}

const sameJson = (a: unknown, b: unknown) => canonicalJson(a) === canonicalJson(b);

export interface SyncCounts {
  created: number;
  updated: number;
  deleted: number;
  unchanged: number;
}

/**
 * A provider's whole set of resources: creates, updates and deletes exactly that provider's
 * resources. A resource that another provider (or a PUT) owns is not taken over silently. Deleted
 * resources take their release targets with them; the caller cancels their unfinished rollouts.
 */
export async function syncProvider(
  ctx: StoreContext,
  provider: string,
  incoming: (ResourceBody & { id: string })[],
): Promise<{ counts: SyncCounts; changed: string[]; deleted: string[] }> {
  const ids = new Set<string>();
  for (const resource of incoming) {
    if (ids.has(resource.id)) throw invalid(`The resource "${resource.id}" is listed twice.`);
    ids.add(resource.id);
  }
  const owned = new Map((await listProviderResources<ResourceBody>(ctx, provider)).map((r) => [r.id, r]));
  // Every ownership check before any write, so a refused sync changes nothing.
  const existingById = new Map<string, Stored<ResourceBody> | null>();
  for (const { id } of incoming) {
    const existing = owned.get(id) ?? (await getConfig<ResourceBody>(ctx, 'resource', id)) ?? null;
    if (existing && existing.provider !== provider) {
      throw conflict(
        `The resource "${id}" belongs to ${existing.provider ? `provider "${existing.provider}"` : 'no provider'}.`,
      );
    }
    existingById.set(id, existing);
  }
  const counts: SyncCounts = { created: 0, updated: 0, deleted: 0, unchanged: 0 };
  const changed: string[] = [];
  for (const { id, ...data } of incoming) {
    const existing = existingById.get(id) ?? null;
    if (existing && sameJson(existing.data, data)) {
      counts.unchanged++;
      continue;
    }
    await putConfig(ctx, 'resource', id, data, { provider });
    counts[existing ? 'updated' : 'created']++;
    changed.push(id);
  }
  const deleted: string[] = [];
  for (const id of owned.keys()) {
    if (ids.has(id)) continue;
    if (await deleteConfig(ctx, 'resource', id)) {
      counts.deleted++;
      deleted.push(id);
    }
  }
  return { counts, changed, deleted };
}
