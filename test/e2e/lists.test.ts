import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalServer } from '../../infra/local/server';
import { type Client, eventually } from '../helpers/client';
import { startTestServer } from '../helpers/local';
import { errorOf } from '../support/raw';

/**
 * Every list of the contract pages with `limit` and `nextToken` (docs/api.md sections 3 and 4): versions
 * without their config, a version's releases with a summary, release targets across deployments,
 * approvals and the plan; a token this service did not issue for that list is a 400.
 */
let server: LocalServer;
let admin: Client;

const NOWHERE = 'http://127.0.0.1:9/never-called';
const RESOURCES = ['r1', 'r2', 'r3'];
const BIG_CONFIG = { blob: 'x'.repeat(250 * 1024) };

type Page<T> = { items: T[]; nextToken?: string };
type Target = { deployment: string; environment: string; resource: string };
type View = {
  version: { tag: string; config?: unknown };
  summary: Record<string, number>;
  releases: { resource: string; status: string }[];
  nextToken?: string;
};

beforeAll(async () => {
  ({ server, admin } = await startTestServer());
  for (const id of RESOURCES) await admin.put(`/v1/resources/${id}`, { kind: 'vm', name: id, metadata: {} });
  await admin.put('/v1/environments/prod', { resourceSelector: 'true' });
  // An approval gate holds every release waiting: nothing is dispatched.
  await admin.put('/v1/policies/gate', { targets: 'true', rules: { approval: { minApprovals: 1 } } });
  for (const deployment of ['api', 'web']) {
    await admin.put(`/v1/deployments/${deployment}`, { jobAgent: { type: 'webhook', url: NOWHERE } });
    const created = await admin.post(`/v1/deployments/${deployment}/versions`, { tag: 'v1' });
    expect(created.status, created.text).toBe(201);
  }
  for (const tag of ['b1', 'b2', 'b3']) {
    const created = await admin.post('/v1/deployments/api/versions', {
      tag,
      status: 'building',
      config: BIG_CONFIG,
    });
    expect(created.status, created.text).toBe(201);
  }
  await eventually(
    () => admin.get<View>('/v1/deployments/web/versions/v1'),
    (reply) => reply.body.summary?.waiting === RESOURCES.length,
    { timeoutMs: 30_000 },
  );
  await eventually(
    () => admin.get<View>('/v1/deployments/api/versions/v1'),
    (reply) => reply.body.summary?.waiting === RESOURCES.length,
    { timeoutMs: 30_000 },
  );
}, 90_000);

afterAll(async () => {
  await server?.close();
});

const expect400 = (reply: { status: number; text: string; body: unknown }) => {
  expect(reply.status, reply.text).toBe(400);
  expect(errorOf(reply.body).code).toBe('invalid_request');
};

describe('GET /v1/deployments/{id}/versions', () => {
  it('pages newest first, without config', async () => {
    const first = await admin.get<Page<Record<string, unknown>>>('/v1/deployments/api/versions?limit=2');
    const second = await admin.get<Page<Record<string, unknown>>>(
      `/v1/deployments/api/versions?limit=2&nextToken=${encodeURIComponent(first.body.nextToken ?? '')}`,
    );
    const all = await admin.getAll<Page<Record<string, unknown>>>('/v1/deployments/api/versions?limit=1');

    expect(first.body.items.map((v) => v.tag)).toEqual(['b3', 'b2']);
    expect(first.body.nextToken).toEqual(expect.any(String));
    expect(second.body.items.map((v) => v.tag)).toEqual(['b1', 'v1']);
    expect(all.body.items.map((v) => v.tag)).toEqual(['b3', 'b2', 'b1', 'v1']);
    for (const item of all.body.items) expect(item).not.toHaveProperty('config');
    // Three 250 KB configs stay out of the list.
    expect(first.text.length).toBeLessThan(10_000);
  });

  it('refuses a token it did not issue for this list', async () => {
    const api = await admin.get<Page<unknown>>('/v1/deployments/api/versions?limit=1');

    expect400(
      await admin.get(
        `/v1/deployments/web/versions?nextToken=${encodeURIComponent(api.body.nextToken ?? '')}`,
      ),
    );
    expect400(await admin.get('/v1/deployments/api/versions?nextToken=bm90LWEta2V5'));
    expect400(await admin.get('/v1/deployments/api/versions?limit=1001'));
    expect400(await admin.get('/v1/deployments/api/versions?limit=0'));
  });
});

describe('GET /v1/deployments/{id}/versions/{tag}', () => {
  it('counts every release in the summary and pages the releases', async () => {
    const first = await admin.get<View>('/v1/deployments/api/versions/v1?limit=2');
    const all = await admin.getAll<View>('/v1/deployments/api/versions/v1?limit=2', 'releases');

    expect(first.body.summary).toEqual({ waiting: 3 });
    expect(first.body.releases).toHaveLength(2);
    expect(first.body.nextToken).toEqual(expect.any(String));
    expect(all.body.releases.map((r) => r.resource)).toEqual(RESOURCES);
    expect(all.body.version.tag).toBe('v1');
  });

  it('keeps the config of the one version it shows', async () => {
    const view = await admin.get<View>('/v1/deployments/api/versions/b1');

    expect(view.body.version.config).toEqual(BIG_CONFIG);
    expect(view.body.summary).toEqual({});
    expect(view.body.releases).toEqual([]);
  });

  it('refuses the token of another version', async () => {
    const api = await admin.get<View>('/v1/deployments/api/versions/v1?limit=1');

    expect400(
      await admin.get(
        `/v1/deployments/web/versions/v1?nextToken=${encodeURIComponent(api.body.nextToken ?? '')}`,
      ),
    );
  });
});

describe('GET /v1/release-targets', () => {
  it('pages through every deployment, and through one', async () => {
    const all = await eventually(
      () => admin.getAll<Page<Target>>('/v1/release-targets?limit=2'),
      (reply) => reply.body.items.length === 6,
      { timeoutMs: 20_000 },
    );
    const web = await admin.getAll<Page<Target>>(
      '/v1/release-targets?deployment=web&environment=prod&limit=1',
    );

    expect(all.body.items.map((t) => `${t.deployment}/${t.resource}`)).toEqual([
      'api/r1',
      'api/r2',
      'api/r3',
      'web/r1',
      'web/r2',
      'web/r3',
    ]);
    expect(web.body.items.map((t) => t.resource)).toEqual(RESOURCES);
  });

  it('refuses a token of another list', async () => {
    const versions = await admin.get<Page<unknown>>('/v1/deployments/api/versions?limit=1');
    const web = await admin.get<Page<unknown>>('/v1/release-targets?deployment=web&limit=1');

    expect400(
      await admin.get(`/v1/release-targets?nextToken=${encodeURIComponent(versions.body.nextToken ?? '')}`),
    );
    expect400(
      await admin.get(
        `/v1/release-targets?deployment=api&nextToken=${encodeURIComponent(web.body.nextToken ?? '')}`,
      ),
    );
  });
});

describe('GET /v1/approvals', () => {
  it('pages the pending approvals', async () => {
    const all = await eventually(
      () => admin.getAll<Page<{ deployment: string }>>('/v1/approvals?status=pending&limit=1'),
      (reply) => reply.body.items.length === 2,
      { timeoutMs: 20_000 },
    );
    const first = await admin.get<Page<unknown>>('/v1/approvals?status=pending&limit=1');

    expect(all.body.items.map((a) => a.deployment).sort()).toEqual(['api', 'web']);
    expect(first.body.items).toHaveLength(1);
    expect(first.body.nextToken).toEqual(expect.any(String));
    expect400(await admin.get('/v1/approvals?nextToken=e30'));
  });
});

describe('GET .../plan', () => {
  it('pages the targets of the plan and counts them all', async () => {
    const first = await admin.get<{ targetCount: number; targets: Target[]; nextToken?: string }>(
      '/v1/deployments/api/versions/v1/plan?limit=2',
    );
    const all = await admin.getAll<{ targets: (Target & { status: string })[] }>(
      '/v1/deployments/api/versions/v1/plan?limit=2',
      'targets',
    );

    expect(first.body.targetCount).toBe(3);
    expect(first.body.targets).toHaveLength(2);
    expect(all.body.targets.map((t) => t.resource)).toEqual(RESOURCES);
    expect(all.body.targets.every((t) => t.status === 'waiting')).toBe(true);
    expect400(await admin.get('/v1/deployments/web/versions/v1/plan?nextToken=e30'));
  });
});
