import { CreateTableCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { documentClient, type StoreContext } from '../../shared/adapters/store/client';
import { bumpInventoryRevision, deleteConfig, putConfig } from '../../shared/adapters/store/config';
import { inventorySnapshot, listAllConfigCached, loadInventory } from '../../shared/adapters/store/inventory';
import { createTableInput } from '../../shared/adapters/store/table';
import { type DynamoBackend, startDynalite } from '../support/dynamodb';

/**
 * The inventory cache (shared/adapters/store/inventory.ts): served while no config write moved the revision,
 * never stale once a write has answered, and stale on purpose only while a bulk writer that skipped
 * the per-item bump has not bumped yet.
 */
let backend: DynamoBackend;
let ctx: StoreContext;
let tables = 0;

async function freshTable(): Promise<StoreContext> {
  const tableName = `gantry-inventory-${++tables}`;
  await backend.client.send(new CreateTableCommand(createTableInput(tableName)));
  return { doc: documentClient(backend.client), tableName };
}

const vm = (name: string) => ({ kind: 'vm', name, metadata: { env: 'prod' } });

beforeAll(async () => {
  backend = await startDynalite();
}, 60_000);

afterAll(async () => {
  await backend?.stop();
});

describe('inventory cache', () => {
  it('serves the same objects while nothing is written', async () => {
    ctx = await freshTable();
    await putConfig(ctx, 'resource', 'a', vm('a'));

    const first = await listAllConfigCached(ctx, 'resource');
    const second = await listAllConfigCached(ctx, 'resource');

    expect(second).toBe(first);
    expect(first.map((r) => r.id)).toEqual(['a']);
    expect(Object.isFrozen(first)).toBe(true);
  });

  it('sees every write and delete that answered, of each kind', async () => {
    ctx = await freshTable();
    await putConfig(ctx, 'environment', 'prod', { resourceSelector: 'true' });
    const before = await loadInventory(ctx);
    expect(before.resources).toEqual([]);

    await putConfig(ctx, 'resource', 'a', vm('a'));
    const afterPut = await loadInventory(ctx);
    await putConfig(ctx, 'resource', 'a', vm('renamed'));
    const afterReplace = await loadInventory(ctx);
    await deleteConfig(ctx, 'environment', 'prod');
    const afterDelete = await loadInventory(ctx);

    expect(afterPut.resources.map((r) => r.data.name)).toEqual(['a']);
    expect(afterPut.environments).toBe(before.environments);
    expect(afterReplace.resources.map((r) => r.data.name)).toEqual(['renamed']);
    expect(afterDelete.environments).toEqual([]);
  });

  it('a snapshot is the same object until a write, so work derived from it can be kept', async () => {
    ctx = await freshTable();
    await putConfig(ctx, 'policy', 'p', { targets: 'true', rules: {} });
    const one = await inventorySnapshot(ctx);
    const two = await inventorySnapshot(ctx);
    await putConfig(ctx, 'deployment', 'api', { jobAgent: { type: 'webhook', url: 'http://127.0.0.1:9/' } });
    const three = await inventorySnapshot(ctx);

    expect(two).toBe(one);
    expect(three).not.toBe(one);
    expect(three.deployments.map((d) => d.id)).toEqual(['api']);
    expect(three.policies).toBe(one.policies);
  });

  it('a bulk writer that skips the per-item bump is seen once it bumps', async () => {
    ctx = await freshTable();
    await listAllConfigCached(ctx, 'resource');
    await putConfig(ctx, 'resource', 'a', vm('a'), { provider: 'aws', skipRevision: true });
    await putConfig(ctx, 'resource', 'b', vm('b'), { provider: 'aws', skipRevision: true });

    const beforeBump = await listAllConfigCached(ctx, 'resource');
    await bumpInventoryRevision(ctx, ['resource']);
    const afterBump = await listAllConfigCached(ctx, 'resource');
    await deleteConfig(ctx, 'resource', 'a', { skipRevision: true });
    await bumpInventoryRevision(ctx);
    const afterDelete = await listAllConfigCached(ctx, 'resource');

    expect(beforeBump).toEqual([]);
    expect(afterBump.map((r) => r.id)).toEqual(['a', 'b']);
    expect(afterDelete.map((r) => r.id)).toEqual(['b']);
  });

  it('caches per table', async () => {
    const one = await freshTable();
    const two = await freshTable();
    await putConfig(one, 'resource', 'only-in-one', vm('x'));

    expect((await listAllConfigCached(one, 'resource')).map((r) => r.id)).toEqual(['only-in-one']);
    expect(await listAllConfigCached(two, 'resource')).toEqual([]);
  });
});
