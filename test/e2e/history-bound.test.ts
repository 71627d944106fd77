import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { localDefinitions } from '../../infra/local/functions';
import type { LocalServer } from '../../infra/local/server';
import { releaseIdOf } from '../../shared/core/ids';
import { MAX_ROUNDS_PER_EXECUTION } from '../../shared/services/rollouts/rounds';
import { type Client, eventually } from '../helpers/client';
import { startTestServer } from '../helpers/local';

/**
 * Issue 16 item 6: Step Functions' 25,000 history events bound the whole execution, not each loop.
 * A deploy job polled for a while, a long verification that fails, and a rollback job polled for a
 * while are more loop rounds together than one execution may run: the rollout continues in a new
 * execution of the release (`-g1`) in the middle of polling the rollback job, and finishes there.
 */
interface VersionView {
  releases: { resource: string; status: string; rolledBackTo: string | null; message: string | null }[];
}

const DEPLOY_POLLS = 40;
const MEASURES = 900;
const ROLLBACK_POLLS = 150;

let server: LocalServer;
let admin: Client;
let agent: Server;
let agentUrl = '';
let metrics: Server;
let metricsUrl = '';
let healthy = true;
/** Per job: polls still answered `pending`, and its kind. */
const jobs = new Map<string, { kind: string; pendingPolls: number; polls: number }>();

beforeAll(async () => {
  agent = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    if (req.method === 'POST') {
      const job = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
        jobId: string;
        kind: string;
        version: { tag: string };
      };
      // The rollback job deploys v1 again: it is the slow one.
      const pendingPolls =
        job.kind === 'rollback' ? ROLLBACK_POLLS : job.version.tag === 'v1' ? 0 : DEPLOY_POLLS;
      jobs.set(job.jobId, { kind: job.kind, pendingPolls, polls: 0 });
      res
        .writeHead(202, { 'content-type': 'application/json' })
        .end(JSON.stringify({ statusUrl: `${agentUrl}/status/${job.jobId}` }));
      return;
    }
    const job = jobs.get(req.url?.split('/').pop() ?? '');
    if (job) job.polls++;
    const status = !job ? 'unknown' : job.polls > job.pendingPolls ? 'successful' : 'pending';
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ status }));
  });
  await new Promise<void>((resolve) => agent.listen(0, '127.0.0.1', resolve));
  agentUrl = `http://127.0.0.1:${(agent.address() as AddressInfo).port}`;
  metrics = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ ok: healthy }));
  });
  await new Promise<void>((resolve) => metrics.listen(0, '127.0.0.1', resolve));
  metricsUrl = `http://127.0.0.1:${(metrics.address() as AddressInfo).port}/metrics`;

  ({ server, admin } = await startTestServer({ timeScale: 1000 }));
  await admin.put('/v1/resources/t1', { kind: 'vm', name: 't1', metadata: { env: 'bake' } });
  await admin.put('/v1/environments/bake', { resourceSelector: "resource.metadata.env == 'bake'" });
  // A 15,000 s job timeout polls every 10 s (at most 1,500 polls a job): 10 ms at this time scale.
  await admin.put('/v1/deployments/long', {
    jobAgent: { type: 'webhook', url: `${agentUrl}/jobs`, pollIntervalSeconds: 1 },
    jobTimeoutSeconds: 15_000,
  });
  const policy = await admin.put('/v1/policies/long-bake', {
    targets: "deployment.id == 'long'",
    rules: {
      verification: {
        metrics: [
          {
            name: 'ok',
            provider: { type: 'http', url: metricsUrl, method: 'GET', timeoutSeconds: 1 },
            intervalSeconds: 1,
            count: 1000,
            // Fails at the last of MEASURES measurements when unhealthy; one healthy one passes.
            failureLimit: MEASURES - 1,
            consecutiveSuccessLimit: 1,
            successCondition: 'result.json.ok == true',
          },
        ],
      },
      rollback: { onVerificationFailure: true },
    },
  });
  expect(policy.status).toBe(201);
});

afterAll(async () => {
  await server?.close();
  agent?.close();
  metrics?.close();
});

const settled = (tag: string, status: string) =>
  eventually(
    () => admin.get<VersionView>(`/v1/deployments/long/versions/${tag}`),
    (r) => r.body.releases[0]?.status === status,
    { timeoutMs: 90_000, intervalMs: 200 },
  );

describe('bounded execution history', () => {
  it('counts the rounds of every loop of an execution and continues in a new one before the limit', async () => {
    expect(DEPLOY_POLLS + MEASURES).toBeLessThan(MAX_ROUNDS_PER_EXECUTION);
    expect(DEPLOY_POLLS + MEASURES + ROLLBACK_POLLS).toBeGreaterThan(MAX_ROUNDS_PER_EXECUTION);
    await admin.post('/v1/deployments/long/versions', { tag: 'v1' });
    await settled('v1', 'successful');

    healthy = false;
    await admin.post('/v1/deployments/long/versions', { tag: 'v2' });
    const done = await settled('v2', 'rolled_back');
    expect(done.body.releases[0]?.rolledBackTo).toBe('v1');

    await server.engine.idle();
    const arn = localDefinitions()[0]?.arn ?? '';
    const releaseId = releaseIdOf({ deployment: 'long', tag: 'v2', environment: 'bake', resource: 't1' });
    const executions = server.engine
      .listExecutions({ stateMachineArn: arn })
      .filter((e) => e.name.startsWith(releaseId))
      .reverse();
    expect(executions.map((e) => [e.name, e.status])).toEqual([
      [releaseId, 'SUCCEEDED'],
      [`${releaseId}-g1`, 'SUCCEEDED'],
    ]);
    // The first ran its 1,000 rounds (deploy polls, measures, rollback polls) at 9 events each.
    const [first, second] = executions as [(typeof executions)[0], (typeof executions)[0]];
    expect(first.historyEventCount).toBeGreaterThan(9 * MAX_ROUNDS_PER_EXECUTION);
    expect(first.historyEventCount).toBeLessThan(25_000);
    expect(second.historyEventCount).toBeLessThan(9 * ROLLBACK_POLLS);
    // One rollback job, polled across both executions until it answered.
    const rollbacks = [...jobs.values()].filter((j) => j.kind === 'rollback');
    expect(rollbacks).toHaveLength(1);
    expect(rollbacks[0]?.polls).toBe(ROLLBACK_POLLS + 1);
  }, 120_000);
});
