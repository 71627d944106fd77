import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalServer } from '../../infra/local/server';
import { FakeAgent } from '../helpers/agent';
import { type Client, eventually } from '../helpers/client';
import { startTestServer } from '../helpers/local';
import { FakeSlack } from '../helpers/slack';

/** Slack buttons (v0-signed interactivity), approver identity, distinct approvers, and expiry. */
const SIGNING_SECRET = 'slack-signing-secret-for-tests';
let server: LocalServer;
let admin: Client;
let approver: Client;
const agent = new FakeAgent();
const slack = new FakeSlack();

interface Release {
  status: string;
  waitingFor: string | null;
  message: string | null;
}

beforeAll(async () => {
  await agent.start();
  await slack.start();
  process.env.SLACK_WEBHOOK_URL = slack.url;
  process.env.SLACK_SIGNING_SECRET = SIGNING_SECRET;
  let as: (id: string) => Client;
  ({ server, admin, as } = await startTestServer({ timeScale: 60 }));
  approver = as('approver');
  await admin.put('/v1/resources/p-1', { kind: 'vm', name: 'p-1', metadata: { env: 'production' } });
  await admin.put('/v1/environments/production', {
    resourceSelector: "resource.metadata.env == 'production'",
  });
  await admin.put('/v1/deployments/api', { jobAgent: { type: 'webhook', url: agent.url } });
  await admin.put('/v1/policies/two-approvers', {
    targets: "deployment.id == 'api'",
    rules: { approval: { minApprovals: 2, approvers: ['U1', 'U2', 'U3'] } },
  });
  agent.behaviour = () => 'successful';
});

afterAll(async () => {
  delete process.env.SLACK_WEBHOOK_URL;
  delete process.env.SLACK_SIGNING_SECRET;
  await server?.close();
  await agent.stop();
  await slack.stop();
});

function click(
  user: string,
  approvalId: string,
  action = 'gantry_approve',
  secret = SIGNING_SECRET,
  skew = 0,
) {
  const payload = {
    type: 'block_actions',
    user: { id: user, username: user.toLowerCase() },
    actions: [{ action_id: action, value: approvalId, type: 'button' }],
    response_url: 'https://hooks.slack.invalid/actions/1',
  };
  const body = new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
  const timestamp = String(Math.floor(Date.now() / 1000) + skew);
  const signature = `v0=${createHmac('sha256', secret).update(`v0:${timestamp}:${body}`).digest('hex')}`;
  return fetch(`${server.url}/slack/interactions`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      'x-slack-request-timestamp': timestamp,
      'x-slack-signature': signature,
    },
    body,
  });
}

const release = async (tag: string) =>
  (await admin.get<{ releases: Release[] }>(`/v1/deployments/api/versions/${tag}`)).body.releases[0];

describe('Slack approvals', () => {
  it('count distinct listed approvers from signed button clicks', async () => {
    await admin.post('/v1/deployments/api/versions', { tag: 'v1' });
    await eventually(
      () => release('v1'),
      (r) => r?.waitingFor === 'approval',
    );
    const pending = await approver.get<{ items: { approvalId: string; version: string }[] }>(
      '/v1/approvals?status=pending',
    );
    const id = pending.body.items.find((a) => a.version === 'v1')?.approvalId ?? '';

    expect((await click('U1', id, 'gantry_approve', 'wrong-secret')).status).toBe(401);
    expect((await click('U1', id, 'gantry_approve', SIGNING_SECRET, -301)).status).toBe(401);
    const stranger = await click('U9', id);
    expect(stranger.status).toBe(200);
    expect(JSON.stringify(await stranger.json())).toContain('not one of the approvers');
    expect((await click('U1', id)).status).toBe(200);
    // The same approver twice is still one approval.
    await new Promise((r) => setTimeout(r, 1000));
    expect((await click('U1', id)).status).toBe(200);
    expect((await release('v1'))?.status).toBe('waiting');
    expect((await click('U2', id)).status).toBe(200);

    const done = await eventually(
      () => release('v1'),
      (r) => r?.status === 'successful',
    );
    expect(done?.status).toBe('successful');
    const approval = await approver.get<{
      items: { approvalId: string; decisions: { approver: string; via: string }[] }[];
    }>('/v1/approvals?status=approved');
    const decided = approval.body.items.find((a) => a.approvalId === id);
    expect(decided?.decisions.map((d) => [d.approver, d.via])).toEqual([
      ['U1', 'slack'],
      ['U2', 'slack'],
    ]);
  });

  it('an expired approval cancels its waiting releases', async () => {
    await admin.put('/v1/policies/two-approvers', {
      targets: "deployment.id == 'api'",
      rules: { approval: { minApprovals: 1, expiresAfterSeconds: 60 } },
    });
    await admin.post('/v1/deployments/api/versions', { tag: 'v2' });
    const expired = await eventually(
      () => release('v2'),
      (r) => r?.status === 'cancelled',
      { timeoutMs: 20_000 },
    );
    expect(expired?.message).toContain('expired');
    expect(agent.jobs.filter((j) => j.version.tag === 'v2')).toHaveLength(0);
  });
});
