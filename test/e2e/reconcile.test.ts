import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalServer } from '../../infra/local/server';
import { TARGETS_PER_CHUNK } from '../../shared/services/rollouts/reconcile';
import { FakeAgent } from '../helpers/agent';
import { type Client, eventually } from '../helpers/client';
import { startTestServer } from '../helpers/local';

/**
 * Asynchronous reconciliation (docs/api.md sections 3 and 4): writes answer at once, the work they cause
 * runs off the request in bounded chunks, and a provider's set larger than one body syncs in pages.
 */
interface Counts {
  created: number;
  updated: number;
  deleted: number;
  unchanged: number;
}
interface Version {
  releases: { resource: string; environment: string; status: string; waitingFor: string | null }[];
}
const vm = (id: string, env = 'prod', extra: Record<string, string> = {}) => ({
  id,
  kind: 'vm',
  name: id,
  metadata: { env, ...extra },
});

let server: LocalServer;
let admin: Client;
const agent = new FakeAgent();

beforeAll(async () => {
  await agent.start();
  ({ server, admin } = await startTestServer());
  server.bus.tap = (event) => {
    const id = (event.detail as { data?: { workId?: string } }).data?.workId;
    if (event['detail-type'] === 'Work Requested' && id) chunks.set(id, (chunks.get(id) ?? 0) + 1);
  };
});

afterAll(async () => {
  await server?.close();
  await agent.stop();
});

/** The `Work Requested` events of the local bus, per work id: one per chunk asked for. */
const chunks = new Map<string, number>();
const chunksPerWork = () => chunks;

describe('a provider sync in pages', () => {
  it('adds each page at once, deletes what no page named only when the final page closes the session', async () => {
    const first = await admin.post<Counts>('/v1/resource-providers/paged/sync', {
      resources: [vm('old-1'), vm('keep-1')],
    });
    expect(first.body).toEqual({ created: 2, updated: 0, deleted: 0, unchanged: 0 });

    const page1 = await admin.post<Counts>('/v1/resource-providers/paged/sync', {
      resources: [vm('p-1'), vm('p-2'), vm('keep-1')],
      page: { session: 's-1', final: false },
    });
    expect(page1.status).toBe(200);
    expect(page1.body).toEqual({ created: 2, updated: 0, deleted: 0, unchanged: 1 });
    const page2 = await admin.post<Counts>('/v1/resource-providers/paged/sync', {
      resources: [vm('p-3'), vm('p-1', 'staging')],
      page: { session: 's-1', final: false },
    });
    expect(page2.body).toEqual({ created: 3, updated: 1, deleted: 0, unchanged: 1 });
    // Nothing is deleted while the session is open.
    expect((await admin.get('/v1/resources/old-1')).status).toBe(200);
    expect((await admin.get('/v1/resources/p-3')).status).toBe(200);

    const final = { resources: [vm('p-4')], page: { session: 's-1', final: true } };
    const closed = await admin.post<Counts>('/v1/resource-providers/paged/sync', final);
    expect(closed.body).toEqual({ created: 4, updated: 1, deleted: 1, unchanged: 1 });
    expect((await admin.get('/v1/resources/old-1')).status).toBe(404);
    for (const id of ['keep-1', 'p-1', 'p-2', 'p-3', 'p-4'])
      expect((await admin.get(`/v1/resources/${id}`)).status).toBe(200);

    // A retried final page (its answer was lost) answers the same counts and deletes nothing more.
    const again = await admin.post<Counts>('/v1/resource-providers/paged/sync', final);
    expect(again.status).toBe(200);
    expect(again.body).toEqual(closed.body);
    expect((await admin.get('/v1/resources/p-2')).status).toBe(200);
    // A page sent to a closed session is refused.
    const late = await admin.post('/v1/resource-providers/paged/sync', {
      resources: [vm('p-9')],
      page: { session: 's-1', final: false },
    });
    expect(late.status).toBe(409);
    expect((await admin.get('/v1/resources/p-9')).status).toBe(404);
  });

  it('a page naming a resource another provider owns is refused whole', async () => {
    await admin.put('/v1/resources/hand-made', { kind: 'vm', name: 'hand-made', metadata: {} });
    const refused = await admin.post<{ error: { code: string; message: string } }>(
      '/v1/resource-providers/other/sync',
      { resources: [vm('fresh-1'), vm('hand-made')], page: { session: 's-2', final: false } },
    );
    expect(refused.status).toBe(409);
    expect(refused.body.error.message).toContain('hand-made');
    expect((await admin.get('/v1/resources/fresh-1')).status).toBe(404);
  });

  it('refuses a malformed page with 400', async () => {
    const bad = await admin.post('/v1/resource-providers/paged/sync', {
      resources: [],
      page: { session: '', final: 'yes' },
    });
    expect(bad.status).toBe(400);
  });
});

describe('reconciliation runs off the request, in bounded chunks', () => {
  const COUNT = TARGETS_PER_CHUNK + 20;

  it(`an environment PUT that makes ${COUNT} release targets answers at once; every target gets one release and one execution`, async () => {
    await admin.post('/v1/resource-providers/fleet/sync', {
      resources: Array.from({ length: COUNT }, (_, i) => vm(`f-${String(i).padStart(4, '0')}`, 'fleet')),
    });
    // A paused deployment: executions start and wait at dispatch, so no job has to run.
    await admin.put('/v1/deployments/big', {
      environments: ['fleet'],
      jobAgent: { type: 'webhook', url: agent.url },
    });
    await admin.post('/v1/deployments/big/pause');
    const nothing = await admin.post<{ releaseTargetCount: number }>('/v1/deployments/big/versions', {
      tag: 'v1',
    });
    expect(nothing.body.releaseTargetCount).toBe(0);

    const started = performance.now();
    const put = await admin.put('/v1/environments/fleet', {
      resourceSelector: "resource.metadata.env == 'fleet'",
    });
    const answeredMs = performance.now() - started;
    expect(put.status).toBe(201);
    // The answer does not wait for the releases (they take seconds here); a generous bound for CI.
    expect(answeredMs).toBeLessThan(3000);

    const view = await eventually(
      () => admin.getAll<Version>('/v1/deployments/big/versions/v1', 'releases'),
      (v) => v.body.releases.length === COUNT && v.body.releases.every((r) => r.waitingFor === 'paused'),
      { timeoutMs: 90_000, intervalMs: 500 },
    );
    expect(new Set(view.body.releases.map((r) => r.resource)).size).toBe(COUNT);
    const executions = server.engine
      .listExecutions({
        stateMachineArn: 'arn:aws:states:us-east-1:000000000000:stateMachine:gantry-rollout',
      })
      .filter((e) => e.input?.includes('"deployment":"big"'));
    expect(executions.length).toBe(COUNT);
    // The work went in several chunks of at most TARGETS_PER_CHUNK targets.
    expect(Math.max(...chunksPerWork().values())).toBeGreaterThanOrEqual(2);
  }, 120_000);

  it('a selector change cancels the rollouts of the targets that leave and releases the ones that join', async () => {
    const moved = await admin.put('/v1/environments/fleet', {
      resourceSelector: "resource.metadata.env == 'fleet' && resource.id < 'f-0100'",
    });
    expect(moved.status).toBe(200);
    const view = await eventually(
      () => admin.getAll<Version>('/v1/deployments/big/versions/v1', 'releases'),
      (v) => v.body.releases.filter((r) => r.status === 'cancelled').length === COUNT - 100,
      { timeoutMs: 90_000, intervalMs: 500 },
    );
    const kept = view.body.releases.filter((r) => r.status !== 'cancelled').map((r) => r.resource);
    expect(kept.length).toBe(100);
    expect(kept.every((id) => id < 'f-0100')).toBe(true);
    // The targets that left are no longer release targets.
    const listed = await eventually(
      () => admin.getAll<{ items: { resource: string }[] }>('/v1/release-targets?deployment=big&limit=1000'),
      (r) => r.body.items.length === 100,
      { timeoutMs: 30_000, intervalMs: 500 },
    );
    expect(listed.body.items.every((t) => t.resource < 'f-0100')).toBe(true);
  }, 120_000);
});

describe('fan-out at the pace Step Functions allows', () => {
  it('starts every execution when StartExecution throttles, none twice', async () => {
    const slow = await startTestServer({ startExecutionRate: { burst: 5, perSecond: 10 } });
    try {
      await slow.admin.post('/v1/resource-providers/t/sync', {
        resources: Array.from({ length: 60 }, (_, i) => vm(`t-${i}`, 'tprod')),
      });
      await slow.admin.put('/v1/environments/tprod', {
        resourceSelector: "resource.metadata.env == 'tprod'",
      });
      await slow.admin.put('/v1/deployments/t', { jobAgent: { type: 'webhook', url: agent.url } });
      await slow.admin.post('/v1/deployments/t/pause');
      const created = await slow.admin.post<{ releaseTargetCount: number }>('/v1/deployments/t/versions', {
        tag: 'v1',
      });
      expect(created.body.releaseTargetCount).toBe(60);
      await eventually(
        () => slow.admin.getAll<Version>('/v1/deployments/t/versions/v1', 'releases'),
        (v) => v.body.releases.length === 60 && v.body.releases.every((r) => r.waitingFor === 'paused'),
        { timeoutMs: 60_000, intervalMs: 250 },
      );
      expect(slow.server.throttledStarts()).toBeGreaterThan(0);
      const names = slow.server.engine
        .listExecutions({
          stateMachineArn: 'arn:aws:states:us-east-1:000000000000:stateMachine:gantry-rollout',
        })
        .map((e) => e.name);
      expect(names.length).toBe(60);
      expect(new Set(names).size).toBe(60);
    } finally {
      await slow.server.close();
    }
  }, 90_000);
});
