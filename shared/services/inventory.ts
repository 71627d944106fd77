import { batchGet, batchWrite, itemId } from '../adapters/store/batch';
import type { Item, StoreContext } from '../adapters/store/client';
import { bumpInventoryRevision, getConfig, type Stored } from '../adapters/store/config';
import { type ConfigKind, keys } from '../adapters/store/keys';
import {
  endSyncSession,
  getSyncHead,
  namedInSession,
  providerResourceIds,
  recordSyncPage,
  SESSION_MS,
  type SyncHead,
} from '../adapters/store/sync';
import { isoNow, nowMs } from '../core/clock';
import { conflict, invalid, notFound } from '../core/errors';
import { canonicalJson } from '../core/json';
import type { ResourceBody } from '../core/schemas/config';

/** The API shape of a stored config object: its id, its body, and the timestamps. */
export function render<T extends object>(
  stored: Stored<T>,
): T & { id: string; provider?: string; createdAt: string; updatedAt: string } {
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

/** The ids among `ids` with no stored object of that kind: one BatchGet, never a scan. */
export async function missingConfigIds(ctx: StoreContext, kind: ConfigKind, ids: readonly string[]) {
  const unique = [...new Set(ids)];
  if (unique.length === 0) return [];
  const found = await batchGet(
    ctx,
    unique.map((id) => keys.config(kind, id)),
  );
  return unique.filter((id) => !found.has(itemId(keys.config(kind, id))));
}

const sameJson = (a: unknown, b: unknown) => canonicalJson(a) === canonicalJson(b);

export interface SyncCounts {
  created: number;
  updated: number;
  deleted: number;
  unchanged: number;
}

export interface SyncPage {
  session: string;
  final: boolean;
}

/**
 * A provider's whole set of resources (docs/api.md section 3), in one body or in the pages of a session:
 * creates, updates and deletes exactly that provider's resources. A resource that another provider
 * (or a PUT) owns is not taken over silently, and a refused page changes nothing. The provider's
 * resources that no page named are deleted when the set is complete (the body, or the final page).
 * Answers the counts (so far, for a page) and the ids that changed or went, for reconciliation.
 */
export async function syncProvider(
  ctx: StoreContext,
  provider: string,
  incoming: (ResourceBody & { id: string })[],
  page?: SyncPage,
): Promise<{ counts: SyncCounts; changed: string[]; deleted: string[] }> {
  const ids = new Set<string>();
  for (const resource of incoming) {
    if (ids.has(resource.id)) throw invalid(`The resource "${resource.id}" is listed twice.`);
    ids.add(resource.id);
  }
  const head = page ? await getSyncHead(ctx, provider, page.session) : undefined;
  if (head?.closedAt) {
    if (page?.final) return { counts: countsOf(head), changed: [], deleted: [] };
    throw conflict(`The sync session "${page?.session}" is closed; start a new session.`);
  }
  if (head && nowMs() - Date.parse(head.openedAt) > SESSION_MS) {
    await endSyncSession(ctx, provider, page?.session as string);
    throw conflict(
      `The sync session "${page?.session}" was open for more than an hour and was dropped with nothing deleted; sync again.`,
    );
  }

  const stored = await batchGet(
    ctx,
    incoming.map((r) => keys.config('resource', r.id)),
  );
  // Every ownership check before any write, so a refused page changes nothing.
  for (const { id } of incoming) {
    const existing = stored.get(itemId(keys.config('resource', id)));
    if (existing && existing.provider !== provider) {
      throw conflict(
        `The resource "${id}" belongs to ${existing.provider ? `provider "${existing.provider}"` : 'no provider'}.`,
      );
    }
  }
  const now = isoNow();
  const counts: SyncCounts = { created: 0, updated: 0, deleted: 0, unchanged: 0 };
  const changed: string[] = [];
  const writes: { put: Item }[] = [];
  for (const { id, ...data } of incoming) {
    const existing = stored.get(itemId(keys.config('resource', id)));
    if (existing && sameJson(existing.data, data)) {
      counts.unchanged++;
      continue;
    }
    counts[existing ? 'updated' : 'created']++;
    changed.push(id);
    writes.push({
      put: {
        ...keys.config('resource', id),
        data,
        provider,
        gsi1pk: keys.provider(provider),
        gsi1sk: id,
        createdAt: (existing?.createdAt as string | undefined) ?? now,
        updatedAt: now,
      },
    });
  }
  await batchWrite(ctx, writes);
  if (page && !page.final) {
    const sofar = await recordSyncPage(ctx, provider, page.session, [...ids], counts);
    if (changed.length > 0) await bumpInventoryRevision(ctx, ['resource']);
    return { counts: countsOf(sofar), changed, deleted: [] };
  }

  const named = page ? await namedInSession(ctx, provider, page.session) : new Set<string>();
  for (const id of ids) named.add(id);
  const deleted = (await providerResourceIds(ctx, provider)).filter((id) => !named.has(id));
  await batchWrite(
    ctx,
    deleted.map((id) => ({ delete: keys.config('resource', id) })),
  );
  counts.deleted = deleted.length;
  if (page) {
    const total: SyncCounts = {
      created: counts.created + (head?.created ?? 0),
      updated: counts.updated + (head?.updated ?? 0),
      unchanged: counts.unchanged + (head?.unchanged ?? 0),
      deleted: counts.deleted,
    };
    await endSyncSession(ctx, provider, page.session, { openedAt: head?.openedAt ?? now, ...total });
    Object.assign(counts, total);
  }
  if (changed.length + deleted.length > 0) await bumpInventoryRevision(ctx, ['resource']);
  return { counts, changed, deleted };
}

const countsOf = (head: SyncHead): SyncCounts => ({
  created: Number(head.created ?? 0),
  updated: Number(head.updated ?? 0),
  deleted: Number(head.deleted ?? 0),
  unchanged: Number(head.unchanged ?? 0),
});
