import { loadavg } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { stateMachineArn } from '../infra/local/arns';
import { invocations } from '../infra/local/functions';
import type { LocalServer } from '../infra/local/server';
import { runtime } from '../shared/adapters/runtime';
import { listReleases } from '../shared/adapters/store/rollouts';
import type { Client } from '../test/helpers/client';
import { healthProbe, instantAgent, rssSampler, startBenchServer, traceCalls } from './support';

/**
 * Rollout throughput in the local runtime: a version over 5,000 release targets (BENCH_TARGETS
 * overrides) with an agent that calls back at once, while /healthz is probed every 250 ms from
 * another process; then the cost of one plain rollout, measured alone: state transitions, history
 * events, DynamoDB requests, and the AWS calls of each handler.
 */
const TARGETS = Number(process.env.BENCH_TARGETS ?? 5000);
const ROLLOUT_ARN = stateMachineArn('rollout');

/** Waits until every execution of the deployment has ended (cheap: the engine's memory, not the API). */
async function waitExecutionsEnded(server: LocalServer, deployment: string, count: number): Promise<void> {
  const marker = `"deployment":"${deployment}"`;
  for (;;) {
    const mine = server.engine
      .listExecutions({ stateMachineArn: ROLLOUT_ARN })
      .filter((e) => e.input.includes(marker));
    if (mine.length >= count && mine.every((e) => e.status !== 'RUNNING')) return;
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function statusesOf(deployment: string, tag: string): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const release of await listReleases(runtime(), deployment, tag))
    counts[release.status] = (counts[release.status] ?? 0) + 1;
  return counts;
}

const diff = (after: Record<string, number>, before: Record<string, number>) =>
  Object.fromEntries(
    Object.entries(after)
      .map(([k, v]) => [k, v - (before[k] ?? 0)] as const)
      .filter(([, v]) => v > 0),
  );

const invocationCounts = () => Object.fromEntries([...invocations].map(([id, v]) => [id, v.count]));

/** One plain rollout alone: what it costs, by handler. */
async function plainRollout(server: LocalServer, client: Client, agentUrl: string) {
  await client.put('/v1/resources/solo', { kind: 'vm', name: 'solo', metadata: { env: 'solo' } });
  await client.put('/v1/environments/solo', { resourceSelector: "resource.metadata.env == 'solo'" });
  await client.put('/v1/deployments/one', {
    environments: ['solo'],
    jobAgent: { type: 'webhook', url: agentUrl },
  });
  await server.bus.flush();
  await server.engine.idle();
  const created = await client.post('/v1/deployments/one/versions', { tag: 'v1' });
  if (created.status !== 201) throw new Error(`create answered ${created.status}: ${created.text}`);
  // The version's releases are started off the request: wait for the execution, then count from its start.
  let execution = server.engine
    .listExecutions({ stateMachineArn: ROLLOUT_ARN })
    .find((e) => e.input.includes('"deployment":"one"'));
  for (; !execution; await new Promise((r) => setTimeout(r, 5)))
    execution = server.engine
      .listExecutions({ stateMachineArn: ROLLOUT_ARN })
      .find((e) => e.input.includes('"deployment":"one"'));
  // Counting starts with the execution: earlier work (the create, its fan-out) is not the rollout's.
  const before = {
    requests: await server.dynamoRequests(),
    operations: await server.dynamoOperations(),
    invocations: invocationCounts(),
  };
  const trace = traceCalls(runtime());
  await server.engine.waitForExecution(execution.executionArn);
  await server.bus.flush();
  await server.engine.idle();
  const calls = trace.stop();
  const requests = (await server.dynamoRequests()) - before.requests;
  const operations = diff(await server.dynamoOperations(), before.operations);
  const handlers = diff(invocationCounts(), before.invocations);
  const done = server.engine.describeExecution({ executionArn: execution.executionArn });
  const statuses = await statusesOf('one', 'v1');
  if (statuses.successful !== 1) throw new Error(`the plain rollout ended ${JSON.stringify(statuses)}`);
  return { requests, operations, handlers, calls, execution: done };
}

export async function benchRollouts(): Promise<Record<string, string | number>> {
  const agent = await instantAgent();
  // DynamoDB on disk, as `npm start` runs it: the RSS is the server's, not an in-memory table's.
  const { server, client } = await startBenchServer('rollouts', { onDisk: true });
  try {
    const plain = await plainRollout(server, client, agent.url);

    // The fleet: resources synced in pages of 1,000 (a sync body stays far below 1 MiB).
    const resources = Array.from({ length: TARGETS }, (_, i) => ({
      id: `node-${i}`,
      kind: 'vm',
      name: `node-${i}`,
      metadata: { env: 'prod' },
    }));
    const synced = await client.post('/v1/resource-providers/bench/sync', { resources });
    if (synced.status >= 300) throw new Error(`sync answered ${synced.status}: ${synced.text.slice(0, 300)}`);
    await client.put('/v1/environments/prod', { resourceSelector: "resource.metadata.env == 'prod'" });
    await client.put('/v1/deployments/api', {
      environments: ['prod'],
      jobAgent: { type: 'webhook', url: agent.url },
    });
    await server.bus.flush();
    await server.engine.idle();

    const probe = healthProbe(server.url);
    const rss = rssSampler();
    const loop = monitorEventLoopDelay({ resolution: 20 });
    loop.enable();
    const started = performance.now();
    const cpuBefore = process.cpuUsage();
    const created = await client.post('/v1/deployments/api/versions', { tag: 'v1' });
    const createMs = performance.now() - started;
    if (created.status !== 201) throw new Error(`create answered ${created.status}: ${created.text}`);
    await waitExecutionsEnded(server, 'api', TARGETS);
    const allMs = performance.now() - started;
    // CPU time of this process (server, agent and bench): a figure other work on the machine barely moves.
    const cpu = process.cpuUsage(cpuBefore);
    const cpuSeconds = (cpu.user + cpu.system) / 1e6;
    loop.disable();
    const { peakMiB } = rss.stop();
    const health = await probe.stop();
    const statuses = await statusesOf('api', 'v1');
    if (statuses.successful !== TARGETS) throw new Error(`not all successful: ${JSON.stringify(statuses)}`);
    const executions = server.engine
      .listExecutions({ stateMachineArn: ROLLOUT_ARN })
      .filter((e) => e.input.includes('"deployment":"api"'));
    const mean = (f: (e: (typeof executions)[number]) => number) =>
      (executions.reduce((sum, e) => sum + f(e), 0) / executions.length).toFixed(1);

    const stateTransitions = plain.execution.stateTransitions;
    return {
      'release targets': TARGETS,
      'create version (ms)': Math.round(createMs),
      'all rollouts successful (s)': (allMs / 1000).toFixed(1),
      'rollouts/s': (TARGETS / (allMs / 1000)).toFixed(1),
      'CPU time of the process (s; rollouts per CPU-second)': `${cpuSeconds.toFixed(1)} (${(TARGETS / cpuSeconds).toFixed(1)})`,
      'load average of the machine (1 min, at the end)': loadavg()[0]?.toFixed(1) ?? 'n/a',
      'peak RSS of the process (MiB)': peakMiB,
      'worst /healthz latency while rolling out (ms, sampled every 250 ms)': `${health.worstMs} (${health.samples} samples)`,
      'worst event-loop delay while rolling out (ms)': Math.round(loop.max / 1e6),
      'state transitions per rollout (plain; mean of the fleet)': `${stateTransitions}; ${mean((e) => e.stateTransitions)}`,
      'history events per rollout (plain; mean of the fleet)': `${plain.execution.historyEventCount}; ${mean((e) => e.historyEventCount)}`,
      'DynamoDB requests per plain rollout (steps, callback, event consumers)': plain.requests,
      'DynamoDB requests per plain rollout, by operation': JSON.stringify(plain.operations),
      'handler invocations per plain rollout': JSON.stringify(plain.handlers),
      'AWS calls per plain rollout, by handler': JSON.stringify(plain.calls),
      'Step Functions cost per 1,000 rollouts (USD)': ((stateTransitions * 1000 * 0.025) / 1000).toFixed(3),
    };
  } finally {
    await server.close();
    agent.server.close();
  }
}
