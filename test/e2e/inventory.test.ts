import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalServer } from '../../infra/local/server';
import { FakeAgent } from '../helpers/agent';
import { type Client, eventually } from '../helpers/client';
import { startTestServer } from '../helpers/local';

/** Release targets follow the inventory (docs/api.md section 4), and objects in use cannot be deleted. */
interface Release {
  resource: string;
  status: string;
  message: string | null;
}
let server: LocalServer;
let admin: Client;
const agent = new FakeAgent();

beforeAll(async () => {
  await agent.start();
  ({ server, admin } = await startTestServer());
  await admin.post('/v1/resource-providers/cloud/sync', {
    resources: ['n-1', 'n-2'].map((id) => ({ id, kind: 'vm', name: id, metadata: { env: 'prod' } })),
  });
  await admin.put('/v1/environments/prod', { resourceSelector: "resource.metadata.env == 'prod'" });
  await admin.put('/v1/deployments/web', { jobAgent: { type: 'webhook', url: agent.url } });
});

afterAll(async () => {
  await server?.close();
  await agent.stop();
});

const releases = async (tag: string) =>
  (await admin.get<{ releases: Release[] }>(`/v1/deployments/web/versions/${tag}`)).body.releases;

describe('the inventory drives release targets', () => {
  it('a resource that joins gets the newest ready version at once; one that leaves has its rollout cancelled', async () => {
    agent.behaviour = () => 'successful';
    await admin.post('/v1/deployments/web/versions', { tag: 'v1' });
    await eventually(
      () => releases('v1'),
      (r) => r.length === 2 && r.every((x) => x.status === 'successful'),
    );

    const joined = await admin.put('/v1/resources/n-3', {
      kind: 'vm',
      name: 'n-3',
      metadata: { env: 'prod' },
    });
    expect(joined.status).toBe(201);
    const three = await eventually(
      () => releases('v1'),
      (r) => r.length === 3 && r.every((x) => x.status === 'successful'),
    );
    expect(three.map((r) => r.resource).sort()).toEqual(['n-1', 'n-2', 'n-3']);

    // n-2 leaves through the provider's sync while its v2 job runs: that rollout is cancelled.
    agent.behaviour = () => 'none';
    await admin.post('/v1/deployments/web/versions', { tag: 'v2' });
    await eventually(
      () => releases('v2'),
      (r) => r.length === 3 && r.every((x) => x.status === 'deploying'),
    );
    const inUse = await admin.delete('/v1/resources/n-3');
    expect(inUse.status).toBe(409);
    expect((inUse.body as { error: { code: string } }).error.code).toBe('conflict');
    const sync = await admin.post<{ created: number; updated: number; deleted: number; unchanged: number }>(
      '/v1/resource-providers/cloud/sync',
      { resources: [{ id: 'n-1', kind: 'vm', name: 'n-1', metadata: { env: 'prod' } }] },
    );
    expect(sync.body).toEqual({ created: 0, updated: 0, deleted: 1, unchanged: 1 });
    const after = await eventually(
      () => releases('v2'),
      (r) => r.find((x) => x.resource === 'n-2')?.status === 'cancelled',
    );
    expect(after.find((x) => x.resource === 'n-2')?.message).toContain('no longer exists');
    for (const job of agent.jobs.filter((j) => j.version.tag === 'v2' && j.resource.id !== 'n-2'))
      await agent.report(job, 'successful');
    await eventually(
      () => releases('v2'),
      (r) => r.filter((x) => x.status === 'successful').length === 2,
    );
    expect((await admin.delete('/v1/deployments/web')).status).toBe(204);
  });
});
