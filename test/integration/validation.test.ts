import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalServer } from '../../infra/local/server';
import { signedHeaders } from '../../shared/core/signature';
import type { Client } from '../helpers/client';
import { ADMIN, startTestServer } from '../helpers/local';
import { errorOf, type RawReply, rawRequest, signedRaw } from '../support/raw';

/**
 * docs/api.md sections 1 and 3: every invalid request gets its 4xx with the contract body and changes
 * nothing; valid ones round-trip with the documented shapes.
 */

let server: LocalServer;
let admin: Client;

const NOWHERE = 'http://127.0.0.1:9/never-called';
const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

type Detail = { path: string; message: string };
type Item = Record<string, unknown> & { id: string; createdAt: string; updatedAt: string };
type Listing = { items: Item[]; nextToken?: string };

beforeAll(async () => {
  ({ server, admin } = await startTestServer());
  // No resource matches any environment here, so no version starts a rollout.
  expect(
    (await admin.put('/v1/deployments/api', { jobAgent: { type: 'webhook', url: NOWHERE } })).status,
  ).toBe(201);
});

afterAll(async () => {
  await server?.close();
});

const raw = (method: string, path: string, body = '', headers: Record<string, string> = {}) =>
  signedRaw(server.url, ADMIN, method, path, body, { headers });

function expectError(reply: { status: number; text: string }, body: unknown, status: number, code: string) {
  expect(reply.status, reply.text).toBe(status);
  const error = errorOf(body);
  expect(error.code).toBe(code);
  expect(error.message.length).toBeGreaterThan(0);
  expect(reply.text).not.toMatch(/\n\s+at /);
  return error;
}

const expectRawError = (reply: RawReply, status: number, code: string) =>
  expectError(reply, reply.json, status, code);

async function ids(collection: string): Promise<string[]> {
  const reply = await admin.get<Listing>(`/v1/${collection}?limit=1000`);
  expect(reply.status).toBe(200);
  return reply.body.items.map((item) => item.id).sort();
}

/** Runs `act` and checks that the collection is exactly as it was. */
async function changesNothing(collection: string, act: () => Promise<void>) {
  const before = await admin.get<Listing>(`/v1/${collection}?limit=1000`);
  await act();
  const after = await admin.get<Listing>(`/v1/${collection}?limit=1000`);
  expect(after.body.items).toEqual(before.body.items);
}

async function expectAbsent(path: string) {
  const reply = await admin.get(path);
  expect(reply.status, `${path} should not exist`).toBe(404);
}

describe('invalid bodies are 400 invalid_request and change nothing', () => {
  it('malformed JSON', async () => {
    const reply = await raw('PUT', '/v1/environments/bad-json', '{"resourceSelector": ');

    expectRawError(reply, 400, 'invalid_request');
    await expectAbsent('/v1/environments/bad-json');
  });

  it.each<[string, string, unknown, string]>([
    [
      'a string for minApprovals',
      '/v1/policies/wrong-types',
      { targets: 'true', rules: { approval: { minApprovals: 'two' } } },
      'rules.approval.minApprovals',
    ],
    [
      'a string in a metric of an array',
      '/v1/policies/wrong-metric',
      {
        targets: 'true',
        rules: {
          verification: {
            metrics: [
              {
                name: 'errors',
                provider: { type: 'http', url: 'https://metrics.test/' },
                intervalSeconds: 'often',
                count: 1,
                successCondition: 'true',
              },
            ],
          },
        },
      },
      'rules.verification.metrics.0.intervalSeconds',
    ],
    ['a number for a selector', '/v1/environments/wrong-types', { resourceSelector: 42 }, 'resourceSelector'],
    [
      'a number in metadata',
      '/v1/resources/wrong-types',
      { kind: 'k', name: 'n', metadata: { env: 5 } },
      'metadata.env',
    ],
    [
      'a string for jobTimeoutSeconds',
      '/v1/deployments/wrong-types',
      { jobAgent: { type: 'webhook', url: NOWHERE }, jobTimeoutSeconds: 'long' },
      'jobTimeoutSeconds',
    ],
    [
      'a number for a webhook url',
      '/v1/deployments/wrong-url',
      { jobAgent: { type: 'webhook', url: 42 } },
      'jobAgent.url',
    ],
    ['a missing required field', '/v1/resources/missing-kind', { name: 'n' }, 'kind'],
    ['an array for the body', '/v1/environments/array-body', ['resourceSelector'], ''],
  ])('wrong types: %s, sent to %s', async (_name, path, body, detailPath) => {
    const reply = await admin.put(path, body);

    const error = expectError(reply, reply.body, 400, 'invalid_request');
    expect((error.details as Detail[]).map((d) => d.path)).toContain(detailPath);
    for (const detail of error.details as Detail[]) expect(typeof detail.message).toBe('string');
    await expectAbsent(path);
  });

  it('CEL that does not compile: the message names the expression and the position', async () => {
    const expression = "resource.metadata.env == 'prod' &&";

    const reply = await admin.put('/v1/environments/bad-cel', { resourceSelector: expression });

    const error = expectError(reply, reply.body, 400, 'invalid_request');
    expect(error.message).toContain(expression);
    expect(error.message).toMatch(/column \d+|position \d+/);
    expect((error.details as Detail[]).map((d) => d.path)).toContain('resourceSelector');
    await expectAbsent('/v1/environments/bad-cel');
  });

  it('CEL that does not compile in a nested place: a policy target and a success condition', async () => {
    const target = await admin.put('/v1/policies/bad-cel', { targets: 'deployment.id ==', rules: {} });
    const condition = await admin.put('/v1/policies/bad-cel', {
      targets: 'true',
      rules: {
        verification: {
          metrics: [
            {
              name: 'errors',
              provider: { type: 'http', url: 'https://metrics.test/' },
              intervalSeconds: 1,
              count: 1,
              successCondition: 'result.json.errorRate <',
            },
          ],
        },
      },
    });

    expect(expectError(target, target.body, 400, 'invalid_request').message).toContain('deployment.id ==');
    const error = expectError(condition, condition.body, 400, 'invalid_request');
    expect(error.message).toContain('result.json.errorRate <');
    expect((error.details as Detail[]).map((d) => d.path)).toContain(
      'rules.verification.metrics.0.successCondition',
    );
    await expectAbsent('/v1/policies/bad-cel');
  });

  const windowPolicy = (window: Record<string, unknown>) => ({
    targets: 'true',
    rules: { deploymentWindow: { rrule: 'FREQ=WEEKLY;BYDAY=MO', durationMinutes: 60, ...window } },
  });

  it.each([
    ['an unknown frequency', 'FREQ=SOMETIMES'],
    ['an unknown property', 'NOT-A-RULE'],
    ['an unknown weekday', 'FREQ=WEEKLY;BYDAY=XX'],
    ['no FREQ', 'BYDAY=MO'],
    ['a negative INTERVAL', 'FREQ=DAILY;INTERVAL=-1'],
    ['a zero INTERVAL', 'FREQ=DAILY;INTERVAL=0'],
    ['an hour out of range', 'FREQ=DAILY;BYHOUR=25'],
    ['a minute out of range', 'FREQ=DAILY;BYMINUTE=60'],
  ])('an rrule with %s', async (name, rrule) => {
    const path = `/v1/policies/bad-rrule-${name.replace(/\W+/g, '-').toLowerCase()}`;

    const reply = await admin.put(path, windowPolicy({ rrule }));

    const error = expectError(reply, reply.body, 400, 'invalid_request');
    expect((error.details as Detail[]).map((d) => d.path)).toContain('rules.deploymentWindow.rrule');
    await expectAbsent(path);
  });

  it.each([
    ['Mars/Olympus_Mons', 'mars'],
    ['Europe/Berlinn', 'berlinn'],
    ['UTC+25', 'utc-25'],
  ])('a time zone %s', async (timezone, id) => {
    const path = `/v1/policies/bad-zone-${id}`;

    const reply = await admin.put(path, windowPolicy({ timezone }));

    const error = expectError(reply, reply.body, 400, 'invalid_request');
    expect((error.details as Detail[]).map((d) => d.path)).toContain('rules.deploymentWindow.timezone');
    await expectAbsent(path);
  });

  it('an unknown job agent type', async () => {
    const reply = await admin.put('/v1/deployments/pigeon', {
      jobAgent: { type: 'carrier-pigeon', url: 'https://loft.test/' },
    });

    const error = expectError(reply, reply.body, 400, 'invalid_request');
    expect((error.details as Detail[]).some((d) => d.path.startsWith('jobAgent'))).toBe(true);
    await expectAbsent('/v1/deployments/pigeon');
  });

  it('an unknown field, at the top level and nested', async () => {
    const top = await admin.put('/v1/environments/unknown-field', {
      resourceSelector: 'true',
      colour: 'blue',
    });
    const nested = await admin.put('/v1/policies/unknown-field', {
      targets: 'true',
      rules: { approval: { minApprovals: 1, quorum: 3 } },
    });

    const topError = expectError(top, top.body, 400, 'invalid_request');
    expect(JSON.stringify(topError)).toContain('colour');
    const nestedError = expectError(nested, nested.body, 400, 'invalid_request');
    expect(JSON.stringify(nestedError)).toContain('quorum');
    await expectAbsent('/v1/environments/unknown-field');
    await expectAbsent('/v1/policies/unknown-field');
  });

  it('an empty body on a PUT', async () => {
    const reply = await raw('PUT', '/v1/environments/empty-body', '');

    expectRawError(reply, 400, 'invalid_request');
    await expectAbsent('/v1/environments/empty-body');
  });

  it('a body over 1 MiB is 413 payload_too_large', async () => {
    const body = JSON.stringify({ resourceSelector: 'true', name: 'x'.repeat(2 * 1024 * 1024) });

    const reply = await raw('PUT', '/v1/environments/too-large', body);

    expectRawError(reply, 413, 'payload_too_large');
    await expectAbsent('/v1/environments/too-large');
    expect((await admin.get('/healthz')).status).toBe(200);
  });

  it.each([
    ['text/plain', 'text'],
    ['application/x-www-form-urlencoded', 'form'],
    ['application/jsonp', 'jsonp'],
  ])('a body sent as %s is 415 unsupported_media_type', async (contentType, id) => {
    // Distinct paths: the content type is not signed, so equal paths and bodies would be replays.
    const path = `/v1/environments/wrong-type-${id}`;
    const body = JSON.stringify({ resourceSelector: 'true' });

    const reply = await raw('PUT', path, body, { 'content-type': contentType });

    expectRawError(reply, 415, 'unsupported_media_type');
    await expectAbsent(path);
  });

  it('a body sent with no content type is 415 unsupported_media_type', async () => {
    const body = JSON.stringify({ resourceSelector: 'true' });

    const reply = await rawRequest(server.url, 'PUT', '/v1/environments/no-type', {
      body,
      headers: signedHeaders(ADMIN, 'PUT', '/v1/environments/no-type', body),
    });

    expectRawError(reply, 415, 'unsupported_media_type');
    await expectAbsent('/v1/environments/no-type');
  });

  it('application/json with a charset is accepted', async () => {
    const body = JSON.stringify({ resourceSelector: 'true' });

    const reply = await raw('PUT', '/v1/environments/with-charset', body, {
      'content-type': 'application/json; charset=utf-8',
    });

    expect(reply.status, reply.text).toBe(201);
  });
});

describe('ids in the path outside their pattern are 400 and change nothing', () => {
  const body = JSON.stringify({ resourceSelector: 'true' });

  it.each([
    ['upper case', 'Production'],
    ['64 characters', 'a'.repeat(64)],
    ['a leading hyphen', '-prod'],
    ['an underscore', 'prod_1'],
    ['a dot-dot segment', '..'],
    ['a dot', 'prod.1'],
    ['an url-encoded slash', 'a%2Fb'],
    ['an url-encoded dot-dot', '%2E%2E'],
    ['an url-encoded space', 'a%20b'],
    ['an invalid percent escape', 'a%E0%A4%A'],
  ])('environment id with %s', async (_name, id) => {
    await changesNothing('environments', async () => {
      const put = await raw('PUT', `/v1/environments/${id}`, body);
      const get = await raw('GET', `/v1/environments/${id}`);
      const del = await raw('DELETE', `/v1/environments/${id}`);

      for (const reply of [put, get, del]) expectRawError(reply, 400, 'invalid_request');
    });
  });

  it('63 characters is the longest environment id', async () => {
    const reply = await raw('PUT', `/v1/environments/${'a'.repeat(63)}`, body);

    expect(reply.status, reply.text).toBe(201);
  });

  it.each([
    ['a leading dot', '.hidden'],
    ['a leading hyphen', '-node'],
    ['256 characters', 'r'.repeat(256)],
    ['an url-encoded slash', 'node%2F1'],
    ['an url-encoded space', 'node%201'],
    ['a star', 'node*'],
  ])('resource id with %s', async (_name, id) => {
    const resource = JSON.stringify({ kind: 'k8s', name: 'n' });
    await changesNothing('resources', async () => {
      const put = await raw('PUT', `/v1/resources/${id}`, resource);
      const get = await raw('GET', `/v1/resources/${id}`);

      for (const reply of [put, get]) expectRawError(reply, 400, 'invalid_request');
    });
  });

  it('a resource id with the characters its pattern allows is accepted', async () => {
    const id = 'Node-1.eu:x@z';
    const reply = await admin.put(`/v1/resources/${id}`, { kind: 'k8s', name: 'n' });

    expect(reply.status, reply.text).toBe(201);
    expect((await admin.get(`/v1/resources/${id}`)).body).toMatchObject({ id });
    expect((await admin.delete(`/v1/resources/${id}`)).status).toBe(204);
  });

  it('a version tag outside its pattern, in the path and in the body', async () => {
    const get = await raw('GET', '/v1/deployments/api/versions/-v1');
    const post = await admin.post('/v1/deployments/api/versions', { tag: 'v 1', status: 'building' });
    const long = await admin.post('/v1/deployments/api/versions', {
      tag: 'v'.repeat(129),
      status: 'building',
    });

    expectRawError(get, 400, 'invalid_request');
    expect((expectError(post, post.body, 400, 'invalid_request').details as Detail[])[0]?.path).toBe('tag');
    expectError(long, long.body, 400, 'invalid_request');
    const listed = await admin.get<Listing>('/v1/deployments/api/versions');
    expect(listed.body.items).toEqual([]);
  });
});

describe('PUT, GET, list and DELETE round trips (docs/api.md section 3)', () => {
  const tick = () => new Promise((resolve) => setTimeout(resolve, 5));

  it.each<[string, string, Record<string, unknown>, Record<string, unknown>, Record<string, unknown>]>([
    [
      'resource',
      '/v1/resources/rt-resource',
      { kind: 'kubernetes-cluster', name: 'us-east-1', metadata: { env: 'rt', region: 'us-east-1' } },
      { kind: 'kubernetes-cluster', name: 'us-east-2', metadata: { env: 'rt' } },
      {},
    ],
    [
      'environment',
      '/v1/environments/rt-env',
      { name: 'Round Trip', resourceSelector: "resource.metadata.env == 'rt'" },
      { resourceSelector: "resource.metadata.env == 'rt2'" },
      {},
    ],
    [
      'deployment',
      '/v1/deployments/rt-dep',
      { name: 'RT', environments: ['rt-env'], jobAgent: { type: 'webhook', url: NOWHERE } },
      { jobAgent: { type: 'webhook', url: NOWHERE }, jobTimeoutSeconds: 60 },
      { resourceSelector: 'true', jobTimeoutSeconds: 3600 },
    ],
    [
      'policy',
      '/v1/policies/rt-policy',
      { targets: "environment.id == 'rt-env'", rules: { gradualRollout: { intervalSeconds: 60 } } },
      { targets: 'true', priority: 5, rules: { concurrency: { maxParallel: 2 } } },
      { priority: 0 },
    ],
  ])(
    'a %s: PUT 201, GET 200, PUT again 200 keeping createdAt',
    async (_kind, path, first, second, defaults) => {
      const id = path.split('/').pop();

      const created = await admin.put<Item>(path, first);
      const got = await admin.get<Item>(path);
      await tick();
      const replaced = await admin.put<Item>(path, second);
      const gotAgain = await admin.get<Item>(path);

      expect(created.status, created.text).toBe(201);
      expect(created.body).toMatchObject({ id, ...first, ...defaults });
      expect(created.body.createdAt).toMatch(ISO_UTC);
      expect(created.body.updatedAt).toMatch(ISO_UTC);
      expect(got.status).toBe(200);
      expect(got.body).toEqual(created.body);
      expect(replaced.status, replaced.text).toBe(200);
      expect(replaced.body).toMatchObject({ id, ...second });
      expect(replaced.body.createdAt).toBe(created.body.createdAt);
      expect(replaced.body.updatedAt).toMatch(ISO_UTC);
      expect(Date.parse(replaced.body.updatedAt)).toBeGreaterThan(Date.parse(created.body.updatedAt));
      expect(gotAgain.body).toEqual(replaced.body);
      // A replace is a replace: fields of the first body that the second does not send are gone.
      if (first.name !== undefined && second.name === undefined) expect(gotAgain.body.name).toBeUndefined();
    },
  );

  it('two concurrent first PUTs of one id: one is 201, the other 200, neither fails', async () => {
    const [a, b] = await Promise.all([
      admin.put('/v1/policies/racing', { targets: 'true', rules: {}, name: 'A' }),
      admin.put('/v1/policies/racing', { targets: 'true', rules: {}, name: 'B' }),
    ]);

    expect([a.status, b.status].sort(), `${a.text} ${b.text}`).toEqual([200, 201]);
    expect(['A', 'B']).toContain((await admin.get<Item>('/v1/policies/racing')).body.name);
  });

  it('a list walks every item once with limit=2 and nextToken', async () => {
    for (let i = 1; i <= 5; i++) {
      expect((await admin.put(`/v1/policies/page-${i}`, { targets: 'true', rules: {} })).status).toBe(201);
    }
    const all = await ids('policies');

    const seen: string[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const query = `limit=2${token ? `&nextToken=${encodeURIComponent(token)}` : ''}`;
      const page = await admin.get<Listing>(`/v1/policies?${query}`);
      expect(page.status, page.text).toBe(200);
      expect(page.body.items.length).toBeLessThanOrEqual(2);
      seen.push(...page.body.items.map((item) => item.id));
      token = page.body.nextToken;
      pages++;
      expect(pages).toBeLessThan(50);
    } while (token);

    expect(seen.length).toBe(new Set(seen).size);
    expect([...seen].sort()).toEqual(all);
    expect(all).toEqual(expect.arrayContaining(['page-1', 'page-2', 'page-3', 'page-4', 'page-5']));
    expect(pages).toBeGreaterThanOrEqual(3);
  });

  const token = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  it.each([
    ['garbage', 'not-a-token!!'],
    ['a JSON array', token(['pk'])],
    ['an unknown key name', token({ pk: 'POLICY', sk: 'page-1', admin: 'yes' })],
    ['a number key value', token({ pk: 'POLICY', sk: 1 })],
    ['a key without its sort key', token({ pk: 'POLICY' })],
    ['an empty key', token({})],
    ['a key of another collection', token({ pk: 'RESOURCE', sk: 'x' })],
    ['a key of an index', token({ gsi1pk: 'POLICY', gsi1sk: 'x' })],
  ])('a nextToken that is %s is 400', async (_name, nextToken) => {
    const reply = await admin.get(`/v1/policies?limit=2&nextToken=${encodeURIComponent(nextToken)}`);

    expectError(reply, reply.body, 400, 'invalid_request');
  });

  it.each([['0'], ['-1'], ['1001'], ['two'], ['1.5']])('limit=%s is 400', async (limit) => {
    const reply = await admin.get(`/v1/policies?limit=${limit}`);

    expectError(reply, reply.body, 400, 'invalid_request');
  });

  it('DELETE answers 204, then GET and DELETE answer 404', async () => {
    expect((await admin.put('/v1/environments/doomed', { resourceSelector: 'false' })).status).toBe(201);

    const deleted = await admin.delete('/v1/environments/doomed');
    const got = await admin.get('/v1/environments/doomed');
    const again = await admin.delete('/v1/environments/doomed');

    expect(deleted.status).toBe(204);
    expect(deleted.text).toBe('');
    expectError(got, got.body, 404, 'not_found');
    expectError(again, again.body, 404, 'not_found');
    expect(await ids('environments')).not.toContain('doomed');
  });

  it('GET of an unknown id is 404 not_found', async () => {
    for (const path of [
      '/v1/resources/ghost',
      '/v1/environments/ghost',
      '/v1/deployments/ghost',
      '/v1/policies/ghost',
    ]) {
      const reply = await admin.get(path);
      expectError(reply, reply.body, 404, 'not_found');
    }
  });
});

describe('resource provider sync (docs/api.md section 3)', () => {
  type Counts = { created: number; updated: number; deleted: number; unchanged: number };
  const sync = (provider: string, resources: unknown[]) =>
    admin.post<Counts>(`/v1/resource-providers/${provider}/sync`, { resources });
  const res = (id: string, name = id, metadata: Record<string, string> = { env: 'sync' }) => ({
    id,
    kind: 'vm',
    name,
    metadata,
  });

  it('creates, updates, deletes and leaves unchanged exactly, and never touches other resources', async () => {
    expect((await admin.put('/v1/resources/manual-1', { kind: 'vm', name: 'manual' })).status).toBe(201);
    expect((await sync('gcp', [res('g-1')])).body).toEqual({
      created: 1,
      updated: 0,
      deleted: 0,
      unchanged: 0,
    });
    const first = await sync('aws', [res('a-1'), res('a-2'), res('a-3')]);
    const manualBefore = await admin.get('/v1/resources/manual-1');
    const gcpBefore = await admin.get('/v1/resources/g-1');
    const a1Before = await admin.get<Item>('/v1/resources/a-1');

    const second = await sync('aws', [res('a-1'), res('a-2', 'renamed'), res('a-4')]);
    const third = await sync('aws', [res('a-1'), res('a-2', 'renamed'), res('a-4')]);

    expect(first.status, first.text).toBe(200);
    expect(first.body).toEqual({ created: 3, updated: 0, deleted: 0, unchanged: 0 });
    expect(second.status, second.text).toBe(200);
    expect(second.body).toEqual({ created: 1, updated: 1, deleted: 1, unchanged: 1 });
    expect(third.body).toEqual({ created: 0, updated: 0, deleted: 0, unchanged: 3 });
    expect((await admin.get('/v1/resources/a-3')).status).toBe(404);
    expect((await admin.get<Item>('/v1/resources/a-1')).body.updatedAt).toBe(a1Before.body.updatedAt);
    expect((await admin.get<Item>('/v1/resources/a-2')).body).toMatchObject({ name: 'renamed' });
    expect((await admin.get('/v1/resources/a-4')).status).toBe(200);
    expect((await admin.get('/v1/resources/manual-1')).body).toEqual(manualBefore.body);
    expect((await admin.get('/v1/resources/g-1')).body).toEqual(gcpBefore.body);
  });

  it('an empty set deletes exactly that provider resources', async () => {
    await sync('empty-me', [res('e-1'), res('e-2')]);
    await sync('keep-me', [res('k-1')]);

    const emptied = await sync('empty-me', []);

    expect(emptied.body).toEqual({ created: 0, updated: 0, deleted: 2, unchanged: 0 });
    expect((await admin.get('/v1/resources/e-1')).status).toBe(404);
    expect((await admin.get('/v1/resources/e-2')).status).toBe(404);
    expect((await admin.get('/v1/resources/k-1')).status).toBe(200);
  });

  it('a resource sent again with its metadata keys in another order is unchanged', async () => {
    await sync('ordered', [res('o-1', 'o', { a: '1', b: '2' })]);

    const again = await sync('ordered', [res('o-1', 'o', { b: '2', a: '1' })]);

    expect(again.body).toEqual({ created: 0, updated: 0, deleted: 0, unchanged: 1 });
  });

  it('a sync that claims a resource of another provider is 409 and writes nothing', async () => {
    await sync('owner', [res('owned-1')]);
    const before = await ids('resources');

    const reply = await sync('thief', [res('thief-new'), res('owned-1', 'stolen')]);

    expectError(reply, reply.body, 409, 'conflict');
    expect(await ids('resources')).toEqual(before);
    expect((await admin.get<Item>('/v1/resources/owned-1')).body.name).toBe('owned-1');
  });

  it('a sync that lists one id twice is 400 and writes nothing', async () => {
    const before = await ids('resources');

    const reply = await sync('twice', [res('t-1'), res('t-2'), res('t-1')]);

    expectError(reply, reply.body, 400, 'invalid_request');
    expect(await ids('resources')).toEqual(before);
  });

  it('a sync with an invalid resource is 400 with its dotted path and writes nothing', async () => {
    const before = await ids('resources');

    const reply = await sync('invalid', [
      res('i-1'),
      { id: 'i-2', kind: 'vm', name: 'x', metadata: { n: 1 } },
    ]);

    const error = expectError(reply, reply.body, 400, 'invalid_request');
    expect((error.details as Detail[]).map((d) => d.path)).toContain('resources.1.metadata.n');
    expect(await ids('resources')).toEqual(before);
  });
});

describe('valid bodies the store must hold, or refuse with a 4xx, never a 500', () => {
  it('a metadata key named constructor is an ordinary key', async () => {
    const created = await admin.put<Item>('/v1/resources/ctor', {
      kind: 'vm',
      name: 'ctor',
      metadata: { constructor: 'x', env: 'ctor' },
    });

    expect(created.status, created.text).toBe(201);
    expect((await admin.get<Item>('/v1/resources/ctor')).body.metadata).toEqual({
      constructor: 'x',
      env: 'ctor',
    });
  });

  it('a deployment variable named constructor and an http metric header named constructor', async () => {
    const deployment = await admin.put('/v1/deployments/ctor', {
      jobAgent: { type: 'webhook', url: NOWHERE },
      environments: ['nowhere'],
      variables: { constructor: { default: 'x' } },
    });
    const policy = await admin.put('/v1/policies/ctor', {
      targets: 'false',
      rules: {
        verification: {
          metrics: [
            {
              name: 'm',
              provider: { type: 'http', url: 'https://metrics.test/', headers: { constructor: 'x' } },
              intervalSeconds: 1,
              count: 1,
              successCondition: 'true',
            },
          ],
        },
      },
    });

    expect(deployment.status, deployment.text).toBe(201);
    expect(policy.status, policy.text).toBe(201);
  });

  it('a version whose config and metadata have a key named constructor', async () => {
    const reply = await admin.post('/v1/deployments/api/versions', {
      tag: 'ctor',
      status: 'building',
      metadata: { constructor: 'x' },
      config: { constructor: { nested: true } },
    });

    expect(reply.status, reply.text).toBe(201);
    const stored = await admin.get<{ version: Record<string, unknown> }>('/v1/deployments/api/versions/ctor');
    expect(stored.body.version.config).toEqual({ constructor: { nested: true } });
  });

  it.each([
    ['1e300', 1e300, 'num-huge'],
    ['2^53 + 2', 2 ** 53 + 2, 'num-unsafe'],
    ['-(2^53) - 2', -(2 ** 53) - 2, 'num-unsafe-negative'],
    ['5e-324', 5e-324, 'num-tiny'],
  ])(
    'a version config holding the JSON number %s is stored as sent or refused with 400',
    async (_name, value, tag) => {
      const reply = await admin.post('/v1/deployments/api/versions', {
        tag,
        status: 'building',
        config: { value },
      });

      expect([201, 400], reply.text).toContain(reply.status);
      if (reply.status === 201) {
        const stored = await admin.get<{ version: { config: unknown } }>(
          `/v1/deployments/api/versions/${tag}`,
        );
        expect(stored.body.version.config).toEqual({ value });
      } else {
        errorOf(reply.body);
        await expectAbsent(`/v1/deployments/api/versions/${tag}`);
      }
    },
  );

  // A DynamoDB item holds at most 400 KB; each of these bodies is valid and under 1 MiB.
  it.each<[string, string, string, unknown]>([
    [
      'resource metadata of 600 KB',
      'PUT',
      '/v1/resources/huge',
      {
        kind: 'vm',
        name: 'huge',
        metadata: Object.fromEntries(Array.from({ length: 600 }, (_, i) => [`k${i}`, 'v'.repeat(1000)])),
      },
    ],
    [
      'deployment variables of 800 KB',
      'PUT',
      '/v1/deployments/huge',
      {
        jobAgent: { type: 'webhook', url: NOWHERE },
        variables: Object.fromEntries(
          Array.from({ length: 200 }, (_, i) => [`v${i}`, { default: 'd'.repeat(4096) }]),
        ),
      },
    ],
    [
      'a version config of 600 KB',
      'POST',
      '/v1/deployments/api/versions',
      { tag: 'huge', status: 'building', config: { blob: 'x'.repeat(600_000) } },
    ],
  ])('%s is refused with a 4xx and writes nothing', async (_name, method, path, body) => {
    const reply = await admin.request(method, path, body);

    expect(reply.status, reply.text).toBeGreaterThanOrEqual(400);
    expect(reply.status, reply.text).toBeLessThan(500);
    errorOf(reply.body);
    await expectAbsent(method === 'POST' ? '/v1/deployments/api/versions/huge' : path);
  });
});

// Last in the file: when it fails, the connection the server reset stays in fetch's pool and would
// fail whichever test used it next.
describe('413 on a keep-alive connection', () => {
  it('a client on keep-alive connections (fetch) reads the 413 every time, not a reset', async () => {
    const statuses: (number | string)[] = [];
    for (let i = 0; i < 3; i++) {
      const path = `/v1/environments/too-large-${i}`;
      try {
        const reply = await admin.request('PUT', path, undefined, {
          raw: JSON.stringify({ resourceSelector: 'true', name: 'x'.repeat(2 * 1024 * 1024) }),
        });
        statuses.push(reply.status);
      } catch (error) {
        statuses.push(String((error as Error).cause ?? error));
      }
      expect((await admin.get('/healthz')).status).toBe(200);
    }

    expect(statuses).toEqual([413, 413, 413]);
    expect(await ids('environments')).not.toContain('too-large-1');
  });
});
