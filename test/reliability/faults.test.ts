import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalServer } from '../../infra/local/server';
import { FakeAgent, type ReceivedJob } from '../helpers/agent';
import { type Client, eventually } from '../helpers/client';
import { startTestServer } from '../helpers/local';
import { allEvents, countBy, versionView, waitSettled } from '../support/rollouts';

/**
 * Issue 8, faults: job agents and metrics providers that misbehave, through the local server over
 * HTTP with GANTRY_TIME_SCALE=60 (a job timeout of 120 s passes in 2 s). Every release still ends in
 * the terminal state that matches what happened, with one job per attempt.
 */
const SCALE = 60;
let server: LocalServer;
let admin: Client;
let agentKey: Client;
const agent = new FakeAgent();

/** A webhook agent that reads the job and never answers (until released), and a metrics endpoint that never answers. */
class HangingServer {
  readonly held: { req: IncomingMessage; res: ServerResponse; body: string }[] = [];
  private server?: Server;
  url = '';

  async start(path: string): Promise<this> {
    this.server = createServer(async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      this.held.push({ req, res, body: Buffer.concat(chunks).toString('utf8') });
    });
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}${path}`;
    return this;
  }

  /** Answers every held request at last. */
  releaseAll(status = 200): void {
    for (const { res } of this.held.splice(0))
      if (!res.writableEnded) res.writeHead(status, { 'content-type': 'application/json' }).end('{}');
  }

  async stop(): Promise<void> {
    this.releaseAll(503);
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()));
  }
}

const hangingAgent = new HangingServer();
const hangingMetrics = new HangingServer();

const RESOURCES = ['node-1', 'node-2'];

beforeAll(async () => {
  await agent.start();
  await hangingAgent.start('/jobs');
  await hangingMetrics.start('/metrics');
  let as: (id: string) => Client;
  ({ server, admin, as } = await startTestServer({ timeScale: SCALE }));
  agentKey = as('agent');
  for (const id of RESOURCES)
    await admin.put(`/v1/resources/${id}`, { kind: 'vm', name: id, metadata: { env: 'prod' } });
  await admin.put('/v1/environments/prod', { resourceSelector: "resource.metadata.env == 'prod'" });
  agent.behaviour = (job) => {
    switch (job.deployment.id) {
      case 'err500':
        return { status: 500 };
      case 'silent':
      case 'twice':
        return 'none';
      default:
        return 'successful';
    }
  };
});

afterAll(async () => {
  await server?.close();
  await agent.stop();
  await hangingAgent.stop();
  await hangingMetrics.stop();
});

async function deployment(id: string, extra: Record<string, unknown> = {}) {
  const reply = await admin.put(`/v1/deployments/${id}`, {
    jobAgent: { type: 'webhook', url: agent.url },
    ...extra,
  });
  expect(reply.status, reply.text).toBe(201);
}

const jobsOf = (deploymentId: string, tag?: string) =>
  agent.jobs.filter((j) => j.deployment.id === deploymentId && (tag === undefined || j.version.tag === tag));

async function finishedEvents(deploymentId: string, tag: string) {
  await server.engine.idle();
  const events = (await allEvents(admin, deploymentId)).filter((e) => e.version === tag);
  return {
    events,
    byType: (type: string) =>
      countBy(
        events.filter((e) => e.detailType === type),
        (e) => e.resource ?? '',
      ),
  };
}

describe('a job agent that answers 500', () => {
  it('is retried with backoff under the same job id, then the job and the release fail', async () => {
    await deployment('err500');

    await admin.post('/v1/deployments/err500/versions', { tag: 'v1' });

    const view = await waitSettled(admin, 'err500', 'v1', RESOURCES.length, 25_000);
    for (const release of view.releases) {
      expect(release.status, release.resource).toBe('failed');
      expect(release.message).toMatch(/HTTP 500/);
      expect(release.message).toMatch(/gave up after 4 attempts/);
      const deliveries = jobsOf('err500', 'v1').filter((j) => j.resource.id === release.resource);
      // 1 + 3 retries (docs/api.md section 6: retried with backoff, then the job fails), one job id.
      expect(deliveries).toHaveLength(4);
      expect(new Set(deliveries.map((j) => j.jobId))).toEqual(new Set([release.jobId]));
    }
    const { byType } = await finishedEvents('err500', 'v1');
    expect([...byType('Release Failed').values()]).toEqual([1, 1]);
    expect(byType('Release Succeeded').size).toBe(0);
    // The failed job's own token cannot turn it around afterwards.
    const late = await agent.report(jobsOf('err500', 'v1')[0] as ReceivedJob, 'successful');
    expect(late.status).toBe(409);
  }, 40_000);
});

describe('a job agent that times out', () => {
  it('accepts the job and never reports: the job fails at jobTimeoutSeconds, a late report is 409', async () => {
    await deployment('silent', { jobTimeoutSeconds: 120 });
    const started = Date.now();

    await admin.post('/v1/deployments/silent/versions', { tag: 'v1' });

    const view = await waitSettled(admin, 'silent', 'v1', RESOURCES.length);
    // 120 s of service time at scale 60: about 2 s, not at once and not the default hour.
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_500);
    for (const release of view.releases) {
      expect(release.status).toBe('failed');
      expect(release.message).toMatch(/timed out/);
    }
    const jobs = jobsOf('silent', 'v1');
    expect(jobs).toHaveLength(RESOURCES.length);
    for (const job of jobs) {
      const late = await agent.report(job, 'successful');
      expect(late.status).toBe(409);
    }
    const after = await versionView(admin, 'silent', 'v1');
    expect(after.releases.map((r) => r.status)).toEqual(['failed', 'failed']);
    const { byType } = await finishedEvents('silent', 'v1');
    expect([...byType('Release Failed').values()]).toEqual([1, 1]);
  });

  it('hangs on the HTTP request itself: the job fails at jobTimeoutSeconds, not after the retries', async () => {
    await deployment('hung', {
      jobAgent: { type: 'webhook', url: hangingAgent.url },
      jobTimeoutSeconds: 120,
    });
    const started = Date.now();

    await admin.post('/v1/deployments/hung/versions', { tag: 'v1' });

    const view = await waitSettled(admin, 'hung', 'v1', RESOURCES.length);
    expect(Date.now() - started).toBeLessThan(9_000);
    for (const release of view.releases) {
      expect(release.status).toBe('failed');
      expect(release.message).toMatch(/timed out/);
    }
    // The agent answers at last and reports success with the token it got: too late, 409.
    const jobs = hangingAgent.held.map((h) => JSON.parse(h.body) as ReceivedJob);
    expect(new Set(jobs.map((j) => j.resource.id))).toEqual(new Set(RESOURCES));
    hangingAgent.releaseAll(200);
    for (const job of jobs) {
      const late = await fetch(job.callback.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${job.callback.token}` },
        body: JSON.stringify({ status: 'successful' }),
      });
      expect(late.status).toBe(409);
    }
    const after = await versionView(admin, 'hung', 'v1');
    expect(after.releases.map((r) => r.status)).toEqual(['failed', 'failed']);
  });
});

describe('a job agent that calls back twice', () => {
  it('the second identical report is 200 and changes nothing; a different one is 409', async () => {
    await deployment('twice');
    await admin.post('/v1/deployments/twice/versions', { tag: 'v1' });
    const jobs = await eventually(
      async () => jobsOf('twice', 'v1'),
      (j) => j.length === RESOURCES.length,
    );

    for (const job of jobs) {
      const first = await agent.report(job, 'successful');
      const second = await agent.report(job, 'successful');
      expect([first.status, second.status]).toEqual([200, 200]);
      expect(second.body).toEqual(first.body);
    }
    const view = await waitSettled(admin, 'twice', 'v1', RESOURCES.length);
    expect(view.releases.map((r) => r.status)).toEqual(['successful', 'successful']);
    for (const job of jobs) {
      expect((await agent.report(job, 'failed')).status).toBe(409);
      expect((await agent.report(job, 'in_progress')).status).toBe(409);
      // The same answer through a jobs:write key instead of the token.
      const byKey = await agentKey.post(`/v1/jobs/${job.jobId}/status`, { status: 'successful' });
      expect(byKey.status).toBe(200);
    }
    const { byType, events } = await finishedEvents('twice', 'v1');
    expect([...byType('Release Succeeded').values()]).toEqual([1, 1]);
    const terminal = events.filter((e) => e.detailType === 'Job Updated' && e.data?.status === 'successful');
    expect(terminal).toHaveLength(RESOURCES.length);
    const after = await versionView(admin, 'twice', 'v1');
    expect(after.releases.map((r) => r.status)).toEqual(['successful', 'successful']);
  });
});

describe('a metrics provider that hangs', () => {
  it('is inconclusive, never a pass: the release does not succeed', async () => {
    await deployment('verify');
    const policy = await admin.put('/v1/policies/verify-hang', {
      targets: "deployment.id == 'verify'",
      rules: {
        verification: {
          metrics: [
            {
              name: 'error-rate',
              provider: { type: 'http', url: hangingMetrics.url, method: 'GET', timeoutSeconds: 1 },
              intervalSeconds: 60,
              count: 3,
              failureLimit: 0,
              successCondition: 'result.json.errorRate < 0.01',
            },
          ],
        },
      },
    });
    expect(policy.status).toBe(201);

    await admin.post('/v1/deployments/verify/versions', { tag: 'v1' });

    const view = await waitSettled(admin, 'verify', 'v1', RESOURCES.length, 25_000);
    const full = await admin.get<{
      releases: {
        status: string;
        verification: { status: string; metrics: { last: { outcome: string } | null }[] } | null;
      }[];
    }>('/v1/deployments/verify/versions/v1');
    for (const release of full.body.releases) {
      expect(release.status).toBe('failed');
      expect(release.verification?.status).not.toBe('passed');
      expect(release.verification?.metrics[0]?.last?.outcome).toBe('inconclusive');
    }
    expect(view.releases.every((r) => r.message?.includes('Verification failed'))).toBe(true);
    expect(hangingMetrics.held.length).toBeGreaterThanOrEqual(RESOURCES.length * 2);
    const { byType } = await finishedEvents('verify', 'v1');
    expect(byType('Release Succeeded').size).toBe(0);
    expect([...byType('Release Failed').values()]).toEqual([1, 1]);
    const targets = await admin.get<{ items: { currentVersion: string | null }[] }>(
      '/v1/release-targets?deployment=verify',
    );
    // No version ever succeeded there (the field is absent rather than null today).
    expect(targets.body.items.map((t) => t.currentVersion ?? null)).toEqual([null, null]);
  }, 40_000);
});
