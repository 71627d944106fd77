import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalServer } from '../../infra/local/server';
import { type Client, eventually } from '../helpers/client';
import { startTestServer } from '../helpers/local';

/**
 * A polling agent (Otto's "evented and polling"): it answers 202 with a statusUrl and never calls
 * back; Gantry polls it in a bounded Wait loop until a terminal status, and the job timeout applies.
 */
interface VersionView {
  releases: { resource: string; status: string; message: string | null }[];
}

let server: LocalServer;
let admin: Client;
let agent: Server;
let agentUrl = '';
const states = new Map<string, 'pending' | 'successful' | 'failed'>();
let polls = 0;
let jobsReceived = 0;

beforeAll(async () => {
  agent = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    if (req.method === 'POST') {
      jobsReceived++;
      const job = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
        jobId: string;
        resource: { id: string };
      };
      states.set(job.jobId, 'pending');
      // The job finishes after a while on its own; "stuck" never does.
      if (job.resource.id !== 'stuck') setTimeout(() => states.set(job.jobId, 'successful'), 1500);
      res
        .writeHead(202, { 'content-type': 'application/json' })
        .end(JSON.stringify({ statusUrl: `${agentUrl}/status/${job.jobId}` }));
      return;
    }
    polls++;
    const jobId = req.url?.split('/').pop() ?? '';
    res
      .writeHead(200, { 'content-type': 'application/json' })
      .end(JSON.stringify({ status: states.get(jobId) ?? 'unknown' }));
  });
  await new Promise<void>((resolve) => agent.listen(0, '127.0.0.1', resolve));
  agentUrl = `http://127.0.0.1:${(agent.address() as AddressInfo).port}`;
  ({ server, admin } = await startTestServer({ timeScale: 60 }));
  for (const id of ['a', 'b', 'stuck'])
    await admin.put(`/v1/resources/${id}`, { kind: 'vm', name: id, metadata: { env: 'ci' } });
  await admin.put('/v1/environments/ci', { resourceSelector: "resource.metadata.env == 'ci'" });
  await admin.put('/v1/deployments/batch', {
    jobAgent: { type: 'webhook', url: `${agentUrl}/jobs`, pollIntervalSeconds: 30 },
    jobTimeoutSeconds: 300,
  });
});

afterAll(async () => {
  await server?.close();
  agent?.close();
});

describe('polling agents', () => {
  it('are polled until they report, and time out like any job', async () => {
    await admin.post('/v1/deployments/batch/versions', { tag: 'b1' });
    const done = await eventually(
      () => admin.get<VersionView>('/v1/deployments/batch/versions/b1'),
      (r) =>
        r.body.releases.length === 3 &&
        r.body.releases.every((x) => x.status === 'successful' || x.status === 'failed'),
      { timeoutMs: 25_000 },
    );
    const byResource = Object.fromEntries(done.body.releases.map((r) => [r.resource, r.status]));
    expect(byResource).toEqual({ a: 'successful', b: 'successful', stuck: 'failed' });
    expect(done.body.releases.find((r) => r.resource === 'stuck')?.message).toContain('timed out');
    expect(jobsReceived).toBe(3);
    // Polled every 30 s of policy time (0.5 s real) for at most 300 s: a bounded loop, not a spin.
    expect(polls).toBeGreaterThan(3);
    expect(polls).toBeLessThan(60);
    const executions = server.engine.listExecutions({
      stateMachineArn: 'arn:aws:states:us-east-1:000000000000:stateMachine:gantry-rollout',
    });
    for (const execution of executions) expect(execution.historyEventCount).toBeLessThan(500);
  }, 30_000);
});
