import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openLink } from '../../cli/open';
import { mintViewToken } from '../../functions/http/presentation/view-token';
import type { LocalServer } from '../../infra/local/server';
import { FakeAgent } from '../helpers/agent';
import { Client, eventually } from '../helpers/client';
import { startTestServer, TEST_KEYS } from '../helpers/local';

/**
 * Issue 9: view links. Minting needs a key that may read; the page's read API takes only a valid,
 * unexpired token of a known key, limited to its deployment when it names one; neither the page nor
 * its assets ever carry a key secret.
 */
let server: LocalServer;
let admin: Client;
let as: (id: string) => Client;
const agent = new FakeAgent();

interface ViewLink {
  url: string;
  expiresAt: string;
}
interface ErrorBody {
  error: { code: string; message: string };
}

const tokenOf = (url: string) => new URL(url).searchParams.get('v') ?? '';
const view = (token: string, path: string) =>
  new Client(server.url).request('GET', path, undefined, { headers: { authorization: `View ${token}` } });
const reader = () => TEST_KEYS.find((k) => k.id === 'reader') as { id: string; secret: string };
const inSeconds = (s: number) => Math.floor(Date.now() / 1000) + s;

beforeAll(async () => {
  await agent.start();
  ({ server, admin, as } = await startTestServer());
  await admin.put('/v1/resources/r1', { kind: 'vm', name: 'r1', metadata: { env: 'staging' } });
  await admin.put('/v1/environments/staging', { resourceSelector: "resource.metadata.env == 'staging'" });
  for (const id of ['api', 'web'])
    await admin.put(`/v1/deployments/${id}`, { jobAgent: { type: 'webhook', url: agent.url } });
  await admin.post('/v1/deployments/api/versions', { tag: 'v1' });
});

afterAll(async () => {
  await server?.close();
  await agent.stop();
});

describe('POST /v1/view-links', () => {
  it('mints a link for a key that may read, and only for one', async () => {
    const minted = await as('reader').post<ViewLink>('/v1/view-links', {
      deployment: 'api',
      ttlSeconds: 600,
    });
    expect(minted.status).toBe(201);
    expect(minted.body.url).toMatch(new RegExp(`^${server.url}/ui\\?v=reader\\.\\d+\\.api\\.[0-9a-f]{64}$`));
    const expires = Date.parse(minted.body.expiresAt) - Date.now();
    expect(expires).toBeGreaterThan(590_000);
    expect(expires).toBeLessThanOrEqual(600_000);
    expect(minted.body.url).not.toContain(reader().secret);

    expect((await admin.post('/v1/view-links')).status).toBe(201);
    expect((await as('agent').post('/v1/view-links', {})).status).toBe(403);
    expect((await as('ci-api').post('/v1/view-links', { deployment: 'api' })).status).toBe(403);
    expect((await new Client(server.url).post('/v1/view-links', {})).status).toBe(401);
  });

  it('refuses a ttl over a day, unknown fields and an unknown deployment', async () => {
    const tooLong = await admin.post<ErrorBody>('/v1/view-links', { ttlSeconds: 86_401 });
    expect(tooLong.status).toBe(400);
    expect(tooLong.body.error.code).toBe('invalid_request');
    expect((await admin.post('/v1/view-links', { scopes: ['admin'] })).status).toBe(400);
    const missing = await admin.post<ErrorBody>('/v1/view-links', { deployment: 'nope' });
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe('not_found');
  });

  it('is what gantry open returns', async () => {
    const client = as('reader');
    const url = await openLink(
      {
        request: async <T>(method: string, path: string, body?: unknown) =>
          (await client.request<T>(method, path, body)).body,
      },
      { deployment: 'api' },
    );
    expect(url).toMatch(/\/ui\?v=reader\.\d+\.api\./);
    expect((await view(tokenOf(url), '/ui/api/deployments')).status).toBe(200);
  });
});

describe('the read API of the page', () => {
  it('answers a valid token with what the page draws', async () => {
    const { body } = await admin.post<ViewLink>('/v1/view-links', {});
    const token = tokenOf(body.url);
    const deployments = await view(token, '/ui/api/deployments');
    expect(deployments.status).toBe(200);
    expect(deployments.headers.get('cache-control')).toBe('no-store');
    expect((deployments.body.items as { id: string }[]).map((d) => d.id)).toEqual(['api', 'web']);

    await eventually(
      () => view(token, '/ui/api/summary?deployment=api'),
      (r) => JSON.stringify(r.body).includes('"current":[{"version":"v1"'),
    );
    const summary = await view(token, '/ui/api/summary?deployment=api');
    expect(summary.body).toMatchObject({
      deployment: { id: 'api', paused: false },
      version: { tag: 'v1', status: 'ready' },
      total: 1,
      successful: 1,
      environments: [
        {
          id: 'staging',
          name: 'staging',
          total: 1,
          successful: 1,
          counts: { successful: 1 },
          current: [{ version: 'v1', count: 1 }],
        },
      ],
    });
    const targets = await view(token, '/ui/api/targets?deployment=api&tag=v1&environment=staging');
    expect(targets.body).toEqual({
      items: [
        expect.objectContaining({
          environment: 'staging',
          resource: 'r1',
          name: 'r1',
          status: 'successful',
          currentVersion: 'v1',
        }),
      ],
    });
    const none = await view(token, '/ui/api/targets?deployment=api&tag=v1&environment=staging&status=failed');
    expect(none.body).toEqual({ items: [] });
    const forged = await view(
      token,
      '/ui/api/targets?deployment=api&tag=v1&environment=staging&nextToken=eyJ4IjoxfQ',
    );
    expect(forged.status).toBe(400);
    const versions = await view(token, '/ui/api/versions?deployment=api');
    expect(versions.body).toMatchObject({ items: [{ tag: 'v1', status: 'ready' }] });
    const timeline = await view(token, '/ui/api/timeline?deployment=api&tag=v1');
    expect(timeline.status).toBe(200);
    const rows = timeline.body.rows as { segments: { phase: string; label: string }[]; markers: unknown[] }[];
    expect(rows).toHaveLength(1);
    expect(rows[0]?.segments.map((s) => s.phase)).toContain('deploying');
    expect(rows[0]?.markers).toContainEqual(expect.objectContaining({ kind: 'succeeded' }));
    const plan = await view(token, '/ui/api/plan?deployment=api&tag=v1');
    expect(plan.status).toBe(200);
    expect(plan.body).toMatchObject({ version: { tag: 'v1' }, rows: [{ resource: 'r1' }] });

    const missing = await view(token, '/ui/api/timeline?deployment=api&tag=v9');
    expect(missing.status).toBe(404);
    expect((missing.body as unknown as ErrorBody).error.code).toBe('not_found');
    const bad = await view(token, '/ui/api/timeline?deployment=api&tag=..%2Fx');
    expect(bad.status).toBe(400);
    expect((bad.body as unknown as ErrorBody).error.code).toBe('invalid_request');
  });

  it('answers 401 without a token, and for a forged, expired, unknown-key or too long one', async () => {
    const key = reader();
    const good = mintViewToken(key, inSeconds(600));
    expect((await view(good, '/ui/api/deployments')).status).toBe(200);
    const last = good.at(-1) === '0' ? '1' : '0';
    const cases: Record<string, string> = {
      forged: good.slice(0, -1) + last,
      'other deployment claimed': good.replace('.*.', '.api.'),
      expired: mintViewToken(key, inSeconds(-1)),
      'unknown key': mintViewToken({ id: 'ghost', secret: key.secret }, inSeconds(600)),
      'a week long': mintViewToken(key, inSeconds(7 * 86_400)),
      malformed: 'not-a-token',
    };
    for (const [what, token] of Object.entries(cases)) {
      const reply = await view(token, '/ui/api/deployments');
      expect(reply.status, what).toBe(401);
      expect((reply.body as unknown as ErrorBody).error.code, what).toBe('unauthenticated');
    }
    expect((await new Client(server.url).get('/ui/api/summary?deployment=api')).status).toBe(401);
    // A signature is not a view token: the page API takes nothing else.
    expect((await admin.get('/ui/api/deployments')).status).toBe(401);
    // A token of a key that may not read (it could only be made by its holder) is refused.
    const agentKey = TEST_KEYS.find((k) => k.id === 'agent') as { id: string; secret: string };
    expect((await view(mintViewToken(agentKey, inSeconds(600)), '/ui/api/deployments')).status).toBe(403);
  });

  it('keeps a token limited to one deployment out of the others', async () => {
    const { body } = await as('reader').post<ViewLink>('/v1/view-links', { deployment: 'api' });
    const token = tokenOf(body.url);
    const deployments = await view(token, '/ui/api/deployments');
    expect((deployments.body.items as { id: string }[]).map((d) => d.id)).toEqual(['api']);
    expect((await view(token, '/ui/api/summary?deployment=api')).status).toBe(200);
    for (const path of [
      '/ui/api/summary?deployment=web',
      '/ui/api/targets?deployment=web&tag=v1&environment=staging',
      '/ui/api/versions?deployment=web',
      '/ui/api/timeline?deployment=web&tag=v1',
      '/ui/api/plan?deployment=web&tag=v1',
    ]) {
      const reply = await view(token, path);
      expect(reply.status, path).toBe(403);
      expect((reply.body as unknown as ErrorBody).error.code).toBe('forbidden');
    }
  });
});

describe('the page', () => {
  it('is static HTML with its own assets, a strict policy and no key secret', async () => {
    const { body } = await admin.post<ViewLink>('/v1/view-links', {});
    const anonymous = new Client(server.url);
    const page = await anonymous.get(`/ui?v=${encodeURIComponent(tokenOf(body.url))}`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(page.headers.get('content-security-policy')).toContain("default-src 'none'");
    expect(page.headers.get('referrer-policy')).toBe('no-referrer');
    const assets = [...page.text.matchAll(/(?:href|src)="(\/ui\/assets\/[^"]+)"/g)].map(
      (m) => m[1] as string,
    );
    expect(assets).toHaveLength(2);
    expect(page.text).not.toMatch(/https?:\/\//);
    const texts = [page.text];
    for (const path of assets) {
      const asset = await anonymous.get(path);
      expect(asset.status, path).toBe(200);
      expect(asset.headers.get('content-type')).toMatch(/^text\/(javascript|css)/);
      texts.push(asset.text);
    }
    for (const text of texts) {
      for (const key of TEST_KEYS) expect(text).not.toContain(key.secret);
      expect(text).not.toContain(tokenOf(body.url));
      expect(text).not.toMatch(/https?:\/\/(?!127\.0\.0\.1)/);
    }
    expect((await anonymous.get('/ui/assets/nope.js')).status).toBe(404);
  });

  it('is in the OpenAPI document', async () => {
    const doc = await new Client(server.url).get<{ paths: Record<string, unknown> }>('/openapi.json');
    for (const path of [
      '/v1/view-links',
      '/ui',
      '/ui/api/summary',
      '/ui/api/targets',
      '/ui/api/timeline',
      '/ui/api/plan',
    ])
      expect(doc.body.paths, path).toHaveProperty([path]);
  });
});
