import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { stateMachineArn } from '../../infra/local/arns';
import type { LocalServer } from '../../infra/local/server';
import { runtime } from '../../shared/adapters/runtime';
import { signRequest } from '../../shared/core/signature';
import { FakeAgent } from '../helpers/agent';
import { FakeArgoCd } from '../helpers/argocd';
import { type Client, eventually } from '../helpers/client';
import { startTestServer, TEST_KEYS } from '../helpers/local';
import { FakeSlack } from '../helpers/slack';
import { FakeTerraformCloud } from '../helpers/terraform-cloud';
import { rawRequest } from '../support/raw';
import { allEvents, versionView, waitSettled } from '../support/rollouts';

/**
 * Issue 8, secrets: a full rollout with known secret values (a signed webhook agent, a `secretRef`
 * variable, an approval through its link, a failed job, a bad callback) while everything is
 * captured: every log line at DEBUG, every event (API and events.jsonl), every API response, every
 * execution's input, output and task payloads and results, and the whole table. None holds a secret
 * value, a job callback token or an approval token; task tokens appear only where Step Functions puts
 * them (the callback task's own input, and the job item that maps a job id to its waiting task).
 */
vi.hoisted(() => {
  // The logger reads its level once, when its module loads.
  process.env.GANTRY_LOG_LEVEL = 'DEBUG';
});

const AGENT_SECRET = 'agent-hmac-Zq9!s3cr3t-7d41c0ffee';
const DB_PASSWORD = 'db-pa55w0rd-Xy7#unguessable-91ab';
const SLACK_SIGNING = 'slack-signing-K3y-5ec2e7-feedbead';
const ARGO_TOKEN = 'argocd-t0ken-Qw8$-2f6e9d-gitops';
const TFC_TOKEN = 'tfc-t0ken-Lm3%-8a1b2c-atlas';
const ROLLOUT_ARN = stateMachineArn('rollout');

let server: LocalServer;
let admin: Client;
let approver: Client;
const agent = new FakeAgent();
const slack = new FakeSlack();
const argo = new FakeArgoCd(ARGO_TOKEN);
const tfc = new FakeTerraformCloud('acme', TFC_TOKEN);

// ---- capture ----------------------------------------------------------------------------------

const logs: string[] = [];
const responses: { url: string; status: number; text: string }[] = [];
const invocations: { arn: string; payload: unknown; result?: unknown; error?: string }[] = [];
const restore: (() => void)[] = [];

/** Keeps every line written while the test runs (and keeps it out of the test output: DEBUG is loud). */
function captureOutput() {
  for (const stream of [process.stdout, process.stderr]) {
    const write = stream.write.bind(stream);
    stream.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
      logs.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
      const done = rest.find((r) => typeof r === 'function') as (() => void) | undefined;
      done?.();
      return true;
    }) as typeof stream.write;
    restore.push(() => {
      stream.write = write as typeof stream.write;
    });
  }
  for (const level of ['log', 'info', 'warn', 'error', 'debug'] as const) {
    const original = console[level];
    console[level] = (...args: unknown[]) => {
      logs.push(args.map((a) => (typeof a === 'string' ? a : JSON.stringify(a))).join(' '));
    };
    restore.push(() => {
      console[level] = original;
    });
  }
  // Every HTTP answer a client gets from the server (the test's clients and the agent use fetch).
  const originalFetch = globalThis.fetch;
  globalThis.fetch = async (input, init) => {
    const res = await originalFetch(input, init);
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    if (server && url.startsWith(server.url))
      responses.push({ url, status: res.status, text: await res.clone().text() });
    return res;
  };
  restore.push(() => {
    globalThis.fetch = originalFetch;
  });
}

/** Wraps the local engine's task invoke: each task's payload and result is its execution history. */
function captureTasks(target: LocalServer) {
  const opts = (
    target.engine as unknown as { opts: { invokeFunction: (arn: string, p: unknown) => Promise<unknown> } }
  ).opts;
  const invoke = opts.invokeFunction;
  opts.invokeFunction = async (arn, payload) => {
    const record: (typeof invocations)[number] = { arn, payload: structuredClone(payload) };
    invocations.push(record);
    try {
      record.result = await invoke(arn, payload);
      return record.result;
    } catch (error) {
      record.error = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      throw error;
    }
  };
}

beforeAll(async () => {
  captureOutput();
  await agent.start();
  await slack.start();
  await argo.start();
  await tfc.start();
  process.env.SLACK_WEBHOOK_URL = slack.url;
  process.env.SLACK_SIGNING_SECRET = SLACK_SIGNING;
  let as: (id: string) => Client;
  ({ server, admin, as } = await startTestServer({
    secrets: JSON.stringify({
      'agent-hmac': AGENT_SECRET,
      'db-password': DB_PASSWORD,
      'argocd-token': ARGO_TOKEN,
      'tfc-token': TFC_TOKEN,
    }),
  }));
  approver = as('approver');
  captureTasks(server);
});

afterAll(async () => {
  for (const undo of restore.splice(0).reverse()) undo();
  delete process.env.SLACK_WEBHOOK_URL;
  delete process.env.SLACK_SIGNING_SECRET;
  await server?.close();
  await agent.stop();
  await slack.stop();
  await argo.stop();
  await tfc.stop();
});

function taskTokenOf(payload: unknown): string | undefined {
  const token = (payload as { taskToken?: unknown } | undefined)?.taskToken;
  return typeof token === 'string' ? token : undefined;
}

describe('secrets never leave the agent job', () => {
  it('a full rollout with a signed agent, a secret variable and an approval leaks nothing', async () => {
    // Prepare
    for (const id of ['vault-1', 'vault-2'])
      await admin.put(`/v1/resources/${id}`, { kind: 'vm', name: id, metadata: { env: 'prod' } });
    await admin.put('/v1/environments/prod', { resourceSelector: "resource.metadata.env == 'prod'" });
    const deployment = await admin.put('/v1/deployments/vault', {
      jobAgent: { type: 'webhook', url: agent.url, secretRef: 'agent-hmac' },
      variables: { dbPassword: { secretRef: 'db-password' }, replicas: { default: '2' } },
    });
    expect(deployment.status).toBe(201);
    await admin.put('/v1/policies/vault-approval', {
      targets: "deployment.id == 'vault'",
      rules: { approval: { minApprovals: 1 } },
    });
    agent.behaviour = (job) => (job.version.tag === 'v2' ? 'failed' : 'successful');

    // Act: v1 through the approval link, then a failing v2, a forged callback, reads of everything.
    await admin.post('/v1/deployments/vault/versions', { tag: 'v1', metadata: { commit: 'abc' } });
    await eventually(
      async () => slack.messages.length,
      (n) => n >= 1,
    );
    const link = new URL(FakeSlack.link(slack.messages[0] as { text: string }));
    const approvalToken = link.searchParams.get('t') as string;
    const page = await fetch(link);
    expect(page.status).toBe(200);
    const approved = await fetch(`${link.origin}${link.pathname}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ t: approvalToken, decision: 'approve', approver: 'alice' }).toString(),
    });
    expect(approved.status).toBe(200);
    const v1 = await waitSettled(admin, 'vault', 'v1', 2);
    expect(v1.releases.map((r) => r.status)).toEqual(['successful', 'successful']);

    await admin.post('/v1/deployments/vault/versions', { tag: 'v2' });
    const pending = await eventually(
      () => admin.get<{ items: { approvalId: string; version: string }[] }>('/v1/approvals?status=pending'),
      (r) => r.body.items.some((a) => a.version === 'v2'),
    );
    const v2Approval = pending.body.items.find((a) => a.version === 'v2')?.approvalId as string;
    expect(
      (await approver.post(`/v1/approvals/${v2Approval}/decision`, { decision: 'approve' })).status,
    ).toBe(200);
    const v2 = await waitSettled(admin, 'vault', 'v2', 2);
    expect(v2.releases.map((r) => r.status)).toEqual(['failed', 'failed']);
    // The same targets through Argo CD and Terraform Cloud, whose tokens must not leak either.
    for (const id of ['vault-1', 'vault-2']) argo.app(`vault-${id}`);
    tfc.workspaces.set('vault-prod', 'applies');
    await admin.put('/v1/deployments/vault-gitops', {
      jobAgent: {
        type: 'argocd',
        serverUrl: argo.url,
        application: 'vault-{{resource.id}}',
        tokenSecretRef: 'argocd-token',
        pollIntervalSeconds: 1,
      },
    });
    await admin.put('/v1/deployments/vault-infra', {
      jobAgent: {
        type: 'terraform-cloud',
        organization: 'acme',
        workspace: 'vault-{{environment.id}}',
        tokenSecretRef: 'tfc-token',
        apiUrl: tfc.url,
        pollIntervalSeconds: 1,
      },
    });
    await admin.post('/v1/deployments/vault-gitops/versions', { tag: 'g1' });
    await admin.post('/v1/deployments/vault-infra/versions', { tag: 't1' });
    for (const [deployment, tag] of [
      ['vault-gitops', 'g1'],
      ['vault-infra', 't1'],
    ] as const) {
      const settled = await waitSettled(admin, deployment, tag, 2);
      expect(settled.releases.map((r) => r.status)).toEqual(['successful', 'successful']);
    }
    const job = agent.jobs[0];
    if (!job) throw new Error('no job');
    const forged = await agent.report(job, 'successful', 'not-the-token');
    expect(forged.status).toBe(401);
    await server.engine.idle();
    await server.bus.flush();
    for (const path of [
      '/v1/deployments/vault',
      '/v1/deployments/vault/versions',
      '/v1/deployments/vault/versions/v1',
      '/v1/deployments/vault/versions/v1/plan',
      '/v1/deployments/vault/versions/v2',
      '/v1/release-targets?deployment=vault',
      '/v1/approvals',
      '/v1/policies',
      '/v1/resources',
      '/openapi.json',
    ])
      expect((await admin.get(path)).status, path).toBe(200);
    const events = await allEvents(admin);
    const eventsFile = join(server.dataDir, 'events.jsonl');
    const eventLines = existsSync(eventsFile) ? readFileSync(eventsFile, 'utf8') : '';
    const rt = runtime();
    const table = await rt.doc.send(new ScanCommand({ TableName: rt.tableName }));
    const executions = server.engine
      .listExecutions({ stateMachineArn: ROLLOUT_ARN })
      .map((e) => server.engine.describeExecution({ executionArn: e.executionArn }));

    // Assess: the capture is real. The flow's own DEBUG lines depend on timing (an approval that
    // comes before its execution parks wakes no waiter), so one goes through the same logger.
    (await import('../../shared/adapters/log')).log.debug('secrets test: capture check');
    expect(logs.some((line) => line.includes('"level":"DEBUG"'))).toBe(true);
    expect(logs.some((line) => line.includes('approval requested'))).toBe(true);
    expect(events.length).toBeGreaterThan(10);
    expect(eventLines.split('\n').filter(Boolean).length).toBe(events.length);
    expect(responses.length).toBeGreaterThan(20);
    expect(executions.length).toBe(8);
    expect(argo.requests.length).toBeGreaterThan(4);
    expect(tfc.runs).toHaveLength(2);
    expect(invocations.length).toBeGreaterThan(10);

    // The agent got the secret variable, and a delivery it can verify with its own secret.
    const delivered = agent.jobs.filter((j) => j.kind === 'deploy');
    expect(delivered).toHaveLength(4);
    for (const j of delivered) {
      expect(j.variables).toEqual({ dbPassword: DB_PASSWORD, replicas: '2' });
      const timestamp = String(j.headers['x-gantry-timestamp']);
      expect(j.headers['x-gantry-signature']).toBe(
        signRequest(AGENT_SECRET, timestamp, 'POST', '/jobs', j.raw),
      );
    }

    const callbackTokens = agent.jobs.map((j) => j.callback.token);
    const taskTokens = invocations.map((i) => taskTokenOf(i.payload)).filter((t): t is string => !!t);
    expect(taskTokens.length).toBeGreaterThanOrEqual(4);
    const credentials = [
      AGENT_SECRET,
      DB_PASSWORD,
      SLACK_SIGNING,
      slack.url,
      approvalToken,
      ARGO_TOKEN,
      TFC_TOKEN,
      ...callbackTokens,
      ...TEST_KEYS.map((k) => k.secret),
    ];

    const haystacks: [string, string, string[]][] = [
      ['logs', logs.join('\n'), [...credentials, ...taskTokens]],
      ['events (API)', JSON.stringify(events), [...credentials, ...taskTokens]],
      ['events.jsonl', eventLines, [...credentials, ...taskTokens]],
      [
        'API responses',
        // The review page itself carries its own link token (its form posts it back).
        JSON.stringify(responses.filter((r) => !(r.url.includes('/approvals/') && r.url.includes('?t=')))),
        [...credentials, ...taskTokens],
      ],
      [
        'review page',
        JSON.stringify(responses.filter((r) => r.url.includes('?t='))),
        [...credentials.filter((c) => c !== approvalToken), ...taskTokens],
      ],
      ['execution input, output, error', JSON.stringify(executions), [...credentials, ...taskTokens]],
      [
        'task results and errors',
        JSON.stringify(invocations.map((i) => [i.result, i.error])),
        [...credentials, ...taskTokens],
      ],
      [
        'task payloads (a callback task carries its own token)',
        JSON.stringify(invocations.map((i) => ({ ...(i.payload as object), taskToken: undefined }))),
        [...credentials, ...taskTokens],
      ],
      [
        'table (a job item keeps the token of the task waiting for it)',
        JSON.stringify(table.Items?.map(({ taskToken: _t, ...rest }) => rest)),
        [...credentials, ...taskTokens],
      ],
    ];
    const leaks: string[] = [];
    for (const [where, text, secrets] of haystacks)
      for (const secret of secrets)
        if (text.includes(secret)) leaks.push(`${where} contains ${secret.slice(0, 12)}…`);
    expect(leaks).toEqual([]);

    // And the secret is not even referenced through the API by value: only by name.
    const stored = await admin.get<{ data?: unknown }>('/v1/deployments/vault');
    expect(JSON.stringify(stored.body)).toContain('"secretRef":"db-password"');
    expect((await versionView(admin, 'vault', 'v1')).releases).toHaveLength(2);
    expect((await rawRequest(server.url, 'GET', '/healthz')).status).toBe(200);
  });
});
