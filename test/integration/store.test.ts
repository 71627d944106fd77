import { CreateTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ConditionFailed,
  documentClient,
  isConditionFailed,
  type StoreContext,
} from '../../shared/adapters/store/client';
import {
  decodeToken,
  deleteConfig,
  getConfig,
  InvalidPageToken,
  listAllConfig,
  listConfig,
  putConfig,
} from '../../shared/adapters/store/config';
import { keys } from '../../shared/adapters/store/keys';
import { recordNonce } from '../../shared/adapters/store/nonces';
import {
  applyTransition,
  getRelease,
  putIfAbsent,
  putReleaseIfAbsent,
  type ReleaseRecord,
  updateItem,
  updateReleaseFields,
} from '../../shared/adapters/store/rollouts';
import { providerResourceIds } from '../../shared/adapters/store/sync';
import { createTableInput } from '../../shared/adapters/store/table';
import type { ReleaseIn } from '../../shared/core/lifecycle';
import {
  type DynamoBackend,
  dynamoDbLocalPlan,
  startDynalite,
  startDynamoDbLocal,
} from '../support/dynamodb';

/**
 * The store's conditional writes (DESIGN: every change a single conditional write), against dynalite,
 * the embedded default, and against AWS's DynamoDB Local, so each condition behaves as DynamoDB's own.
 */

const localPlan = dynamoDbLocalPlan();
if (!localPlan.run) console.warn(`[store.test] ${localPlan.reason}`);

const BACKENDS: { name: string; start: () => Promise<DynamoBackend> }[] = [
  { name: 'dynalite', start: startDynalite },
  ...(localPlan.run ? [{ name: 'DynamoDB Local', start: () => startDynamoDbLocal() }] : []),
];

if (!localPlan.run) {
  describe('store against DynamoDB Local', () => {
    it.skip(`skipped: ${localPlan.reason}`, () => {});
  });
}

let backend: DynamoBackend | undefined;
let client: DynamoDBClient;
let ctx: StoreContext;
let tableCount = 0;

async function freshTable(): Promise<StoreContext> {
  const tableName = `gantry-store-${++tableCount}`;
  await client.send(new CreateTableCommand(createTableInput(tableName)));
  return { doc: ctx.doc, tableName };
}

describe.each(BACKENDS)('store against $name', ({ start }) => {
  beforeAll(async () => {
    backend = await start();
    client = backend.client;
    ctx = { doc: documentClient(client), tableName: 'unused' };
    ctx = await freshTable();
  }, 90_000);

  afterAll(async () => {
    await backend?.stop();
    backend = undefined;
  });

  const T0 = Date.parse('2026-11-21T10:00:00.000Z');
  const iso = (ms: number) => new Date(ms).toISOString();

  async function rawItem(key: { pk: string; sk: string }, table = ctx.tableName) {
    return (await ctx.doc.send(new GetCommand({ TableName: table, Key: key, ConsistentRead: true }))).Item;
  }

  describe('putConfig: create versus replace', () => {
    it('creates with createdAt = updatedAt, then replaces keeping createdAt', async () => {
      const first = await putConfig(ctx, 'environment', 'prod', { resourceSelector: 'true' }, { now: T0 });
      const second = await putConfig(
        ctx,
        'environment',
        'prod',
        { name: 'Production', resourceSelector: 'false' },
        { now: T0 + 60_000 },
      );

      expect(first.created).toBe(true);
      expect(first.stored).toEqual({
        id: 'prod',
        data: { resourceSelector: 'true' },
        createdAt: iso(T0),
        updatedAt: iso(T0),
      });
      expect(second.created).toBe(false);
      expect(second.stored.createdAt).toBe(iso(T0));
      expect(second.stored.updatedAt).toBe(iso(T0 + 60_000));
      expect(await getConfig(ctx, 'environment', 'prod')).toEqual(second.stored);
    });

    it('keeps kinds apart: the same id in two kinds is two objects', async () => {
      await putConfig(ctx, 'deployment', 'shared-id', { jobAgent: { type: 'webhook' } }, { now: T0 });
      await putConfig(ctx, 'policy', 'shared-id', { targets: 'true' }, { now: T0 });

      expect((await getConfig(ctx, 'deployment', 'shared-id'))?.data).toEqual({
        jobAgent: { type: 'webhook' },
      });
      expect((await getConfig(ctx, 'policy', 'shared-id'))?.data).toEqual({ targets: 'true' });
    });

    it('tags a synced resource with its provider, findable through the provider index', async () => {
      const table = await freshTable();
      const c = { ...ctx, tableName: table.tableName };
      await putConfig(c, 'resource', 'a-1', { kind: 'vm', name: 'a', metadata: {} }, { provider: 'aws' });
      await putConfig(c, 'resource', 'g-1', { kind: 'vm', name: 'g', metadata: {} }, { provider: 'gcp' });
      await putConfig(c, 'resource', 'm-1', { kind: 'vm', name: 'm', metadata: {} });

      const aws = await providerResourceIds(c, 'aws');

      expect(
        await Promise.all(aws.map(async (id) => [id, (await getConfig(c, 'resource', id))?.provider])),
      ).toEqual([['a-1', 'aws']]);
      expect((await getConfig(c, 'resource', 'm-1'))?.provider).toBeUndefined();
    });

    it('two concurrent first writes of one id: exactly one creates, a loser throws a condition failure', async () => {
      for (let i = 0; i < 10; i++) {
        const id = `race-${i}`;
        const outcomes = await Promise.allSettled([
          putConfig(ctx, 'policy', id, { targets: 'a' }),
          putConfig(ctx, 'policy', id, { targets: 'b' }),
        ]);

        const created = outcomes.filter((o) => o.status === 'fulfilled' && o.value.created);
        expect(created, `round ${i}`).toHaveLength(1);
        for (const outcome of outcomes) {
          if (outcome.status === 'rejected') expect(isConditionFailed(outcome.reason)).toBe(true);
        }
        // Whatever happened, the stored object is one of the two bodies, created once.
        expect(['a', 'b']).toContain((await getConfig<{ targets: string }>(ctx, 'policy', id))?.data.targets);
      }
    });

    it('a replace after a delete creates the object again, with a fresh createdAt', async () => {
      const first = await putConfig(ctx, 'policy', 'deleted-meanwhile', { targets: 'v1' }, { now: 1_000 });
      expect(await deleteConfig(ctx, 'policy', 'deleted-meanwhile')).toBe(true);

      const again = await putConfig(ctx, 'policy', 'deleted-meanwhile', { targets: 'v2' }, { now: 2_000 });

      expect(first.created).toBe(true);
      expect(again.created).toBe(true);
      expect(again.stored.createdAt).toBe(new Date(2_000).toISOString());
    });

    it('deleteConfig reports whether something was deleted', async () => {
      await putConfig(ctx, 'resource', 'to-delete', { kind: 'vm' });

      expect(await deleteConfig(ctx, 'resource', 'to-delete')).toBe(true);
      expect(await deleteConfig(ctx, 'resource', 'to-delete')).toBe(false);
      expect(await getConfig(ctx, 'resource', 'to-delete')).toBeUndefined();
    });
  });

  describe('putIfAbsent', () => {
    it('creates once, then returns the stored item without overwriting it', async () => {
      const key = { pk: 'THING#1', sk: 'THING' };

      const first = await putIfAbsent(ctx, key, { name: 'first', n: 1 }, { gsi1pk: 'THINGS', gsi1sk: '1' });
      const second = await putIfAbsent(ctx, key, { name: 'second', n: 2 });

      expect(first).toEqual({ created: true, item: { name: 'first', n: 1 } });
      expect(second.created).toBe(false);
      // The stored item, without its key and index attributes.
      expect(second.item).toEqual({ name: 'first', n: 1 });
      expect(await rawItem(key)).toMatchObject({ name: 'first', n: 1, gsi1pk: 'THINGS' });
    });

    it('concurrent creators: exactly one creates and all see the same item', async () => {
      const key = { pk: 'THING#race', sk: 'THING' };

      const results = await Promise.all(
        Array.from({ length: 5 }, (_, i) => putIfAbsent(ctx, key, { writer: i })),
      );

      expect(results.filter((r) => r.created)).toHaveLength(1);
      const winner = results.find((r) => r.created)?.item;
      for (const result of results) expect(result.item).toEqual(winner);
    });
  });

  describe('updateItem', () => {
    const key = { pk: 'COUNTER#1', sk: 'COUNTER' };

    it('applies set and remove under a condition that holds, returning the new item', async () => {
      await ctx.doc.send(
        new PutCommand({ TableName: ctx.tableName, Item: { ...key, state: 'open', n: 1, note: 'x' } }),
      );

      const updated = await updateItem<Record<string, unknown>>(
        ctx,
        key,
        { set: { state: 'closed', n: 2 }, remove: ['note'] },
        { expression: '#st = :open', names: { '#st': 'state' }, values: { ':open': 'open' } },
      );

      expect(updated).toEqual({ state: 'closed', n: 2 });
    });

    it('throws ConditionFailed carrying the current item when the condition fails, and writes nothing', async () => {
      const before = await rawItem(key);

      const error = await updateItem(
        ctx,
        key,
        { set: { state: 'reopened' } },
        { expression: '#st = :open', names: { '#st': 'state' }, values: { ':open': 'open' } },
      ).catch((e: unknown) => e);

      expect(error).toBeInstanceOf(ConditionFailed);
      expect((error as ConditionFailed).current).toMatchObject({ state: 'closed', n: 2 });
      expect(await rawItem(key)).toEqual(before);
    });

    it('a conditional update of a missing item throws with no current item and creates nothing', async () => {
      const missing = { pk: 'COUNTER#missing', sk: 'COUNTER' };

      const error = await updateItem(
        ctx,
        missing,
        { set: { state: 'x' } },
        { expression: 'attribute_exists(pk)' },
      ).catch((e: unknown) => e);

      expect(error).toBeInstanceOf(ConditionFailed);
      expect((error as ConditionFailed).current).toBeUndefined();
      expect(await rawItem(missing)).toBeUndefined();
    });
  });

  describe('applyTransition: the transition table as conditional writes', () => {
    const release = (): ReleaseIn<'pending'> => ({
      deployment: 'api',
      tag: 'v1',
      environment: 'prod',
      resource: 'eu-1',
      releaseId: 'r1',
      status: 'pending',
      waitingFor: null,
      message: null,
      jobId: null,
      attempt: 1,
      versionCreatedAt: iso(T0),
      createdAt: iso(T0),
      startedAt: null,
      finishedAt: null,
      rolledBackTo: null,
      updatedAt: iso(T0),
    });

    it('moves a release only while its stored status is one its row allows', async () => {
      const read = release();
      expect((await putReleaseIfAbsent(ctx, read)).created).toBe(true);

      const waiting = await applyTransition(ctx, read, 'wait', {
        waitingFor: 'approval',
        message: 'Approve.',
      });
      const deploying = await applyTransition(ctx, waiting as ReleaseRecord, 'dispatch', { jobId: 'job1' });
      const staleWithdraw = await applyTransition(ctx, read, 'withdraw', { message: 'Rejected.' });
      const notInTable = await applyTransition(ctx, deploying as ReleaseRecord, 'wait', {
        waitingFor: 'paused',
        message: 'Paused.',
      });

      expect(waiting).toMatchObject({ status: 'waiting', waitingFor: 'approval', message: 'Approve.' });
      expect(deploying).toMatchObject({
        status: 'deploying',
        waitingFor: null,
        jobId: 'job1',
        message: null,
      });
      expect(staleWithdraw).toBeUndefined();
      expect(notInTable).toBeUndefined();
      expect(await getRelease(ctx, read)).toMatchObject({
        status: 'deploying',
        jobId: 'job1',
        finishedAt: null,
      });
      expect((deploying as ReleaseRecord).updatedAt).not.toBe(iso(T0));
    });

    it("writes a guard a concurrent write could break into the condition: another job's dispatch is refused", async () => {
      const read = { ...release(), tag: 'v2' };
      await putReleaseIfAbsent(ctx, read);
      await applyTransition(ctx, read, 'dispatch', { jobId: 'job1' });

      const otherJob = await applyTransition(ctx, read, 'dispatch', { jobId: 'job2' });
      const sameJobAgain = await applyTransition(ctx, read, 'dispatch', { jobId: 'job1' });

      expect(otherJob).toBeUndefined();
      expect(sameJobAgain).toMatchObject({ status: 'deploying', jobId: 'job1' });
      expect(await getRelease(ctx, read)).toMatchObject({ status: 'deploying', jobId: 'job1' });
    });

    it('two concurrent transitions from the same status: exactly one wins', async () => {
      const read = { ...release(), tag: 'v3' };
      await putReleaseIfAbsent(ctx, read);

      const outcomes = await Promise.all([
        applyTransition(ctx, read, 'withdraw', { message: 'Rejected.' }),
        applyTransition(ctx, read, 'dispatch', { jobId: 'job1' }),
      ]);

      const won = outcomes.filter((o) => o !== undefined);
      expect(won).toHaveLength(1);
      const winner = (won[0] as ReleaseRecord).status;
      expect(['cancelled', 'deploying']).toContain(winner);
      expect(await getRelease(ctx, read)).toMatchObject({ status: winner });
    });

    it('never creates a release that does not exist', async () => {
      const read = { ...release(), tag: 'never-created' };

      const moved = await applyTransition(ctx, read, 'dispatch', { jobId: 'job1' });

      expect(moved).toBeUndefined();
      expect(await getRelease(ctx, read)).toBeUndefined();
    });

    it('updateReleaseFields writes progress only while the release is in the status it was read in', async () => {
      const read = { ...release(), tag: 'v4' };
      await putReleaseIfAbsent(ctx, read);

      const counted = await updateReleaseFields(ctx, read, { generation: 1 });
      await applyTransition(ctx, read, 'wait', { waitingFor: 'approval', message: 'Approve.' });
      const stale = await updateReleaseFields(ctx, read, { generation: 2 });

      expect(counted).toMatchObject({ status: 'pending', generation: 1 });
      expect(stale).toBeUndefined();
      expect(await getRelease(ctx, read)).toMatchObject({ status: 'waiting', generation: 1 });
    });
  });

  describe('recordNonce: replay protection', () => {
    it('accepts a signature once, refuses it again, and accepts another signature', async () => {
      const now = Date.now();
      const signature = `v1=${'a'.repeat(64)}`;

      const first = await recordNonce(ctx, signature, now);
      const replay = await recordNonce(ctx, signature, now + 1000);
      const other = await recordNonce(ctx, `v1=${'b'.repeat(64)}`, now);

      expect(first).toBe(true);
      expect(replay).toBe(false);
      expect(other).toBe(true);
    });

    it('keeps the nonce past the 300 s skew window on both sides', async () => {
      const now = Date.parse('2026-11-21T10:00:00.000Z');
      const signature = `v1=${'c'.repeat(64)}`;

      await recordNonce(ctx, signature, now);

      const item = await rawItem(keys.nonce(signature));
      expect(item?.expiresAt).toBeGreaterThanOrEqual(Math.floor(now / 1000) + 600);
    });

    it('concurrent uses of one signature: exactly one is accepted', async () => {
      const signature = `v1=${'d'.repeat(64)}`;

      const results = await Promise.all(
        Array.from({ length: 5 }, () => recordNonce(ctx, signature, Date.now())),
      );

      expect(results.filter(Boolean)).toHaveLength(1);
    });
  });

  describe('listConfig: pagination', () => {
    it('walks every object of a kind exactly once, in id order, and only that kind', async () => {
      const table = await freshTable();
      const c = { ...ctx, tableName: table.tableName };
      const ids = ['p-1', 'p-2', 'p-3', 'p-4', 'p-5'];
      for (const id of [...ids].reverse()) await putConfig(c, 'policy', id, { targets: 'true' });
      await putConfig(c, 'environment', 'not-a-policy', { resourceSelector: 'true' });

      const pages: string[][] = [];
      let nextToken: string | undefined;
      do {
        const page = await listConfig(c, 'policy', { limit: 2, nextToken });
        pages.push(page.items.map((item) => item.id));
        nextToken = page.nextToken;
      } while (nextToken && pages.length < 10);

      expect(pages.flat()).toEqual(ids);
      expect(pages.slice(0, 3)).toEqual([['p-1', 'p-2'], ['p-3', 'p-4'], ['p-5']]);
      expect((await listAllConfig(c, 'policy')).map((s) => s.id)).toEqual(ids);
    });

    it('an empty kind is one empty page with no nextToken', async () => {
      const table = await freshTable();

      const page = await listConfig({ ...ctx, tableName: table.tableName }, 'deployment', { limit: 2 });

      expect(page).toEqual({ items: [] });
    });

    it('a token it did not issue is InvalidPageToken', async () => {
      const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

      for (const token of ['!!!', encode([1]), encode({ pk: 1 }), encode({ pk: 'POLICY', evil: 'x' })]) {
        expect(() => decodeToken(token, { name: 'pk', value: 'POLICY' }), token).toThrow(InvalidPageToken);
      }
      await expect(listConfig(ctx, 'policy', { nextToken: 'not-base64-json' })).rejects.toBeInstanceOf(
        InvalidPageToken,
      );
    });

    it('a well-formed token of another kind is InvalidPageToken, not a DynamoDB error', async () => {
      const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

      for (const token of [encode({ pk: 'RESOURCE', sk: 'x' }), encode({ pk: 'POLICY' }), encode({})]) {
        await expect(listConfig(ctx, 'policy', { nextToken: token }), token).rejects.toBeInstanceOf(
          InvalidPageToken,
        );
      }
    });
  });
});
