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
