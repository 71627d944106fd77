import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalServer } from '../../infra/local/server';
import { FakeAgent, type ReceivedJob } from '../helpers/agent';
import { type Client, eventually } from '../helpers/client';
import { startTestServer } from '../helpers/local';
import { allEvents, countBy, type VersionView, versionView, waitSettled } from '../support/rollouts';

/**
 * Issue 8, concurrency: two writers at the same instant, through the local server over HTTP. Each
 * time exactly one winner, no lost or duplicated release, no second job for an attempt.
 */
let server: LocalServer;
let admin: Client;
let as: (id: string) => Client;
const agent = new FakeAgent();
/** Deployments whose jobs the test reports by hand (the agent only records them). */
const manual = new Set<string>();

const RESOURCES = ['node-1', 'node-2', 'node-3', 'node-4'];

beforeAll(async () => {
  await agent.start();
  agent.behaviour = (job) => (manual.has(job.deployment.id) ? 'none' : 'successful');
  ({ server, admin, as } = await startTestServer());
  for (const id of RESOURCES)
    await admin.put(`/v1/resources/${id}`, { kind: 'vm', name: id, metadata: { env: 'prod' } });
  await admin.put('/v1/environments/prod', { resourceSelector: "resource.metadata.env == 'prod'" });
});

afterAll(async () => {
  await server?.close();
  await agent.stop();
});

async function deployment(id: string, extra: Record<string, unknown> = {}) {
  const reply = await admin.put(`/v1/deployments/${id}`, {
    jobAgent: { type: 'webhook', url: agent.url },
    ...extra,
  });
  expect(reply.status).toBe(201);
}

const jobsOf = (deploymentId: string, tag?: string) =>
  agent.jobs.filter((j) => j.deployment.id === deploymentId && (tag === undefined || j.version.tag === tag));

/** Every (version, target) has one release; each release at most one job id, delivered once. */
function assertOneJobPerAttempt(deploymentId: string, views: VersionView[]) {
  for (const view of views) {
    expect(view.releases.map((r) => r.resource).sort()).toEqual(RESOURCES);
    for (const release of view.releases) {
      const jobs = jobsOf(deploymentId, view.version.tag).filter(
        (j) => j.resource.id === release.resource && j.kind === 'deploy',
      );
      const ids = new Set(jobs.map((j) => j.jobId));
      expect(ids.size, `${view.version.tag}/${release.resource} job ids`).toBeLessThanOrEqual(1);
      expect(jobs.length, `${view.version.tag}/${release.resource} deliveries`).toBeLessThanOrEqual(1);
      if (release.status === 'successful') expect([...ids]).toEqual([release.jobId]);
      if (release.status === 'superseded') {
        expect(jobs).toHaveLength(0);
        expect(release.jobId).toBeNull();
      }
    }
  }
}

const newer = (a: VersionView['version'], b: VersionView['version']) =>
  a.createdAt > b.createdAt || (a.createdAt === b.createdAt && a.tag > b.tag);

describe('two versions of one deployment created at the same instant', () => {
  it.each([1, 2, 3])(
    'round %i: both exist, one winner per target, nothing lost or doubled',
    async (round) => {
      const id = `twin-${round}`;
      await deployment(id);

      const [a, b] = await Promise.all([
        admin.post(`/v1/deployments/${id}/versions`, { tag: 'va' }),
        admin.post(`/v1/deployments/${id}/versions`, { tag: 'vb' }),
      ]);

      expect([a.status, b.status]).toEqual([201, 201]);
      const views = await Promise.all(
        ['va', 'vb'].map((tag) => waitSettled(admin, id, tag, RESOURCES.length)),
      );
      const [va, vb] = views as [VersionView, VersionView];
      const [older, newest] = newer(vb.version, va.version) ? [va, vb] : [vb, va];
      for (const resource of RESOURCES) {
        const o = older.releases.find((r) => r.resource === resource);
        const n = newest.releases.find((r) => r.resource === resource);
        // The newest always lands; the older one either lost the race before dispatch or went first.
        expect(n?.status, resource).toBe('successful');
        expect(['superseded', 'successful'], resource).toContain(o?.status);
      }
      assertOneJobPerAttempt(id, views);
      const targets = await admin.get<{ items: { resource: string; currentVersion: string }[] }>(
        `/v1/release-targets?deployment=${id}`,
      );
      expect(targets.body.items.map((t) => t.currentVersion)).toEqual(
        RESOURCES.map(() => newest.version.tag),
      );
      // Where both succeeded, they ran in order: the older job finished before the newer was sent.
      for (const resource of RESOURCES) {
        const jobs = jobsOf(id).filter((j) => j.resource.id === resource);
        if (jobs.length === 2)
          expect(jobs.map((j) => j.version.tag)).toEqual([older.version.tag, newest.version.tag]);
      }
      // Events are published after the status write: let the executions finish first.
      await server.engine.idle();
      const events = await allEvents(admin, id);
      const succeeded = countBy(
        events.filter((e) => e.detailType === 'Release Succeeded'),
        (e) => `${e.version}/${e.resource}`,
      );
      for (const view of views)
        for (const release of view.releases)
          expect(succeeded.get(`${view.version.tag}/${release.resource}`) ?? 0).toBe(
            release.status === 'successful' ? 1 : 0,
          );
      expect(events.filter((e) => e.detailType === 'Version Created')).toHaveLength(2);
    },
  );
});

describe('the same version created twice at once', () => {
  it.each([1, 2, 3])('round %i: one 201, one 200, the same releases, one job per target', async (round) => {
    const id = `retry-${round}`;
    await deployment(id);
    const body = { tag: 'v1', metadata: { commit: `c${round}` } };

    const replies = await Promise.all([
      admin.post<{ version: { tag: string; createdAt: string }; releaseTargets: unknown[] }>(
        `/v1/deployments/${id}/versions`,
        body,
      ),
      admin.post<{ version: { tag: string; createdAt: string }; releaseTargets: unknown[] }>(
        `/v1/deployments/${id}/versions`,
        body,
      ),
    ]);

    expect(replies.map((r) => r.status).sort()).toEqual([200, 201]);
    const [first, second] = replies as [(typeof replies)[0], (typeof replies)[0]];
    expect(second.body.version).toEqual(first.body.version);
    expect(second.body.releaseTargets).toEqual(first.body.releaseTargets);
    expect(first.body.releaseTargets).toHaveLength(RESOURCES.length);
    const view = await waitSettled(admin, id, 'v1', RESOURCES.length);
    expect(view.releases.every((r) => r.status === 'successful')).toBe(true);
    await server.engine.idle();
    assertOneJobPerAttempt(id, [view]);
    expect(jobsOf(id, 'v1')).toHaveLength(RESOURCES.length);
    const events = await allEvents(admin, id);
    expect(events.filter((e) => e.detailType === 'Version Created')).toHaveLength(1);
    expect(events.filter((e) => e.detailType === 'Release Succeeded')).toHaveLength(RESOURCES.length);
    expect(events.filter((e) => e.detailType === 'Job Dispatched')).toHaveLength(RESOURCES.length);
  });
});

describe('two callbacks for one job at once', () => {
  const id = 'callbacks';

  async function jobsFor(tag: string): Promise<ReceivedJob[]> {
    await admin.post(`/v1/deployments/${id}/versions`, { tag });
    return eventually(
      async () => jobsOf(id, tag),
      (jobs) => jobs.length === RESOURCES.length,
    );
  }

  beforeAll(async () => {
    manual.add(id);
    await deployment(id);
  });

  it('the same terminal status twice: both 200, the release completes once', async () => {
    const jobs = await jobsFor('v1');

    const replies = await Promise.all(
      jobs.flatMap((job) => [agent.report(job, 'successful'), agent.report(job, 'successful')]),
    );

    for (const reply of replies) {
      expect(reply.status).toBe(200);
      expect(reply.body.status).toBe('successful');
    }
    const view = await waitSettled(admin, id, 'v1', RESOURCES.length);
    expect(view.releases.map((r) => r.status)).toEqual(RESOURCES.map(() => 'successful'));
    await server.engine.idle();
    const events = (await allEvents(admin, id)).filter((e) => e.version === 'v1');
    const succeeded = countBy(
      events.filter((e) => e.detailType === 'Release Succeeded'),
      (e) => e.resource ?? '',
    );
    expect([...succeeded.values()]).toEqual(RESOURCES.map(() => 1));
    // One terminal Job Updated per job: the second report changed nothing.
    const terminalUpdates = countBy(
      events.filter((e) => e.detailType === 'Job Updated' && e.data?.status === 'successful'),
      (e) => String(e.data?.jobId),
    );
    expect([...terminalUpdates.values()]).toEqual(RESOURCES.map(() => 1));
  });

  it('two different terminal statuses at once: one 200, one 409, the release follows the winner', async () => {
    const jobs = await jobsFor('v2');

    const outcomes = await Promise.all(
      jobs.map(async (job) => {
        const [ok, bad] = await Promise.all([agent.report(job, 'successful'), agent.report(job, 'failed')]);
        return { job, ok, bad };
      }),
    );

    const view = await waitSettled(admin, id, 'v2', RESOURCES.length);
    for (const { job, ok, bad } of outcomes) {
      expect([ok.status, bad.status].sort(), job.resource.id).toEqual([200, 409]);
      const winner = ok.status === 200 ? 'successful' : 'failed';
      const release = view.releases.find((r) => r.resource === job.resource.id);
      expect(release?.status, job.resource.id).toBe(winner);
      // The 409 names the status that won; a replay of the winner is still 200.
      const loser = ok.status === 409 ? ok : bad;
      expect(JSON.stringify(loser.body)).toContain('conflict');
      expect((await agent.report(job, winner)).status).toBe(200);
    }
    await server.engine.idle();
    const events = (await allEvents(admin, id)).filter((e) => e.version === 'v2');
    const finished = countBy(
      events.filter((e) => e.detailType === 'Release Succeeded' || e.detailType === 'Release Failed'),
      (e) => e.resource ?? '',
    );
    expect([...finished.values()]).toEqual(RESOURCES.map(() => 1));
    expect(jobsOf(id, 'v2')).toHaveLength(RESOURCES.length);
  });
});

describe('an approval clicked twice at once', () => {
  interface Approval {
    approvalId: string;
    deployment: string;
    version: string;
    status: string;
    decisions: { approver: string; decision: string }[];
  }

  async function gated(id: string, minApprovals: number) {
    await deployment(id);
    const policy = await admin.put(`/v1/policies/${id}-approval`, {
      targets: `deployment.id == '${id}'`,
      rules: { approval: { minApprovals } },
    });
    expect(policy.status).toBe(201);
  }

  /** Creates the version, waits until every target waits for approval, and returns the pending approval. */
  async function pendingApproval(id: string, tag: string): Promise<Approval> {
    await admin.post(`/v1/deployments/${id}/versions`, { tag });
    await eventually(
      () => versionView(admin, id, tag),
      (v) => v.releases.length === RESOURCES.length && v.releases.every((r) => r.waitingFor === 'approval'),
    );
    const pending = await eventually(
      () => admin.get<{ items: Approval[] }>('/v1/approvals?status=pending'),
      (r) => r.body.items.some((a) => a.deployment === id && a.version === tag),
    );
    const approval = pending.body.items.find((a) => a.deployment === id && a.version === tag) as Approval;
    expect(approval.status).toBe('pending');
    return approval;
  }

  // Each person decides with a key of their own (the key's approver is who decides).
  const decide = (approvalId: string, approverName: string, decision = 'approve') =>
    as(`approver-${approverName}`).post<Approval>(`/v1/approvals/${approvalId}/decision`, { decision });

  async function decidedEvents(id: string, tag: string) {
    return (await allEvents(admin, id)).filter(
      (e) => e.detailType === 'Approval Decided' && e.version === tag,
    );
  }

  /** The releases resumed once: one job per target, all successful. */
  async function resumedOnce(id: string, tag: string) {
    const view = await waitSettled(admin, id, tag, RESOURCES.length);
    expect(view.releases.map((r) => r.status)).toEqual(RESOURCES.map(() => 'successful'));
    await server.engine.idle();
    assertOneJobPerAttempt(id, [view]);
    expect(jobsOf(id, tag)).toHaveLength(RESOURCES.length);
  }

  it('the same approver twice (minApprovals 1): one 200, one 409, one decision, one resume', async () => {
    await gated('appr-one', 1);
    const approval = await pendingApproval('appr-one', 'v1');

    const replies = await Promise.all([
      decide(approval.approvalId, 'alice'),
      decide(approval.approvalId, 'alice'),
    ]);

    expect(replies.map((r) => r.status).sort()).toEqual([200, 409]);
    const ok = replies.find((r) => r.status === 200);
    expect(ok?.body.status).toBe('approved');
    expect(ok?.body.decisions).toHaveLength(1);
    await resumedOnce('appr-one', 'v1');
    expect(await decidedEvents('appr-one', 'v1')).toHaveLength(1);
  });

  it('two different approvers at once (minApprovals 2): both count, approved once, one resume', async () => {
    await gated('appr-two', 2);
    const approval = await pendingApproval('appr-two', 'v1');

    const replies = await Promise.all([
      decide(approval.approvalId, 'alice'),
      decide(approval.approvalId, 'bob'),
    ]);

    expect(replies.map((r) => r.status)).toEqual([200, 200]);
    // Applied in turn: one saw 1 of 2, the other made it approved.
    expect(replies.map((r) => r.body.status).sort()).toEqual(['approved', 'pending']);
    const final = await admin.get<{ items: Approval[] }>('/v1/approvals?status=approved');
    const decided = final.body.items.find((a) => a.approvalId === approval.approvalId);
    expect(decided?.decisions.map((d) => d.approver).sort()).toEqual(['alice', 'bob']);
    await resumedOnce('appr-two', 'v1');
    const events = await decidedEvents('appr-two', 'v1');
    expect(events.map((e) => e.data?.approver).sort()).toEqual(['alice', 'bob']);
  });

  it('the same approver twice at once (minApprovals 2): counted once, still pending, no resume', async () => {
    const approval = await pendingApproval('appr-two', 'v2');

    const replies = await Promise.all([
      decide(approval.approvalId, 'carol'),
      decide(approval.approvalId, 'carol'),
    ]);

    expect(replies.map((r) => r.status)).toEqual([200, 200]);
    const pending = await admin.get<{ items: Approval[] }>('/v1/approvals?status=pending');
    const still = pending.body.items.find((a) => a.approvalId === approval.approvalId);
    expect(still?.decisions.map((d) => d.approver)).toEqual(['carol']);
    // Nothing resumes: the executions stay parked on the approval.
    await new Promise((r) => setTimeout(r, 300));
    const view = await versionView(admin, 'appr-two', 'v2');
    expect(view.releases.every((r) => r.waitingFor === 'approval')).toBe(true);
    expect(jobsOf('appr-two', 'v2')).toHaveLength(0);

    // A second approver completes it: resumed once.
    expect((await decide(approval.approvalId, 'dave')).body.status).toBe('approved');
    await resumedOnce('appr-two', 'v2');
  });

  // Guards shared/services/approvals.ts `decide`: one approver's repeated identical click changes nothing
  // and publishes no second `Approval Decided` event.
  it('a repeated identical decision by one approver is not a second Approval Decided event', async () => {
    const approval = await pendingApproval('appr-two', 'v3');

    await Promise.all([decide(approval.approvalId, 'erin'), decide(approval.approvalId, 'erin')]);

    expect(await decidedEvents('appr-two', 'v3')).toHaveLength(1);
  });
});
