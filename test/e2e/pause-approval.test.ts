import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalServer } from '../../infra/local/server';
import { FakeAgent } from '../helpers/agent';
import { type Client, eventually } from '../helpers/client';
import { startTestServer } from '../helpers/local';

/**
 * Issue 16 item 8 (docs/api.md section 5): pause holds only dispatch. A paused deployment still asks for
 * its approvals, approvers can approve while it is paused, and the release ships when it resumes.
 */
let server: LocalServer;
let admin: Client;
const agent = new FakeAgent();
interface Release {
  status: string;
  waitingFor: string | null;
}

beforeAll(async () => {
  await agent.start();
  ({ server, admin } = await startTestServer());
  await admin.put('/v1/resources/n-1', { kind: 'vm', name: 'n-1', metadata: {} });
  await admin.put('/v1/environments/prod', { resourceSelector: 'true' });
  await admin.put('/v1/deployments/paused-app', { jobAgent: { type: 'webhook', url: agent.url } });
  await admin.put('/v1/policies/needs-approval', {
    targets: "deployment.id == 'paused-app'",
    rules: { approval: { minApprovals: 1 } },
  });
});
afterAll(async () => {
  await server?.close();
  await agent.stop();
});

const release = async () =>
  (await admin.get<{ releases: Release[] }>('/v1/deployments/paused-app/versions/v1')).body.releases[0];

describe('pause and approvals', () => {
  it('a paused deployment asks for approval; an approval given while paused ships on resume', async () => {
    expect((await admin.post('/v1/deployments/paused-app/pause')).status).toBe(200);
    await admin.post('/v1/deployments/paused-app/versions', { tag: 'v1' });

    await eventually(release, (r) => r?.waitingFor === 'approval');
    const pending = await eventually(
      () =>
        admin.get<{ items: { approvalId: string; deployment: string }[] }>('/v1/approvals?status=pending'),
      (r) => r.body.items.some((a) => a.deployment === 'paused-app'),
    );
    const approvalId = pending.body.items.find((a) => a.deployment === 'paused-app')?.approvalId;
    expect((await admin.post(`/v1/approvals/${approvalId}/decision`, { decision: 'approve' })).status).toBe(
      200,
    );

    // Approved, still paused: it waits at dispatch, and no job has gone out.
    await eventually(release, (r) => r?.waitingFor === 'paused');
    expect(agent.jobs.filter((j) => j.deployment.id === 'paused-app')).toEqual([]);

    expect((await admin.post('/v1/deployments/paused-app/resume')).status).toBe(200);
    await eventually(release, (r) => r?.status === 'successful');
    expect(agent.jobs.filter((j) => j.deployment.id === 'paused-app')).toHaveLength(1);
  });
});
