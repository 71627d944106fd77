import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalServer } from '../../infra/local/server';
import { FakeArgoCd } from '../helpers/argocd';
import type { Client } from '../helpers/client';
import { startTestServer } from '../helpers/local';
import { waitSettled } from '../support/rollouts';

/**
 * The argocd job agent: per release target it points an Argo CD Application at the version's
 * revision, syncs it and polls it until the sync ended and the Application is healthy (Ctrlplane's
 * ArgoCD agent, without a webhook in between).
 */

const TOKEN = 'argocd-token-0123456789';
let server: LocalServer;
let admin: Client;
const argo = new FakeArgoCd(TOKEN);

const agent = (extra: Record<string, unknown> = {}) => ({
  type: 'argocd',
  serverUrl: argo.url,
  application: 'shop-{{environment.id}}-{{resource.metadata.region}}',
  tokenSecretRef: 'argocd-token',
  pollIntervalSeconds: 5,
  ...extra,
});

beforeAll(async () => {
  await argo.start();
  ({ server, admin } = await startTestServer({
    timeScale: 20,
    secrets: JSON.stringify({ 'argocd-token': TOKEN, 'stale-token': 'not-the-token' }),
  }));
  for (const [id, env, region] of [
    ['eu-1', 'prod', 'eu'],
    ['us-1', 'prod', 'us'],
  ] as const) {
    await admin.put(`/v1/resources/${id}`, { kind: 'cluster', name: id, metadata: { env, region } });
  }
  await admin.put('/v1/environments/prod', { resourceSelector: "resource.metadata.env == 'prod'" });
});

afterAll(async () => {
  await server?.close();
  await argo.stop();
});

describe('the argocd job agent', () => {
  it('points each target Application at the version, syncs it, and succeeds once it is Healthy', async () => {
    argo.app('shop-prod-eu');
    argo.app('shop-prod-us');
    expect((await admin.put('/v1/deployments/shop', { jobAgent: agent() })).status).toBe(201);

    await admin.post('/v1/deployments/shop/versions', { tag: 'v1.4.0' });
    const view = await waitSettled(admin, 'shop', 'v1.4.0', 2);

    expect(view.releases.map((r) => r.status)).toEqual(['successful', 'successful']);
    expect([
      argo.apps.get('shop-prod-eu')?.targetRevision,
      argo.apps.get('shop-prod-us')?.targetRevision,
    ]).toEqual(['v1.4.0', 'v1.4.0']);
    const calls = argo.requests.filter((r) => r.path.includes('shop-prod-eu') && r.method !== 'GET');
    expect(calls.map((r) => [r.method, r.path, (r.body as { revision?: string }).revision])).toEqual([
      ['PATCH', '/api/v1/applications/shop-prod-eu', undefined],
      ['POST', '/api/v1/applications/shop-prod-eu/sync', 'v1.4.0'],
    ]);
    expect(argo.requests.every((r) => r.authorized)).toBe(true);
  });

  it('takes the revision from a template, e.g. the commit in the version metadata', async () => {
    argo.app('shop-prod-eu');
    argo.app('shop-prod-us');
    expect(
      (
        await admin.put('/v1/deployments/shop', {
          jobAgent: agent({ revision: '{{version.metadata.commit}}' }),
        })
      ).status,
    ).toBeLessThan(300);

    await admin.post('/v1/deployments/shop/versions', { tag: 'v1.5.0', metadata: { commit: '3f9c2ab' } });
    const view = await waitSettled(admin, 'shop', 'v1.5.0', 2);

    expect(view.releases.map((r) => r.status)).toEqual(['successful', 'successful']);
    expect(argo.apps.get('shop-prod-us')?.targetRevision).toBe('3f9c2ab');
  });

  it('follows the automated sync an Application starts by itself once it points at the version', async () => {
    argo.app('shop-prod-eu', 'Healthy', true);
    argo.app('shop-prod-us', 'Healthy', true);
    expect((await admin.put('/v1/deployments/shop', { jobAgent: agent() })).status).toBeLessThan(300);

    await admin.post('/v1/deployments/shop/versions', { tag: 'v1.5.1' });
    const view = await waitSettled(admin, 'shop', 'v1.5.1', 2);

    expect(
      view.releases.map((r) => r.status),
      JSON.stringify(view.releases),
    ).toEqual(['successful', 'successful']);
    expect(argo.apps.get('shop-prod-eu')?.operationState?.operation.sync.revision).toBe('sha-v1.5.1');
  });

  it('starts the sync itself once a sync that was still running at dispatch has ended', async () => {
    argo.app('shop-prod-eu');
    argo.app('shop-prod-us');
    argo.busy('shop-prod-eu', 600);
    expect((await admin.put('/v1/deployments/shop', { jobAgent: agent() })).status).toBeLessThan(300);

    await admin.post('/v1/deployments/shop/versions', { tag: 'v1.5.2' });
    const view = await waitSettled(admin, 'shop', 'v1.5.2', 2);

    expect(
      view.releases.map((r) => r.status),
      JSON.stringify(view.releases),
    ).toEqual(['successful', 'successful']);
    const syncs = argo.requests.filter((r) => r.path === '/api/v1/applications/shop-prod-eu/sync');
    expect(syncs.map((r) => (r.body as { revision: string }).revision).slice(-2)).toEqual([
      'v1.5.2',
      'v1.5.2',
    ]);
    expect(argo.apps.get('shop-prod-eu')?.operationState?.operation.sync.revision).toBe('v1.5.2');
  });

  it('fails the release when the synced Application is Degraded, or the sync fails, with what Argo CD said', async () => {
    argo.app('shop-prod-eu', 'Degraded');
    argo.app('shop-prod-us', 'SyncFailed');
    expect((await admin.put('/v1/deployments/shop', { jobAgent: agent() })).status).toBeLessThan(300);

    await admin.post('/v1/deployments/shop/versions', { tag: 'v1.6.0' });
    const view = await waitSettled(admin, 'shop', 'v1.6.0', 2);

    const byResource = Object.fromEntries(view.releases.map((r) => [r.resource, [r.status, r.message]]));
    expect(byResource['eu-1']).toEqual(['failed', 'Argo CD synced v1.6.0 but the application is Degraded']);
    expect(byResource['us-1']?.[0]).toBe('failed');
    expect(byResource['us-1']?.[1]).toMatch(
      /^Argo CD sync of v1.6.0 Failed: one or more objects failed to apply/,
    );
  });

  it('fails the job at once for an Application that does not exist, or a token Argo CD refuses', async () => {
    argo.apps.clear();
    argo.app('shop-prod-us');
    expect((await admin.put('/v1/deployments/shop', { jobAgent: agent() })).status).toBeLessThan(300);
    expect(
      (await admin.put('/v1/deployments/stale', { jobAgent: agent({ tokenSecretRef: 'stale-token' }) }))
        .status,
    ).toBeLessThan(300);

    await admin.post('/v1/deployments/shop/versions', { tag: 'v1.7.0' });
    await admin.post('/v1/deployments/stale/versions', { tag: 'v1.7.0' });
    const missing = await waitSettled(admin, 'shop', 'v1.7.0', 2);
    const refused = await waitSettled(admin, 'stale', 'v1.7.0', 2);

    const eu = missing.releases.find((r) => r.resource === 'eu-1');
    expect([eu?.status, eu?.message]).toEqual([
      'failed',
      `The job could not be sent: Argo CD update of shop-prod-eu on ${new URL(argo.url).host} answered HTTP 404: applications.argoproj.io "shop-prod-eu" not found`,
    ]);
    expect(missing.releases.find((r) => r.resource === 'us-1')?.status).toBe('successful');
    expect(refused.releases.map((r) => r.status)).toEqual(['failed', 'failed']);
    expect(refused.releases[0]?.message).toMatch(/answered HTTP 401: invalid session/);
    expect(JSON.stringify(refused)).not.toContain('not-the-token');
  });

  it.each([
    ['an unknown template field', { application: 'shop-{{environment.name}}' }, 'jobAgent.application'],
    ['a secret in a template', { revision: '{{variables.dbPassword}}' }, 'jobAgent.revision'],
    ['a server that is not http(s)', { serverUrl: 'ftp://argo.example.com' }, 'jobAgent.serverUrl'],
    ['no token', { tokenSecretRef: undefined }, 'jobAgent.tokenSecretRef'],
  ])('rejects %s with a 400 that names the field', async (_what, extra, path) => {
    const reply = await admin.put('/v1/deployments/bad-argo', { jobAgent: agent(extra) });

    expect(reply.status).toBe(400);
    expect(
      (reply.body as { error: { details: { path: string }[] } }).error.details.map((d) => d.path),
    ).toContain(path);
  });
});
