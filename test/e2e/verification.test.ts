import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalServer } from '../../infra/local/server';
import { FakeAgent } from '../helpers/agent';
import { type Client, eventually } from '../helpers/client';
import { startTestServer } from '../helpers/local';

/**
 * Issue "Verification and automatic rollback", through the local server (GANTRY_TIME_SCALE=60): a
 * bad metric after a deploy rolls every affected target back to its last good version; a failed job
 * does the same; a first-ever failure ends `failed` with no rollback job; a provider that times out
 * is inconclusive, not healthy; measurements are readable per release.
 */
interface Release {
  resource: string;
  status: string;
  rolledBackTo: string | null;
  message: string | null;
  verification: {
    status: string;
    metrics: { name: string; status: string; last: { outcome: string; value?: unknown } | null }[];
  } | null;
}
interface VersionView {
  releases: Release[];
}

let server: LocalServer;
let admin: Client;
const agent = new FakeAgent();
let health: 'good' | 'bad' | 'hang' = 'good';
let metrics: Server;
let metricsUrl = '';

beforeAll(async () => {
  metrics = createServer((_req, res) => {
    if (health === 'hang') return; // never answers
    res
      .writeHead(200, { 'content-type': 'application/json' })
      .end(JSON.stringify({ errorRate: health === 'good' ? 0.001 : 0.2 }));
  });
  await new Promise<void>((resolve) => metrics.listen(0, '127.0.0.1', resolve));
  metricsUrl = `http://127.0.0.1:${(metrics.address() as AddressInfo).port}/metrics`;
  await agent.start();
  ({ server, admin } = await startTestServer({ timeScale: 60 }));
  for (const id of ['web-1', 'web-2'])
    await admin.put(`/v1/resources/${id}`, { kind: 'vm', name: id, metadata: { env: 'prod' } });
  await admin.put('/v1/environments/prod', { resourceSelector: "resource.metadata.env == 'prod'" });
  await admin.put('/v1/deployments/web', { jobAgent: { type: 'webhook', url: agent.url } });
  const policy = await admin.put('/v1/policies/verify-and-roll-back', {
    targets: "deployment.id == 'web'",
    rules: {
      verification: {
        metrics: [
          {
            name: 'error-rate',
            provider: { type: 'http', url: metricsUrl, method: 'GET', timeoutSeconds: 1 },
            intervalSeconds: 60,
            count: 3,
            failureLimit: 0,
            inconclusiveLimit: 0,
            consecutiveSuccessLimit: 2,
            successCondition: 'result.json.errorRate < 0.01',
          },
        ],
      },
      rollback: { onJobFailure: true, onVerificationFailure: true },
    },
  });
  expect(policy.status).toBe(201);
});

afterAll(async () => {
  await server?.close();
  await agent.stop();
  metrics?.close();
});

const view = (tag: string, deployment = 'web') =>
  admin.get<VersionView>(`/v1/deployments/${deployment}/versions/${tag}`);
const settled = (v: VersionView) =>
  v.releases.length > 0 &&
  v.releases.every((r) =>
    ['successful', 'failed', 'rolled_back', 'cancelled', 'superseded'].includes(r.status),
  );
const rollbackJobs = (tag: string) =>
  agent.jobs.filter((j) => j.kind === 'rollback' && j.version.tag === tag);

describe('verification and automatic rollback', () => {
  it('a healthy deploy passes verification and shows its measurements', async () => {
    health = 'good';
    await admin.post('/v1/deployments/web/versions', { tag: 'v1' });
    const done = await eventually(
      () => view('v1'),
      (r) => settled(r.body),
      { timeoutMs: 20_000 },
    );
    expect(done.body.releases.map((r) => r.status)).toEqual(['successful', 'successful']);
    const verification = done.body.releases[0]?.verification;
    expect(verification?.status).toBe('passed');
    expect(verification?.metrics[0]?.last?.outcome).toBe('success');
    // Issue 17 item 3: the status, never the body the metric endpoint answered (errorRate 0.001).
    expect(verification?.metrics[0]?.last?.value).toEqual({ status: 200 });
  });

  it('a bad metric rolls every affected target back to its last good version', async () => {
    health = 'bad';
    await admin.post('/v1/deployments/web/versions', { tag: 'v2' });
    const done = await eventually(
      () => view('v2'),
      (r) => settled(r.body),
      { timeoutMs: 20_000 },
    );
    expect(done.body.releases.map((r) => [r.status, r.rolledBackTo])).toEqual([
      ['rolled_back', 'v1'],
      ['rolled_back', 'v1'],
    ]);
    expect(done.body.releases[0]?.verification?.metrics[0]?.last?.outcome).toBe('failure');
    expect(rollbackJobs('v1')).toHaveLength(2);
    const targets = await admin.get<{ items: { currentVersion: string }[] }>(
      '/v1/release-targets?deployment=web',
    );
    expect(targets.body.items.map((t) => t.currentVersion)).toEqual(['v1', 'v1']);
    const events = await admin.get<{
      items: { detailType: string; version: string; data: { verification?: unknown } }[];
    }>('/v1/events?deployment=web&limit=1000');
    const rolledBack = events.body.items.filter(
      (e) => e.detailType === 'Release Rolled Back' && e.version === 'v2',
    );
    expect(rolledBack).toHaveLength(2);
    expect(JSON.stringify(rolledBack[0]?.data.verification)).toContain('error-rate');
  });

  it('a failed job rolls back too', async () => {
    health = 'good';
    agent.behaviour = (job) => (job.kind === 'deploy' && job.version.tag === 'v3' ? 'failed' : 'successful');
    await admin.post('/v1/deployments/web/versions', { tag: 'v3' });
    const done = await eventually(
      () => view('v3'),
      (r) => settled(r.body),
      { timeoutMs: 20_000 },
    );
    expect(done.body.releases.map((r) => [r.status, r.rolledBackTo])).toEqual([
      ['rolled_back', 'v1'],
      ['rolled_back', 'v1'],
    ]);
    expect(rollbackJobs('v1')).toHaveLength(4);
  });

  it('a provider that times out is inconclusive, not healthy', async () => {
    health = 'hang';
    agent.behaviour = () => 'successful';
    await admin.post('/v1/deployments/web/versions', { tag: 'v4' });
    const done = await eventually(
      () => view('v4'),
      (r) => settled(r.body),
      { timeoutMs: 20_000 },
    );
    expect(done.body.releases.map((r) => r.status)).toEqual(['rolled_back', 'rolled_back']);
    expect(done.body.releases[0]?.verification?.metrics[0]?.last?.outcome).toBe('inconclusive');
    health = 'good';
  });

  it('a first-ever failure ends failed with no rollback job', async () => {
    await admin.put('/v1/deployments/fresh', { jobAgent: { type: 'webhook', url: agent.url } });
    await admin.put('/v1/policies/fresh-rollback', {
      targets: "deployment.id == 'fresh'",
      rules: { rollback: { onJobFailure: true } },
    });
    agent.behaviour = (job) => (job.deployment.id === 'fresh' ? 'failed' : 'successful');
    const before = agent.jobs.filter((j) => j.kind === 'rollback').length;
    await admin.post('/v1/deployments/fresh/versions', { tag: 'f1' });
    const done = await eventually(
      () => view('f1', 'fresh'),
      (r) => settled(r.body),
      { timeoutMs: 20_000 },
    );
    expect(done.body.releases.map((r) => r.status)).toEqual(['failed', 'failed']);
    expect(done.body.releases[0]?.message).toContain('No earlier successful version');
    expect(agent.jobs.filter((j) => j.kind === 'rollback').length).toBe(before);
    agent.behaviour = () => 'successful';
  });

  it('rolls back on demand past every gate, and answers 409 with nothing to roll back to', async () => {
    health = 'good';
    await admin.post('/v1/deployments/web/versions', { tag: 'v5' });
    await eventually(
      () => view('v5'),
      (r) => settled(r.body) && r.body.releases.every((x) => x.status === 'successful'),
      { timeoutMs: 20_000 },
    );
    const reply = await admin.post<{ jobId: string; toVersion: string }>('/v1/release-targets/rollback', {
      deployment: 'web',
      environment: 'prod',
      resource: 'web-1',
      reason: 'pager',
    });
    expect(reply.status).toBe(202);
    expect(reply.body.toVersion).toBe('v1');
    await eventually(
      async () => agent.jobs.find((j) => j.jobId === reply.body.jobId),
      (job) => job?.kind === 'rollback',
    );
    const targets = await eventually(
      () =>
        admin.get<{ items: { resource: string; currentVersion: string }[] }>(
          '/v1/release-targets?deployment=web',
        ),
      (r) => r.body.items.find((t) => t.resource === 'web-1')?.currentVersion === 'v1',
    );
    expect(targets.body.items.find((t) => t.resource === 'web-2')?.currentVersion).toBe('v5');
    const none = await admin.post('/v1/release-targets/rollback', {
      deployment: 'fresh',
      environment: 'prod',
      resource: 'web-1',
    });
    expect(none.status).toBe(409);
  });
});
