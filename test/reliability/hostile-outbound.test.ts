import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { type AddressInfo, Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { LocalServer } from '../../infra/local/server';
import { FakeAgent } from '../helpers/agent';
import { type Client, eventually } from '../helpers/client';
import { startTestServer } from '../helpers/local';

/**
 * Issue 17: every HTTP request the server makes goes through one guarded client. The server runs
 * with the AWS policy: no loopback, private or link-local address, except 127.0.0.2, which
 * GANTRY_OUTBOUND_ALLOW names the way an operator names an internal range. The fakes that should be
 * reachable listen there; 127.0.0.1, localhost, the metadata service and the Lambda Runtime API
 * stay refused.
 */
const ALLOWED_HOST = '127.0.0.2';
const GITHUB_TOKEN = 'ghp_outbound-test-token-0123456789';

interface Release {
  status: string;
  message: string | null;
  verification: {
    metrics: { last: { outcome: string; value?: unknown; error?: string } | null }[];
  } | null;
}

/** A fake service on 127.0.0.2 that records its requests and whether a client hung up mid-answer. */
interface Fake {
  origin: string;
  requests: { method: string; url: string; headers: IncomingMessage['headers'] }[];
  written: number;
  hungUp: boolean;
}
const fakes: Server[] = [];
async function fake(handle: (res: ServerResponse, self: Fake, req: IncomingMessage) => void): Promise<Fake> {
  const self: Fake = { origin: '', requests: [], written: 0, hungUp: false };
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      self.requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
      res.on('close', () => {
        if (!res.writableFinished) self.hungUp = true;
      });
      handle(res, self, req);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, ALLOWED_HOST, resolve));
  fakes.push(server);
  self.origin = `http://${ALLOWED_HOST}:${(server.address() as AddressInfo).port}`;
  return self;
}

/** Every address a socket of this process was asked to connect to. */
const connects: string[] = [];
const originalConnect = Socket.prototype.connect;
vi.spyOn(Socket.prototype, 'connect').mockImplementation(function (this: Socket, ...args: unknown[]) {
  const [first, second] = args;
  connects.push(
    String(typeof first === 'object' && first !== null ? (first as { host?: string }).host : second),
  );
  return (originalConnect as (...a: unknown[]) => Socket).apply(this, args);
});

const closeFakes = () => {
  for (const server of fakes.splice(0)) {
    server.closeAllConnections();
    server.close();
  }
};

let server: LocalServer;
let admin: Client;
const localAgent = new FakeAgent(); // on 127.0.0.1: refused under this policy
const allowedAgent = new FakeAgent(); // on 127.0.0.2
let slackRedirect: Fake;
let slackElsewhere: Fake;

async function deploy(id: string, deployment: Record<string, unknown>, policy?: Record<string, unknown>) {
  expect((await admin.put(`/v1/deployments/${id}`, deployment)).status).toBe(201);
  if (policy) {
    const put = await admin.put(`/v1/policies/${id}`, { targets: `deployment.id == '${id}'`, rules: policy });
    expect(put.status).toBe(201);
  }
  expect((await admin.post(`/v1/deployments/${id}/versions`, { tag: 'v1' })).status).toBe(201);
}

async function finished(id: string): Promise<Release> {
  const done = await eventually(
    () => admin.get<{ releases: Release[] }>(`/v1/deployments/${id}/versions/v1`),
    (r) => ['successful', 'failed', 'rolled_back'].includes(r.body.releases[0]?.status ?? ''),
  );
  return done.body.releases[0] as Release;
}

describe('outbound requests under the AWS policy', () => {
  beforeAll(async () => {
    await localAgent.start();
    await allowedAgent.start(ALLOWED_HOST);
    slackElsewhere = await fake((res) => res.end('ok'));
    slackRedirect = await fake((res) =>
      res.writeHead(302, { location: `${slackElsewhere.origin}/hook` }).end(),
    );
    process.env.SLACK_WEBHOOK_URL = `${slackRedirect.origin}/hook`;
    ({ server, admin } = await startTestServer({
      outboundAllow: `${ALLOWED_HOST}/32`,
      secrets: JSON.stringify({ 'gh-token': GITHUB_TOKEN }),
    }));
    await admin.put('/v1/resources/r-1', { kind: 'vm', name: 'r-1', metadata: {} });
    await admin.put('/v1/environments/prod', { resourceSelector: 'true' });
  });

  afterAll(async () => {
    delete process.env.SLACK_WEBHOOK_URL;
    await server?.close();
    await localAgent.stop();
    await allowedAgent.stop();
    closeFakes();
  });

  it.each([
    [
      'loopback',
      () => localAgent.url,
      /refused: 127\.0\.0\.1 is a loopback address \(GANTRY_OUTBOUND_ALLOW\)/,
    ],
    [
      'localhost',
      () => localAgent.url.replace('127.0.0.1', 'localhost'),
      /refused: localhost resolves to 127\.0\.0\.1, a loopback address \(GANTRY_OUTBOUND_ALLOW\)/,
    ],
    [
      'mapped',
      () => localAgent.url.replace('127.0.0.1', '[::ffff:127.0.0.1]'),
      /refused: ::ffff:7f00:1 is a loopback address \(GANTRY_OUTBOUND_ALLOW\)/,
    ],
    [
      'metadata',
      () => 'http://169.254.169.254/latest/meta-data/iam/security-credentials/',
      /refused: 169\.254\.169\.254 is a link-local address \(GANTRY_OUTBOUND_ALLOW\)/,
    ],
    [
      'runtime-api',
      () => 'http://127.0.0.1:9001/2018-06-01/runtime/invocation/next',
      /refused: 127\.0\.0\.1 is a loopback address \(GANTRY_OUTBOUND_ALLOW\)/,
    ],
  ])('a webhook agent at the %s address fails its job, naming the refusal', async (name, url, refusal) => {
    const id = `refused-${name}`;
    await deploy(id, { jobAgent: { type: 'webhook', url: url() } });
    const release = await finished(id);

    expect(release.status).toBe('failed');
    expect(release.message).toMatch(refusal);
    expect(localAgent.jobs).toHaveLength(0);
    expect(connects).not.toContain('169.254.169.254');
  });

  it('does not follow a redirect for an agent: the GitHub API answering 302 fails the job', async () => {
    const elsewhere = await fake((res) => res.writeHead(204).end());
    const github = await fake((res) =>
      res.writeHead(302, { location: `${elsewhere.origin}/dispatches` }).end(),
    );

    await deploy('redirected-agent', {
      jobAgent: {
        type: 'github',
        owner: 'acme',
        repo: 'api',
        workflow: 'deploy.yml',
        ref: 'main',
        tokenSecretRef: 'gh-token',
        apiUrl: github.origin,
      },
    });
    const release = await finished('redirected-agent');

    expect(release.status).toBe('failed');
    expect(release.message).toMatch(/answered HTTP 302/);
    expect(github.requests).toHaveLength(1);
    expect(elsewhere.requests).toHaveLength(0);
    expect(release.message).not.toContain(GITHUB_TOKEN);
  });

  it('does not follow a redirect for verification: the 302 is the result the condition judges', async () => {
    const elsewhere = await fake((res) =>
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}'),
    );
    const metric = await fake((res) => res.writeHead(302, { location: `${elsewhere.origin}/health` }).end());

    await deploy(
      'redirected-metric',
      { jobAgent: { type: 'webhook', url: allowedAgent.url } },
      {
        verification: {
          metrics: [
            {
              name: 'health',
              provider: { type: 'http', url: `${metric.origin}/health` },
              intervalSeconds: 1,
              count: 1,
              successCondition: 'result.status == 200',
            },
          ],
        },
      },
    );
    const release = await finished('redirected-metric');

    expect(release.status).toBe('failed');
    expect(release.verification?.metrics[0]?.last).toMatchObject({
      outcome: 'failure',
      value: { status: 302 },
    });
    expect(metric.requests).toHaveLength(1);
    expect(elsewhere.requests).toHaveLength(0);
  });

  it('does not follow a redirect for Slack: the approval message is not sent elsewhere', async () => {
    await deploy(
      'redirected-slack',
      { jobAgent: { type: 'webhook', url: allowedAgent.url } },
      {
        approval: { minApprovals: 1 },
      },
    );

    await eventually(
      async () => slackRedirect.requests.length,
      (n) => n > 0,
    );
    await new Promise((resolve) => setTimeout(resolve, 1_500)); // past the first retry's delay
    expect(slackRedirect.requests).toHaveLength(1); // a 3xx is final, like a 4xx
    expect(slackRedirect.requests[0]?.method).toBe('POST');
    expect(slackElsewhere.requests).toHaveLength(0);
  });

  it('fails a job whose agent answers 64 MiB, reading no further than the cap', async () => {
    const flood = await fake((res, self) => {
      const chunk = Buffer.alloc(64 * 1024, 'x');
      res.writeHead(200, { 'content-type': 'application/json' });
      const pump = () => {
        while (self.written < 64 * 1024 * 1024 && !res.destroyed) {
          self.written += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
        res.end();
      };
      pump();
    });

    await deploy('oversized', { jobAgent: { type: 'webhook', url: `${flood.origin}/jobs` } });
    const release = await finished('oversized');

    expect(release.status).toBe('failed');
    expect(release.message).toMatch(/the answer is larger than 1048576 bytes/);
    await eventually(
      async () => flood.hungUp,
      (hungUp) => hungUp,
    );
    expect(flood.requests).toHaveLength(1); // not retried: the same answer would come again
    expect(flood.written).toBeLessThan(32 * 1024 * 1024);
  });

  it('times out a metric endpoint that stalls in the middle of its answer', async () => {
    const stall = await fake((res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '1000' });
      res.write('{"errorRate":');
    });

    await deploy(
      'stalled-metric',
      { jobAgent: { type: 'webhook', url: allowedAgent.url } },
      {
        verification: {
          metrics: [
            {
              name: 'health',
              provider: { type: 'http', url: `${stall.origin}/health`, timeoutSeconds: 1 },
              intervalSeconds: 1,
              count: 1,
              successCondition: 'result.status == 200',
            },
          ],
        },
      },
    );
    const release = await finished('stalled-metric');

    expect(release.status).toBe('failed');
    expect(release.verification?.metrics[0]?.last).toMatchObject({
      outcome: 'inconclusive',
      error: 'http: timed out after 1000 ms',
    });
    await eventually(
      async () => stall.hungUp,
      (hungUp) => hungUp,
    );
  });
});

describe('outbound requests with GANTRY_OUTBOUND_ALLOW=loopback', () => {
  const agent = new FakeAgent();

  beforeAll(async () => {
    await agent.start();
    process.env.GANTRY_OUTBOUND_ALLOW = 'loopback';
    ({ server, admin } = await startTestServer());
    await admin.put('/v1/resources/r-1', { kind: 'vm', name: 'r-1', metadata: {} });
    await admin.put('/v1/environments/prod', { resourceSelector: 'true' });
  });

  afterAll(async () => {
    await server?.close();
    await agent.stop();
  });

  it('the same webhook agent at 127.0.0.1 gets its job and the release succeeds', async () => {
    await deploy('loopback-allowed', { jobAgent: { type: 'webhook', url: agent.url } });
    const release = await finished('loopback-allowed');

    expect(release.status).toBe('successful');
    expect(agent.jobs).toHaveLength(1);
  });
});
