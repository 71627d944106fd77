import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalServer } from '../../infra/local/server';
import type { Client } from '../helpers/client';
import { startTestServer } from '../helpers/local';
import { FakeTerraformCloud } from '../helpers/terraform-cloud';
import { waitSettled } from '../support/rollouts';

/**
 * The terraform-cloud job agent: per release target it starts an auto-applied run of the target's
 * workspace with the version as run variables, and polls the run until it is applied or ended
 * otherwise (Ctrlplane's Terraform Cloud agent, without a webhook in between).
 */

const TOKEN = 'tfc-token-0123456789';
let server: LocalServer;
let admin: Client;
const tfc = new FakeTerraformCloud('acme', TOKEN);

const agent = (extra: Record<string, unknown> = {}) => ({
  type: 'terraform-cloud',
  organization: 'acme',
  workspace: 'infra-{{environment.id}}',
  tokenSecretRef: 'tfc-token',
  apiUrl: tfc.url,
  pollIntervalSeconds: 5,
  ...extra,
});

beforeAll(async () => {
  await tfc.start();
  ({ server, admin } = await startTestServer({
    timeScale: 20,
    secrets: JSON.stringify({ 'tfc-token': TOKEN, 'stale-token': 'not-the-token' }),
  }));
  await admin.put('/v1/resources/aws-main', { kind: 'account', name: 'main', metadata: { stage: 'prod' } });
  await admin.put('/v1/environments/prod', { resourceSelector: "resource.metadata.stage == 'prod'" });
  tfc.workspaces.set('infra-prod', 'applies');
});

afterAll(async () => {
  await server?.close();
  await tfc.stop();
});

describe('the terraform-cloud job agent', () => {
  it('starts an auto-applied run of the target workspace with the version, and succeeds once applied', async () => {
    expect((await admin.put('/v1/deployments/infra', { jobAgent: agent() })).status).toBe(201);

    await admin.post('/v1/deployments/infra/versions', { tag: 'v3.1.0' });
    const view = await waitSettled(admin, 'infra', 'v3.1.0', 1);

    expect(view.releases.map((r) => r.status)).toEqual(['successful']);
    const run = tfc.runs.at(-1);
    expect(run).toMatchObject({
      workspace: 'infra-prod',
      status: 'applied',
      autoApply: true,
      variables: [{ key: 'gantry_version', value: '"v3.1.0"' }],
    });
    expect(run?.message).toBe(
      `Gantry: deploy infra v3.1.0 to prod/aws-main (job ${view.releases[0]?.jobId})`,
    );
    expect([...tfc.contentTypes].filter(Boolean)).toEqual(['application/vnd.api+json']);
  });

  it('sends the run variables its templates name', async () => {
    await admin.put('/v1/deployments/infra', {
      jobAgent: agent({ variables: { image_tag: '{{version.tag}}', commit: '{{version.metadata.commit}}' } }),
    });

    await admin.post('/v1/deployments/infra/versions', { tag: 'v3.2.0', metadata: { commit: 'c0ffee' } });
    await waitSettled(admin, 'infra', 'v3.2.0', 1);

    expect(tfc.runs.at(-1)?.variables).toEqual([
      { key: 'image_tag', value: '"v3.2.0"' },
      { key: 'commit', value: '"c0ffee"' },
    ]);
  });

  it('fails the release when the run errors, or the workspace does not exist, or the token is refused', async () => {
    tfc.workspaces.set('infra-prod', 'errors');
    expect((await admin.put('/v1/deployments/infra', { jobAgent: agent() })).status).toBeLessThan(300);
    await admin.put('/v1/deployments/elsewhere', {
      jobAgent: agent({ workspace: 'nope-{{environment.id}}' }),
    });
    expect(
      (await admin.put('/v1/deployments/stale', { jobAgent: agent({ tokenSecretRef: 'stale-token' }) }))
        .status,
    ).toBeLessThan(300);

    for (const deployment of ['infra', 'elsewhere', 'stale'])
      await admin.post(`/v1/deployments/${deployment}/versions`, { tag: 'v4.0.0' });
    const [errored, missing, refused] = await Promise.all(
      ['infra', 'elsewhere', 'stale'].map((deployment) => waitSettled(admin, deployment, 'v4.0.0', 1)),
    );

    const run = tfc.runs.find((r) => r.message.includes('infra v4.0.0'));
    expect(run?.status).toBe('errored');
    expect([errored?.releases[0]?.status, errored?.releases[0]?.message], JSON.stringify(errored)).toEqual([
      'failed',
      `Terraform Cloud run ${run?.id} errored`,
    ]);
    expect(missing?.releases[0]?.status).toBe('failed');
    expect(missing?.releases[0]?.message).toMatch(
      /Terraform Cloud workspace acme\/nope-prod on .* answered HTTP 404: not found/,
    );
    expect(refused?.releases[0]?.status).toBe('failed');
    expect(refused?.releases[0]?.message).toMatch(/answered HTTP 401: unauthorized/);
    expect(JSON.stringify(refused)).not.toContain('not-the-token');
    tfc.workspaces.set('infra-prod', 'applies');
  });

  it.each([
    ['an unknown template field', { workspace: 'infra-{{environment.name}}' }, 'jobAgent.workspace'],
    [
      'a variable from a secret',
      { variables: { password: '{{variables.dbPassword}}' } },
      'jobAgent.variables.password',
    ],
    ['a bad variable name', { variables: { 'bad name': 'x' } }, 'jobAgent.variables.bad name'],
    ['no organization', { organization: undefined }, 'jobAgent.organization'],
  ])('rejects %s with a 400 that names the field', async (_what, extra, path) => {
    const reply = await admin.put('/v1/deployments/bad-tfc', { jobAgent: agent(extra) });

    expect(reply.status).toBe(400);
    expect(
      (reply.body as { error: { details: { path: string }[] } }).error.details.map((d) => d.path),
    ).toContain(path);
  });
});
