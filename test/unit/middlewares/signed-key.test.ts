import { describe, expect, it } from 'vitest';
import type { HttpEvent } from '../../../functions/http/api';
import { signedKey } from '../../../functions/http/middlewares/signed-key';
import type { RouteSpec } from '../../../functions/http/routes/spec';
import type { KeySource } from '../../../shared/adapters/keys';
import type { ApiKey } from '../../../shared/core/schemas/common';
import { signedHeaders } from '../../../shared/core/signature';
import { apiOfRequest, requestFor, routeOf } from './request';

const KEYS: ApiKey[] = [
  { id: 'admin', secret: 'admin-secret-0123456789', scopes: ['admin'] },
  { id: 'reader', secret: 'reader-secret-0123456789', scopes: ['read'], approver: 'rita' },
  { id: 'ci', secret: 'ci-secret-0123456789abc', scopes: ['versions:write'], deployments: ['api'] },
  { id: 'agent', secret: 'agent-secret-0123456789', scopes: ['jobs:write'] },
];
const keys = (): KeySource => ({ find: async (id) => KEYS.find((key) => key.id === id) });

/** A signing-key middleware with its own memory of accepted write signatures. */
function middleware() {
  const seen = new Set<string>();
  return signedKey({
    keys,
    firstUse: async (signature) => !seen.has(signature) && Boolean(seen.add(signature)),
  });
}

const read = routeOf({ path: '/v1/things/{deploymentId}', auth: { type: 'signed', scopes: ['read'] } });
const write = routeOf({
  method: 'POST',
  path: '/v1/things/{deploymentId}',
  auth: { type: 'signed', scopes: ['versions:write'] },
});
const job = routeOf({ method: 'POST', path: '/v1/jobs/{jobId}/status', auth: { type: 'job' } });

/** A request to `route` signed by `keyId` as a client does (docs/api.md section 2). */
function signed(
  route: RouteSpec,
  keyId: string,
  { params = { deploymentId: 'api' }, query = '', body = '', method = route.method, path = '' } = {},
) {
  const key = KEYS.find((k) => k.id === keyId) as ApiKey;
  const signedPath =
    path ||
    route.path.replace(/\{(\w+)\}/g, (_, name: string) =>
      encodeURIComponent(params[name as 'deploymentId'] ?? ''),
    );
  const headers = Object.fromEntries(
    Object.entries(signedHeaders(key, method, `${signedPath}${query ? `?${query}` : ''}`, body)).map(
      ([name, value]) => [name.toLowerCase(), value],
    ),
  );
  const event: Partial<HttpEvent> = {
    pathParameters: params,
    rawQueryString: query,
    requestContext: { requestId: 'req-1', http: { method } } as HttpEvent['requestContext'],
  };
  return requestFor(route, { event, api: { headers, rawBody: body, params } });
}

describe('the signed-key middleware', () => {
  it('accepts a signed read and names the caller', async () => {
    const request = signed(read, 'reader');

    await middleware().before?.(request);

    expect(apiOfRequest(request).caller).toEqual({
      keyId: 'reader',
      scopes: ['read'],
      deployments: undefined,
      approver: 'rita',
    });
  });

  it.each([
    ['no signature headers', { 'x-gantry-key-id': undefined }],
    ['a malformed signature', { 'x-gantry-signature': 'v1=XYZ' }],
    ['an unknown key', { 'x-gantry-key-id': 'nobody' }],
    ['a stale timestamp', { 'x-gantry-timestamp': String(Math.floor(Date.now() / 1000) - 301) }],
    ['another signature', { 'x-gantry-signature': `v1=${'0'.repeat(64)}` }],
  ])('answers %s with 401 unauthenticated', async (_name, changed) => {
    const request = signed(read, 'reader');
    Object.assign(apiOfRequest(request).headers, changed);

    await expect(middleware().before?.(request)).rejects.toMatchObject({
      code: 'unauthenticated',
    });
    expect(apiOfRequest(request).caller).toBeUndefined();
  });

  it('answers a key without the scope, or limited to other deployments, with 403 forbidden', async () => {
    const noScope = signed(write, 'reader');
    const otherDeployment = signed(write, 'ci', { params: { deploymentId: 'web' } });

    await expect(middleware().before?.(noScope)).rejects.toMatchObject({
      code: 'forbidden',
    });
    await expect(middleware().before?.(otherDeployment)).rejects.toMatchObject({
      code: 'forbidden',
      message: 'This key may not act on deployment "web".',
    });
  });

  it('accepts a write once: the same signature again is a replay (401)', async () => {
    const checked = middleware();

    await checked.before?.(signed(write, 'ci', { body: '{"tag":"v1"}' }));

    await expect(checked.before?.(signed(write, 'ci', { body: '{"tag":"v1"}' }))).rejects.toMatchObject({
      code: 'unauthenticated',
      message: 'This signature was already used (replay).',
    });
  });

  it('lets reads repeat', async () => {
    const checked = middleware();

    await checked.before?.(signed(read, 'reader'));
    await expect(checked.before?.(signed(read, 'reader'))).resolves.toBeUndefined();
  });

  it('verifies the canonical path whether the parameter arrives decoded or encoded', async () => {
    // Signed over the path as the client encodes it; API Gateway hands over the decoded parameter.
    const request = signed(read, 'admin', {
      params: { deploymentId: 'v1.2.3+build:7' },
      path: '/v1/things/v1.2.3%2Bbuild%3A7',
    });

    await expect(middleware().before?.(request)).resolves.toBeUndefined();
  });

  it('checks a HEAD as HEAD: a GET signature does not authorise it', async () => {
    const request = signed(read, 'reader');
    request.event.requestContext.http.method = 'HEAD';

    await expect(middleware().before?.(request)).rejects.toMatchObject({ code: 'unauthenticated' });
  });

  it('asks a job call without a bearer token for a jobs:write key', async () => {
    const byAgent = signed(job, 'agent', { params: { jobId: 'j1' } as never });
    const byReader = signed(job, 'reader', { params: { jobId: 'j2' } as never });
    const unsigned = signed(job, 'agent', { params: { jobId: 'j3' } as never });
    apiOfRequest(unsigned).headers = {};

    await middleware().before?.(byAgent);
    expect(apiOfRequest(byAgent).caller?.keyId).toBe('agent');
    await expect(middleware().before?.(byReader)).rejects.toMatchObject({ code: 'forbidden' });
    await expect(middleware().before?.(unsigned)).rejects.toMatchObject({ code: 'unauthenticated' });
  });

  it('leaves a job call with a bearer token, and the other schemes, alone', async () => {
    const bearer = requestFor(job, { api: { bearerToken: 't0ken' } });
    const slack = requestFor(routeOf({ auth: { type: 'slack' } }));
    const open = requestFor(routeOf());

    for (const request of [bearer, slack, open]) await middleware().before?.(request);

    expect([bearer, slack, open].map((request) => apiOfRequest(request).caller)).toEqual([
      undefined,
      undefined,
      undefined,
    ]);
  });
});
