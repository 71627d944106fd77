import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalServer } from '../../infra/local/server';
import { FakeAgent } from '../helpers/agent';
import { type Client, eventually } from '../helpers/client';
import { startTestServer } from '../helpers/local';

/** Deployment variables per environment (Ctrlplane's deployment variables), with a secret one. */
const SECRET = 'hunter2-s3cr3t-value';
let server: LocalServer;
let admin: Client;
const agent = new FakeAgent();

beforeAll(async () => {
  await agent.start();
  ({ server, admin } = await startTestServer({ secrets: JSON.stringify({ 'db-password': SECRET }) }));
  for (const [id, env] of [
    ['s-1', 'staging'],
    ['p-1', 'production'],
  ]) {
    await admin.put(`/v1/resources/${id}`, { kind: 'vm', name: id, metadata: { env } });
  }
  await admin.put('/v1/environments/staging', { resourceSelector: "resource.metadata.env == 'staging'" });
  await admin.put('/v1/environments/production', {
    resourceSelector: "resource.metadata.env == 'production'",
  });
  await admin.put('/v1/deployments/api', {
    jobAgent: { type: 'webhook', url: agent.url },
    variables: {
      replicas: { default: '2', overrides: [{ selector: "environment.id == 'production'", value: '6' }] },
      logLevel: { default: 'info' },
      dbPassword: { secretRef: 'db-password' },
    },
  });
});

afterAll(async () => {
  await server?.close();
  await agent.stop();
});

describe('deployment variables', () => {
  it('resolve per target, show in the plan, and send the secret to the agent only', async () => {
    agent.behaviour = () => 'successful';
    await admin.post('/v1/deployments/api/versions', { tag: 'v1', status: 'building' });
    const plan = await admin.get<{ targets: { environment: string; variables: Record<string, unknown> }[] }>(
      '/v1/deployments/api/versions/v1/plan',
    );
    const prodPlan = plan.body.targets.find((t) => t.environment === 'production');
    expect(prodPlan?.variables).toEqual({
      replicas: { value: '6', from: 'override 0' },
      logLevel: { value: 'info', from: 'default' },
      dbPassword: { secretRef: 'db-password' },
    });

    await admin.patch('/v1/deployments/api/versions/v1', { status: 'ready' });
    await eventually(
      async () => agent.jobs.length,
      (n) => n === 2,
    );
    const byEnv = Object.fromEntries(agent.jobs.map((j) => [j.environment.id, j.variables]));
    expect(byEnv.production).toEqual({ replicas: '6', logLevel: 'info', dbPassword: SECRET });
    expect(byEnv.staging).toEqual({ replicas: '2', logLevel: 'info', dbPassword: SECRET });
    await eventually(
      () => admin.get<{ releases: { status: string }[] }>('/v1/deployments/api/versions/v1'),
      (r) => r.body.releases.every((x) => x.status === 'successful'),
    );

    // The secret's value is nowhere but in the agent's job.
    const seen = [
      JSON.stringify((await admin.get('/v1/deployments/api')).body),
      JSON.stringify(plan.body),
      JSON.stringify((await admin.get('/v1/events?limit=1000')).body),
      JSON.stringify((await admin.get('/v1/deployments/api/versions/v1')).body),
      ...server.engine
        .listExecutions({
          stateMachineArn: 'arn:aws:states:us-east-1:000000000000:stateMachine:gantry-rollout',
        })
        .map((e) => JSON.stringify(server.engine.describeExecution({ executionArn: e.executionArn }))),
    ];
    await server.bus.flush();
    seen.push(readFileSync(`${server.dataDir}/events.jsonl`, 'utf8'));
    for (const text of seen) expect(text).not.toContain(SECRET);
  });
});
