import { isDeepStrictEqual } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalServer } from '../../infra/local/server';
import { runtime } from '../../shared/adapters/runtime';
import { cancelChunk } from '../../shared/services/rollouts/versions';
import { CANCELS_PER_CHUNK, type CancelTask } from '../../shared/services/rollouts/work-queue';
import { FakeAgent } from '../helpers/agent';
import { type Client, eventually } from '../helpers/client';
import { startTestServer } from '../helpers/local';
import { allEvents, countBy, type VersionView } from '../support/rollouts';

/**
 * Cancelling a version over more releases than one chunk (docs/api.md section 5): the request cancels
 * at most CANCELS_PER_CHUNK of them and queues the rest, which the work queue cancels chunk by chunk
 * off the request, each release exactly once. The same for a rejected version (only those with no
 * job) and a rejected approval (those with no job in its environment).
 */
const COUNT = CANCELS_PER_CHUNK + 60;
const ROLLOUT = 'arn:aws:states:us-east-1:000000000000:stateMachine:gantry-rollout';

let server: LocalServer;
let admin: Client;
let approver: Client;
const agent = new FakeAgent();
/** `Work Requested` events per work id: one per chunk asked for. */
const workRequests = new Map<string, number>();

beforeAll(async () => {
  agent.behaviour = () => 'none'; // a dispatched job never finishes
  await agent.start();
  let as: (id: string) => Client;
  ({ server, admin, as } = await startTestServer());
  approver = as('approver');
  server.bus.tap = (event) => {
    const id = (event.detail as { data?: { workId?: string } }).data?.workId;
    if (event['detail-type'] === 'Work Requested' && id)
      workRequests.set(id, (workRequests.get(id) ?? 0) + 1);
  };
  const resources = Array.from({ length: COUNT }, (_, i) => ({
    id: `n-${String(i).padStart(5, '0')}`,
    kind: 'vm',
    name: `n-${i}`,
    metadata: { env: 'fleet' },
  }));
  expect((await admin.post('/v1/resource-providers/fleet/sync', { resources })).status).toBe(200);
  await admin.put('/v1/environments/fleet', { resourceSelector: "resource.metadata.env == 'fleet'" });
  await admin.put('/v1/resources/solo-1', { kind: 'vm', name: 'solo-1', metadata: { env: 'solo' } });
  await admin.put('/v1/resources/solo-2', { kind: 'vm', name: 'solo-2', metadata: { env: 'solo' } });
  await admin.put('/v1/environments/solo', { resourceSelector: "resource.metadata.env == 'solo'" });
}, 60_000);

afterAll(async () => {
  server.bus.tap = undefined;
  await server?.close();
  await agent.stop();
});

const summaryOf = async (deployment: string, tag: string) => {
  const reply = await admin.get<VersionView>(`/v1/deployments/${deployment}/versions/${tag}?limit=1`);
  expect(reply.status).toBe(200);
  return reply.body.summary;
};

/** A deployment over `environments` and its ready version v1, after `hold` (which keeps its releases from finishing). */
async function releaseVersion(deployment: string, environments: string[], hold: () => Promise<unknown>) {
  await admin.put(`/v1/deployments/${deployment}`, {
    environments,
    jobAgent: { type: 'webhook', url: agent.url },
  });
  await hold();
  expect((await admin.post(`/v1/deployments/${deployment}/versions`, { tag: 'v1' })).status).toBe(201);
}

/** Waits until the releases of the deployment's v1 count `expected` per status. */
const countsReach = (deployment: string, expected: Record<string, number>, timeoutMs = 120_000) =>
  eventually(
    () => summaryOf(deployment, 'v1'),
    (s) => isDeepStrictEqual(s, expected),
    { timeoutMs, intervalMs: 250 },
  );

/** The version's `Release Cancelled` events, once every one of `count` is there: one per release. */
async function cancelledOnce(deployment: string, count: number) {
  const events = await eventually(
    async () => (await allEvents(admin, deployment)).filter((e) => e.detailType === 'Release Cancelled'),
    (cancelled) => cancelled.length >= count,
    { timeoutMs: 20_000, intervalMs: 250 },
  );
  const perRelease = countBy(events, (e) => `${e.environment}/${e.resource}`);
  expect(perRelease.size).toBe(count);
  expect([...perRelease.values()].every((n) => n === 1)).toBe(true);
  return events;
}

const cancelWork = () => [...workRequests.keys()].filter((id) => id.startsWith('cancel-version#'));

describe('cancelling a version over more releases than one chunk', () => {
  // The three versions fan out together, and every release is in place before a test cancels (the
  // local runtime is one process: a fan-out running beside a request slows it down). None of their
  // releases can finish: a pause, a freeze or a job that never answers holds each.
  beforeAll(async () => {
    await releaseVersion('big', ['fleet'], () => admin.post('/v1/deployments/big/pause'));
    await releaseVersion('rejected', ['fleet', 'solo'], () =>
      admin.put('/v1/freezes/hold-rejected', {
        reason: 'held for the test',
        selector: "deployment.id == 'rejected' && environment.id == 'fleet'",
      }),
    );
    // One release asks for the approval; a rejection cancels every undispatched release of its environment.
    await releaseVersion('gated', ['fleet'], async () => {
      await admin.post('/v1/deployments/gated/pause');
      await admin.put('/v1/policies/gated-approval', {
        targets: "deployment.id == 'gated' && resource.id == 'n-00000'",
        rules: { approval: { minApprovals: 1 } },
      });
    });
    await countsReach('big', { waiting: COUNT });
    // solo's two releases dispatched their jobs (which never answer); fleet's wait for the freeze.
    await countsReach('rejected', { deploying: 2, waiting: COUNT });
    await countsReach('gated', { waiting: COUNT });
  }, 150_000);

  it(`POST .../cancel of ${COUNT} releases cancels ${CANCELS_PER_CHUNK} in the request and the rest off it, each once`, async () => {
    const queuedBefore = cancelWork().length;

    const reply = await admin.post<VersionView>('/v1/deployments/big/versions/v1/cancel', {
      reason: 'bad build',
    });
    expect(reply.status, reply.text).toBe(200);
    expect(reply.body.version.tag).toBe('v1');
    expect(Object.values(reply.body.summary).reduce((a, b) => a + b, 0)).toBe(COUNT);
    expect(reply.body.summary.cancelled).toBeGreaterThanOrEqual(CANCELS_PER_CHUNK);

    await countsReach('big', { cancelled: COUNT }, 30_000);
    const events = await cancelledOnce('big', COUNT);
    expect(events.every((e) => e.data?.message === 'Cancelled: bad build')).toBe(true);
    // The override counts the chunk cancelled in the request and says the rest follow.
    const override = (await allEvents(admin, 'big')).filter(
      (e) => e.detailType === 'Override Applied' && e.data?.override === 'cancel',
    );
    expect(override.map((e) => e.data)).toEqual([
      { override: 'cancel', reason: 'bad build', cancelled: CANCELS_PER_CHUNK, continuing: true },
    ]);
    // The rest went as one work item, in one more chunk.
    const queued = cancelWork().slice(queuedBefore);
    expect(queued).toHaveLength(1);
    expect(workRequests.get(queued[0] as string)).toBe(1);
    const running = server.engine
      .listExecutions({ stateMachineArn: ROLLOUT, statusFilter: 'RUNNING' })
      .filter((e) => e.input?.includes('"deployment":"big"'));
    expect(running).toHaveLength(0);
  }, 120_000);

  it('PATCH rejected cancels every release with no job yet, off the request past the first chunk', async () => {
    const queuedBefore = cancelWork().length;

    const reply = await admin.patch<VersionView>('/v1/deployments/rejected/versions/v1', {
      status: 'rejected',
    });
    expect(reply.status).toBe(200);
    expect(reply.body.version.status).toBe('rejected');

    // The dispatched ones are left alone.
    await countsReach('rejected', { cancelled: COUNT, deploying: 2 }, 30_000);
    const events = await cancelledOnce('rejected', COUNT);
    expect(events.every((e) => e.environment === 'fleet')).toBe(true);
    expect(events.every((e) => e.data?.message === 'The version was rejected.')).toBe(true);
    expect(cancelWork().slice(queuedBefore)).toHaveLength(1);
  }, 120_000);

  it('a rejected approval cancels the undispatched releases of its environment, however many, each once', async () => {
    const pending = await approver.get<{ items: { approvalId: string; deployment: string }[] }>(
      '/v1/approvals?status=pending',
    );
    const approval = pending.body.items.find((a) => a.deployment === 'gated');
    if (!approval) throw new Error('no approval for gated');
    const queuedBefore = cancelWork().length;

    const decided = await approver.post(`/v1/approvals/${approval.approvalId}/decision`, {
      decision: 'reject',
      reason: 'not now',
    });
    expect(decided.status).toBe(200);

    await countsReach('gated', { cancelled: COUNT }, 30_000);
    const events = await cancelledOnce('gated', COUNT);
    expect(events.every((e) => String(e.data?.message).includes('not now'))).toBe(true);
    expect(cancelWork().slice(queuedBefore)).toHaveLength(1);
    expect(agent.jobs.filter((j) => j.deployment.id === 'gated')).toHaveLength(0);
  }, 120_000);

  it('a chunk run twice (a redelivered work event, the sweep) cancels nothing twice', async () => {
    await releaseVersion('twice', ['solo'], () => admin.post('/v1/deployments/twice/pause'));
    await countsReach('twice', { waiting: 2 });
    const task: CancelTask = {
      type: 'cancel-version',
      deployment: 'twice',
      tag: 'v1',
      onlyUndispatched: false,
      message: 'Cancelled twice.',
      actor: { keyId: 'admin' },
    };
    const [one, two] = await Promise.all([cancelChunk(runtime(), task), cancelChunk(runtime(), task)]);
    const again = await cancelChunk(runtime(), task);
    expect(one.cancelled + two.cancelled).toBe(2);
    expect(again).toEqual({ cancelled: 0 });
    expect(await summaryOf('twice', 'v1')).toEqual({ cancelled: 2 });
    await cancelledOnce('twice', 2);
  }, 60_000);
});
