import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalServer } from '../../infra/local/server';
import { FakeAgent } from '../helpers/agent';
import { Client, eventually } from '../helpers/client';
import { ADMIN, startTestServer } from '../helpers/local';

/**
 * Issue 17 item 8: a `jobs:write` key limited to some deployments reports only their jobs (docs/api.md
 * section 2); another deployment's job is 403 and stays as it was.
 */
const WEB_AGENT = { id: 'agent-web', secret: 'agent-web-secret-0123456789abcdef' };
let server: LocalServer;
let admin: Client;
const agent = new FakeAgent();

beforeAll(async () => {
  await agent.start();
  agent.behaviour = () => 'none';
  ({ server, admin } = await startTestServer({
    apiKeys: JSON.stringify([
      { ...ADMIN, scopes: ['admin'] },
      { ...WEB_AGENT, scopes: ['jobs:write'], deployments: ['web'] },
    ]),
  }));
  await admin.put('/v1/resources/n-1', { kind: 'vm', name: 'n-1', metadata: {} });
  await admin.put('/v1/environments/prod', { resourceSelector: 'true' });
  for (const id of ['web', 'api']) {
    await admin.put(`/v1/deployments/${id}`, { jobAgent: { type: 'webhook', url: agent.url } });
    await admin.post(`/v1/deployments/${id}/versions`, { tag: 'v1' });
  }
});
afterAll(async () => {
  await server?.close();
  await agent.stop();
});

describe('a jobs:write key limited to deployments', () => {
  it("reports its deployments' jobs and is refused another's", async () => {
    const jobs = await eventually(
      async () => agent.jobs,
      (all) => all.length === 2,
    );
    const jobOf = (deployment: string) => jobs.find((j) => j.deployment.id === deployment)?.jobId as string;
    const webAgent = new Client(server.url, WEB_AGENT);

    const refused = await webAgent.post<{ error: { code: string } }>(`/v1/jobs/${jobOf('api')}/status`, {
      status: 'successful',
    });
    const accepted = await webAgent.post(`/v1/jobs/${jobOf('web')}/status`, { status: 'successful' });

    expect(refused.status).toBe(403);
    expect(refused.body.error.code).toBe('forbidden');
    expect(accepted.status).toBe(200);
    const api = await admin.get<{ releases: { status: string }[] }>('/v1/deployments/api/versions/v1');
    expect(api.body.releases.map((r) => r.status)).toEqual(['deploying']);
    await eventually(
      () => admin.get<{ releases: { status: string }[] }>('/v1/deployments/web/versions/v1'),
      (r) => r.body.releases[0]?.status === 'successful',
    );
  });
});
