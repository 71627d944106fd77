import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stateMachineArn } from '../../infra/local/arns';
import type { LocalServer } from '../../infra/local/server';
import { runtime } from '../../shared/adapters/runtime';
import { keys } from '../../shared/adapters/store/keys';
import { newHolder, releaseLease, takeLease } from '../../shared/adapters/store/lease';
import {
  getVersion,
  listReleases,
  putReleaseIfAbsent,
  type ReleaseRecord,
  type VersionRecord,
} from '../../shared/adapters/store/rollouts';
import { runChunk, TARGETS_PER_CHUNK } from '../../shared/services/rollouts/reconcile';
import { newRelease } from '../../shared/services/rollouts/versions';
import type { WorkTask } from '../../shared/services/rollouts/work-queue';
import { FakeAgent } from '../helpers/agent';
import { type Client, eventually } from '../helpers/client';
import { startTestServer } from '../helpers/local';

/**
 * Issue 15: releases are batch-written (BatchWriteItem carries no condition), so the chunks that
 * create them hold their deployment's lease around reading which exist and writing the rest. Two
 * chunks of the same targets, or a chunk and another creator, end with one release per target,
 * each started once, none reset. The chunks are run directly (shared/services/rollouts/reconcile.ts
 * runChunk) against the local server's table and Step Functions engine; the deployments are paused,
 * so an execution moves its release from pending to waiting and holds it there.
 */
const ROLLOUT_ARN = stateMachineArn('rollout');
const TARGETS = 60;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let server: LocalServer;
let admin: Client;
const agent = new FakeAgent();

beforeAll(async () => {
  await agent.start();
  ({ server, admin } = await startTestServer());
  await admin.post('/v1/resource-providers/rc/sync', {
    resources: Array.from({ length: TARGETS }, (_, i) => ({
      id: `rc-${String(i).padStart(3, '0')}`,
      kind: 'vm',
      name: `rc-${i}`,
      metadata: { env: 'rc' },
    })),
  });
  await admin.put('/v1/environments/rc', { resourceSelector: "resource.metadata.env == 'rc'" });
});

afterAll(async () => {
  await server?.close();
  await agent.stop();
});

/**
 * A paused deployment with a ready version whose releases nobody has written yet: the version is
 * created building and made ready in the table, so no work item races the chunks the test runs.
 */
async function unreleasedVersion(deployment: string, environment = 'rc'): Promise<VersionRecord> {
  await admin.put(`/v1/deployments/${deployment}`, {
    environments: [environment],
    jobAgent: { type: 'webhook', url: agent.url },
  });
  await admin.post(`/v1/deployments/${deployment}/pause`);
  expect(
    (await admin.post(`/v1/deployments/${deployment}/versions`, { tag: 'v1', status: 'building' })).status,
  ).toBe(201);
  // The work these writes queued has run (before the version is ready, so it wrote no release).
  await server.bus.flush();
  const rt = runtime();
  await rt.doc.send(
    new UpdateCommand({
      TableName: rt.tableName,
      Key: keys.version(deployment, 'v1'),
      UpdateExpression: 'SET #status = :ready',
      ExpressionAttributeNames: { '#status': 'status' },
      ExpressionAttributeValues: { ':ready': 'ready' },
    }),
  );
  return (await getVersion(rt, deployment, 'v1')) as VersionRecord;
}

const releaseTask = (deployment: string): WorkTask => ({ type: 'release-version', deployment, tag: 'v1' });

/** Executions of the deployment per release (its name without a generation), from the engine. */
function executionsPerRelease(deployment: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const e of server.engine.listExecutions({ stateMachineArn: ROLLOUT_ARN })) {
    const input = JSON.parse(e.input) as { release: { deployment: string; resource: string } };
    if (input.release.deployment !== deployment) continue;
    counts.set(input.release.resource, (counts.get(input.release.resource) ?? 0) + 1);
  }
  return counts;
}

/** Until the table sees no request for a while: the executions have parked (paused deployments). */
async function quiet(): Promise<void> {
  for (
    let last = -1, now = await server.dynamoRequests();
    now !== last;
    now = await server.dynamoRequests()
  ) {
    last = now;
    await sleep(250);
  }
}

const allWaiting = (deployment: string, count: number) =>
  eventually(
    () => listReleases(runtime(), deployment, 'v1'),
    (releases) => releases.length === count && releases.every((r) => r.status === 'waiting'),
    { timeoutMs: 30_000, intervalMs: 100 },
  );

describe('two chunks over the same targets', () => {
  it('at once: one release per target, each started once, every one moved on by its execution', async () => {
    await unreleasedVersion('twice');
    const rt = runtime();

    const [a, b] = await Promise.all([
      runChunk(rt, releaseTask('twice'), null),
      runChunk(rt, releaseTask('twice'), null),
    ]);

    expect([a, b]).toEqual([null, null]);
    const releases = await allWaiting('twice', TARGETS);
    expect(new Set(releases.map((r) => r.resource)).size).toBe(TARGETS);
    expect(releases.every((r) => r.waitingFor === 'paused')).toBe(true);
    const executions = executionsPerRelease('twice');
    expect(executions.size).toBe(TARGETS);
    expect([...executions.values()].every((n) => n === 1)).toBe(true);
  });

  it("the second after the first's executions moved its releases on: nothing is written again, nothing started again", async () => {
    await unreleasedVersion('after');
    const rt = runtime();
    await runChunk(rt, releaseTask('after'), null);
    const moved = await allWaiting('after', TARGETS);
    await quiet();

    await runChunk(rt, releaseTask('after'), null);
    await quiet();

    expect(await listReleases(rt, 'after', 'v1')).toEqual(moved);
    expect([...executionsPerRelease('after').values()].every((n) => n === 1)).toBe(true);
  });
});

describe('a chunk and another creator of releases', () => {
  it('the chunk waits for the lease another holds, then writes only what that creator did not, resetting nothing', async () => {
    const version = await unreleasedVersion('held');
    const rt = runtime();
    const lease = keys.releasesLease('held');
    const other = newHolder();
    expect(await takeLease(rt, lease, other, 60_000)).toBe(true);

    const chunk = runChunk(rt, releaseTask('held'), null);
    await sleep(400);
    expect(await listReleases(rt, 'held', 'v1')).toEqual([]);
    // The other creator, holding the lease: half the targets' releases, moved on at once (as their
    // executions would), before the chunk reads anything.
    const theirs = Array.from({ length: TARGETS / 2 }, (_, i) => `rc-${String(i).padStart(3, '0')}`);
    for (const resource of theirs) {
      const release = newRelease(
        version,
        { deployment: 'held', environment: 'rc', resource },
        new Date().toISOString(),
      );
      expect((await putReleaseIfAbsent(rt, release)).created).toBe(true);
      await rt.doc.send(
        new UpdateCommand({
          TableName: rt.tableName,
          Key: keys.release('held', 'v1', 'rc', resource),
          UpdateExpression: 'SET #status = :deploying, jobId = :job, startedAt = :now',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: {
            ':deploying': 'deploying',
            ':job': `job-${resource}`,
            ':now': release.createdAt,
          },
        }),
      );
    }
    expect(await releaseLease(rt, lease, other)).toBe(true);
    await chunk;

    const releases = await eventually(
      () => listReleases(rt, 'held', 'v1'),
      (all) => all.filter((r) => r.status === 'waiting').length === TARGETS / 2,
      { timeoutMs: 30_000, intervalMs: 100 },
    );
    expect(releases).toHaveLength(TARGETS);
    const byResource = new Map(releases.map((r) => [r.resource, r] as [string, ReleaseRecord]));
    for (const resource of theirs) {
      expect(byResource.get(resource)?.status, resource).toBe('deploying');
      expect(byResource.get(resource)?.jobId, resource).toBe(`job-${resource}`);
    }
    const executions = executionsPerRelease('held');
    expect(theirs.filter((resource) => executions.has(resource))).toEqual([]);
    expect(executions.size).toBe(TARGETS / 2);
  });

  it('a rollback creating a release waits for the lease a chunk holds', async () => {
    await unreleasedVersion('rb');
    const rt = runtime();
    await runChunk(rt, releaseTask('rb'), null);
    await allWaiting('rb', TARGETS);
    expect((await admin.post('/v1/deployments/rb/versions', { tag: 'v2', status: 'building' })).status).toBe(
      201,
    );
    const lease = keys.releasesLease('rb');
    const chunkHolder = newHolder();
    expect(await takeLease(rt, lease, chunkHolder, 60_000)).toBe(true);

    let answered = false;
    const rollback = admin
      .post('/v1/release-targets/rollback', {
        deployment: 'rb',
        environment: 'rc',
        resource: 'rc-000',
        toVersion: 'v2',
      })
      .finally(() => {
        answered = true;
      });
    await sleep(400);
    expect(answered).toBe(false);
    expect(await listReleases(rt, 'rb', 'v2')).toEqual([]);
    await releaseLease(rt, lease, chunkHolder);

    expect((await rollback).status).toBe(202);
    expect((await listReleases(rt, 'rb', 'v2')).map((r) => r.resource)).toEqual(['rc-000']);
  });
});

describe('the requests of a chunk', () => {
  it(`${TARGETS_PER_CHUNK} releases: written in batches of 25, and a chunk run again reads them in batches of 100 and writes none`, async () => {
    const many = TARGETS_PER_CHUNK;
    await admin.post('/v1/resource-providers/big/sync', {
      resources: Array.from({ length: many }, (_, i) => ({
        id: `big-${String(i).padStart(4, '0')}`,
        kind: 'vm',
        name: `big-${i}`,
        metadata: { env: 'big' },
      })),
    });
    await admin.put('/v1/environments/big', { resourceSelector: "resource.metadata.env == 'big'" });
    await unreleasedVersion('wide', 'big');
    const rt = runtime();
    const first = await server.dynamoOperations();
    await runChunk(rt, releaseTask('wide'), null);
    const written = await server.dynamoOperations();
    // The executions started at the chunk's end write too (a batch of audit events each), hence at least.
    expect(delta(written, first, 'BatchWriteItem')).toBeGreaterThanOrEqual(many / 25);
    await allWaiting('wide', many);
    await quiet();

    const before = await server.dynamoOperations();
    await runChunk(rt, releaseTask('wide'), null);
    const after = await server.dynamoOperations();

    expect(delta(after, before, 'BatchGetItem')).toBe(many / 100);
    expect(delta(after, before, 'BatchWriteItem')).toBe(0);
    // The lease: one put, one delete. Before, a conditional put per release: 500.
    expect(delta(after, before, 'PutItem')).toBe(1);
    expect(delta(after, before, 'DeleteItem')).toBe(1);
  }, 90_000);
});

const delta = (after: Record<string, number>, before: Record<string, number>, op: string) =>
  (after[op] ?? 0) - (before[op] ?? 0);
