import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalServer } from '../../infra/local/server';
import { FakeArgoCd } from '../helpers/argocd';
import { type Client, eventually } from '../helpers/client';
import { FakeGitHub } from '../helpers/github';
import { startTestServer } from '../helpers/local';
import { allEvents, versionView, waitSettled } from '../support/rollouts';

/**
 * The gitops agent (issue 19 item 6; Kalypso's promotion flow, Kargo's git steps): per release
 * target it writes the version into its environment's file of a configuration repository on GitHub,
 * all targets of an environment in one commit (or one pull request), and reports success once the
 * change landed and, with `argocd`, once the Application is synced to it.
 */

const TOKEN = 'ghs_gitops-token-0123456789';
const ARGO_TOKEN = 'argocd-token-for-gitops-0123';
const DB_PASSWORD = 'db-password-never-in-git-42';
const FILE = 'envs/prod/web.json';
let server: LocalServer;
let admin: Client;
const github = new FakeGitHub();
const argo = new FakeArgoCd(ARGO_TOKEN);

const agent = (extra: Record<string, unknown> = {}) => ({
  type: 'gitops',
  owner: 'acme',
  repo: 'config',
  branch: 'main',
  path: 'envs/{{environment.id}}/{{deployment.id}}.json',
  tokenSecretRef: 'gitops-token',
  apiUrl: github.apiUrl,
  pollIntervalSeconds: 2,
  ...extra,
});

const deploy = async (id: string, extra: Record<string, unknown> = {}) => {
  const reply = await admin.put(`/v1/deployments/${id}`, { environments: ['prod'], jobAgent: agent(extra) });
  expect(reply.status, reply.text).toBeLessThan(300);
};

const statuses = async (deployment: string, tag: string) =>
  (await versionView(admin, deployment, tag)).releases.map((r) => r.status);

/** What the agent said of each finished job of a version (its `Job Updated` events), by resource. */
const jobMessages = async (deployment: string, tag: string) =>
  Object.fromEntries(
    (await allEvents(admin, deployment))
      .filter((e) => e.detailType === 'Job Updated' && e.version === tag)
      .map((e) => [e.resource, (e.data as { message?: string }).message]),
  );

/** Lets a few poll rounds pass (2 s of Gantry's time each, at a time scale of 2). */
const rounds = (n: number) => new Promise((resolve) => setTimeout(resolve, n * 1000));

beforeAll(async () => {
  await github.start();
  await argo.start();
  github.seedBranch('main');
  github.gitToken = TOKEN;
  ({ server, admin } = await startTestServer({
    timeScale: 2,
    secrets: JSON.stringify({
      'gitops-token': TOKEN,
      'argocd-token': ARGO_TOKEN,
      'db-password': DB_PASSWORD,
      'stale-token': 'not-the-gitops-token',
    }),
  }));
  for (const id of ['eu-1', 'eu-2', 'us-1']) {
    await admin.put(`/v1/resources/${id}`, { kind: 'cluster', name: id, metadata: { env: 'prod' } });
  }
  await admin.put('/v1/environments/prod', { resourceSelector: "resource.metadata.env == 'prod'" });
});

afterAll(async () => {
  await server?.close();
  await github.stop();
  await argo.stop();
});

describe('the gitops agent', () => {
  it('writes the three targets of an environment into its file in one commit, without secret variables', async () => {
    const reply = await admin.put('/v1/deployments/web', {
      environments: ['prod'],
      jobAgent: agent(),
      variables: { replicas: { default: '3' }, dbPassword: { secretRef: 'db-password' } },
    });
    expect(reply.status, reply.text).toBe(201);

    await admin.post('/v1/deployments/web/versions', {
      tag: 'v1.0.0',
      config: { image: 'web:1.0.0', limits: { memory: '1Gi', cpu: '1' } },
      metadata: { commit: 'abc123' },
    });
    const view = await waitSettled(admin, 'web', 'v1.0.0', 3);

    expect(view.releases.map((r) => r.status)).toEqual(['successful', 'successful', 'successful']);
    const commits = github.commitsTouching(FILE);
    expect(commits.map((c) => c.message)).toEqual(['Gantry: web v1.0.0 to prod (eu-1, eu-2, us-1)']);
    const text = github.file(FILE) as string;
    expect(JSON.parse(text)).toEqual({
      deployment: 'web',
      environment: 'prod',
      targets: { 'eu-1': { tag: 'v1.0.0' }, 'eu-2': { tag: 'v1.0.0' }, 'us-1': { tag: 'v1.0.0' } },
      variables: { replicas: '3' },
      version: {
        tag: 'v1.0.0',
        config: { image: 'web:1.0.0', limits: { cpu: '1', memory: '1Gi' } },
        metadata: { commit: 'abc123' },
      },
    });
    // Stable: keys sorted at every level, two-space indentation, a trailing newline.
    expect(text).toBe(
      `${JSON.stringify(
        {
          deployment: 'web',
          environment: 'prod',
          targets: { 'eu-1': { tag: 'v1.0.0' }, 'eu-2': { tag: 'v1.0.0' }, 'us-1': { tag: 'v1.0.0' } },
          variables: { replicas: '3' },
          version: {
            config: { image: 'web:1.0.0', limits: { cpu: '1', memory: '1Gi' } },
            metadata: { commit: 'abc123' },
            tag: 'v1.0.0',
          },
        },
        null,
        2,
      )}\n`,
    );
    const said = `envs/prod/web.json in acme/config@main holds the version at commit ${commits[0]?.sha.slice(0, 12)}`;
    expect(await jobMessages('web', 'v1.0.0')).toEqual({ 'eu-1': said, 'eu-2': said, 'us-1': said });
  });

  it('makes no second commit when a write GitHub applied is answered with an error and sent again', async () => {
    let failed = 0;
    github.answer = (call) =>
      call.method === 'PUT' && call.path.includes('/contents/') && failed++ === 0
        ? { status: 502, keep: true }
        : undefined;

    const before = github.head('main');
    await admin.post('/v1/deployments/web/versions', { tag: 'v1.1.0', config: { image: 'web:1.1.0' } });
    const view = await waitSettled(admin, 'web', 'v1.1.0', 3);
    github.answer = undefined;

    expect(view.releases.map((r) => r.status)).toEqual(['successful', 'successful', 'successful']);
    const writes = github.calls.filter(
      (c) =>
        c.method === 'PUT' &&
        c.path.endsWith(`/contents/${FILE}`) &&
        String(c.body.message).includes('v1.1.0'),
    );
    expect(writes.length).toBe(2);
    const log = github.log('main');
    expect(
      log
        .slice(
          0,
          log.findIndex((c) => c.sha === before),
        )
        .map((c) => c.message),
    ).toEqual(['Gantry: web v1.1.0 to prod (eu-1, eu-2, us-1)']);
    expect(JSON.parse(github.file(FILE) as string).targets).toEqual({
      'eu-1': { tag: 'v1.1.0' },
      'eu-2': { tag: 'v1.1.0' },
      'us-1': { tag: 'v1.1.0' },
    });
  });

  it('opens a pull request and succeeds only once it is merged; closed unmerged, the releases fail', async () => {
    await deploy('api', { mode: 'pull-request' });

    await admin.post('/v1/deployments/api/versions', { tag: 'v2.0.0' });
    const pull = await eventually(
      async () => [...github.pulls.values()].find((p) => p.head === 'gantry/api/prod/v2.0.0'),
      (p) => p !== undefined,
      { timeoutMs: 15_000 },
    );
    await rounds(3);
    expect(await statuses('api', 'v2.0.0')).toEqual(['deploying', 'deploying', 'deploying']);
    expect(github.file('envs/prod/api.json')).toBeUndefined();
    expect(github.commitsTouching('envs/prod/api.json', 'gantry/api/prod/v2.0.0')).toHaveLength(1);
    expect(pull?.title).toBe('Gantry: api v2.0.0 to prod (eu-1, eu-2, us-1)');

    github.merge(pull?.number ?? 0);
    const merged = await waitSettled(admin, 'api', 'v2.0.0', 3);

    expect(merged.releases.map((r) => r.status)).toEqual(['successful', 'successful', 'successful']);
    expect(JSON.parse(github.file('envs/prod/api.json') as string).version.tag).toBe('v2.0.0');

    await admin.post('/v1/deployments/api/versions', { tag: 'v2.1.0' });
    const second = await eventually(
      async () => [...github.pulls.values()].find((p) => p.head === 'gantry/api/prod/v2.1.0'),
      (p) => p !== undefined,
      { timeoutMs: 15_000 },
    );
    github.close(second?.number ?? 0);
    const closed = await waitSettled(admin, 'api', 'v2.1.0', 3);

    expect(closed.releases.map((r) => [r.status, r.message])).toEqual(
      Array(3).fill([
        'failed',
        `The pull request #${second?.number} of acme/config was closed without being merged.`,
      ]),
    );
    expect(JSON.parse(github.file('envs/prod/api.json') as string).version.tag).toBe('v2.0.0');
  });

  it('merges its pull request with autoMerge once GitHub reports it clean (checks passed)', async () => {
    github.mergeableState = 'blocked';
    await deploy('auto', { mode: 'pull-request', autoMerge: true });

    await admin.post('/v1/deployments/auto/versions', { tag: 'v3.0.0' });
    const pull = await eventually(
      async () => [...github.pulls.values()].find((p) => p.head === 'gantry/auto/prod/v3.0.0'),
      (p) => p !== undefined,
      { timeoutMs: 15_000 },
    );
    await rounds(3);
    expect(await statuses('auto', 'v3.0.0')).toEqual(['deploying', 'deploying', 'deploying']);
    expect(pull?.merged).toBe(false);

    github.mergeableState = 'clean';
    const view = await waitSettled(admin, 'auto', 'v3.0.0', 3);

    expect(view.releases.map((r) => r.status)).toEqual(['successful', 'successful', 'successful']);
    expect(pull?.merged).toBe(true);
    expect(github.head('main')).toBe(pull?.merge_commit_sha);
  });

  it('with argocd, succeeds only once the Application is synced to the commit (or a later one)', async () => {
    argo.app('shop-prod');
    await deploy('shop', {
      argocd: { serverUrl: argo.url, application: 'shop-{{environment.id}}', tokenSecretRef: 'argocd-token' },
    });
    const before = github.head('main') as string;

    await admin.post('/v1/deployments/shop/versions', { tag: 'v4.0.0' });
    const [landed] = await eventually(
      async () => github.commitsTouching('envs/prod/shop.json'),
      (commits) => commits.length === 1,
      { timeoutMs: 15_000 },
    );
    argo.gitSync('shop-prod', before);
    await rounds(3);
    expect(await statuses('shop', 'v4.0.0')).toEqual(['deploying', 'deploying', 'deploying']);

    const later = github.commitFile('README.md', '# config, edited\n');
    argo.gitSync('shop-prod', later);
    const view = await waitSettled(admin, 'shop', 'v4.0.0', 3);

    expect(view.releases.map((r) => r.status)).toEqual(['successful', 'successful', 'successful']);
    const said = `Argo CD synced shop-prod to ${later.slice(0, 12)}; Healthy`;
    expect(await jobMessages('shop', 'v4.0.0')).toEqual({ 'eu-1': said, 'eu-2': said, 'us-1': said });
    expect(landed?.message).toBe('Gantry: shop v4.0.0 to prod (eu-1, eu-2, us-1)');
    expect(argo.requests.every((r) => r.authorized)).toBe(true);
  });

  it('fails the releases when GitHub refuses the token, saying so without the token', async () => {
    await deploy('stale', { tokenSecretRef: 'stale-token' });

    await admin.post('/v1/deployments/stale/versions', { tag: 'v5.0.0' });
    const view = await waitSettled(admin, 'stale', 'v5.0.0', 3);

    expect(view.releases.map((r) => r.status)).toEqual(['failed', 'failed', 'failed']);
    expect(view.releases[0]?.message).toBe(
      'The change could not be written to GitHub: GitHub read of envs/prod/stale.json on main in acme/config answered HTTP 401: Bad credentials',
    );
    expect(JSON.stringify(view)).not.toContain('not-the-gitops-token');
  });

  it.each([
    [
      'a field a template may not use',
      { path: 'envs/{{environment.id}}/{{variables.dbPassword}}.json' },
      'jobAgent.path',
    ],
    ['a path without the environment', { path: 'envs/web.json' }, 'jobAgent.path'],
    ['a path out of the repository', { path: '../{{environment.id}}/web.json' }, 'jobAgent.path'],
    ['an owner that is not one', { owner: 'acme/evil' }, 'jobAgent.owner'],
    ['a branch that is not one', { branch: 'main..x' }, 'jobAgent.branch'],
    ['autoMerge without a pull request', { autoMerge: true }, 'jobAgent.autoMerge'],
    [
      'an Argo CD server that is not http(s)',
      { argocd: { serverUrl: 'ftp://argo', application: 'a', tokenSecretRef: 't' } },
      'jobAgent.argocd.serverUrl',
    ],
  ])('refuses %s with a 400 that names the field', async (_what, extra, path) => {
    const reply = await admin.put('/v1/deployments/bad-gitops', { jobAgent: agent(extra) });

    expect(reply.status).toBe(400);
    expect(
      (reply.body as { error: { details: { path: string }[] } }).error.details.map((d) => d.path),
    ).toContain(path);
  });

  it('never puts a token or a secret variable into an answer, an event, an execution or the repository', async () => {
    const seen = [
      JSON.stringify((await admin.get('/v1/deployments/web')).body),
      JSON.stringify((await admin.get('/v1/events?limit=1000')).body),
      JSON.stringify(await versionView(admin, 'web', 'v1.0.0')),
      JSON.stringify(await versionView(admin, 'shop', 'v4.0.0')),
      ...server.engine
        .listExecutions({
          stateMachineArn: 'arn:aws:states:us-east-1:000000000000:stateMachine:gantry-rollout',
        })
        .map((e) => JSON.stringify(server.engine.describeExecution({ executionArn: e.executionArn }))),
      ...[...github.commits.values()].flatMap((c) => [c.message, ...c.files.values()]),
      ...[...github.pulls.values()].map((p) => JSON.stringify(p)),
    ];
    await server.bus.flush();
    seen.push(readFileSync(`${server.dataDir}/events.jsonl`, 'utf8'));

    expect(seen.join('\n')).toContain('v4.0.0');
    for (const text of seen) {
      expect(text).not.toContain(TOKEN);
      expect(text).not.toContain(ARGO_TOKEN);
      expect(text).not.toContain(DB_PASSWORD);
    }
  });
});
