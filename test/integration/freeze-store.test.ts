import { CreateTableCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { documentClient, type StoreContext } from '../../shared/adapters/store/client';
import { putConfig } from '../../shared/adapters/store/config';
import { deleteFreeze, getFreeze, saveFreeze } from '../../shared/adapters/store/freezes';
import { policiesAndFreezes } from '../../shared/adapters/store/inventory';
import { createTableInput } from '../../shared/adapters/store/table';
import type { FreezeRecord } from '../../shared/core/policy/freeze';
import { type DynamoBackend, startDynalite } from '../support/dynamodb';

/**
 * Freezes in the store (shared/adapters/store/freezes.ts): every write is conditional on the rev it
 * read, and the gates' cache of freezes (policiesAndFreezes) costs no read of its own while nothing
 * is written, yet is never older than a write that answered.
 */
let backend: DynamoBackend;
let ctx: StoreContext;

const freeze = (id: string, rev: number, reason = 'r'): FreezeRecord => ({
  id,
  reason,
  selector: 'true',
  until: null,
  calendar: null,
  createdAt: '2026-01-01T00:00:00.000Z',
  updatedAt: '2026-01-01T00:00:00.000Z',
  updatedBy: 'admin',
  announced: [],
  announcedAt: '2026-01-01T00:00:00.000Z',
  rev,
});

beforeAll(async () => {
  backend = await startDynalite();
  ctx = { doc: documentClient(backend.client), tableName: 'gantry-freezes' };
  await backend.client.send(new CreateTableCommand(createTableInput(ctx.tableName)));
}, 60_000);

afterAll(async () => {
  await backend?.stop();
});

describe('freezes in the store', () => {
  it('writes only at the rev read: a create once, a replace from the rev it read', async () => {
    expect(await saveFreeze(ctx, freeze('a', 1), undefined)).toBe(true);
    expect(await saveFreeze(ctx, freeze('a', 1, 'second create'), undefined)).toBe(false);
    expect(await saveFreeze(ctx, freeze('a', 2, 'replaced'), 1)).toBe(true);
    expect(await saveFreeze(ctx, freeze('a', 2, 'stale'), 1)).toBe(false);
    expect((await getFreeze(ctx, 'a'))?.reason).toBe('replaced');
    expect(await deleteFreeze(ctx, freeze('a', 1))).toBe(false);
    expect(await deleteFreeze(ctx, freeze('a', 2))).toBe(true);
    expect(await getFreeze(ctx, 'a')).toBeUndefined();
  });

  it('serves the gates the same freezes while nothing is written, and a write at once', async () => {
    await putConfig(ctx, 'policy', 'p', { targets: 'true', rules: {} });
    await saveFreeze(ctx, freeze('b', 1), undefined);
    const first = await policiesAndFreezes(ctx);
    const again = await policiesAndFreezes(ctx);
    expect(again.freezes).toBe(first.freezes);
    expect(first.freezes.map((f) => f.id)).toEqual(['b']);
    expect(first.policies.map((p) => p.id)).toEqual(['p']);

    await saveFreeze(ctx, freeze('c', 1), undefined);
    expect((await policiesAndFreezes(ctx)).freezes.map((f) => f.id)).toEqual(['b', 'c']);
    await deleteFreeze(ctx, freeze('b', 1));
    const after = await policiesAndFreezes(ctx);
    expect(after.freezes.map((f) => f.id)).toEqual(['c']);
    // A freeze write leaves the cached policies as they were.
    expect(after.policies).toBe(first.policies);
  });
});
