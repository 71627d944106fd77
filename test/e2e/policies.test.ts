import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalServer } from '../../infra/local/server';
import { nowMs } from '../../shared/core/clock';
import { FakeAgent } from '../helpers/agent';
import { type Client, eventually } from '../helpers/client';
import { startTestServer } from '../helpers/local';
import { FakeSlack } from '../helpers/slack';

/**
 * Issue "Policies", end to end through the local server with GANTRY_TIME_SCALE=60 (a minute of
 * policy time passes in a second): staging deploys; production waits for staging, then for approval;
 * one Slack message; opening its link changes nothing; approving releases production one interval
 * apart; a rejection cancels; a deny window holds dispatch until it closes.
 */
interface Release {
  environment: string;
  resource: string;
  status: string;
  waitingFor: string | null;
  message: string | null;
}
interface VersionView {
  releases: Release[];
}
interface AuditEvent {
  detailType: string;
  version?: string;
  environment?: string;
  resource: string;
  time: string;
  data: Record<string, unknown>;
}

const SCALE = 60;
let server: LocalServer;
let admin: Client;
let approverKey: Client;
const agent = new FakeAgent();
const slack = new FakeSlack();

beforeAll(async () => {
  await agent.start();
  await slack.start();
  process.env.SLACK_WEBHOOK_URL = slack.url;
  let as: (id: string) => Client;
  ({ server, admin, as } = await startTestServer({ timeScale: SCALE }));
  approverKey = as('approver');
  const resources: [string, string][] = [
    ['stg-1', 'staging'],
    ['prod-1', 'production'],
    ['prod-2', 'production'],
    ['prod-3', 'production'],
  ];
  for (const [id, env] of resources)
    await admin.put(`/v1/resources/${id}`, { kind: 'vm', name: id, metadata: { env } });
  await admin.put('/v1/environments/staging', { resourceSelector: "resource.metadata.env == 'staging'" });
  await admin.put('/v1/environments/production', {
    name: 'Production',
    resourceSelector: "resource.metadata.env == 'production'",
  });
  await admin.put('/v1/deployments/api', {
    environments: ['staging', 'production'],
    jobAgent: { type: 'webhook', url: agent.url },
  });
  const policy = await admin.put('/v1/policies/prod-gates', {
    targets: "environment.id == 'production'",
    rules: {
      environmentProgression: { dependsOnEnvironments: ['staging'], minSoakSeconds: 60 },
      approval: { minApprovals: 1 },
      gradualRollout: { intervalSeconds: 60 },
    },
  });
  expect(policy.status).toBe(201);
});

afterAll(async () => {
  delete process.env.SLACK_WEBHOOK_URL;
  await server?.close();
  await agent.stop();
  await slack.stop();
});

const view = (deployment: string, tag: string) =>
  admin.get<VersionView>(`/v1/deployments/${deployment}/versions/${tag}`);
const statuses = (v: VersionView, env: string) =>
  v.releases.filter((r) => r.environment === env).map((r) => r.status);

describe('staging, then production after approval, one interval apart', () => {
  it('runs the whole path', async () => {
    agent.behaviour = () => 'successful';
    await admin.post('/v1/deployments/api/versions', { tag: 'v1' });

    const plan = await admin.get<{
      targets: { environment: string; gates: { gate: string; policies: string[] }[] }[];
    }>('/v1/deployments/api/versions/v1/plan');
    expect(plan.status).toBe(200);
    const prodPlan = plan.body.targets.find((t) => t.environment === 'production');
    expect(prodPlan?.gates.map((g) => g.gate)).toEqual([
      'environment_progression',
      'approval',
      'gradual_rollout',
    ]);
    expect(prodPlan?.gates[0]?.policies).toEqual(['prod-gates']);

    // Staging deploys; production waits for it, then for the approval.
    const awaiting = await eventually(
      () => view('api', 'v1'),
      (r) =>
        statuses(r.body, 'staging')[0] === 'successful' &&
        r.body.releases.filter((x) => x.waitingFor === 'approval').length === 3,
    );
    expect(
      awaiting.body.releases
        .filter((r) => r.environment === 'production')
        .every((r) => r.status === 'waiting'),
    ).toBe(true);
    expect(agent.jobs.filter((j) => j.environment.id === 'production')).toHaveLength(0);

    // One Slack message for the environment, naming it and its targets, with the link.
    await eventually(
      async () => slack.messages.length,
      (n) => n >= 1,
    );
    expect(slack.messages).toHaveLength(1);
    const message = slack.messages[0] as { text: string; blocks: unknown[] };
    expect(JSON.stringify(message)).toContain('prod-1');
    expect(JSON.stringify(message)).toContain('v1');
    const link = FakeSlack.link(message);

    // Opening the link (as a Slack unfurler would) changes nothing.
    const page = await fetch(link);
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('Production');
    expect(html).toContain('prod-2');
    const pending = await approverKey.get<{ items: { approvalId: string; status: string }[] }>(
      '/v1/approvals?status=pending',
    );
    expect(pending.body.items).toHaveLength(1);
    const bad = await fetch(link.replace(/t=.*/, 't=not-the-token'));
    expect(bad.status).toBe(403);

    // Approve through the form; production deploys, one interval (60 s policy time) apart.
    const url = new URL(link);
    const approved = await fetch(`${url.origin}${url.pathname}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        t: url.searchParams.get('t') ?? '',
        decision: 'approve',
        approver: 'alice',
      }).toString(),
    });
    expect(approved.status).toBe(200);
    const done = await eventually(
      () => view('api', 'v1'),
      (r) => statuses(r.body, 'production').every((s) => s === 'successful'),
      {
        timeoutMs: 20_000,
      },
    );
    expect(statuses(done.body, 'production')).toEqual(['successful', 'successful', 'successful']);

    const events = await admin.get<{ items: AuditEvent[] }>('/v1/events?deployment=api&limit=1000');
    const decided = events.body.items.find((e) => e.detailType === 'Approval Decided') as
      | { actor: { approver: string }; data: { claim?: string } }
      | undefined;
    // A link is one approver; the typed name is kept as a claim (docs/api.md section 7).
    expect(decided?.actor.approver).toBe('link');
    expect(decided?.data.claim).toBe('alice');

    // Production deploys one interval apart: positions 1 and 2 waited for slots 60 s (policy time)
    // apart, and no job was sent before its slot.
    const all = await admin.get<{ items: AuditEvent[] }>('/v1/events?deployment=api&limit=1000');
    const v1prod = all.body.items.filter((e) => e.version === 'v1' && e.environment === 'production');
    const slots = new Map(
      v1prod
        .filter((e) => e.detailType === 'Release Waiting' && e.data.waitingFor === 'gradual_rollout')
        .map((e) => [e.resource, Date.parse(e.data.until as string)]),
    );
    expect(slots.size).toBe(2);
    const [first, second] = [...slots.values()].sort((a, b) => a - b);
    expect((second as number) - (first as number)).toBe(60_000);
    for (const dispatched of v1prod.filter((e) => e.detailType === 'Job Dispatched')) {
      const slot = slots.get(dispatched.resource);
      if (slot !== undefined) expect(Date.parse(dispatched.time)).toBeGreaterThanOrEqual(slot);
    }

    // A second decision on a decided approval is a conflict.
    const again = await fetch(`${url.origin}${url.pathname}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ t: url.searchParams.get('t') ?? '', decision: 'reject' }).toString(),
    });
    expect(again.status).toBe(409);
  }, 40_000);

  it('a rejection cancels the waiting releases', async () => {
    await admin.post('/v1/deployments/api/versions', { tag: 'v2' });
    await eventually(
      () => view('api', 'v2'),
      (r) => r.body.releases.filter((x) => x.waitingFor === 'approval').length === 3,
    );
    const pending = await approverKey.get<{ items: { approvalId: string; version: string }[] }>(
      '/v1/approvals?status=pending',
    );
    const approval = pending.body.items.find((a) => a.version === 'v2');
    if (!approval) throw new Error('no approval');
    const rejected = await approverKey.post(`/v1/approvals/${approval.approvalId}/decision`, {
      decision: 'reject',
      reason: 'not today',
    });
    expect(rejected.status).toBe(200);
    const done = await eventually(
      () => view('api', 'v2'),
      (r) => statuses(r.body, 'production').every((s) => s === 'cancelled'),
    );
    // The key decides as its approver (the key id when it names none).
    expect(done.body.releases.find((r) => r.environment === 'production')?.message).toContain(
      'approver: not today',
    );
    expect(
      agent.jobs.filter((j) => j.version.tag === 'v2' && j.environment.id === 'production'),
    ).toHaveLength(0);
  }, 30_000);
});

describe('a deny window holds dispatch until it closes', () => {
  it('dispatches only after the freeze', async () => {
    await admin.put('/v1/resources/edge-1', { kind: 'vm', name: 'edge-1', metadata: { env: 'edge' } });
    await admin.put('/v1/environments/edge', { resourceSelector: "resource.metadata.env == 'edge'" });
    await admin.put('/v1/deployments/edge-svc', {
      environments: ['edge'],
      jobAgent: { type: 'webhook', url: agent.url },
    });
    // A daily freeze that began one policy-minute ago and lasts three: it ends in about 2 s of real time.
    const start = new Date(nowMs() - 60_000);
    const dtstart = start
      .toISOString()
      .replace(/[-:]/g, '')
      .replace(/\.\d{3}/, '');
    const freeze = await admin.put('/v1/policies/edge-freeze', {
      targets: "deployment.id == 'edge-svc'",
      rules: {
        deploymentWindow: {
          rrule: `DTSTART:${dtstart}\nRRULE:FREQ=DAILY`,
          durationMinutes: 3,
          timezone: 'UTC',
          mode: 'deny',
        },
      },
    });
    expect(freeze.status).toBe(201);
    await admin.post('/v1/deployments/edge-svc/versions', { tag: 'e1' });
    const held = await eventually(
      () => view('edge-svc', 'e1'),
      (r) => r.body.releases[0]?.waitingFor === 'deployment_window',
    );
    expect(held.body.releases[0]?.message).toContain('edge-freeze');
    expect(agent.jobs.filter((j) => j.deployment.id === 'edge-svc')).toHaveLength(0);
    const done = await eventually(
      () => view('edge-svc', 'e1'),
      (r) => r.body.releases[0]?.status === 'successful',
      { timeoutMs: 20_000 },
    );
    expect(done.body.releases[0]?.status).toBe('successful');
  }, 30_000);
});
