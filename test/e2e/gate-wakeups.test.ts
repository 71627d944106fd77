import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalServer } from '../../infra/local/server';
import { runtime } from '../../shared/adapters/runtime';
import { deleteWaiter, listWaiters, putWaiter } from '../../shared/adapters/store/rollouts';
import { signals } from '../../shared/core/signals';
import { FakeAgent } from '../helpers/agent';
import { type Client, eventually } from '../helpers/client';
import { startTestServer } from '../helpers/local';
import type { VersionView } from '../support/rollouts';

/**
 * The gates' wake-ups do not grow quadratically with an environment's targets (docs/policies.md):
 * a make-before-break completion wakes only the release after it, and an upstream environment's
 * completions wake the downstream waiters at most once per debounce window, not once each.
 * Wake-ups are counted where they land: the SendTaskSuccess calls of the local Step Functions engine
 * whose output names the signal (`{"woken": "<signal>"}`, shared/adapters/workflow.ts).
 */
const CHAIN = 40;
const UPSTREAM = 100;
const DOWNSTREAM = 100;
/** functions/events/progression.ts PROGRESSION_WAKE_MS (domain clock; this server runs at scale 1). */
const WINDOW_MS = 10_000;

let server: LocalServer;
let admin: Client;
const agent = new FakeAgent();
/** Wake-ups per signal kind (the part of its name before the first colon). */
const wakes = new Map<string, number>();

beforeAll(async () => {
  await agent.start();
  ({ server, admin } = await startTestServer());
  const engine = server.engine;
  const send = engine.sendTaskSuccess.bind(engine);
  engine.sendTaskSuccess = (p) => {
    const signal = (JSON.parse(p.output) as { woken?: unknown }).woken;
    if (typeof signal === 'string') {
      const kind = signal.split(':')[0] as string;
      wakes.set(kind, (wakes.get(kind) ?? 0) + 1);
    }
    send(p);
  };
  const resources = (env: string, count: number) =>
    Array.from({ length: count }, (_, i) => ({
      id: `${env}-${String(i).padStart(4, '0')}`,
      kind: 'vm',
      name: `${env}-${i}`,
      metadata: { env },
    }));
  const all = [
    ...resources('chain', CHAIN),
    ...resources('up', UPSTREAM),
    ...resources('down', DOWNSTREAM),
    ...resources('compat', 2),
  ];
  expect((await admin.post('/v1/resource-providers/wakes/sync', { resources: all })).status).toBe(200);
  for (const env of ['chain', 'up', 'down', 'compat'])
    await admin.put(`/v1/environments/${env}`, { resourceSelector: `resource.metadata.env == '${env}'` });
}, 60_000);

afterAll(async () => {
  await server?.close();
  await agent.stop();
});

const summaryOf = async (deployment: string) =>
  (await admin.get<VersionView>(`/v1/deployments/${deployment}/versions/v1?limit=1`)).body.summary;

describe('make before break over many targets', () => {
  it('wakes only the next release per completion', async () => {
    await admin.put('/v1/deployments/chain-svc', {
      environments: ['chain'],
      jobAgent: { type: 'webhook', url: agent.url },
    });
    await admin.put('/v1/policies/chain', {
      targets: "deployment.id == 'chain-svc'",
      rules: { gradualRollout: { intervalSeconds: 0, waitForVerified: true } },
    });
    wakes.clear();
    expect((await admin.post('/v1/deployments/chain-svc/versions', { tag: 'v1' })).status).toBe(201);
    const done = await eventually(
      () => summaryOf('chain-svc'),
      (s) => s.successful === CHAIN,
      { timeoutMs: 90_000, intervalMs: 250 },
    );
    expect(done).toEqual({ successful: CHAIN });
    // One per completion at most (its successor); before, every waiter was woken by each: ~CHAIN²/2.
    expect(wakes.get('verified') ?? 0).toBeLessThanOrEqual(CHAIN);
  }, 120_000);
});

describe('make before break across the upgrade', () => {
  it('still wakes an execution parked on the environment-wide signal of before', async () => {
    await admin.put('/v1/deployments/compat-svc', {
      environments: ['compat'],
      jobAgent: { type: 'webhook', url: agent.url },
    });
    await admin.put('/v1/policies/compat', {
      targets: "deployment.id == 'compat-svc'",
      rules: { gradualRollout: { intervalSeconds: 0, waitForVerified: true } },
    });
    agent.behaviour = (job) => (job.deployment.id === 'compat-svc' ? 'none' : 'successful');
    expect((await admin.post('/v1/deployments/compat-svc/versions', { tag: 'v1' })).status).toBe(201);
    const first = await eventually(
      async () => agent.jobs.find((j) => j.deployment.id === 'compat-svc'),
      (job) => job !== undefined,
      { timeoutMs: 30_000 },
    );
    if (!first) throw new Error('no job');
    // The second target waits on the first's own signal; move its registration to the old name.
    const rt = runtime();
    const ownSignal = signals.verified('compat-svc', 'v1', 'compat', first.resource.id);
    const [parked] = await eventually(
      () => listWaiters(rt, ownSignal),
      (waiters) => waiters.length === 1,
      { timeoutMs: 30_000 },
    );
    if (!parked) throw new Error('no waiter');
    await putWaiter(rt, { ...parked, signal: signals.verified('compat-svc', 'v1', 'compat') });
    expect(await deleteWaiter(rt, parked)).toBe(true);

    expect((await agent.report(first, 'successful')).status).toBe(200);
    const second = await eventually(
      async () => agent.jobs.filter((j) => j.deployment.id === 'compat-svc'),
      (jobs) => jobs.length === 2,
      { timeoutMs: 30_000 },
    );
    expect(second[1]?.resource.id).not.toBe(first.resource.id);
  }, 60_000);
});

describe('environment progression from a large upstream', () => {
  it('wakes each downstream release a few times, not once per upstream completion', async () => {
    await admin.put('/v1/deployments/prog-svc', {
      environments: ['up', 'down'],
      jobAgent: { type: 'webhook', url: agent.url },
    });
    await admin.put('/v1/policies/prog', {
      targets: "deployment.id == 'prog-svc' && environment.id == 'down'",
      rules: { environmentProgression: { dependsOnEnvironments: ['up'], minSuccessPercentage: 100 } },
    });
    // Upstream jobs are held until every downstream release waits, then finish one by one.
    agent.behaviour = (job) =>
      job.deployment.id === 'prog-svc' && job.environment.id === 'up' ? 'none' : 'successful';
    expect((await admin.post('/v1/deployments/prog-svc/versions', { tag: 'v1' })).status).toBe(201);
    await eventually(
      () => summaryOf('prog-svc'),
      (s) =>
        s.waiting === DOWNSTREAM &&
        agent.jobs.filter((j) => j.deployment.id === 'prog-svc').length === UPSTREAM,
      { timeoutMs: 60_000, intervalMs: 250 },
    );
    wakes.clear();
    const started = Date.now();
    for (const job of agent.jobs.filter((j) => j.deployment.id === 'prog-svc'))
      expect((await agent.report(job, 'successful')).status).toBe(200);
    const done = await eventually(
      () => summaryOf('prog-svc'),
      (s) => s.successful === UPSTREAM + DOWNSTREAM,
      { timeoutMs: 90_000, intervalMs: 250 },
    );
    expect(done).toEqual({ successful: UPSTREAM + DOWNSTREAM });
    // Each downstream waiter is woken once per window while upstream releases finish, plus the
    // window's trailing wake; before, once per upstream completion (~UPSTREAM each).
    const windows = Math.ceil((Date.now() - started) / WINDOW_MS) + 1;
    const progression = wakes.get('progression') ?? 0;
    expect(progression).toBeLessThanOrEqual(DOWNSTREAM * windows);
    expect(progression).toBeLessThan(DOWNSTREAM * 4);
  }, 120_000);
});
