import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalServer } from '../../infra/local/server';
import { canonicalPathWithQuery, signedHeaders } from '../../shared/core/signature';
import type { Client } from '../helpers/client';
import { ADMIN, startTestServer } from '../helpers/local';
import { rawRequest } from '../support/raw';

/**
 * docs/api.md section 2: the canonical path. API Gateway hands `rawPath` over decoded and the local server
 * now does the same, so ids with `+`, `:` or `@` verify only because client and service both sign the
 * canonical path, whichever form the path travelled in.
 */
describe('the canonical path', () => {
  it.each([
    ['/v1/deployments/api/versions/v1.2.3+build.7', '/v1/deployments/api/versions/v1.2.3%2Bbuild.7'],
    ['/v1/deployments/api/versions/v1.2.3%2Bbuild.7', '/v1/deployments/api/versions/v1.2.3%2Bbuild.7'],
    ['/v1/deployments/api/versions/v1.2.3%2bbuild.7', '/v1/deployments/api/versions/v1.2.3%2Bbuild.7'],
    ['/v1/resources/arn:aws:ecs:eu-west-1@x', '/v1/resources/arn%3Aaws%3Aecs%3Aeu-west-1%40x'],
    ['/v1/resources/a%3Ab', '/v1/resources/a%3Ab'],
    [
      '/v1/events?deployment=api&since=2026-01-01T00:00:00Z',
      '/v1/events?deployment=api&since=2026-01-01T00:00:00Z',
    ],
    ['/v1/resources/plain-id_1.2~x', '/v1/resources/plain-id_1.2~x'],
    ['/v1/resources/%zz', '/v1/resources/%zz'],
  ])('%s signs as %s', (path, canonical) => {
    expect(canonicalPathWithQuery(path)).toBe(canonical);
  });
});

let server: LocalServer;
let admin: Client;

beforeAll(async () => {
  ({ server, admin } = await startTestServer());
  await admin.put('/v1/deployments/api', { jobAgent: { type: 'webhook', url: 'http://127.0.0.1:9/' } });
});
afterAll(async () => {
  await server?.close();
});

describe('ids with +, : and @ over the wire', () => {
  const tag = 'v1.2.3+build.7';
  const resource = 'arn:aws:ecs:eu-west-1:123:cluster@blue';

  it('a version tag with build metadata: signed encoded, signed decoded, both accepted', async () => {
    const created = await admin.post('/v1/deployments/api/versions', { tag, status: 'building' });
    expect(created.status).toBe(201);
    for (const signedPath of [
      `/v1/deployments/api/versions/${encodeURIComponent(tag)}`,
      `/v1/deployments/api/versions/${tag}`,
    ]) {
      const reply = await rawRequest(
        server.url,
        'GET',
        `/v1/deployments/api/versions/${encodeURIComponent(tag)}`,
        {
          headers: signedHeaders(ADMIN, 'GET', signedPath, ''),
        },
      );
      expect(reply.status, `${signedPath}: ${reply.text}`).toBe(200);
      expect((reply.json as { version: { tag: string } }).version.tag).toBe(tag);
    }
  });

  it('a resource id with : and @ is written and read through the signed API', async () => {
    const path = `/v1/resources/${encodeURIComponent(resource)}`;
    const put = await admin.put(path, { kind: 'ecs-cluster', name: 'blue', metadata: {} });
    expect(put.status, put.text).toBe(201);
    const got = await admin.get<{ id: string }>(path);
    expect(got.body.id).toBe(resource);
  });

  it('a signature over another path is still refused', async () => {
    const reply = await rawRequest(
      server.url,
      'GET',
      `/v1/deployments/api/versions/${encodeURIComponent(tag)}`,
      {
        headers: signedHeaders(ADMIN, 'GET', '/v1/deployments/api/versions/v1.2.3+build.8', ''),
      },
    );
    expect(reply.status).toBe(401);
  });
});
