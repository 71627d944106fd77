import { createHash } from 'node:crypto';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { httpHandler, json, MAX_RESPONSE_BYTES } from '../../functions/http/kernel';
import type { RouteSpec } from '../../functions/http/routes/spec';
import type { Stored } from '../../shared/adapters/store/config';
import { decodeToken, encodeToken, InvalidPageToken } from '../../shared/adapters/store/config';
import { rolloutOrder } from '../../shared/core/policy/rollout-order';
import type { DeploymentBody, EnvironmentBody, ResourceBody } from '../../shared/core/schemas/config';
import { computeReleaseTargets } from '../../shared/core/targets';

/** Bounded answers (docs/api.md sections 1 and 4) and the pure parts the fast plan rests on. */

const route: RouteSpec = {
  operationId: 'big',
  method: 'GET',
  path: '/big',
  fn: 'api-meta',
  auth: { type: 'public' },
  summary: 'test',
  responses: { 200: 'test' },
};

const event = (requestId: string) =>
  ({
    routeKey: 'GET /big',
    rawPath: '/big',
    rawQueryString: '',
    headers: {},
    requestContext: { requestId, http: { method: 'GET' } },
    isBase64Encoded: false,
  }) as unknown as APIGatewayProxyEventV2;

async function answer(bytes: number, requestId: string) {
  const handler = httpHandler([route], { big: async () => json(200, { items: ['x'.repeat(bytes)] }) });
  return (await handler(event(requestId), {} as Context)) as APIGatewayProxyStructuredResultV2;
}

describe('the kernel never lets an answer over Lambda 6 MB leave as if it were fine', () => {
  it('answers the contract 500 with the request id instead', async () => {
    const reply = await answer(MAX_RESPONSE_BYTES, 'req-big');

    expect(reply.statusCode).toBe(500);
    const body = JSON.parse(reply.body ?? '{}') as { error: { code: string; message: string } };
    expect(body.error.code).toBe('internal');
    expect(body.error.message).toContain('req-big');
  });

  it('counts the escaping of the body inside the invocation result', async () => {
    // 3.5 MB of quotes is 7 MB once the result is serialised (each becomes \").
    const handler = httpHandler([route], {
      big: async () => ({ status: 200, body: '"'.repeat(3.5 * 1024 * 1024), contentType: 'text/plain' }),
    });
    const reply = (await handler(event('req-q'), {} as Context)) as APIGatewayProxyStructuredResultV2;

    expect(reply.statusCode).toBe(500);
  });

  it('lets a large answer under the limit through unchanged', async () => {
    const reply = await answer(4 * 1024 * 1024, 'req-ok');

    expect(reply.statusCode).toBe(200);
    expect(reply.body?.length).toBeGreaterThan(4 * 1024 * 1024);
  });
});

describe('page tokens', () => {
  const pk = 'TARGET#api';

  it('accepts a key of an accepted partition, and nothing else', () => {
    const token = encodeToken({ pk, sk: 'prod#a' });
    const known = (value: string) => value === pk;

    expect(decodeToken(token, { name: 'pk', value: known })).toEqual({ pk, sk: 'prod#a' });
    expect(() =>
      decodeToken(encodeToken({ pk: 'TARGET#web', sk: 'prod#a' }), { name: 'pk', value: known }),
    ).toThrow(InvalidPageToken);
    expect(() => decodeToken('garbage', { name: 'pk', value: known })).toThrow(InvalidPageToken);
  });
});

const stored = <T>(id: string, data: T): Stored<T> => ({ id, data, createdAt: 'x', updatedAt: 'x' });
// Frozen, as the inventory cache hands them out (what computeReleaseTargets keeps work for).
const resources = Array.from({ length: 40 }, (_, i) =>
  stored<ResourceBody>(`r${String(i).padStart(2, '0')}`, {
    kind: 'vm',
    name: `r${i}`,
    metadata: i % 7 === 0 ? {} : { env: i % 2 ? 'prod' : 'staging', tier: String(i % 3) },
  }),
);
Object.freeze(resources);
const environments = [
  stored<EnvironmentBody>('prod', { resourceSelector: "resource.metadata.env == 'prod'" }),
  stored<EnvironmentBody>('staging', { resourceSelector: "resource.metadata.env == 'staging'" }),
  // Reads the deployment: never shared between deployments.
  stored<EnvironmentBody>('own', {
    resourceSelector: "resource.metadata.tier == '1' && deployment.id == 'api'",
  }),
];

describe('computeReleaseTargets', () => {
  it.each<[string, string | undefined]>([
    ['every resource', undefined],
    ['a selector of resources', "resource.metadata.tier == '0'"],
    ['a selector reading the environment', "environment.id == 'prod' || resource.metadata.tier == '2'"],
  ])('gives the same targets and warnings on every call (%s)', (_, selector) => {
    const api = stored<DeploymentBody>('api', {
      jobAgent: { type: 'webhook', url: 'http://127.0.0.1:9/' },
      ...(selector ? { resourceSelector: selector } : {}),
    } as DeploymentBody);
    const web = stored<DeploymentBody>('web', { ...api.data });

    const first = computeReleaseTargets(api, environments, resources);
    const again = computeReleaseTargets(api, environments, resources);
    const other = computeReleaseTargets(web, environments, resources);

    expect(again).toEqual(first);
    // Resources without the metadata key error in every environment, each time: warnings, not crashes.
    expect(first.warnings.filter((w) => w.environment === 'prod')).toHaveLength(6);
    expect(other.targets.some((t) => t.environment === 'own')).toBe(false);
    for (const t of first.targets) {
      const r = resources.find((x) => x.id === t.resource);
      if (t.environment !== 'own') expect(r?.data.metadata.env).toBe(t.environment);
    }
  });
});

describe('an environment selector that reads the deployment', () => {
  it('is evaluated per deployment, never shared between them', () => {
    const agent = { jobAgent: { type: 'webhook', url: 'http://127.0.0.1:9/' } } as DeploymentBody;
    const api = computeReleaseTargets(stored('api', agent), environments, resources);
    const web = computeReleaseTargets(stored('web', agent), environments, resources);

    expect(api.targets.filter((t) => t.environment === 'own')).toHaveLength(
      resources.filter((r) => r.data.metadata.tier === '1').length,
    );
    expect(web.targets.filter((t) => t.environment === 'own')).toEqual([]);
  });
});

describe('rolloutOrder', () => {
  it('is the order of the hash of target and version, as before', () => {
    const keys = Array.from({ length: 300 }, (_, i) => `api#v1#prod#r${i}`);
    const rank = (key: string) => createHash('sha256').update(`${key}\nv7`).digest('hex');
    const reference = [...keys].sort((a, b) => rank(a).localeCompare(rank(b)) || a.localeCompare(b));

    expect(rolloutOrder(keys, 'v7')).toEqual(reference);
    expect(rolloutOrder(keys, 'v8')).not.toEqual(reference);
  });
});
