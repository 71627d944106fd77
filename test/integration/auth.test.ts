import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalServer } from '../../infra/local/server';
import { signedHeaders, signRequest } from '../../shared/core/signature';
import type { Client } from '../helpers/client';
import { ADMIN, startTestServer } from '../helpers/local';
import { errorOf, type RawReply, rawRequest, signedRaw } from '../support/raw';

/**
 * docs/api.md section 2: every forged request is answered 401, every overreach 403, both with the
 * contract's error body, and neither writes anything.
 */

let server: LocalServer;
let admin: Client;
let as: (id: string) => Client;

const ENV_BODY = JSON.stringify({ name: 'Forged', resourceSelector: "resource.metadata.env == 'forged'" });
const NOWHERE = 'http://127.0.0.1:9/never-called';

beforeAll(async () => {
  ({ server, admin, as } = await startTestServer());
  // No resources: no release target exists, so no version in this file starts a rollout.
  for (const id of ['api', 'web']) {
    const reply = await admin.put(`/v1/deployments/${id}`, { jobAgent: { type: 'webhook', url: NOWHERE } });
    expect(reply.status).toBe(201);
  }
  expect(
    (await admin.put('/v1/environments/existing', { resourceSelector: "resource.metadata.env == 'x'" }))
      .status,
  ).toBe(201);
  expect((await admin.post('/v1/deployments/web/versions', { tag: 'w1', status: 'building' })).status).toBe(
    201,
  );
});

afterAll(async () => {
  await server?.close();
});

const send = (method: string, path: string, headers: Record<string, string>, body?: string) =>
  rawRequest(server.url, method, path, {
    body,
    headers: { ...(body ? { 'content-type': 'application/json' } : {}), ...headers },
  });

function expectError(reply: RawReply, status: number, code: string) {
  expect(reply.status, reply.text).toBe(status);
  const error = errorOf(reply.json);
  expect(error.code).toBe(code);
  expect(error.message.length).toBeGreaterThan(0);
  // Never a stack trace.
  expect(reply.text).not.toMatch(/\n\s+at /);
}

async function expectAbsent(path: string) {
  const reply = await admin.get(path);
  expect(reply.status, `${path} should not exist`).toBe(404);
  expect(errorOf(reply.body).code).toBe('not_found');
}

const wholeSecond = () => Math.floor(Date.now() / 1000) * 1000;

describe('forged signatures are answered 401 and write nothing', () => {
  it.each([['X-Gantry-Key-Id'], ['X-Gantry-Timestamp'], ['X-Gantry-Signature']])(
    'a request without %s',
    async (missing) => {
      const path = `/v1/environments/missing-${missing.toLowerCase().replace(/^x-gantry-/, '')}`;
      const headers = signedHeaders(ADMIN, 'PUT', path, ENV_BODY);
      delete headers[missing];

      const reply = await send('PUT', path, headers, ENV_BODY);

      expectError(reply, 401, 'unauthenticated');
      await expectAbsent(path);
    },
  );

  it('a request with no signature headers at all, read or write', async () => {
    expectError(await send('GET', '/v1/environments/existing', {}), 401, 'unauthenticated');
    expectError(await send('PUT', '/v1/environments/unsigned', {}, ENV_BODY), 401, 'unauthenticated');
    await expectAbsent('/v1/environments/unsigned');
  });

  const path = '/v1/environments/malformed';
  const ts = () => String(Math.floor(Date.now() / 1000));
  const good = (timestamp: string) => signRequest(ADMIN.secret, timestamp, 'PUT', path, ENV_BODY);
  it.each<[string, () => { timestamp: string; signature: string }]>([
    ['non-hex signature', () => ({ timestamp: ts(), signature: `v1=${'z'.repeat(64)}` })],
    ['short signature', () => ({ timestamp: ts(), signature: good(ts()).slice(0, -1) })],
    ['signature without v1=', () => ({ timestamp: ts(), signature: good(ts()).slice(3) })],
    ['signature with v2=', () => ({ timestamp: ts(), signature: `v2=${good(ts()).slice(3)}` })],
    ['upper case hex', () => ({ timestamp: ts(), signature: `v1=${good(ts()).slice(3).toUpperCase()}` })],
    ['two signatures', () => ({ timestamp: ts(), signature: `${good(ts())},${good(ts())}` })],
    ['timestamp in ms', () => ({ timestamp: String(Date.now()), signature: good(String(Date.now())) })],
    ['fractional timestamp', () => ({ timestamp: `${ts()}.5`, signature: good(`${ts()}.5`) })],
    ['negative timestamp', () => ({ timestamp: `-${ts()}`, signature: good(`-${ts()}`) })],
    [
      'ISO timestamp',
      () => ({ timestamp: new Date().toISOString(), signature: good(new Date().toISOString()) }),
    ],
  ])('a malformed header: %s', async (_name, make) => {
    const { timestamp, signature } = make();
    const reply = await send(
      'PUT',
      path,
      { 'X-Gantry-Key-Id': ADMIN.id, 'X-Gantry-Timestamp': timestamp, 'X-Gantry-Signature': signature },
      ENV_BODY,
    );

    expectError(reply, 401, 'unauthenticated');
    await expectAbsent(path);
  });

  it('an unknown key id', async () => {
    const reply = await signedRaw(
      server.url,
      { id: 'ghost', secret: ADMIN.secret },
      'PUT',
      '/v1/environments/ghost',
      ENV_BODY,
    );

    expectError(reply, 401, 'unauthenticated');
    await expectAbsent('/v1/environments/ghost');
  });

  it('a known key id with the wrong secret', async () => {
    const reply = await signedRaw(
      server.url,
      { id: ADMIN.id, secret: 'not-the-admin-secret-0123456789' },
      'PUT',
      '/v1/environments/wrong-secret',
      ENV_BODY,
    );

    expectError(reply, 401, 'unauthenticated');
    await expectAbsent('/v1/environments/wrong-secret');
  });

  it('a timestamp 301 s in the past', async () => {
    const nowMs = wholeSecond() - 301_000;
    const reply = await signedRaw(server.url, ADMIN, 'PUT', '/v1/environments/stale', ENV_BODY, { nowMs });

    expectError(reply, 401, 'unauthenticated');
    await expectAbsent('/v1/environments/stale');
  });

  it('a timestamp 301 s in the future', async () => {
    const nowMs = Math.ceil(Date.now() / 1000) * 1000 + 301_000;
    const reply = await signedRaw(server.url, ADMIN, 'PUT', '/v1/environments/future', ENV_BODY, { nowMs });

    expectError(reply, 401, 'unauthenticated');
    await expectAbsent('/v1/environments/future');
  });

  it('a timestamp 299 s in the past or in the future is accepted', async () => {
    const past = Math.ceil(Date.now() / 1000) * 1000 - 299_000;
    const future = wholeSecond() + 299_000;

    const before = await signedRaw(server.url, ADMIN, 'PUT', '/v1/environments/skew-past', ENV_BODY, {
      nowMs: past,
    });
    const after = await signedRaw(server.url, ADMIN, 'PUT', '/v1/environments/skew-future', ENV_BODY, {
      nowMs: future,
    });

    expect(before.status, before.text).toBe(201);
    expect(after.status, after.text).toBe(201);
    expect((await admin.get('/v1/environments/skew-past')).status).toBe(200);
    expect((await admin.get('/v1/environments/skew-future')).status).toBe(200);
  });

  it('a body changed after signing', async () => {
    const path = '/v1/environments/body-changed';
    const headers = signedHeaders(ADMIN, 'PUT', path, ENV_BODY);
    const tampered = JSON.stringify({ resourceSelector: 'true' });

    const reply = await send('PUT', path, headers, tampered);

    expectError(reply, 401, 'unauthenticated');
    await expectAbsent(path);
  });

  it('a body added to a request signed without one', async () => {
    const path = '/v1/deployments/api/versions';
    const headers = signedHeaders(ADMIN, 'POST', path, '');

    const reply = await send('POST', path, headers, JSON.stringify({ tag: 'smuggled' }));

    expectError(reply, 401, 'unauthenticated');
    await expectAbsent('/v1/deployments/api/versions/smuggled');
  });

  it('a path changed after signing', async () => {
    const headers = signedHeaders(ADMIN, 'PUT', '/v1/environments/path-signed', ENV_BODY);

    const reply = await send('PUT', '/v1/environments/path-sent', headers, ENV_BODY);

    expectError(reply, 401, 'unauthenticated');
    await expectAbsent('/v1/environments/path-sent');
    await expectAbsent('/v1/environments/path-signed');
  });

  it('a query string changed, added or dropped after signing', async () => {
    const signedWith = signedHeaders(ADMIN, 'PUT', '/v1/environments/query-changed?x=1', ENV_BODY);
    const signedWithout = signedHeaders(ADMIN, 'PUT', '/v1/environments/query-changed', ENV_BODY);
    const read = signedHeaders(ADMIN, 'GET', '/v1/environments?limit=1', '');

    const changed = await send('PUT', '/v1/environments/query-changed?x=2', signedWith, ENV_BODY);
    const dropped = await send('PUT', '/v1/environments/query-changed', signedWith, ENV_BODY);
    const added = await send('PUT', '/v1/environments/query-changed?x=1', signedWithout, ENV_BODY);
    const readChanged = await send('GET', '/v1/environments?limit=2', read);

    for (const reply of [changed, dropped, added, readChanged]) expectError(reply, 401, 'unauthenticated');
    await expectAbsent('/v1/environments/query-changed');
  });

  it('a method changed after signing (GET signature used for a DELETE)', async () => {
    const path = '/v1/environments/existing';
    const before = await admin.get(path);
    const headers = signedHeaders(ADMIN, 'GET', path, '');

    const reply = await send('DELETE', path, headers);

    expectError(reply, 401, 'unauthenticated');
    const after = await admin.get(path);
    expect(after.status).toBe(200);
    expect(after.body).toEqual(before.body);
  });

  it('a replayed write is refused, while a repeated read is answered', async () => {
    const path = '/v1/environments/replayed';
    const write = signedHeaders(ADMIN, 'PUT', path, ENV_BODY);
    const read = signedHeaders(ADMIN, 'GET', path, '');

    const first = await send('PUT', path, write, ENV_BODY);
    const replay = await send('PUT', path, write, ENV_BODY);
    const read1 = await send('GET', path, read);
    const read2 = await send('GET', path, read);

    expect(first.status, first.text).toBe(201);
    expectError(replay, 401, 'unauthenticated');
    expect(read1.status).toBe(200);
    expect(read2.status).toBe(200);
    // The replay changed nothing: the stored object is the one the first write answered.
    expect(read2.json).toEqual(first.json);
  });

  it('a replayed POST of a version is refused and creates nothing more', async () => {
    const path = '/v1/deployments/api/versions';
    const body = JSON.stringify({ tag: 'replay-1', status: 'building' });
    const headers = signedHeaders(ADMIN, 'POST', path, body);

    const first = await send('POST', path, headers, body);
    const replay = await send('POST', path, headers, body);

    expect(first.status, first.text).toBe(201);
    expectError(replay, 401, 'unauthenticated');
    const listed = await admin.get<{ items: { tag: string }[] }>(path);
    expect(listed.body.items.filter((v) => v.tag === 'replay-1')).toHaveLength(1);
  });

  it('a HEAD request signed as HEAD is answered like the GET (a read, docs/api.md section 2)', async () => {
    const path = '/v1/environments/existing';
    const reply = await send('HEAD', path, signedHeaders(ADMIN, 'HEAD', path, ''));

    expect(reply.status).toBe(200);
  });

  it('a GET signature does not authorise a HEAD', async () => {
    const path = '/v1/environments/existing';
    const reply = await send('HEAD', path, signedHeaders(ADMIN, 'GET', path, ''));

    expect(reply.status).toBe(401);
  });
});

describe('overreach is answered 403 and writes nothing', () => {
  it('a read key may read but not write', async () => {
    const reader = as('reader');

    const read = await reader.get('/v1/environments/existing');
    const put = await reader.put('/v1/environments/by-reader', { resourceSelector: 'true' });
    const version = await reader.post('/v1/deployments/api/versions', { tag: 'by-reader' });
    const remove = await reader.delete('/v1/environments/existing');

    expect(read.status).toBe(200);
    for (const reply of [put, version, remove]) {
      expect(reply.status, reply.text).toBe(403);
      expect(errorOf(reply.body).code).toBe('forbidden');
    }
    await expectAbsent('/v1/environments/by-reader');
    await expectAbsent('/v1/deployments/api/versions/by-reader');
    expect((await admin.get('/v1/environments/existing')).status).toBe(200);
  });

  it('a versions:write key limited to api creates versions there and nowhere else', async () => {
    const ci = as('ci-api');

    const own = await ci.post('/v1/deployments/api/versions', { tag: 'ci-1', status: 'building' });
    const other = await ci.post('/v1/deployments/web/versions', { tag: 'ci-1', status: 'building' });

    expect(own.status, own.text).toBe(201);
    expect(other.status, other.text).toBe(403);
    expect(errorOf(other.body).code).toBe('forbidden');
    await expectAbsent('/v1/deployments/web/versions/ci-1');
  });

  it('a versions:write key limited to api may not patch or read versions of another deployment', async () => {
    const ci = as('ci-api');

    const patch = await ci.patch('/v1/deployments/web/versions/w1', { status: 'ready' });
    const read = await ci.get('/v1/deployments/web/versions/w1');
    const list = await ci.get('/v1/deployments/web/versions');

    for (const reply of [patch, read, list]) {
      expect(reply.status, reply.text).toBe(403);
      expect(errorOf(reply.body).code).toBe('forbidden');
    }
    const stored = await admin.get<{ version: { status: string } }>('/v1/deployments/web/versions/w1');
    expect(stored.body.version.status).toBe('building');
  });

  it('a versions:write key limited to api may not read the release targets of another deployment', async () => {
    const reply = await as('ci-api').get('/v1/release-targets?deployment=web');

    expect(reply.status, reply.text).toBe(403);
    expect(errorOf(reply.body).code).toBe('forbidden');
  });

  it('a versions:write key may not change configuration or use overrides', async () => {
    const ci = as('ci-api');
    const before = await admin.get('/v1/deployments/api');

    const env = await ci.put('/v1/environments/by-ci', { resourceSelector: 'true' });
    const dep = await ci.put('/v1/deployments/api', {
      jobAgent: { type: 'webhook', url: 'https://evil.test/' },
    });
    const cancel = await ci.post('/v1/deployments/api/versions/ci-1/cancel', {});
    const pause = await ci.post('/v1/deployments/api/pause', {});

    for (const reply of [env, dep, cancel, pause]) {
      expect(reply.status, reply.text).toBe(403);
      expect(errorOf(reply.body).code).toBe('forbidden');
    }
    await expectAbsent('/v1/environments/by-ci');
    expect((await admin.get('/v1/deployments/api')).body).toEqual(before.body);
  });

  it.each([['agent'], ['approver']])('the %s key may neither read nor write configuration', async (id) => {
    const client = as(id);

    const read = await client.get('/v1/environments/existing');
    const list = await client.get('/v1/policies');
    const put = await client.put(`/v1/policies/by-${id}`, { targets: 'true', rules: {} });
    const version = await client.post('/v1/deployments/api/versions', { tag: `by-${id}` });

    for (const reply of [read, list, put, version]) {
      expect(reply.status, reply.text).toBe(403);
      expect(errorOf(reply.body).code).toBe('forbidden');
    }
    await expectAbsent(`/v1/policies/by-${id}`);
    await expectAbsent(`/v1/deployments/api/versions/by-${id}`);
  });
});

describe('public and unknown routes', () => {
  it('/healthz and /openapi.json need no signature', async () => {
    const health = await rawRequest(server.url, 'GET', '/healthz');
    const openapi = await rawRequest(server.url, 'GET', '/openapi.json');

    expect(health.status).toBe(200);
    expect(health.json).toEqual({ ok: true });
    expect(openapi.status).toBe(200);
    expect((openapi.json as { openapi: string }).openapi).toMatch(/^3\.1\./);
  });

  it.each([
    ['GET', '/v1/nothing-here'],
    ['GET', '/v2/environments'],
    // GET / leads to the status page (302, test/integration/newcomer.test.ts); other methods on / are unknown.
    ['POST', '/'],
    ['POST', '/v1/environments/existing'],
    ['DELETE', '/healthz'],
    ['GET', '/v1/environments/existing/extra'],
  ])('%s %s is 404 with the contract body', async (method, path) => {
    const unsigned = await rawRequest(server.url, method, path);
    const signed = await signedRaw(server.url, ADMIN, method, path);

    expectError(unsigned, 404, 'not_found');
    expectError(signed, 404, 'not_found');
  });
});
