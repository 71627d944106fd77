import { describe, expect, it } from 'vitest';
import { dispatchJob, JobDispatchError, type JobPayload } from '../../shared/adapters/agents';
import {
  commitMessage,
  type GitopsEntry,
  parseFile,
  pullRequestBranch,
  renderFile,
  repoPathProblem,
  unwritten,
  writeEntries,
} from '../../shared/core/gitops';
import { GitopsAgent, type JobAgent } from '../../shared/core/schemas/config';

/** The pure parts of the gitops agent (shared/core/gitops.ts): the file, the merge of target entries, names. */

const entry = (resource: string, tag: string, queuedAt: string, variables = {}): GitopsEntry => ({
  resource,
  tag,
  variables,
  queuedAt,
});
const v2 = { tag: 'v2', config: { image: 'web:2', z: 1, a: { y: 2, b: 3 } }, metadata: { commit: 'c2' } };

describe('the gitops file', () => {
  it('is rendered with every key sorted, two-space indented and a trailing newline', () => {
    const text = renderFile({
      targets: { b: { tag: 'v1' }, a: { tag: 'v1' } },
      deployment: 'web',
      list: [{ y: 1, x: 2 }],
    });

    expect(text).toBe(
      '{\n  "deployment": "web",\n  "list": [\n    {\n      "x": 2,\n      "y": 1\n    }\n  ],\n' +
        '  "targets": {\n    "a": {\n      "tag": "v1"\n    },\n    "b": {\n      "tag": "v1"\n    }\n  }\n}\n',
    );
    expect(renderFile(JSON.parse(text))).toBe(text);
  });

  it.each([
    ['no file yet', undefined, { file: { deployment: 'web', environment: 'prod', targets: {} } }],
    [
      'a file of its own',
      '{"deployment": "web", "environment": "prod", "x": 1}',
      { file: { deployment: 'web', environment: 'prod', x: 1 } },
    ],
    ['text that is not JSON', 'replicas: 3', { problem: 'is not JSON' }],
    ['JSON that is not an object', '[1, 2]', { problem: 'is not a JSON object' }],
    [
      'another deployment’s file',
      '{"deployment": "api", "environment": "prod"}',
      { problem: 'belongs to deployment api in environment prod' },
    ],
    [
      'another environment’s file',
      '{"deployment": "web", "environment": "staging"}',
      { problem: 'belongs to deployment web in environment staging' },
    ],
  ])('reads %s', (_what, text, expected) => {
    expect(parseFile(text, 'web', 'prod')).toEqual(expected);
  });

  it('writes the entries of a batch: each target its tag, the newest entry its version and variables, other keys kept', () => {
    const file = {
      deployment: 'web',
      environment: 'prod',
      owner: 'team-a',
      targets: { old: { tag: 'v0' }, eu: { tag: 'v1' } },
    };
    const entries = [
      entry('us', 'v2', '2026-12-01T10:00:02.000Z', { replicas: '6' }),
      entry('eu', 'v2', '2026-12-01T10:00:01.000Z', { replicas: '3' }),
    ];

    expect(writeEntries(file, entries, v2)).toEqual({
      deployment: 'web',
      environment: 'prod',
      owner: 'team-a',
      targets: { old: { tag: 'v0' }, eu: { tag: 'v2' }, us: { tag: 'v2' } },
      variables: { replicas: '6' },
      version: v2,
    });
    expect(file.targets).toEqual({ old: { tag: 'v0' }, eu: { tag: 'v1' } });
  });

  it('leaves out the entries the file already shows at their tag, so a retry writes nothing', () => {
    const file = {
      deployment: 'web',
      environment: 'prod',
      targets: { eu: { tag: 'v2' }, us: { tag: 'v1' } },
    };
    const eu = entry('eu', 'v2', 't1');
    const us = entry('us', 'v2', 't2');
    const ap = entry('ap', 'v2', 't3');

    expect(unwritten(file, [eu, us, ap])).toEqual([us, ap]);
    expect(unwritten(file, [eu])).toEqual([]);
    expect(unwritten({ deployment: 'web', environment: 'prod', targets: 'nonsense' }, [eu])).toEqual([eu]);
  });

  it('names the commit after the deployment, tags, environment and at most ten targets', () => {
    expect(commitMessage('web', 'prod', [entry('us-1', 'v2', 't'), entry('eu-1', 'v2', 't')])).toBe(
      'Gantry: web v2 to prod (eu-1, us-1)',
    );
    const many = Array.from({ length: 12 }, (_, i) =>
      entry(`r${String(i).padStart(2, '0')}`, i ? 'v2' : 'v1', 't'),
    );
    expect(commitMessage('web', 'prod', many)).toBe(
      'Gantry: web v1, v2 to prod (r00, r01, r02, r03, r04, r05, r06, r07, r08, r09 and 2 more)',
    );
  });

  it.each([
    ['v1.2.3', 'gantry/web/prod/v1.2.3'],
    ['v1..2', 'gantry/web/prod/v1.2'],
    ['v1.lock', 'gantry/web/prod/v1-'],
    ['v1.', 'gantry/web/prod/v1-'],
  ])('proposes tag %s on the branch %s', (tag, branch) => {
    expect(pullRequestBranch('web', 'prod', tag)).toBe(branch);
  });

  it.each([
    ['envs/{{environment.id}}/web.json', undefined],
    ['envs/prod/web.json', undefined],
    ['/envs/prod.json', 'must be relative and name a file'],
    ['envs/prod/', 'must be relative and name a file'],
    ['envs/../prod.json', 'may not have empty, "." or ".." segments'],
    ['envs//prod.json', 'may not have empty, "." or ".." segments'],
    ['envs\\prod.json', 'may not hold a backslash or control characters'],
    ['envs/pr\nod.json', 'may not hold a backslash or control characters'],
  ])('checks the path %j: %s', (path, problem) => {
    expect(repoPathProblem(path)).toBe(problem);
  });
});

describe('the gitops agent configuration', () => {
  const base = {
    type: 'gitops',
    owner: 'acme',
    repo: 'config',
    path: 'envs/{{environment.id}}/web.json',
    tokenSecretRef: 't',
  };

  it.each([
    ['main', true],
    ['release/2026-12', true],
    ['feature/a.b+c', true],
    ['main..x', false],
    ['a//b', false],
    ['a/.hidden', false],
    ['topic.lock', false],
    ['topic/', false],
    ['topic.', false],
    ['-topic', false],
    ['a@{1}', false],
  ])('takes the branch %j: %s', (branch, ok) => {
    expect(GitopsAgent.safeParse({ ...base, branch }).success).toBe(ok);
  });

  it.each([
    ['config', true],
    ['config.git-repo_2', true],
    ['..', false],
    ['a/b', false],
  ])('takes the repository %j: %s', (repo, ok) => {
    expect(GitopsAgent.safeParse({ ...base, repo }).success).toBe(ok);
  });
});

describe('the gitops dispatch', () => {
  const job: JobPayload = {
    jobId: '01JOB',
    kind: 'deploy',
    deployment: { id: 'web', name: 'Web' },
    environment: { id: 'prod', name: 'Production' },
    resource: { id: 'eu-1', kind: 'cluster', name: 'eu-1', metadata: { dir: '../../etc' } },
    version: { tag: 'v1', config: {}, metadata: {} },
    variables: {},
    callback: { url: 'https://gantry.example.com/v1/jobs/01JOB/status', token: 'job-token' },
  };
  const agent = (path: string): JobAgent => ({
    type: 'gitops',
    owner: 'acme',
    repo: 'config',
    path,
    tokenSecretRef: 't',
  });
  const refusal = (promise: Promise<unknown>) =>
    promise.then(
      () => undefined,
      (error: unknown) => error as JobDispatchError,
    );

  it('refuses a path that a target’s metadata turns into one out of the repository, before any write', async () => {
    const error = await refusal(
      dispatchJob(agent('envs/{{environment.id}}/{{resource.metadata.dir}}/web.json'), job, {
        getSecret: async () => 's',
      }),
    );

    expect(error).toBeInstanceOf(JobDispatchError);
    expect([error?.message, error?.retryable]).toEqual([
      'the file path "envs/prod/../../etc/web.json" may not have empty, "." or ".." segments',
      false,
    ]);
  });

  it('refuses drain jobs: there is no traffic to drain in a file', async () => {
    const error = await refusal(
      dispatchJob(
        agent('envs/{{environment.id}}/web.json'),
        { ...job, kind: 'drain' },
        { getSecret: async () => 's' },
      ),
    );

    expect(error?.message).toBe(
      'the gitops agent cannot drain traffic (trafficDrain needs a webhook or lambda agent)',
    );
  });
});
