import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { LocalServer } from '../../infra/local/server';
import { FakeAgent } from '../helpers/agent';
import { type Client, eventually } from '../helpers/client';
import { startTestServer } from '../helpers/local';

// The server's structured logs are written here too, so what AWS would log is seen.
vi.hoisted(() => {
  process.env.GANTRY_LOG_LEVEL = 'INFO';
});

/**
 * Issue 17 item 4 (docs/api.md section 9): without Slack, the local runtime prints the approval message
 * with its live review link (the local user's way to it); in AWS the link is logged nowhere, since
 * more people read the logs than may approve. Without an issuer configured there is no sign-in.
 */
let server: LocalServer;
let admin: Client;
const agent = new FakeAgent();
const REVIEW_LINK = /\/approvals\/a[0-9a-f]{32}\?t=[A-Za-z0-9_-]+/;

beforeAll(async () => {
  delete process.env.SLACK_WEBHOOK_URL;
  delete process.env.GANTRY_OIDC_ISSUER;
  await agent.start();
  ({ server, admin } = await startTestServer({ timeScale: 60 }));
  await admin.put('/v1/resources/web-1', { kind: 'vm', name: 'web-1', metadata: {} });
  await admin.put('/v1/environments/prod', { resourceSelector: 'true' });
  await admin.put('/v1/deployments/web', { jobAgent: { type: 'webhook', url: agent.url } });
  await admin.put('/v1/policies/approve', {
    targets: "deployment.id == 'web'",
    rules: { approval: { minApprovals: 1 } },
  });
});

afterEach(() => {
  vi.restoreAllMocks();
  process.env.GANTRY_LOCAL_RUNTIME = '1';
});

afterAll(async () => {
  await server?.close();
  await agent.stop();
});

/** Everything the process writes (console and the structured logger) while `body` runs. */
async function output(body: () => Promise<void>): Promise<string> {
  const spies = [
    ...(['log', 'info', 'warn', 'error'] as const).map((method) => vi.spyOn(console, method)),
    vi.spyOn(process.stdout, 'write'),
    vi.spyOn(process.stderr, 'write'),
  ];
  await body();
  const written = spies.flatMap((spy) => spy.mock.calls.map((args) => args.map(String).join(' ')));
  vi.restoreAllMocks();
  return written.join('\n');
}

async function waitingApproval(tag: string): Promise<string> {
  await admin.post('/v1/deployments/web/versions', { tag });
  const approvals = await eventually(
    () => admin.get<{ items: { approvalId: string; version: string }[] }>('/v1/approvals?status=pending'),
    (reply) => reply.body.items.some((a) => a.version === tag),
  );
  const approvalId = approvals.body.items.find((a) => a.version === tag)?.approvalId as string;
  // Announced: the Approval Requested event follows the message.
  await eventually(
    () =>
      admin.get<{ items: { detailType: string; version?: string }[] }>(
        '/v1/events?deployment=web&limit=1000',
      ),
    (reply) => reply.body.items.some((e) => e.detailType === 'Approval Requested' && e.version === tag),
  );
  return approvalId;
}

describe('the approval message without Slack', () => {
  it('is printed with its live review link by the local runtime, and the page offers no sign-in', async () => {
    let approvalId = '';
    const printed = await output(async () => {
      approvalId = await waitingApproval('v1');
    });

    const line = printed.split('\n').find((l) => l.startsWith('[approval] '));
    expect(line).toMatch(REVIEW_LINK);
    const link = `${server.url}${REVIEW_LINK.exec(line as string)?.[0]}`;
    expect(link).toContain(approvalId);
    const page = await fetch(link);
    expect(page.status).toBe(200);
    expect(await page.text()).not.toContain('Sign in');
    const signIn = await fetch(link.replace('?t=', '/signin?t='), { redirect: 'manual' });
    expect(signIn.status).toBe(404);
  });

  it('in AWS, is logged without the link', async () => {
    let approvalId = '';
    const logged = await output(async () => {
      delete process.env.GANTRY_LOCAL_RUNTIME;
      approvalId = await waitingApproval('v2');
    });

    expect(logged).toContain('Slack is not configured');
    expect(logged).toContain(approvalId);
    expect(logged).not.toMatch(REVIEW_LINK);
    expect(logged).not.toContain('?t=');
    expect(logged).not.toContain('[approval]');
  });
});
