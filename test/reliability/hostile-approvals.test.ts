import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalServer } from '../../infra/local/server';
import { FakeAgent } from '../helpers/agent';
import { Client, eventually } from '../helpers/client';
import { ADMIN, startTestServer } from '../helpers/local';
import { FakeSlack } from '../helpers/slack';

/**
 * Issue 17 items 1 and 2 (docs/api.md section 7): a name typed into the review form, or put into an API
 * body, is not an identity. One link is one approver; where the policy lists approvers or needs more
 * than one, a link can reject but not approve; an `approvals:write` key decides as its `approver`.
 */
const APPROVER_KEY = {
  id: 'approver-alice',
  secret: 'approver-alice-secret-0123456789ab',
  approver: 'U0ALICE',
};
const PLAIN_KEY = { id: 'approver-plain', secret: 'approver-plain-secret-0123456789ab' };
let server: LocalServer;
let admin: Client;
const agent = new FakeAgent();
const slack = new FakeSlack();

interface Approval {
  approvalId: string;
  status: string;
  decisions: { approver: string; decision: string; via: string; claim?: string }[];
}

beforeAll(async () => {
  await agent.start();
  await slack.start();
  process.env.SLACK_WEBHOOK_URL = slack.url;
  ({ server, admin } = await startTestServer({
    apiKeys: JSON.stringify([
      { ...ADMIN, scopes: ['admin'] },
      { ...APPROVER_KEY, scopes: ['approvals:write'] },
      { ...PLAIN_KEY, scopes: ['approvals:write'] },
    ]),
  }));
  await admin.put('/v1/resources/n-1', { kind: 'vm', name: 'n-1', metadata: {} });
  await admin.put('/v1/environments/prod', { resourceSelector: 'true' });
  for (const id of ['two-needed', 'boss-only', 'one-needed', 'by-key'])
    await admin.put(`/v1/deployments/${id}`, { jobAgent: { type: 'webhook', url: agent.url } });
  await admin.put('/v1/policies/two', {
    targets: "deployment.id in ['two-needed', 'by-key']",
    rules: { approval: { minApprovals: 2 } },
  });
  await admin.put('/v1/policies/boss', {
    targets: "deployment.id == 'boss-only'",
    rules: { approval: { minApprovals: 1, approvers: ['U0BOSS'] } },
  });
  await admin.put('/v1/policies/one', {
    targets: "deployment.id == 'one-needed'",
    rules: { approval: { minApprovals: 1 } },
  });
});

afterAll(async () => {
  delete process.env.SLACK_WEBHOOK_URL;
  await server?.close();
  await agent.stop();
  await slack.stop();
});

async function linkOf(deployment: string): Promise<{ approvalId: string; link: string; token: string }> {
  expect((await admin.post(`/v1/deployments/${deployment}/versions`, { tag: 'v1' })).status).toBe(201);
  const message = await eventually(
    async () => slack.messages.find((m) => JSON.stringify(m).includes(`${deployment}`)),
    (m) => m !== undefined,
  );
  const link = FakeSlack.link(message as { text: string });
  const url = new URL(link);
  return {
    approvalId: url.pathname.split('/').pop() as string,
    link,
    token: url.searchParams.get('t') as string,
  };
}

const decideByLink = (link: string, token: string, decision: string, approver: string) =>
  fetch(link.split('?')[0] as string, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ t: token, decision, approver }).toString(),
  });

async function approval(approvalId: string): Promise<Approval> {
  const all = await admin.getAll<{ items: Approval[] }>('/v1/approvals');
  return all.body.items.find((a) => a.approvalId === approvalId) as Approval;
}

describe('a review link is one approver, and only a claim of a name', () => {
  it('with minApprovals 2, approving as "alice" then "bob" through one link approves nothing', async () => {
    const { approvalId, link, token } = await linkOf('two-needed');
    const alice = await decideByLink(link, token, 'approve', 'alice');
    const bob = await decideByLink(link, token, 'approve', 'bob');
    expect(alice.status).toBe(403);
    expect(bob.status).toBe(403);
    expect(await alice.text()).toContain('gantry approve');
    const after = await approval(approvalId);
    expect(after.status).toBe('pending');
    expect(after.decisions).toEqual([]);
  });

  it("typing a listed approver's id into the form does not approve, and the page does not list them", async () => {
    const { approvalId, link, token } = await linkOf('boss-only');
    const page = await (await fetch(link)).text();
    expect(page).not.toContain('U0BOSS');
    expect(page).not.toMatch(/value="approve"/);
    const typed = await decideByLink(link, token, 'approve', 'U0BOSS');
    expect(typed.status).toBe(403);
    expect((await approval(approvalId)).status).toBe('pending');
    // A link can still reject; the typed name is kept as a claim.
    const rejected = await decideByLink(link, token, 'reject', 'U0BOSS');
    expect(rejected.status).toBe(200);
    const after = await approval(approvalId);
    expect(after.status).toBe('rejected');
    expect(after.decisions).toMatchObject([
      { approver: 'link', via: 'link', claim: 'U0BOSS', decision: 'reject' },
    ]);
  });

  it('with one approval needed and no approvers listed, a link approves, as the link', async () => {
    const { approvalId, link, token } = await linkOf('one-needed');
    const approved = await decideByLink(link, token, 'approve', 'someone');
    expect(approved.status).toBe(200);
    const after = await approval(approvalId);
    expect(after.status).toBe('approved');
    expect(after.decisions).toMatchObject([{ approver: 'link', claim: 'someone' }]);
  });
});

describe('an approvals:write key decides as its approver', () => {
  it('a body naming anyone else is 403; the key counts once however often it approves', async () => {
    const { approvalId } = await linkOf('by-key');
    const asKey = new Client(server.url, APPROVER_KEY);
    const plain = new Client(server.url, PLAIN_KEY);
    const impersonating = await asKey.post<{ error: { code: string } }>(
      `/v1/approvals/${approvalId}/decision`,
      {
        decision: 'approve',
        approver: 'U0BOB',
      },
    );
    expect(impersonating.status).toBe(403);
    expect(impersonating.body.error.code).toBe('forbidden');
    expect((await approval(approvalId)).decisions).toEqual([]);

    expect((await asKey.post(`/v1/approvals/${approvalId}/decision`, { decision: 'approve' })).status).toBe(
      200,
    );
    expect(
      (await asKey.post(`/v1/approvals/${approvalId}/decision`, { decision: 'approve', approver: 'U0ALICE' }))
        .status,
    ).toBe(200);
    expect((await approval(approvalId)).status).toBe('pending');
    // A second identity (a key without approver decides as its id) makes the two.
    expect((await plain.post(`/v1/approvals/${approvalId}/decision`, { decision: 'approve' })).status).toBe(
      200,
    );
    const after = await approval(approvalId);
    expect(after.status).toBe('approved');
    expect(after.decisions.map((d) => d.approver).sort()).toEqual(['U0ALICE', 'approver-plain']);
  });
});
