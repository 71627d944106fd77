import type { Client } from '../test/helpers/client';
import { instantAgent, startBenchServer } from './support';

/**
 * Rollout throughput in the local runtime: a version over 500 release targets, with an agent that
 * calls back at once; then the cost of one plain rollout (state transitions, history events and
 * DynamoDB requests).
 */
const TARGETS = Number(process.env.BENCH_TARGETS ?? 500);
async function waitAllSuccessful(client: Client, path: string, count: number): Promise<void> {
  for (;;) {
    const view = await client.get<{ releases: { status: string }[] }>(path);
    const done = view.body.releases.filter((r) => r.status === 'successful').length;
    if (view.body.releases.length === count && done === count) return;
    if (view.body.releases.some((r) => r.status === 'failed')) throw new Error('a release failed');
    await new Promise((r) => setTimeout(r, 200));
  }
}

export async function benchRollouts(): Promise<Record<string, string | number>> {
  const agent = await instantAgent();
  const { server, client } = await startBenchServer('rollouts');
  try {
    // One plain rollout, measured alone first (nothing else running).
    await client.put('/v1/resources/solo', { kind: 'vm', name: 'solo', metadata: { env: 'solo' } });
    await client.put('/v1/environments/solo', { resourceSelector: "resource.metadata.env == 'solo'" });
    await client.put('/v1/deployments/one', {
      environments: ['solo'],
      jobAgent: { type: 'webhook', url: agent.url },
    });
    await server.engine.idle();
    const before = server.dynamoRequests();
    await client.post('/v1/deployments/one/versions', { tag: 'v1' });
    const afterCreate = server.dynamoRequests();
    await waitAllSuccessful(client, '/v1/deployments/one/versions/v1', 1);
    // Count what the event consumers do for it too.
    await server.bus.flush();
    await server.engine.idle();
    const afterRollout = server.dynamoRequests();
    const [execution] = server.engine
      .listExecutions({
        stateMachineArn: 'arn:aws:states:us-east-1:000000000000:stateMachine:gantry-rollout',
      })
      .filter((e) => e.input?.includes('"deployment":"one"'));

    const resources = Array.from({ length: TARGETS }, (_, i) => ({
      id: `node-${i}`,
      kind: 'vm',
      name: `node-${i}`,
      metadata: { env: 'prod' },
    }));
    await client.post('/v1/resource-providers/bench/sync', { resources });
    await client.put('/v1/environments/prod', { resourceSelector: "resource.metadata.env == 'prod'" });
    await client.put('/v1/deployments/api', {
      environments: ['prod'],
      jobAgent: { type: 'webhook', url: agent.url },
    });

    const started = performance.now();
    const created = await client.post('/v1/deployments/api/versions', { tag: 'v1' });
    const createMs = performance.now() - started;
    if (created.status !== 201) throw new Error(`create answered ${created.status}: ${created.text}`);
    await waitAllSuccessful(client, '/v1/deployments/api/versions/v1', TARGETS);
    const allMs = performance.now() - started;

    return {
      'release targets': TARGETS,
      'create version (ms)': Math.round(createMs),
      'all rollouts successful (s)': (allMs / 1000).toFixed(1),
      'state transitions per rollout': execution?.stateTransitions ?? 'n/a',
      'history events per rollout': execution?.historyEventCount ?? 'n/a',
      'DynamoDB requests of the create call (1 target)': afterCreate - before,
      'DynamoDB requests per rollout (steps, event consumers, callback, one status poll)':
        afterRollout - afterCreate,
      'Step Functions cost per 1,000 rollouts (USD)': (
        ((execution?.stateTransitions ?? 0) * 1000 * 0.025) /
        1000
      ).toFixed(3),
    };
  } finally {
    await server.close();
    agent.server.close();
  }
}
