import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stateMachineArn } from '../../infra/local/arns';
import type { LocalServer } from '../../infra/local/server';
import { runtime } from '../../shared/adapters/runtime';
import { FakeAgent } from '../helpers/agent';
import { type Client, eventually } from '../helpers/client';
import { startTestServer } from '../helpers/local';
import { type Loopback, serveLoopback } from '../helpers/loopback';
import { allEvents } from '../support/rollouts';

/**
 * Issue 17 items 2 and 3: a verification header may be a secret reference, read when the metric is
 * measured; reads of a policy never show a plaintext header value; what a release keeps and shows
 * of a measurement carries no response body.
 */
const METRIC_TOKEN = 'dd-t0ken-Vq7#metric-5e1f00d';
const PLAIN_VALUE = 'plain-header-value-41c3';
const BODY_MARKER = 'BODY-MARKER-only-the-condition-sees-this';
const ROLLOUT_ARN = stateMachineArn('rollout');

let server: LocalServer;
let admin: Client;
let reader: Client;
let metric: Loopback;
const seenHeaders: Record<string, string | string[] | undefined>[] = [];
const agent = new FakeAgent();

const policy = (headers: Record<string, unknown>) => ({
  targets: "deployment.id == 'web'",
  rules: {
    verification: {
      metrics: [
        {
          name: 'error-rate',
          provider: { type: 'http', url: `${metric.origin}/metrics`, headers },
          intervalSeconds: 1,
          count: 1,
          // The condition sees the body; the marker's full text is nowhere but in the answer.
          successCondition: "result.json.errorRate < 0.01 && result.body.contains('BODY-MARKER-')",
        },
      ],
    },
  },
});

beforeAll(async () => {
  metric = await serveLoopback((req, res) => {
    seenHeaders.push(req.headers);
    res
      .writeHead(200, { 'content-type': 'application/json' })
      .end(JSON.stringify({ errorRate: 0.001, marker: BODY_MARKER }));
  });
  await agent.start();
  let as: (id: string) => Client;
  ({ server, admin, as } = await startTestServer({ secrets: JSON.stringify({ 'dd-token': METRIC_TOKEN }) }));
  reader = as('reader');
  await admin.put('/v1/resources/web-1', { kind: 'vm', name: 'web-1', metadata: {} });
  await admin.put('/v1/environments/prod', { resourceSelector: 'true' });
  await admin.put('/v1/deployments/web', { jobAgent: { type: 'webhook', url: agent.url } });
});

afterAll(async () => {
  await server?.close();
  await agent.stop();
  await metric?.close();
});

describe('verification header secrets', () => {
  it('a read shows a secretRef as given and a plaintext value as [redacted], never the value', async () => {
    const headers = { Authorization: { secretRef: 'dd-token' }, 'X-Team': PLAIN_VALUE };

    const put = await admin.put('/v1/policies/web-verify', policy(headers));
    const one = await reader.get('/v1/policies/web-verify');
    const list = await reader.get<{ items: unknown[] }>('/v1/policies');

    expect(put.status).toBe(201);
    expect(one.status).toBe(200);
    const shown = { Authorization: { secretRef: 'dd-token' }, 'X-Team': '[redacted]' };
    for (const body of [put.body, one.body, list.body.items[0]]) {
      expect(body).toMatchObject({
        rules: { verification: { metrics: [{ provider: { headers: shown } }] } },
      });
      expect(JSON.stringify(body)).not.toContain(PLAIN_VALUE);
    }
  });

  it('refuses a policy PUT back with [redacted] in it, and changes nothing', async () => {
    const before = await admin.get<{ updatedAt: string }>('/v1/policies/web-verify');

    const again = await admin.put<{ error: { code: string; message: string; details: { path: string }[] } }>(
      '/v1/policies/web-verify',
      policy({ Authorization: { secretRef: 'dd-token' }, 'X-Team': '[redacted]' }),
    );
    const badName = await admin.put<{ error: { code: string } }>(
      '/v1/policies/web-verify',
      policy({ 'Bad Header:': 'x' }),
    );

    expect(again.status).toBe(400);
    expect(again.body.error.code).toBe('invalid_request');
    expect(JSON.stringify(again.body.error)).toContain('send the value itself again');
    expect(badName.status).toBe(400);
    expect((await admin.get<{ updatedAt: string }>('/v1/policies/web-verify')).body.updatedAt).toBe(
      before.body.updatedAt,
    );
  });

  it('sends the secret header to the metric endpoint, and keeps neither it nor the body anywhere', async () => {
    // Act
    expect((await admin.post('/v1/deployments/web/versions', { tag: 'v1' })).status).toBe(201);
    const done = await eventually(
      () =>
        admin.get<{
          releases: { status: string; verification: { metrics: { last: unknown }[] } | null }[];
        }>('/v1/deployments/web/versions/v1'),
      (r) => ['successful', 'failed'].includes(r.body.releases[0]?.status ?? ''),
    );
    await server.engine.idle();
    await server.bus.flush();

    // Assess: the condition saw the body (it checks the marker) and the endpoint got both headers.
    expect(done.body.releases[0]?.status).toBe('successful');
    expect(seenHeaders.at(-1)).toMatchObject({ authorization: METRIC_TOKEN, 'x-team': PLAIN_VALUE });
    expect(done.body.releases[0]?.verification?.metrics[0]?.last).toMatchObject({
      outcome: 'success',
      value: { status: 200 },
    });
    const rt = runtime();
    const table = await rt.doc.send(new ScanCommand({ TableName: rt.tableName }));
    const executions = server.engine
      .listExecutions({ stateMachineArn: ROLLOUT_ARN })
      .map((e) => server.engine.describeExecution({ executionArn: e.executionArn }));
    expect(executions.length).toBeGreaterThan(0);
    const haystacks: [string, string][] = [
      ['version (read key)', JSON.stringify((await reader.get('/v1/deployments/web/versions/v1')).body)],
      ['events', JSON.stringify(await allEvents(admin))],
      ['table', JSON.stringify(table.Items)],
      ['executions', JSON.stringify(executions)],
    ];
    const leaks = haystacks.flatMap(([where, text]) =>
      [METRIC_TOKEN, BODY_MARKER].filter((s) => text.includes(s)).map((s) => `${where}: ${s}`),
    );
    expect(leaks).toEqual([]);
  });
});
