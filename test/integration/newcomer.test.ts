import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalServer } from '../../infra/local/server';
import type { Client } from '../helpers/client';
import { ADMIN, startTestServer } from '../helpers/local';
import { errorOf, rawRequest, signedRaw } from '../support/raw';

/**
 * Issue 18, what a newcomer tripped on at the API's edge: a 400 leads with its cause and says where,
 * a valid write that cannot do what was meant answers `warnings`, and `/` leads to the status page.
 */

let server: LocalServer;
let admin: Client;

const NOWHERE = 'http://127.0.0.1:9/never-called';
const agent = { type: 'webhook', url: NOWHERE };

type Detail = { path: string; message: string };
type Warned = Record<string, unknown> & { warnings?: string[] };
type VersionAnswer = { releaseTargetCount: number; warnings: string[] };

beforeAll(async () => {
  ({ server, admin } = await startTestServer());
  expect(
    (await admin.put('/v1/resources/web-1', { kind: 'vm', name: 'web-1', metadata: { env: 'staging' } }))
      .status,
  ).toBe(201);
  expect(
    (await admin.put('/v1/environments/staging', { resourceSelector: "resource.metadata.env == 'staging'" }))
      .status,
  ).toBe(201);
  expect(
    (await admin.put('/v1/environments/empty', { resourceSelector: "resource.metadata.env == 'none'" }))
      .status,
  ).toBe(201);
});

afterAll(async () => {
  await server?.close();
});

async function expect400(reply: { status: number; body: unknown; text: string }) {
  expect(reply.status, reply.text).toBe(400);
  const error = errorOf(reply.body);
  expect(error.code).toBe('invalid_request');
  return { message: error.message, details: error.details as Detail[] };
}

const expectAbsent = async (path: string) => expect((await admin.get(path)).status).toBe(404);

describe('a validation error leads with its cause', () => {
  it('a misspelt key leads, with where it is and the key it most likely meant; details stay as they were', async () => {
    const reply = await admin.put('/v1/environments/typo', { resourceSelecter: 'true' });

    const { message, details } = await expect400(reply);
    expect(message).toMatch(
      /^Unrecognized key "resourceSelecter" at the top level; did you mean "resourceSelector"\?/,
    );
    expect(details).toEqual(
      expect.arrayContaining([
        { path: '', message: 'Unrecognized key: "resourceSelecter"' },
        expect.objectContaining({ path: 'resourceSelector' }),
      ]),
    );
    await expectAbsent('/v1/environments/typo');
  });

  it('a misspelt key inside an object names that object, through a union of job agents', async () => {
    const reply = await admin.put('/v1/deployments/typo', { jobAgent: { type: 'webhook', uri: NOWHERE } });

    const { message } = await expect400(reply);
    expect(message).toMatch(/^Unrecognized key "uri" in jobAgent; did you mean "url"\?/);
    await expectAbsent('/v1/deployments/typo');
  });

  it('a key far from every accepted one gets no guess', async () => {
    const { message } = await expect400(
      await admin.put('/v1/environments/typo', { resourceSelector: 'true', colour: 'blue' }),
    );

    expect(message).toBe('Unrecognized key "colour" at the top level');
  });

  it('a missing key says Required with its path, not what zod received', async () => {
    const { message } = await expect400(await admin.put('/v1/environments/missing', { name: 'Missing' }));

    expect(message).toBe('resourceSelector: Required');
    await expectAbsent('/v1/environments/missing');
  });

  it('a wrong type names its dotted path first', async () => {
    const { message, details } = await expect400(
      await admin.put('/v1/policies/wrong', {
        targets: 'true',
        rules: { approval: { minApprovals: 'two' } },
      }),
    );

    expect(message).toMatch(/^rules\.approval\.minApprovals: /);
    expect(details.map((d) => d.path)).toEqual(['rules.approval.minApprovals']);
  });
});

describe('a JSON syntax error says where', () => {
  const putRaw = (id: string, body: string) =>
    signedRaw(server.url, ADMIN, 'PUT', `/v1/environments/${id}`, body);

  it.each([
    ['a trailing comma', '{\n  "resourceSelector": "true",\n    }', 'unexpected "}" at line 3, column 5'],
    ['a truncated body', '{"resourceSelector": ', 'unexpected end of the body at line 1, column 22'],
    // JSON.parse's own message names no position here, on Node 20 as on 22.
    ['a bare word', '{\n"resourceSelector": tru}', 'unexpected "tru" at line 2, column 21'],
    ['a comment', '{"resourceSelector": "true"} // prod', 'at line 1, column 30'],
  ])('%s', async (_what, body, where) => {
    const reply = await putRaw('bad-json', body);

    const { message, details } = await expect400({ ...reply, body: reply.json });
    expect(message).toMatch(/^The request body is not valid JSON: /);
    expect(message).toContain(where);
    expect(details).toEqual([]);
    await expectAbsent('/v1/environments/bad-json');
  });
});

describe('warnings instead of silence', () => {
  it('a deployment naming an environment that does not exist is stored, with a warning that is never stored', async () => {
    const before = (await server.dynamoOperations()).Scan ?? 0;

    const reply = await admin.put<Warned>('/v1/deployments/api', {
      environments: ['staging', 'prodution', 'qa'],
      jobAgent: agent,
    });

    expect(reply.status, reply.text).toBe(201);
    expect(reply.body.environments).toEqual(['staging', 'prodution', 'qa']);
    expect(reply.body.warnings).toHaveLength(2);
    expect(reply.body.warnings?.[0]).toMatch(/"prodution" does not exist/);
    expect(reply.body.warnings?.[1]).toMatch(/"qa" does not exist/);
    expect((await server.dynamoOperations()).Scan ?? 0).toBe(before);
    const stored = await admin.get<Warned>('/v1/deployments/api');
    expect(stored.body).not.toHaveProperty('warnings');
    const listed = await admin.get<{ items: Warned[] }>('/v1/deployments');
    expect(listed.body.items.find((d) => d.id === 'api')).not.toHaveProperty('warnings');
  });

  it('a version answers the same warning, and the targets it has where the environment exists', async () => {
    const reply = await admin.post<VersionAnswer>('/v1/deployments/api/versions', {
      tag: 'v1',
      status: 'building',
    });

    expect(reply.status, reply.text).toBe(201);
    expect(reply.body.releaseTargetCount).toBe(1);
    expect(reply.body.warnings).toEqual([
      expect.stringMatching(/"prodution" does not exist/),
      expect.stringMatching(/"qa" does not exist/),
    ]);
  });

  it('a version with no release targets says so and why', async () => {
    expect(
      (await admin.put('/v1/deployments/lonely', { environments: ['empty'], jobAgent: agent })).status,
    ).toBe(201);

    const reply = await admin.post<VersionAnswer>('/v1/deployments/lonely/versions', { tag: 'v1' });
    const retried = await admin.post<VersionAnswer>('/v1/deployments/lonely/versions', { tag: 'v1' });

    expect(reply.status, reply.text).toBe(201);
    expect(reply.body.releaseTargetCount).toBe(0);
    expect(reply.body.warnings).toEqual([
      expect.stringMatching(/no release targets.*no resource matches both/),
    ]);
    expect(retried.status).toBe(200);
    expect(retried.body.warnings).toEqual(reply.body.warnings);
  });

  it('nothing to warn about: a deployment answers no warnings key, a version an empty list', async () => {
    const deployment = await admin.put<Warned>('/v1/deployments/api', {
      environments: ['staging'],
      jobAgent: agent,
    });
    const version = await admin.post<VersionAnswer>('/v1/deployments/api/versions', {
      tag: 'v2',
      status: 'building',
    });

    expect(deployment.status, deployment.text).toBe(200);
    expect(deployment.body).not.toHaveProperty('warnings');
    expect(version.body.releaseTargetCount).toBe(1);
    expect(version.body.warnings).toEqual([]);
  });
});

describe('/ leads to the status page', () => {
  it('answers 302 to /ui, which serves the page', async () => {
    const reply = await rawRequest(server.url, 'GET', '/');
    const page = await rawRequest(server.url, 'GET', String(reply.headers.location));

    expect(reply.status).toBe(302);
    expect(reply.headers.location).toBe('/ui');
    expect(page.status).toBe(200);
    expect(String(page.headers['content-type'])).toMatch(/^text\/html/);
    expect(page.text).toContain('<title>Gantry status</title>');
  });
});
