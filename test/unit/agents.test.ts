import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type AgentDeps,
  dispatchJob,
  JobDispatchError,
  type JobPayload,
  pollJobStatus,
} from '../../shared/adapters/agents';
import type { JobAgent } from '../../shared/core/schemas/config';
import { sha256Hex, signRequest } from '../../shared/core/signature';

interface Recorded {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/** Answers with `handler(request, attemptIndex, res)`; a handler that never ends `res` makes the server hang. */
type Handler = (req: Recorded, index: number, res: ServerResponse) => void;

interface TestServer {
  url: string;
  requests: Recorded[];
}

const servers: { close: () => void }[] = [];

afterEach(() => {
  for (const server of servers.splice(0)) server.close();
});

async function startServer(handler: Handler): Promise<TestServer> {
  const requests: Recorded[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const recorded = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      };
      requests.push(recorded);
      handler(recorded, requests.length - 1, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  servers.push({
    close: () => {
      server.closeAllConnections();
      server.close();
    },
  });
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, requests };
}

function reply(res: ServerResponse, status: number, body?: unknown) {
  if (body === undefined) {
    res.writeHead(status).end();
    return;
  }
  res.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify(body));
}

const SECRET = 'webhook-secret-value-123';
const TOKEN = 'ghp_supersecrettoken456';
const CALLBACK_TOKEN = 'job-callback-token-789';

const job: JobPayload = {
  jobId: '01JOB',
  kind: 'deploy',
  deployment: { id: 'api', name: 'API' },
  environment: { id: 'prod', name: 'Production' },
  resource: { id: 'cluster-1', kind: 'ecs-service', name: 'Cluster 1', metadata: { region: 'eu-west-1' } },
  version: { tag: 'v1.2.3', config: { replicas: 3, nested: { a: [1, 'ü'] } }, metadata: { commit: 'abc' } },
  variables: { LOG_LEVEL: 'info' },
  callback: { url: 'https://gantry.example.com/v1/jobs/01JOB/status', token: CALLBACK_TOKEN },
};

function testDeps(overrides: Partial<AgentDeps> = {}) {
  const sleeps: number[] = [];
  const secretNames: string[] = [];
  const deps: AgentDeps = {
    getSecret: async (name) => {
      secretNames.push(name);
      return name === 'gh-token' ? TOKEN : SECRET;
    },
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    attemptTimeoutMs: 1000,
    ...overrides,
  };
  return { deps, sleeps, secretNames };
}

async function dispatchError(promise: Promise<unknown>): Promise<JobDispatchError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(JobDispatchError);
  const failure = error as JobDispatchError;
  for (const secret of [SECRET, TOKEN, CALLBACK_TOKEN]) expect(failure.message).not.toContain(secret);
  return failure;
}

describe('webhook agent', () => {
  it('posts the job exactly as JSON, signed over the raw body', async () => {
    const server = await startServer((_req, _i, res) => reply(res, 200));
    const { deps, secretNames } = testDeps();
    const agent: JobAgent = {
      type: 'webhook',
      url: `${server.url}/hooks/deploy?team=a%20b`,
      secretRef: 'hook-secret',
    };
    const before = Math.floor(Date.now() / 1000);

    await expect(dispatchJob(agent, job, deps)).resolves.toEqual({ type: 'accepted' });

    expect(secretNames).toEqual(['hook-secret']);
    expect(server.requests).toHaveLength(1);
    const [req] = server.requests;
    expect(req?.method).toBe('POST');
    expect(req?.url).toBe('/hooks/deploy?team=a%20b');
    expect(req?.body).toBe(JSON.stringify(job));
    expect(JSON.parse(req?.body ?? '')).toEqual(job);
    expect(req?.headers['content-type']).toBe('application/json');
    expect(req?.headers['x-gantry-key-id']).toBeUndefined();
    const timestamp = String(req?.headers['x-gantry-timestamp']);
    expect(Number(timestamp)).toBeGreaterThanOrEqual(before);
    expect(Number(timestamp)).toBeLessThanOrEqual(Math.floor(Date.now() / 1000));
    expect(req?.headers['x-gantry-signature']).toBe(
      signRequest(SECRET, timestamp, 'POST', req?.url ?? '', req?.body ?? ''),
    );
    expect(req?.headers['x-gantry-signature']).toMatch(/^v1=[0-9a-f]{64}$/);
    expect(sha256Hex(req?.body ?? '')).toBe(sha256Hex(JSON.stringify(job)));
  });

  it('sends no signature headers without a secretRef', async () => {
    const server = await startServer((_req, _i, res) => reply(res, 204));
    const { deps, secretNames } = testDeps();

    await expect(dispatchJob({ type: 'webhook', url: `${server.url}/hook` }, job, deps)).resolves.toEqual({
      type: 'accepted',
    });

    expect(secretNames).toEqual([]);
    expect(server.requests[0]?.headers['x-gantry-timestamp']).toBeUndefined();
    expect(server.requests[0]?.headers['x-gantry-signature']).toBeUndefined();
  });

  it('retries a 500 with exponential backoff, then succeeds', async () => {
    const server = await startServer((_req, i, res) => reply(res, i < 2 ? 500 : 200));
    const { deps, sleeps } = testDeps();

    await expect(
      dispatchJob({ type: 'webhook', url: server.url, secretRef: 's' }, job, deps),
    ).resolves.toEqual({
      type: 'accepted',
    });

    expect(server.requests).toHaveLength(3);
    expect(sleeps).toHaveLength(2);
    expect(sleeps[0]).toBeGreaterThanOrEqual(800);
    expect(sleeps[0]).toBeLessThanOrEqual(1200);
    expect(sleeps[1]).toBeGreaterThanOrEqual(1600);
    expect(sleeps[1]).toBeLessThanOrEqual(2400);
    for (const req of server.requests) expect(req.body).toBe(JSON.stringify(job));
  });

  it('retries a server that hangs past the attempt timeout', async () => {
    const server = await startServer((_req, i, res) => {
      if (i > 0) reply(res, 200);
    });
    const { deps } = testDeps({ attemptTimeoutMs: 100 });

    await expect(dispatchJob({ type: 'webhook', url: server.url }, job, deps)).resolves.toEqual({
      type: 'accepted',
    });
    expect(server.requests).toHaveLength(2);
  });

  it('gives up after maxAttempts with a retryable JobDispatchError', async () => {
    const server = await startServer((_req, _i, res) => reply(res, 503));
    const { deps, sleeps } = testDeps({ maxAttempts: 3 });

    const error = await dispatchError(
      dispatchJob({ type: 'webhook', url: server.url, secretRef: 's' }, job, deps),
    );

    expect(server.requests).toHaveLength(3);
    expect(sleeps).toHaveLength(2);
    expect(error.retryable).toBe(true);
    expect(error.status).toBe(503);
    expect(error.message).toContain('503');
    expect(error.message).toContain('3 attempts');
  });

  it('gives up on a server that always hangs, and by default tries 4 times', async () => {
    const server = await startServer(() => {});
    const { deps, sleeps } = testDeps({ attemptTimeoutMs: 50 });

    const error = await dispatchError(dispatchJob({ type: 'webhook', url: server.url }, job, deps));

    expect(server.requests).toHaveLength(4);
    expect(sleeps).toHaveLength(3);
    expect(sleeps[2]).toBeGreaterThanOrEqual(3200);
    expect(sleeps[2]).toBeLessThanOrEqual(4800);
    expect(error.message).toContain('timed out');
    expect(error.status).toBeUndefined();
  });

  it('gives up on a refused connection', async () => {
    const server = await startServer(() => {});
    for (const s of servers.splice(0)) s.close();
    const { deps } = testDeps({ maxAttempts: 2 });

    const error = await dispatchError(dispatchJob({ type: 'webhook', url: server.url }, job, deps));
    expect(error.message).toContain('connection failed');
  });

  it('retries a 400 with backoff like any non-2xx (docs/api.md section 6), and never leaks the callback token or secret', async () => {
    // A receiver that echoes what it got must not push the token into the error.
    const server = await startServer((req, _i, res) => reply(res, 400, { got: req.body, sig: SECRET }));
    const { deps, sleeps } = testDeps();

    const error = await dispatchError(
      dispatchJob({ type: 'webhook', url: `${server.url}/hook?key=${SECRET}`, secretRef: 's' }, job, deps),
    );

    expect(server.requests).toHaveLength(4);
    expect(sleeps).toHaveLength(3);
    expect(error.status).toBe(400);
  });

  it('retries 408 and 429', async () => {
    const server = await startServer((_req, i, res) => reply(res, [408, 429, 202][i] ?? 500));
    const { deps } = testDeps();

    await expect(dispatchJob({ type: 'webhook', url: server.url }, job, deps)).resolves.toEqual({
      type: 'accepted',
    });
    expect(server.requests).toHaveLength(3);
  });

  it('switches to polling on 202 with a statusUrl of its own origin', async () => {
    const server = await startServer((_req, _i, res) =>
      reply(res, 202, { statusUrl: `${server.url}/jobs/1` }),
    );
    const { deps } = testDeps();

    await expect(dispatchJob({ type: 'webhook', url: server.url }, job, deps)).resolves.toEqual({
      type: 'polling',
      statusUrl: `${server.url}/jobs/1`,
      pollIntervalSeconds: 30,
    });
    await expect(
      dispatchJob({ type: 'webhook', url: server.url, pollIntervalSeconds: 5 }, job, deps),
    ).resolves.toMatchObject({ type: 'polling', pollIntervalSeconds: 5 });
  });

  it('resolves a relative statusUrl against the agent URL', async () => {
    const server = await startServer((_req, _i, res) => reply(res, 202, { statusUrl: '/status/1' }));
    const { deps } = testDeps();

    await expect(dispatchJob({ type: 'webhook', url: `${server.url}/hook` }, job, deps)).resolves.toEqual({
      type: 'polling',
      statusUrl: `${server.url}/status/1`,
      pollIntervalSeconds: 30,
    });
  });

  it('treats a 202 without a statusUrl as accepted and rejects a non-http statusUrl', async () => {
    const plain = await startServer((_req, _i, res) => reply(res, 202, { queued: true }));
    const bad = await startServer((_req, _i, res) => reply(res, 202, { statusUrl: 'ftp://agent.example/1' }));
    const { deps } = testDeps();

    await expect(dispatchJob({ type: 'webhook', url: plain.url }, job, deps)).resolves.toEqual({
      type: 'accepted',
    });
    const error = await dispatchError(dispatchJob({ type: 'webhook', url: bad.url }, job, deps));
    expect(error.retryable).toBe(false);
    expect(bad.requests).toHaveLength(1);
  });

  it.each([
    ['another host', 'https://agent.example/jobs/1'],
    ['the Lambda Runtime API', 'http://127.0.0.1:9001/2018-06-01/runtime/invocation/next'],
    ['the instance metadata service', 'http://169.254.169.254/latest/meta-data/'],
  ])('refuses a statusUrl on %s (issue 17: only the agent origin is polled)', async (_name, statusUrl) => {
    const server = await startServer((_req, _i, res) => reply(res, 202, { statusUrl }));
    const { deps } = testDeps();

    const error = await dispatchError(dispatchJob({ type: 'webhook', url: server.url }, job, deps));
    expect(error.retryable).toBe(false);
    expect(error.message).toContain('another origin');
    expect(server.requests).toHaveLength(1);
  });

  it('does not follow redirects', async () => {
    const target = await startServer((_req, _i, res) => reply(res, 200));
    const server = await startServer((_req, _i, res) =>
      res.writeHead(307, { Location: `${target.url}/x` }).end(),
    );
    const { deps } = testDeps();

    const error = await dispatchError(dispatchJob({ type: 'webhook', url: server.url }, job, deps));
    expect(error.status).toBe(307);
    expect(target.requests).toHaveLength(0);
  });

  it('wraps a failing secret lookup', async () => {
    const { deps } = testDeps({
      getSecret: async () => {
        throw new Error('ResourceNotFoundException');
      },
    });
    const error = await dispatchError(
      dispatchJob({ type: 'webhook', url: 'http://127.0.0.1:9/', secretRef: 'gone' }, job, deps),
    );
    expect(error.message).toContain('gone');
  });
});

describe('github agent', () => {
  const agent = (apiUrl: string): JobAgent => ({
    type: 'github',
    owner: 'acme',
    repo: 'my app',
    workflow: 'deploy prod.yml',
    ref: 'main',
    tokenSecretRef: 'gh-token',
    apiUrl,
  });

  it('dispatches the workflow under an Enterprise base path', async () => {
    const server = await startServer((_req, _i, res) => reply(res, 204));
    const { deps, secretNames } = testDeps();

    await expect(dispatchJob(agent(`${server.url}/api/v3/`), job, deps)).resolves.toEqual({
      type: 'accepted',
    });

    expect(secretNames).toEqual(['gh-token']);
    const [req] = server.requests;
    expect(req?.method).toBe('POST');
    expect(req?.url).toBe('/api/v3/repos/acme/my%20app/actions/workflows/deploy%20prod.yml/dispatches');
    expect(JSON.parse(req?.body ?? '')).toEqual({
      ref: 'main',
      inputs: { job_id: '01JOB', callback_url: 'https://gantry.example.com/v1/jobs/01JOB/status' },
    });
    expect(req?.body).not.toContain(CALLBACK_TOKEN);
    expect(req?.headers.authorization).toBe(`Bearer ${TOKEN}`);
    expect(req?.headers.accept).toBe('application/vnd.github+json');
    expect(req?.headers['x-github-api-version']).toBe('2022-11-28');
    expect(req?.headers['user-agent']).toBe('gantry');
    expect(req?.headers['content-type']).toBe('application/json');
  });

  it('works without a base path and accepts 200', async () => {
    const server = await startServer((_req, _i, res) => reply(res, 200, { workflow_run_id: 1 }));
    const { deps } = testDeps();

    await expect(dispatchJob(agent(server.url), job, deps)).resolves.toEqual({ type: 'accepted' });
    expect(server.requests[0]?.url).toBe(
      '/repos/acme/my%20app/actions/workflows/deploy%20prod.yml/dispatches',
    );
  });

  it('retries 5xx, 429 and timeouts', async () => {
    const server = await startServer((_req, i, res) => {
      if (i === 0) reply(res, 502);
      else if (i === 1) reply(res, 429, { message: 'secondary rate limit' });
      else if (i === 3) reply(res, 204);
    });
    const { deps, sleeps } = testDeps({ attemptTimeoutMs: 100 });

    await expect(dispatchJob(agent(server.url), job, deps)).resolves.toEqual({ type: 'accepted' });
    expect(server.requests).toHaveLength(4);
    expect(sleeps).toHaveLength(3);
  });

  it("fails a 404 at once, naming the status and GitHub's message but not the token", async () => {
    const server = await startServer((_req, _i, res) =>
      reply(res, 404, {
        message: `Not Found (token ${TOKEN})`,
        documentation_url: 'https://docs.github.com',
      }),
    );
    const { deps, sleeps } = testDeps();

    const error = await dispatchError(dispatchJob(agent(server.url), job, deps));

    expect(server.requests).toHaveLength(1);
    expect(sleeps).toEqual([]);
    expect(error.retryable).toBe(false);
    expect(error.status).toBe(404);
    expect(error.message).toContain('404');
    expect(error.message).toContain('Not Found');
  });

  it('gives up on repeated 500s with the last status', async () => {
    const server = await startServer((_req, _i, res) => reply(res, 500, { message: 'Server Error' }));
    const { deps } = testDeps({ maxAttempts: 2 });

    const error = await dispatchError(dispatchJob(agent(server.url), job, deps));
    expect(server.requests).toHaveLength(2);
    expect(error.retryable).toBe(true);
    expect(error.status).toBe(500);
    expect(error.message).toContain('Server Error');
  });
});

describe('pollJobStatus', () => {
  it.each([
    [{ status: 'successful' }, 'successful'],
    [{ status: 'failed' }, 'failed'],
    [{ status: 'in_progress' }, 'pending'],
    [{}, 'pending'],
    [['successful'], 'pending'],
    [null, 'pending'],
  ])('reads %j as %s', async (body, expected) => {
    const server = await startServer((_req, _i, res) => reply(res, 200, body));
    const { deps } = testDeps();

    await expect(pollJobStatus(`${server.url}/jobs/1?x=1`, deps)).resolves.toBe(expected);
    expect(server.requests[0]?.method).toBe('GET');
    expect(server.requests[0]?.url).toBe('/jobs/1?x=1');
  });

  it('retries a 503 and a body that is not JSON', async () => {
    const server = await startServer((_req, i, res) => {
      if (i === 0) reply(res, 503);
      else if (i === 1) res.writeHead(200).end('<html>oops</html>');
      else reply(res, 200, { status: 'successful' });
    });
    const { deps } = testDeps();

    await expect(pollJobStatus(server.url, deps)).resolves.toBe('successful');
    expect(server.requests).toHaveLength(3);
  });

  it('throws after retries on non-2xx or bad JSON', async () => {
    const failing = await startServer((_req, _i, res) => reply(res, 500));
    const garbled = await startServer((_req, _i, res) => res.writeHead(200).end('not json'));
    const { deps } = testDeps({ maxAttempts: 2 });

    const error = await dispatchError(pollJobStatus(failing.url, deps));
    expect(error.status).toBe(500);
    expect(failing.requests).toHaveLength(2);
    const parseError = await dispatchError(pollJobStatus(garbled.url, deps));
    expect(parseError.message).toContain('not JSON');
    expect(garbled.requests).toHaveLength(2);
  });

  it('does not follow a redirect of the status URL (a success behind it does not count)', async () => {
    const elsewhere = await startServer((_req, _i, res) => reply(res, 200, { status: 'successful' }));
    const server = await startServer((_req, _i, res) =>
      res.writeHead(302, { Location: elsewhere.url }).end(),
    );
    const { deps } = testDeps({ maxAttempts: 1 });

    const error = await dispatchError(pollJobStatus(server.url, deps));
    expect(error.status).toBe(302);
    expect(elsewhere.requests).toHaveLength(0);
  });

  it('throws at once on a 404', async () => {
    const server = await startServer((_req, _i, res) => reply(res, 404));
    const { deps } = testDeps();

    const error = await dispatchError(pollJobStatus(server.url, deps));
    expect(error.retryable).toBe(false);
    expect(server.requests).toHaveLength(1);
  });
});
