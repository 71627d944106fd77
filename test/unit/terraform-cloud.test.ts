import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dispatchTerraformCloud, hclString, judgeRun } from '../../shared/adapters/agents/terraform-cloud';
import { FakeTerraformCloud } from '../helpers/terraform-cloud';

describe('judgeRun', () => {
  const run = (status: string) => ({ data: { id: 'run-1', attributes: { status } } });

  it.each([
    ['applied', 'successful'],
    ['planned_and_finished', 'successful'],
    ['errored', 'failed'],
    ['discarded', 'failed'],
    ['canceled', 'failed'],
    ['force_canceled', 'failed'],
    ['pending', 'pending'],
    ['planning', 'pending'],
    ['planned', 'pending'],
    ['policy_checking', 'pending'],
    ['policy_soft_failed', 'pending'],
    ['applying', 'pending'],
    ['a status Terraform Cloud adds later', 'pending'],
  ])('%s -> %s', (status, expected) => {
    expect(judgeRun(run(status)).status).toBe(expected);
  });

  it('names the run and its status', () => {
    expect(judgeRun(run('errored'))).toEqual({
      status: 'failed',
      message: 'Terraform Cloud run run-1 errored',
    });
  });
});

describe('hclString', () => {
  it.each([
    ['v1.2.3', '"v1.2.3"'],
    ['say "hi"\n', '"say \\"hi\\"\\n"'],
    // biome-ignore lint/suspicious/noTemplateCurlyInString: an HCL interpolation, on purpose
    ['${path.module}', '"$${path.module}"'],
    ['%{ if x }', '"%%{ if x }"'],
  ])('%j -> %s', (value, expected) => {
    expect(hclString(value)).toBe(expected);
  });
});

describe('dispatchTerraformCloud', () => {
  const tfc = new FakeTerraformCloud('acme', 'token-123');
  beforeAll(async () => {
    await tfc.start();
    tfc.workspaces.set('infra-prod', 'applies');
  });
  afterAll(() => tfc.stop());

  // The fake's URL is known once it listens.
  const agent = () => ({
    type: 'terraform-cloud' as const,
    organization: 'acme',
    workspace: 'infra-{{environment.id}}',
    tokenSecretRef: 'tfc',
    apiUrl: tfc.url,
  });
  const job = {
    jobId: 'job42',
    kind: 'deploy' as const,
    deployment: { id: 'infra', name: 'Infra' },
    environment: { id: 'prod', name: 'Production' },
    resource: { id: 'aws-main', kind: 'account', name: 'main', metadata: {} },
    version: { tag: 'v1', config: {}, metadata: {} },
    variables: {},
    callback: { url: 'http://127.0.0.1/unused', token: 'unused' },
  };
  const deps = { getSecret: async () => 'token-123' };

  it('starts one run per job: sent again after a crash, it finds the run that names the job', async () => {
    const first = await dispatchTerraformCloud(agent(), job, deps);
    const again = await dispatchTerraformCloud(agent(), job, deps);
    const other = await dispatchTerraformCloud(agent(), { ...job, jobId: 'job43' }, deps);

    expect(tfc.runs.map((run) => run.message)).toEqual([
      'Gantry: deploy infra v1 to prod/aws-main (job job42)',
      'Gantry: deploy infra v1 to prod/aws-main (job job43)',
    ]);
    expect(again).toEqual(first);
    expect(other).not.toEqual(first);
  });

  it('does not start a second run when the answer to creating one was lost', async () => {
    tfc.loseCreateAnswers = 1;
    const before = tfc.runs.length;

    const outcome = await dispatchTerraformCloud(agent(), { ...job, jobId: 'job44' }, deps);

    expect(tfc.runs.length - before).toBe(1);
    expect(outcome).toMatchObject({
      type: 'polling',
      statusUrl: `${tfc.url}/api/v2/runs/${tfc.runs.at(-1)?.id}`,
    });
  });
});
