import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { ListExecutionsCommand, SFNClient } from '@aws-sdk/client-sfn';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCAL_REGION, stateMachineArn } from '../../infra/local/arns';
import type { LocalServer } from '../../infra/local/server';
import { FakeAgent } from '../helpers/agent';
import type { Client } from '../helpers/client';
import { ADMIN, startTestServer } from '../helpers/local';
import { errorOf, rawRequest, signedRaw } from '../support/raw';
import { allEvents, waitSettled } from '../support/rollouts';

/**
 * Issue 17 item 4 (docs/api.md section 9): the local server answers only to loopback Host names, and its
 * Step Functions and EventBridge endpoints take only requests signed with the secret made at this
 * start (which the in-process handlers hold), never a browser's.
 */
let server: LocalServer;
let admin: Client;
const agent = new FakeAgent();
const seen: unknown[] = [];

beforeAll(async () => {
  await agent.start();
  ({ server, admin } = await startTestServer());
  server.bus.tap = (event) => seen.push(event);
  await admin.put('/v1/resources/r1', { kind: 'vm', name: 'r1', metadata: {} });
  await admin.put('/v1/environments/prod', { resourceSelector: 'true' });
  await admin.put('/v1/deployments/app', { jobAgent: { type: 'webhook', url: agent.url } });
});

afterAll(async () => {
  await server?.close();
  await agent.stop();
});

const sfn = (credentials: { accessKeyId: string; secretAccessKey: string }, systemClockOffset = 0) =>
  new SFNClient({
    endpoint: `${server.url}/__local/sfn`,
    region: LOCAL_REGION,
    credentials,
    maxAttempts: 1,
    systemClockOffset,
  });
const events = (credentials: { accessKeyId: string; secretAccessKey: string }) =>
  new EventBridgeClient({
    endpoint: `${server.url}/__local/events`,
    region: LOCAL_REGION,
    credentials,
    maxAttempts: 1,
  });
/** What the handlers in this process sign with. */
const handlersCredentials = () => ({
  accessKeyId: process.env.AWS_ACCESS_KEY_ID as string,
  secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY as string,
});
const OLD_FIXED = { accessKeyId: 'local', secretAccessKey: 'local' };
const listRollouts = new ListExecutionsCommand({ stateMachineArn: stateMachineArn('rollout') });
const forgedEntry = (tag: string) => ({
  EventBusName: 'gantry',
  Source: 'gantry',
  DetailType: 'Release Succeeded',
  Detail: JSON.stringify({ deployment: 'app', version: tag, forged: true }),
});
const failure = (call: Promise<unknown>) =>
  call.then(
    () => undefined,
    (error: { name?: string; message?: string; $metadata?: { httpStatusCode?: number } }) => ({
      name: error.name,
      message: error.message,
      status: error.$metadata?.httpStatusCode,
    }),
  );
/** Whatever reached the bus or its file mentions `marker` (the file is written after a flush). */
async function reachedBus(marker: string): Promise<boolean> {
  await server.bus.flush();
  const file = readFileSync(join(server.dataDir, 'events.jsonl'), 'utf8');
  return file.includes(marker) || JSON.stringify(seen).includes(marker);
}

describe('the handlers, signing with the secret of this start', () => {
  it('run a rollout end to end', async () => {
    const created = await admin.post('/v1/deployments/app/versions', { tag: 'v1' });
    expect(created.status).toBe(201);
    expect((await waitSettled(admin, 'app', 'v1', 1)).releases[0]?.status).toBe('successful');
    expect(agent.jobs.map((job) => job.version.tag)).toEqual(['v1']);
    expect((await allEvents(admin, 'app')).map((e) => e.detailType)).toContain('Release Succeeded');
  });

  it('hold a secret other than the old fixed one, and an SDK client with it is answered', async () => {
    expect(handlersCredentials().secretAccessKey).not.toBe('local');
    expect(handlersCredentials().secretAccessKey.length).toBeGreaterThanOrEqual(40);
    const listed = await sfn(handlersCredentials()).send(listRollouts);
    expect(listed.executions?.length).toBeGreaterThan(0);
  });
});

describe('the local Step Functions endpoint', () => {
  it('refuses the old fixed local/local credentials and lists nothing', async () => {
    const refused = await failure(sfn(OLD_FIXED).send(listRollouts));
    expect(refused).toMatchObject({ name: 'InvalidSignatureException', status: 403 });
  });

  it('refuses an unsigned request in the AWS JSON error shape', async () => {
    const reply = await rawRequest(server.url, 'POST', '/__local/sfn', {
      headers: {
        'content-type': 'application/x-amz-json-1.0',
        'x-amz-target': 'AWSStepFunctions.ListExecutions',
      },
      body: JSON.stringify({ stateMachineArn: stateMachineArn('rollout') }),
    });
    expect(reply.status).toBe(403);
    expect(reply.json).toEqual({ __type: 'UnrecognizedClientException', message: expect.any(String) });
    expect(reply.text).not.toContain('executionArn');
  });

  it('refuses a signature dated more than 5 minutes off, and takes one 4 minutes off', async () => {
    for (const offset of [-6 * 60_000, 6 * 60_000]) {
      const refused = await failure(sfn(handlersCredentials(), offset).send(listRollouts));
      expect(refused).toMatchObject({ name: 'InvalidSignatureException', status: 403 });
      expect(refused?.message).toMatch(/expired/i);
    }
    const listed = await sfn(handlersCredentials(), -4 * 60_000).send(listRollouts);
    expect(listed.executions?.length).toBeGreaterThan(0);
  });

  it('refuses a correctly signed request that carries an Origin header (a browser)', async () => {
    const client = sfn(handlersCredentials());
    client.middlewareStack.add(
      (next) => (args) => {
        (args.request as { headers: Record<string, string> }).headers.origin = 'https://evil.example';
        return next(args);
      },
      { step: 'build' },
    );
    const refused = await failure(client.send(listRollouts));
    expect(refused).toMatchObject({ name: 'AccessDeniedException', status: 403 });
  });
});

describe('the local EventBridge endpoint', () => {
  it('refuses a forged PutEvents and the event reaches neither the bus nor the audit trail', async () => {
    const reply = await rawRequest(server.url, 'POST', '/__local/events', {
      headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'AWSEvents.PutEvents' },
      body: JSON.stringify({ Entries: [forgedEntry('forged-unsigned')] }),
    });
    expect(reply.status).toBe(403);
    expect(reply.json).toMatchObject({ __type: 'UnrecognizedClientException' });

    const signedWithOld = await failure(
      events(OLD_FIXED).send(new PutEventsCommand({ Entries: [forgedEntry('forged-old-key')] })),
    );
    expect(signedWithOld).toMatchObject({ name: 'InvalidSignatureException', status: 403 });

    expect(await reachedBus('forged-')).toBe(false);
    expect(JSON.stringify(await allEvents(admin))).not.toContain('forged-');
  });

  it('refuses a signed request whose body was changed after signing', async () => {
    const client = events(handlersCredentials());
    // After signing (the deserialize step runs last): the same length, another tag.
    client.middlewareStack.add(
      (next) => (args) => {
        const request = args.request as { body: string };
        request.body = request.body.replace('tampered-a', 'tampered-b');
        return next(args);
      },
      { step: 'deserialize' },
    );
    const refused = await failure(
      client.send(new PutEventsCommand({ Entries: [forgedEntry('tampered-a')] })),
    );
    expect(refused).toMatchObject({ name: 'InvalidSignatureException', status: 403 });
    expect(await reachedBus('tampered-')).toBe(false);
  });
});

describe('the Host header', () => {
  const port = () => new URL(server.url).port;

  it.each([
    ['GET', '/healthz'],
    ['GET', '/v1/deployments'],
    ['GET', '/ui'],
    ['GET', '/approvals/a-1?t=token'],
    ['POST', '/__local/sfn'],
  ])('evil.example is refused with 403 on %s %s', async (method, path) => {
    const reply = await signedRaw(server.url, ADMIN, method, path, method === 'POST' ? '{}' : '', {
      headers: { host: 'evil.example', 'x-amz-target': 'AWSStepFunctions.ListExecutions' },
    });
    expect(reply.status).toBe(403);
    expect(errorOf(reply.json).code).toBe('forbidden');
  });

  it.each(['evil.example:PORT', '127.0.0.1.evil.example', 'localhost.evil.example:PORT', '127.0.0.2'])(
    'the Host %j is refused',
    async (host) => {
      const reply = await rawRequest(server.url, 'GET', '/healthz', {
        headers: { host: host.replace('PORT', port()) },
      });
      expect(reply.status).toBe(403);
    },
  );

  it.each([
    ['no Host (HTTP/1.0)', 'GET /healthz HTTP/1.0\r\n\r\n'],
    ['an empty Host', 'GET /healthz HTTP/1.1\r\nHost: \r\nConnection: close\r\n\r\n'],
  ])('%s is refused', async (_case, request) => {
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = connect(Number(port()), '127.0.0.1', () => socket.end(request));
      let text = '';
      socket.on('data', (chunk) => {
        text += chunk.toString('utf8');
      });
      socket.on('end', () => resolve(text));
      socket.on('error', reject);
    });
    expect(answer).toMatch(/^HTTP\/1\.\d 403/);
  });

  it.each(['localhost:PORT', '127.0.0.1:PORT', '[::1]:PORT', 'LocalHost:PORT', 'localhost', '127.0.0.1'])(
    'the Host %j is served',
    async (host) => {
      const health = await rawRequest(server.url, 'GET', '/healthz', {
        headers: { host: host.replace('PORT', port()) },
      });
      expect(health.status).toBe(200);
      const api = await signedRaw(server.url, ADMIN, 'GET', '/v1/deployments', '', {
        headers: { host: host.replace('PORT', port()) },
      });
      expect(api.status).toBe(200);
    },
  );

  it("also names GANTRY_PUBLIC_URL's host when that is not loopback (a tunnel in front)", async () => {
    // Last in this file: a start points the in-process handlers at the newest server.
    await server.close();
    ({ server } = await startTestServer({ publicUrl: 'https://Gantry.Tunnel.example' }));
    const through = await rawRequest(server.url, 'GET', '/healthz', {
      headers: { host: 'gantry.tunnel.example' },
    });
    expect(through.status).toBe(200);
    const other = await rawRequest(server.url, 'GET', '/healthz', { headers: { host: 'evil.example' } });
    expect(other.status).toBe(403);
  });
});
