import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FUNCTIONS, STATE_MACHINES } from '../functions/registry';
import { stateMachineArn } from '../infra/local/arns';
import { invocations } from '../infra/local/functions';
import { matches } from '../shared/core/cel';
import type { Client, Reply } from '../test/helpers/client';
import {
  environmentSelector,
  FLEET_ENVIRONMENTS,
  type FleetResource,
  fleetResources,
  listAll,
  RecordingAgent,
  syncPages,
  type TargetView,
  timed,
  until,
  versionSummary,
} from '../test/helpers/fleet';
import {
  type DynamoCounts,
  difference,
  probe,
  type ScaleServer,
  type Store,
  splitRequests,
  startScaleServer,
} from './scale-support';

/**
 * Fleet scale (issue 15): a new user with a fleet builds it through the signed API only, on the
 * local runtime in this process: RESOURCES resources synced in pages, 5 environments, 10
 * deployments (about 100,000 release targets at the defaults), nine `building` versions and one
 * `ready` version over ROLLOUTS targets rolled out by an instant agent; then one environment whose
 * selector change moves targets. Every write is timed, the rollout is counted (transitions,
 * DynamoDB requests, invocations, events) and priced at AWS list prices.
 */
const RESOURCES = Number(process.env.BENCH_SCALE_RESOURCES ?? 20_000);
const ROLLOUTS = Math.min(RESOURCES, Number(process.env.BENCH_SCALE_ROLLOUTS ?? 5_000));
const TIMEOUT_MS = Number(process.env.BENCH_SCALE_TIMEOUT_S ?? 1_800) * 1000;
const STORES: Store[] =
  process.env.BENCH_SCALE_STORE === 'dynalite' || process.env.BENCH_SCALE_STORE === 'dynamodb-local'
    ? [process.env.BENCH_SCALE_STORE]
    : ['dynalite', 'dynamodb-local'];

/**
 * us-east-1 list prices (USD), from aws.amazon.com/step-functions/pricing (standard workflows),
 * aws.amazon.com/dynamodb/pricing/on-demand, aws.amazon.com/lambda/pricing (arm64) and
 * aws.amazon.com/eventbridge/pricing (custom events).
 */
const PRICE = {
  perTransition: 0.025 / 1_000,
  perWriteUnit: 0.625 / 1_000_000,
  perReadUnit: 0.125 / 1_000_000,
  perInvocation: 0.2 / 1_000_000,
  perGbSecond: 0.0000133334,
  perEvent: 1.0 / 1_000_000,
};

/** The deployment whose version rolls out; the others get `building` versions. */
const ROLLING = 'edge';
/** Bands are twentieths of the fleet: `[from, to)` selects (to - from) / 20 of it. */
const bands = (from: number, to: number) =>
  `resource.metadata.band >= '${String(from).padStart(2, '0')}' && resource.metadata.band < '${String(to).padStart(2, '0')}'`;
/** 5,000 + 20,000 x (20 + 20 + 15 + 10 + 10 + 5 x 4) / 20 = 100,000 release targets at the defaults. */
const DEPLOYMENTS: { id: string; resourceSelector?: string }[] = [
  { id: ROLLING, resourceSelector: "resource.metadata.ring == '1'" },
  { id: 'platform' },
  { id: 'api' },
  { id: 'worker', resourceSelector: bands(0, 15) },
  { id: 'web', resourceSelector: bands(0, 10) },
  { id: 'billing', resourceSelector: bands(10, 20) },
  { id: 'search', resourceSelector: bands(0, 5) },
  { id: 'auth', resourceSelector: bands(5, 10) },
  { id: 'mail', resourceSelector: bands(10, 15) },
  { id: 'reports', resourceSelector: bands(15, 20) },
];
const BIGGEST = 'platform';
/**
 * One more deployment, of one target that no selector change moves: its rollout runs alone first,
 * so the handler time per invocation (what Lambda bills) is measured without 5,000 others sharing
 * the two cores.
 */
const SOLO = 'solo';
/** The selector change: ring 1 of e0 leaves e0 and ring 1 of e1 joins it. */
const CHANGED_ENV = 'e0';
const CHANGED_SELECTOR =
  "(resource.metadata.env == 'e0' && resource.metadata.ring != '1') || (resource.metadata.env == 'e1' && resource.metadata.ring == '1')";

type Row = [string, ...(string | number)[]];
export interface BenchTable {
  title: string;
  columns: string[];
  rows: Row[];
}

const ms = (value: number) => Math.round(value);
const answered = (t: { ms: number; reply: Reply<unknown> }) =>
  t.reply.status < 300 ? ms(t.ms) : `${ms(t.ms)} (${t.reply.status})`;

function selects(selector: string | undefined, resource: FleetResource): boolean {
  if (selector === undefined) return true;
  const outcome = matches(selector, { resource });
  return outcome.ok && outcome.value === true;
}

/** Release targets at the defaults of docs/api.md section 4: every environment x matching resource. */
function targetCount(resources: FleetResource[]): number {
  const perEnvironment = FLEET_ENVIRONMENTS.map((env) =>
    resources.filter((r) => selects(environmentSelector(env), r)),
  );
  return DEPLOYMENTS.reduce(
    (sum, d) =>
      sum + perEnvironment.reduce((n, rs) => n + rs.filter((r) => selects(d.resourceSelector, r)).length, 0),
    0,
  );
}

/** The sync, in pages of one session; a server that refuses `page` gets one provider per page instead. */
async function syncFleet(client: Client, resources: FleetResource[]): Promise<{ rows: Row[]; mode: string }> {
  const pages = syncPages(resources);
  const rows: Row[] = [];
  let mode = `one paged session, ${pages.length} pages`;
  for (const [i, page] of pages.entries()) {
    const body = { resources: page, page: { session: 'bench-scale-1', final: i === pages.length - 1 } };
    let t = await timed(() => client.post('/v1/resource-providers/fleet/sync', body));
    if (t.reply.status === 400 && i === 0 && t.reply.text.includes('page')) {
      mode = `paged sync refused (400): ${pages.length} providers of one page each`;
    }
    if (mode.startsWith('paged sync refused')) {
      t = await timed(() => client.post(`/v1/resource-providers/fleet-${i}/sync`, { resources: page }));
    }
    rows.push([`sync page ${i + 1} (${page.length} resources) (ms)`, answered(t)]);
  }
  return { rows, mode };
}

function eventCount(dataDir: string): number {
  try {
    const text = readFileSync(join(dataDir, 'events.jsonl'), 'utf8');
    let n = 0;
    for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) n++;
    return n;
  } catch {
    return 0;
  }
}

type Invocations = Map<string, { count: number; ms: number }>;

function invocationSnapshot(): Invocations {
  return new Map([...invocations].map(([id, v]) => [id, { ...v }]));
}

function spentSince(before: Invocations): Invocations {
  const spent: Invocations = new Map();
  for (const [id, v] of invocations) {
    const b = before.get(id) ?? { count: 0, ms: 0 };
    if (v.count > b.count) spent.set(id, { count: v.count - b.count, ms: v.ms - b.ms });
  }
  return spent;
}

interface Cost {
  /** Handler milliseconds per invocation of one rollout run alone (no contention), per function. */
  aloneMs: Map<string, number>;
  transitions: number;
  dynamo: DynamoCounts;
  invocations: Invocations;
  events: number;
}

async function benchStore(store: Store, resources: FleetResource[]): Promise<{ rows: Row[]; cost: Cost }> {
  const agent = await new RecordingAgent().start();
  const scale: ScaleServer = await startScaleServer(store);
  const { server, client } = scale;
  const rows: Row[] = [];
  try {
    // Inventory: the provider's set, then environments and deployments.
    const sync = await syncFleet(client, resources);
    rows.push(['resources', resources.length], ['sync', sync.mode], ...sync.rows);
    for (const env of FLEET_ENVIRONMENTS) {
      const t = await timed(() =>
        client.put(`/v1/environments/${env}`, { resourceSelector: environmentSelector(env) }),
      );
      rows.push([`PUT /v1/environments/${env} (ms)`, answered(t)]);
    }
    for (const d of DEPLOYMENTS) {
      const t = await timed(() =>
        client.put(`/v1/deployments/${d.id}`, {
          ...(d.resourceSelector ? { resourceSelector: d.resourceSelector } : {}),
          jobAgent: { type: 'webhook', url: agent.url },
        }),
      );
      rows.push([`PUT /v1/deployments/${d.id} (ms)`, answered(t)]);
    }
    rows.push(['release targets of the fleet (and 1 of the solo deployment)', targetCount(resources)]);
    const last = resources.at(-1) as FleetResource;
    await client.put(`/v1/deployments/${SOLO}`, {
      resourceSelector: `resource.id == '${last.id}'`,
      environments: [last.metadata.env],
      jobAgent: { type: 'webhook', url: agent.url },
    });

    // Versions: nine waiting for their build, then the one that rolls out.
    for (const d of DEPLOYMENTS.filter((x) => x.id !== ROLLING)) {
      const t = await timed(() =>
        client.post<{ releaseTargetCount?: number }>(`/v1/deployments/${d.id}/versions`, {
          tag: 'b1',
          status: 'building',
        }),
      );
      rows.push([
        `POST /v1/deployments/${d.id}/versions, building (ms; releaseTargetCount)`,
        `${answered(t)}; ${t.reply.body.releaseTargetCount ?? 'absent'}`,
      ]);
    }
    await server.bus.flush();
    await server.engine.idle();

    const soloBefore = invocationSnapshot();
    await client.post(`/v1/deployments/${SOLO}/versions`, { tag: 'v1' });
    await until(
      () => versionSummary(client, SOLO, 'v1'),
      (s) => (s.successful ?? 0) === 1,
      { timeoutMs: 60_000, intervalMs: 100 },
    );
    await server.bus.flush();
    await server.engine.idle();
    const aloneMs = new Map<string, number>();
    for (const [id, v] of spentSince(soloBefore)) aloneMs.set(id, v.ms / v.count);

    const windowStart = new Date();
    const before = {
      dynamo: await scale.dynamo(),
      invocations: invocationSnapshot(),
      events: eventCount(server.dataDir),
    };
    const probes = probe(server.url, server.dynamoPid);
    const started = performance.now();
    const created = await timed(() =>
      client.post<{ releaseTargetCount?: number }>(`/v1/deployments/${ROLLING}/versions`, { tag: 'v1' }),
    );
    rows.push([
      `POST /v1/deployments/${ROLLING}/versions, ready (ms; releaseTargetCount)`,
      `${answered(created)}; ${created.reply.body.releaseTargetCount ?? 'absent'}`,
    ]);
    const rollout = await until(
      () => versionSummary(client, ROLLING, 'v1'),
      (s) => (s.successful ?? 0) >= ROLLOUTS || (s.failed ?? 0) > 0,
      { timeoutMs: TIMEOUT_MS, intervalMs: 1000 },
    );
    const rolloutSeconds = (performance.now() - started) / 1000;
    const { peakRssMiB, peakStoreRssMiB, worstHealthzMs, worstLoopDelayMs } = await probes.stop();
    const successful = rollout.value.successful ?? 0;
    const edgeJobs = agent.jobs.filter((j) => j.deployment === ROLLING && j.kind === 'deploy');
    rows.push(
      ['rollouts (targets of the ready version)', ROLLOUTS],
      [
        'all rollouts successful after (s)',
        rollout.ok && successful === ROLLOUTS
          ? rolloutSeconds.toFixed(1)
          : `not within ${rolloutSeconds.toFixed(0)} s: ${JSON.stringify(rollout.value)}`,
      ],
      ['rollouts/s', (successful / rolloutSeconds).toFixed(1)],
      [
        'deploy jobs sent (distinct targets)',
        `${edgeJobs.length} (${new Set(edgeJobs.map((j) => `${j.environment}/${j.resource}`)).size})`,
      ],
      ['peak RSS of the server during the rollout (MiB)', Math.round(peakRssMiB)],
      ['peak RSS of the DynamoDB process (MiB)', peakStoreRssMiB ? Math.round(peakStoreRssMiB) : '-'],
      ['worst /healthz during the rollout (ms)', ms(worstHealthzMs)],
      ['longest event-loop stall of the server during the rollout (ms)', ms(worstLoopDelayMs)],
    );

    // The rollout's own cost: everything it caused, event consumers included.
    await server.bus.flush();
    await server.engine.idle();
    const executions = STATE_MACHINES.flatMap((sm) =>
      server.engine.listExecutions({ stateMachineArn: stateMachineArn(sm.id) }),
    ).filter((e) => e.startDate >= windowStart);
    const cost: Cost = {
      aloneMs,
      transitions: executions.reduce((sum, e) => sum + e.stateTransitions, 0),
      dynamo: difference(await scale.dynamo(), before.dynamo),
      invocations: spentSince(before.invocations),
      events: eventCount(server.dataDir) - before.events,
    };
    rows.push(['executions started by the rollout', executions.length]);

    // What a client following the version reads: the summary over every release, and a page of them.
    const reads: Record<string, number[]> = { summary: [], page: [] };
    for (let i = 0; i < 3; i++) {
      reads.summary?.push(
        ms((await timed(() => client.get(`/v1/deployments/${ROLLING}/versions/v1?limit=1`))).ms),
      );
      reads.page?.push(ms((await timed(() => client.get(`/v1/deployments/${ROLLING}/versions/v1`))).ms));
    }
    rows.push(
      [`GET the version of ${ROLLOUTS} releases, ?limit=1 (ms, 3 reads)`, reads.summary?.join(' / ') ?? ''],
      ['GET the same, first page of 1,000 (ms, 3 reads)', reads.page?.join(' / ') ?? ''],
    );

    // The plan of the biggest deployment's version.
    const plans: { ms: number; reply: Reply<{ targets?: unknown[] }> }[] = [];
    for (let i = 0; i < 3; i++)
      plans.push(await timed(() => client.get(`/v1/deployments/${BIGGEST}/versions/b1/plan`)));
    rows.push(
      [
        `plan of ${BIGGEST} b1 (targets)`,
        plans[0]?.reply.body.targets?.length ?? `(${plans[0]?.reply.status})`,
      ],
      ['plan, first (ms)', answered(plans[0] as (typeof plans)[number])],
      ['plan, best of 2 warm (ms)', Math.min(...plans.slice(1).map((p) => ms(p.ms)))],
    );

    // One environment's selector changes after the rollout: targets appear and disappear.
    const inChanged = (selector: string) =>
      new Set(
        resources
          .filter((r) => selects(selector, r) && selects(DEPLOYMENTS[0]?.resourceSelector, r))
          .map((r) => r.id),
      );
    const was = inChanged(environmentSelector(CHANGED_ENV));
    const now = inChanged(CHANGED_SELECTOR);
    const appearing = [...now].filter((id) => !was.has(id));
    const disappearing = [...was].filter((id) => !now.has(id));
    const settleTimeoutMs = Math.min(TIMEOUT_MS, 300_000);
    const changeStarted = performance.now();
    const change = await timed(() =>
      client.put(`/v1/environments/${CHANGED_ENV}`, { resourceSelector: CHANGED_SELECTOR }),
    );
    const listed = () =>
      listAll<TargetView>(client, `/v1/release-targets?deployment=${ROLLING}&environment=${CHANGED_ENV}`);
    let appearedAt = Number.NaN;
    let goneAt = Number.NaN;
    let deployedAt = Number.NaN;
    await until(
      listed,
      (items) => {
        const byResource = new Map(items.map((t) => [t.resource, t]));
        const elapsed = (performance.now() - changeStarted) / 1000;
        if (Number.isNaN(appearedAt) && appearing.every((id) => byResource.get(id)?.desiredVersion === 'v1'))
          appearedAt = elapsed;
        if (Number.isNaN(goneAt) && disappearing.every((id) => !byResource.has(id))) goneAt = elapsed;
        if (Number.isNaN(deployedAt) && appearing.every((id) => byResource.get(id)?.currentVersion === 'v1'))
          deployedAt = elapsed;
        return !Number.isNaN(appearedAt) && !Number.isNaN(goneAt) && !Number.isNaN(deployedAt);
      },
      { timeoutMs: settleTimeoutMs, intervalMs: 1000 },
    );
    const seconds = (value: number) =>
      Number.isNaN(value) ? `not within ${Math.round(settleTimeoutMs / 1000)} s` : value.toFixed(1);
    rows.push(
      [`PUT /v1/environments/${CHANGED_ENV}, selector change (ms)`, answered(change)],
      [`targets of ${ROLLING} that appear / disappear`, `${appearing.length} / ${disappearing.length}`],
      ['appearing targets listed with v1 after (s)', seconds(appearedAt)],
      ['appearing targets deployed (currentVersion v1) after (s)', seconds(deployedAt)],
      ['disappearing targets gone from the list after (s)', seconds(goneAt)],
    );
    return { rows, cost };
  } finally {
    await scale.close();
    await agent.stop();
  }
}

/** Per rollout, and priced per 100,000 release targets (one rollout each). */
function costTable(store: Store, cost: Cost): BenchTable {
  const per = (n: number) => n / ROLLOUTS;
  const perHundredK = (n: number, price: number) => `$${(per(n) * 100_000 * price).toFixed(2)}`;
  const { reads, writes } = splitRequests(cost.dynamo.operations);
  const unitsCounted = !Number.isNaN(cost.dynamo.readUnits);
  const readUnits = unitsCounted ? cost.dynamo.readUnits : reads;
  const writeUnits = unitsCounted ? cost.dynamo.writeUnits : writes;
  // Lambda: the local runtime's api-meta serves only the bench's /healthz probe, not the rollout.
  const lambda = [...cost.invocations].filter(([id]) => id !== 'api-meta');
  const count = lambda.reduce((s, [, v]) => s + v.count, 0);
  const gb = (id: string) => (FUNCTIONS.find((f) => f.id === id)?.memoryMb ?? 512) / 1024;
  // Billed duration: each invocation at the handler time of the rollout run alone; a function that
  // rollout did not call is taken at its time under load (an upper bound: the cores were shared).
  const gbSeconds = lambda.reduce(
    (s, [id, v]) => s + gb(id) * ((v.count * (cost.aloneMs.get(id) ?? v.ms / v.count)) / 1000),
    0,
  );
  const gbSecondsLoaded = lambda.reduce((s, [id, v]) => s + gb(id) * (v.ms / 1000), 0);
  const rows: Row[] = [
    [
      'Step Functions state transitions',
      per(cost.transitions).toFixed(1),
      perHundredK(cost.transitions, PRICE.perTransition),
    ],
    [
      `DynamoDB writes (${unitsCounted ? 'write units consumed' : 'requests, 1 unit each'})`,
      `${per(writeUnits).toFixed(1)} (requests ${per(writes).toFixed(1)})`,
      perHundredK(writeUnits, PRICE.perWriteUnit),
    ],
    [
      `DynamoDB reads (${unitsCounted ? 'read units consumed' : 'requests, 1 unit each'})`,
      `${per(readUnits).toFixed(1)} (requests ${per(reads).toFixed(1)})`,
      perHundredK(readUnits, PRICE.perReadUnit),
    ],
    ['Lambda invocations', per(count).toFixed(1), perHundredK(count, PRICE.perInvocation)],
    [
      'Lambda GB-seconds (memory x handler time of a rollout run alone)',
      per(gbSeconds).toFixed(3),
      perHundredK(gbSeconds, PRICE.perGbSecond),
    ],
    [
      'Lambda GB-seconds at the handler times under load (upper bound, not in the total)',
      per(gbSecondsLoaded).toFixed(3),
      perHundredK(gbSecondsLoaded, PRICE.perGbSecond),
    ],
    ['EventBridge PutEvents entries', per(cost.events).toFixed(1), perHundredK(cost.events, PRICE.perEvent)],
  ];
  const sum =
    per(cost.transitions) * PRICE.perTransition +
    per(writeUnits) * PRICE.perWriteUnit +
    per(readUnits) * PRICE.perReadUnit +
    per(count) * PRICE.perInvocation +
    per(gbSeconds) * PRICE.perGbSecond +
    per(cost.events) * PRICE.perEvent;
  rows.push(['total', '', `$${(sum * 100_000).toFixed(2)}`]);
  rows.push([
    'DynamoDB requests by operation, per rollout',
    Object.entries(cost.dynamo.operations)
      .map(([op, n]) => `${op} ${per(n).toFixed(1)}`)
      .join(', '),
    '',
  ]);
  rows.push([
    'Lambda invocations by function, per rollout',
    lambda
      .map(
        ([id, v]) =>
          `${id} ${per(v.count).toFixed(2)} x ${Math.round(cost.aloneMs.get(id) ?? v.ms / v.count)} ms`,
      )
      .join(', '),
    '',
  ]);
  return {
    title: `scale: cost in AWS per 100,000 release targets (${store}, counted over ${ROLLOUTS} rollouts)`,
    columns: ['measure', 'per rollout', 'USD per 100,000 targets'],
    rows,
  };
}

export async function benchScale(): Promise<BenchTable[]> {
  const resources = fleetResources(RESOURCES, ROLLOUTS);
  const results: { store: Store; rows: Row[]; cost: Cost }[] = [];
  for (const store of STORES) results.push({ store, ...(await benchStore(store, resources)) });
  // One table, a column per store; the rows are the same measures in the same order.
  const first = results[0]?.rows ?? [];
  const rows: Row[] = first.map(([measure], i) => [
    measure,
    ...results.map((r) => (r.rows[i]?.[0] === measure ? (r.rows[i]?.[1] ?? '') : 'n/a')),
  ]);
  return [
    { title: 'scale', columns: ['measure', ...results.map((r) => r.store)], rows },
    ...results.map((r) => costTable(r.store, r.cost)),
  ];
}
