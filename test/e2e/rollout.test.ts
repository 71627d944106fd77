import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalServer } from '../../infra/local/server';
import { FakeAgent } from '../helpers/agent';
import { type Client, eventually } from '../helpers/client';
import { startTestServer } from '../helpers/local';

interface VersionView {
  version: { status: string };
  releases: {
    environment: string;
    resource: string;
    status: string;
    jobId: string | null;
    message: string | null;
  }[];
}

let server: LocalServer;
let admin: Client;
const agent = new FakeAgent();

beforeAll(async () => {
  await agent.start();
  ({ server, admin } = await startTestServer());
  for (const [id, env] of [
    ['stg-1', 'staging'],
    ['prod-1', 'production'],
    ['prod-2', 'production'],
  ]) {
    expect(
      (await admin.put(`/v1/resources/${id}`, { kind: 'k8s', name: id, metadata: { env } })).status,
    ).toBe(201);
  }
  await admin.put('/v1/environments/staging', { resourceSelector: "resource.metadata.env == 'staging'" });
  await admin.put('/v1/environments/production', {
    resourceSelector: "resource.metadata.env == 'production'",
  });
  const dep = await admin.put('/v1/deployments/api', {
    name: 'API',
    environments: ['staging', 'production'],
    jobAgent: { type: 'webhook', url: agent.url },
  });
  expect(dep.status).toBe(201);
});

afterAll(async () => {
  await server?.close();
  await agent.stop();
});

const version = (tag: string) => admin.get<VersionView>(`/v1/deployments/api/versions/${tag}`);
const settled = (v: VersionView) =>
  v.releases.length > 0 &&
  v.releases.every((r) =>
    ['successful', 'failed', 'superseded', 'cancelled', 'rolled_back'].includes(r.status),
  );

describe('a version rolls out to every release target', () => {
  it('fans out, dispatches one job per target, and completes on the callbacks', async () => {
    agent.behaviour = () => 'successful';
    const created = await admin.post('/v1/deployments/api/versions', { tag: 'v1.0.0' });
    expect(created.status).toBe(201);
    expect(created.body.releaseTargets).toHaveLength(3);

    const done = await eventually(
      () => version('v1.0.0'),
      (r) => settled(r.body),
    );
    expect(done.body.releases.map((r) => r.status)).toEqual(['successful', 'successful', 'successful']);
    const jobs = agent.jobs.filter((j) => j.version.tag === 'v1.0.0');
    expect(jobs).toHaveLength(3);
    expect(new Set(jobs.map((j) => j.jobId)).size).toBe(3);
    expect(jobs[0]?.kind).toBe('deploy');

    const again = await admin.post('/v1/deployments/api/versions', { tag: 'v1.0.0' });
    expect(again.status).toBe(200);
    const different = await admin.post('/v1/deployments/api/versions', {
      tag: 'v1.0.0',
      metadata: { x: 'y' },
    });
    expect(different.status).toBe(409);
  });

  it('records a failed job as failed', async () => {
    agent.behaviour = (job) => (job.resource.id === 'prod-2' ? 'failed' : 'successful');
    await admin.post('/v1/deployments/api/versions', { tag: 'v1.0.1' });
    const done = await eventually(
      () => version('v1.0.1'),
      (r) => settled(r.body),
    );
    const byResource = Object.fromEntries(done.body.releases.map((r) => [r.resource, r.status]));
    expect(byResource).toEqual({ 'stg-1': 'successful', 'prod-1': 'successful', 'prod-2': 'failed' });
    const targets = await admin.get<{ items: { resource: string; currentVersion: string }[] }>(
      '/v1/release-targets?deployment=api',
    );
    const current = Object.fromEntries(targets.body.items.map((t) => [t.resource, t.currentVersion]));
    expect(current).toEqual({ 'stg-1': 'v1.0.1', 'prod-1': 'v1.0.1', 'prod-2': 'v1.0.0' });
  });
});

describe('supersede and pause', () => {
  it('a newer version supersedes an older one that has not dispatched', async () => {
    agent.behaviour = () => 'successful';
    expect((await admin.post('/v1/deployments/api/pause', { reason: 'freeze' })).status).toBe(200);
    await admin.post('/v1/deployments/api/versions', { tag: 'v2.0.0' });
    const waiting = await eventually(
      () => version('v2.0.0'),
      (r) => r.body.releases.length === 3 && r.body.releases.every((x) => x.status === 'waiting'),
    );
    expect(waiting.body.releases.map((r) => (r as { waitingFor?: string }).waitingFor)).toEqual([
      'paused',
      'paused',
      'paused',
    ]);
    const jobsBefore = agent.jobs.length;

    await admin.post('/v1/deployments/api/versions', { tag: 'v2.0.1' });
    const old = await eventually(
      () => version('v2.0.0'),
      (r) => settled(r.body),
    );
    expect(old.body.releases.map((r) => r.status)).toEqual(['superseded', 'superseded', 'superseded']);
    expect(old.body.releases[0]?.message).toContain('v2.0.1');
    expect(agent.jobs.length).toBe(jobsBefore);

    expect((await admin.post('/v1/deployments/api/resume')).status).toBe(200);
    const fresh = await eventually(
      () => version('v2.0.1'),
      (r) => settled(r.body),
    );
    expect(fresh.body.releases.map((r) => r.status)).toEqual(['successful', 'successful', 'successful']);
    expect(agent.jobs.filter((j) => j.version.tag === 'v2.0.0')).toHaveLength(0);
    // The superseded releases' executions were stopped, not left parked.
    const executions = server.engine
      .listExecutions({
        stateMachineArn: 'arn:aws:states:us-east-1:000000000000:stateMachine:gantry-rollout',
      })
      .filter((e) => e.input?.includes('"tag":"v2.0.0"'));
    expect(executions.map((e) => e.status)).toEqual(['ABORTED', 'ABORTED', 'ABORTED']);
  });

  it('a newer version waits for a dispatched job of an older one, then deploys', async () => {
    agent.behaviour = () => 'none';
    await admin.post('/v1/deployments/api/versions', { tag: 'v3.0.0' });
    await eventually(
      () => version('v3.0.0'),
      (r) => r.body.releases.length === 3 && r.body.releases.every((x) => x.status === 'deploying'),
    );
    await admin.post('/v1/deployments/api/versions', { tag: 'v3.0.1' });
    const held = await eventually(
      () => version('v3.0.1'),
      (r) =>
        r.body.releases.length === 3 &&
        r.body.releases.every((x) => x.status === 'pending' && x.message !== null),
    );
    expect(held.body.releases[0]?.message).toContain('v3.0.0');

    agent.behaviour = () => 'successful';
    for (const job of agent.jobs.filter((j) => j.version.tag === 'v3.0.0'))
      await agent.report(job, 'successful');
    const older = await eventually(
      () => version('v3.0.0'),
      (r) => settled(r.body),
    );
    expect(older.body.releases.map((r) => r.status)).toEqual(['successful', 'successful', 'successful']);
    const newer = await eventually(
      () => version('v3.0.1'),
      (r) => settled(r.body),
    );
    expect(newer.body.releases.map((r) => r.status)).toEqual(['successful', 'successful', 'successful']);
  });
});

describe('job callbacks', () => {
  it('check the token, accept a repeated status and refuse a different one', async () => {
    agent.behaviour = () => 'none';
    await admin.post('/v1/deployments/api/versions', { tag: 'v4.0.0' });
    await eventually(
      () => version('v4.0.0'),
      (r) => r.body.releases.length === 3 && r.body.releases.every((x) => x.status === 'deploying'),
    );
    await eventually(
      async () => agent.jobs.filter((j) => j.version.tag === 'v4.0.0').length,
      (n) => n === 3,
    );
    const [first, second] = agent.jobs.filter((j) => j.version.tag === 'v4.0.0');
    if (!first || !second) throw new Error('jobs missing');

    expect((await agent.report(first, 'successful', 'wrong-token')).status).toBe(401);
    expect((await agent.report(first, 'successful', second.callback.token)).status).toBe(401);
    const progress = await agent.report(first, 'in_progress');
    expect(progress.status).toBe(200);
    expect(progress.body.status).toBe('in_progress');
    expect(JSON.stringify(progress.body)).not.toContain(first.callback.token);

    expect((await agent.report(first, 'successful')).status).toBe(200);
    expect((await agent.report(first, 'successful')).status).toBe(200);
    const conflicting = await agent.report(first, 'failed');
    expect(conflicting.status).toBe(409);
    expect((conflicting.body.error as { code: string }).code).toBe('conflict');

    // A jobs:write key may report too; an unknown job is 404.
    const key = new (await import('../helpers/client')).Client(server.url, {
      id: 'agent',
      secret: 'agent-secret-0123456789abcdef',
    });
    expect((await key.post(`/v1/jobs/${second.jobId}/status`, { status: 'successful' })).status).toBe(200);
    expect(
      (await key.post('/v1/jobs/0123456789abcdef0123456789abcdef/status', { status: 'successful' })).status,
    ).toBe(404);
    for (const job of agent.jobs.filter((j) => j.version.tag === 'v4.0.0').slice(2))
      await agent.report(job, 'successful');
    const done = await eventually(
      () => version('v4.0.0'),
      (r) => settled(r.body),
    );
    expect(done.body.releases.map((r) => r.status)).toEqual(['successful', 'successful', 'successful']);
  });

  it('fails a job that does not report within jobTimeoutSeconds', async () => {
    agent.behaviour = () => 'none';
    await admin.put('/v1/deployments/slow', {
      environments: ['staging'],
      jobAgent: { type: 'webhook', url: agent.url },
      jobTimeoutSeconds: 1,
    });
    await admin.post('/v1/deployments/slow/versions', { tag: 'v1' });
    const done = await eventually(
      () => admin.get<VersionView>('/v1/deployments/slow/versions/v1'),
      (r) => settled(r.body),
    );
    expect(done.body.releases[0]?.status).toBe('failed');
    expect(done.body.releases[0]?.message).toContain('timed out');
    const late = agent.jobs.find((j) => j.deployment.id === 'slow');
    if (!late) throw new Error('no job');
    expect((await agent.report(late, 'successful')).status).toBe(409);
  });
});

describe('events', () => {
  it('keeps the audit trail in order and in events.jsonl, with no tokens', async () => {
    const page = await admin.get<{ items: { detailType: string; version?: string }[] }>(
      '/v1/events?deployment=api&limit=1000',
    );
    const types = page.body.items.filter((e) => e.version === 'v1.0.0').map((e) => e.detailType);
    expect(types[0]).toBe('Version Created');
    for (const type of ['Release Started', 'Job Dispatched', 'Job Updated', 'Release Succeeded'])
      expect(types).toContain(type);
    await server.bus.flush();
    const { readFileSync } = await import('node:fs');
    const lines = readFileSync(`${server.dataDir}/events.jsonl`, 'utf8');
    expect(lines).toContain('"detail-type":"Release Succeeded"');
    for (const job of agent.jobs) {
      expect(lines).not.toContain(job.callback.token);
      expect(JSON.stringify(page.body)).not.toContain(job.callback.token);
    }
  });
});
