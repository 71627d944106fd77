import { CreateTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ENV } from '../../shared/adapters/runtime';
import { documentClient, type StoreContext } from '../../shared/adapters/store/client';
import { keys } from '../../shared/adapters/store/keys';
import {
  LeaseBusy,
  LeaseExpired,
  newHolder,
  releaseLease,
  takeLease,
  withLease,
} from '../../shared/adapters/store/lease';
import { putNewReleases } from '../../shared/adapters/store/rollouts';
import { createTableInput } from '../../shared/adapters/store/table';
import type { ReleaseIn } from '../../shared/core/lifecycle';
import {
  type DynamoBackend,
  dynamoDbLocalPlan,
  startDynalite,
  startDynamoDbLocal,
} from '../support/dynamodb';

/**
 * The lease that serialises the creators of a deployment's releases (shared/adapters/store/lease.ts),
 * against dynalite and, where java runs, DynamoDB Local: its conditions behave as DynamoDB's own.
 */
const localPlan = dynamoDbLocalPlan();
const BACKENDS: { name: string; start: () => Promise<DynamoBackend> }[] = [
  { name: 'dynalite', start: startDynalite },
  ...(localPlan.run ? [{ name: 'DynamoDB Local', start: () => startDynamoDbLocal() }] : []),
];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const MINUTE = 60_000;

describe.each(BACKENDS)('leases against $name', ({ start }) => {
  let backend: DynamoBackend | undefined;
  let client: DynamoDBClient;
  let ctx: StoreContext;
  let leases = 0;
  const local = process.env[ENV.localRuntime];
  const freshKey = () => keys.releasesLease(`lease-${++leases}`);

  beforeAll(async () => {
    backend = await start();
    client = backend.client;
    ctx = { doc: documentClient(client), tableName: 'gantry-leases' };
    await client.send(new CreateTableCommand(createTableInput(ctx.tableName)));
  }, 90_000);

  afterAll(async () => {
    await backend?.stop();
  });

  afterEach(() => {
    if (local === undefined) delete process.env[ENV.localRuntime];
    else process.env[ENV.localRuntime] = local;
  });

  describe('takeLease and releaseLease', () => {
    it('a lease is taken, refused to another holder while held, and taken again once it ran out', async () => {
      const key = freshKey();
      const [first, second] = [newHolder(), newHolder()];
      const now = Date.now();

      expect(await takeLease(ctx, key, first, MINUTE, now)).toBe(true);
      expect(await takeLease(ctx, key, second, MINUTE, now + 1000)).toBe(false);
      expect(await takeLease(ctx, key, first, MINUTE, now + 1000)).toBe(false);
      expect(await takeLease(ctx, key, second, MINUTE, now + MINUTE - 1000)).toBe(false);
      expect(await takeLease(ctx, key, second, MINUTE, now + MINUTE + 2000)).toBe(true);

      const item = await ctx.doc.send(
        new GetCommand({ TableName: ctx.tableName, Key: key, ConsistentRead: true }),
      );
      expect(item.Item?.holder).toBe(second);
      expect(item.Item?.expiresAt).toBe(Math.ceil((now + 2 * MINUTE + 2000) / 1000));
    });

    it('only its holder gives a lease back; then another takes it at once', async () => {
      const key = freshKey();
      const [holder, other] = [newHolder(), newHolder()];
      expect(await takeLease(ctx, key, holder, MINUTE)).toBe(true);

      expect(await releaseLease(ctx, key, other)).toBe(false);
      expect(await takeLease(ctx, key, other, MINUTE)).toBe(false);
      expect(await releaseLease(ctx, key, holder)).toBe(true);
      expect(await takeLease(ctx, key, other, MINUTE)).toBe(true);
      // A holder whose lease ran out and went to another gives nothing back.
      expect(await releaseLease(ctx, key, holder)).toBe(false);
    });

    it("locally, a lease another process holds was a killed process's: it is taken at once; in AWS it is waited out", async () => {
      const key = freshKey();
      const killed = 'another-process#hold';
      await ctx.doc.send(
        new PutCommand({
          TableName: ctx.tableName,
          Item: { ...key, holder: killed, expiresAt: Math.ceil((Date.now() + 10 * MINUTE) / 1000) },
        }),
      );
      delete process.env[ENV.localRuntime];
      expect(await takeLease(ctx, key, newHolder(), MINUTE)).toBe(false);

      process.env[ENV.localRuntime] = '1';
      expect(await takeLease(ctx, key, newHolder(), MINUTE)).toBe(true);
      // A holder of this process is waited out there too.
      expect(await takeLease(ctx, key, newHolder(), MINUTE)).toBe(false);
    });
  });

  describe('withLease', () => {
    const options = { ttlMs: MINUTE, waitMs: 5_000 };

    it('runs the work of one holder at a time, and gives the lease back after it', async () => {
      const key = freshKey();
      let inside = 0;
      let most = 0;
      const work = async () => {
        most = Math.max(most, ++inside);
        await sleep(30);
        inside--;
      };
      await Promise.all(Array.from({ length: 5 }, () => withLease(ctx, key, options, work)));

      expect(most).toBe(1);
      expect(await takeLease(ctx, key, newHolder(), MINUTE)).toBe(true);
    });

    it('gives the lease back when the work fails', async () => {
      const key = freshKey();
      const failing = withLease(ctx, key, options, async () => {
        throw new Error('boom');
      });
      await expect(failing).rejects.toThrow('boom');
      expect(await takeLease(ctx, key, newHolder(), MINUTE)).toBe(true);
    });

    it('waits for a held lease, and gives up with LeaseBusy after waitMs', async () => {
      const key = freshKey();
      const holder = newHolder();
      await takeLease(ctx, key, holder, MINUTE);
      let ran = false;
      const started = Date.now();
      const refused = withLease(ctx, key, { ttlMs: MINUTE, waitMs: 300 }, async () => {
        ran = true;
      });
      await expect(refused).rejects.toBeInstanceOf(LeaseBusy);
      expect(Date.now() - started).toBeGreaterThanOrEqual(300);
      expect(ran).toBe(false);

      const waiting = withLease(ctx, key, options, async () => {
        ran = true;
      });
      await sleep(200);
      expect(ran).toBe(false);
      await releaseLease(ctx, key, holder);
      await waiting;
      expect(ran).toBe(true);
    });

    it('fencing: a holder past half its lease writes nothing more, and ends with LeaseExpired', async () => {
      const key = freshKey();
      const release = (resource: string): ReleaseIn<'pending'> =>
        ({
          deployment: 'fenced',
          tag: 'v1',
          environment: 'prod',
          resource,
          releaseId: `rel-${resource}`,
          status: 'pending',
        }) as ReleaseIn<'pending'>;
      const slow = withLease(ctx, key, { ttlMs: 400, waitMs: 5_000 }, async (fence) => {
        await putNewReleases(ctx, [release('early')], fence);
        await sleep(300);
        await putNewReleases(ctx, [release('late')], fence);
      });

      await expect(slow).rejects.toBeInstanceOf(LeaseExpired);
      const read = (resource: string) =>
        ctx.doc.send(
          new GetCommand({
            TableName: ctx.tableName,
            Key: keys.release('fenced', 'v1', 'prod', resource),
            ConsistentRead: true,
          }),
        );
      expect((await read('early')).Item?.status).toBe('pending');
      expect((await read('late')).Item).toBeUndefined();
    });
  });
});
