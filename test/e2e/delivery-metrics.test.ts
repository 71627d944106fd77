import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { handler as metricsConsumer } from '../../functions/events/metrics';
import { FUNCTIONS, type FunctionSpec } from '../../functions/registry';
import { runAs } from '../../infra/local/iam';
import type { LocalServer } from '../../infra/local/server';
import type { AuditRecord } from '../../shared/adapters/events';
import { runtime } from '../../shared/adapters/runtime';
import { bucketOf, bucketValue, MAX_RANGE_DAYS } from '../../shared/core/delivery';
import { recordOutcome } from '../../shared/services/delivery';
import { FakeAgent } from '../helpers/agent';
import { Client, eventually } from '../helpers/client';
import { startTestServer, TEST_KEYS } from '../helpers/local';

/**
 * Issue 19, delivery metrics (docs/api.md section 10), through the local server: releases succeed,
 * fail and roll back for real (a webhook agent that fails on demand), the event-metrics consumer
 * counts them as they arrive, and GET /v1/metrics/delivery answers the four measures from one Query.
 */
interface Metrics {
  deployment: string | null;
  environment: string | null;
  since: string;
  until: string;
  deploymentsPerDay: number;
  leadTimeSeconds: { p50: number | null; p90: number | null };
  changeFailureRate: number | null;
  timeToRestoreSeconds: { p50: number | null };
  counts: Record<string, number>;
}
interface Release {
  environment: string;
  status: string;
}

const LIMITED = { id: 'dora-reader', secret: 'dora-reader-secret-0123456789abcdef' };
const KEYS = [...TEST_KEYS, { ...LIMITED, scopes: ['read'], deployments: ['dora'] }];
const TERMINAL = ['successful', 'failed', 'rolled_back', 'cancelled', 'superseded'];

let server: LocalServer;
let admin: Client;
let as: (id: string) => Client;
const agent = new FakeAgent();
/** Deploy jobs the agent fails: `tag@environment`. */
const failing = new Set<string>();
/** Every outcome put on the bus, as the consumers got it. */
const outcomes: AuditRecord[] = [];
/** When CI says each version's commit was made. */
const committedAt: Record<string, string> = {};

const metrics = (query: string, client = admin) =>
  client.get<Metrics>(`/v1/metrics/delivery${query ? `?${query}` : ''}`);
const ago = (seconds: number) => new Date(Date.now() - seconds * 1000).toISOString();
const secondsBetween = (from: string, to: string) => Math.round((Date.parse(to) - Date.parse(from)) / 1000);
/** Percentiles are read from log-scale buckets: the bucket of the exact value (nearest rank). */
const percentileOf = (samples: number[], q: number) => {
  const sorted = [...samples].sort((a, b) => a - b);
  return bucketValue(bucketOf(sorted[Math.ceil(q * sorted.length) - 1] as number));
};

async function release(deployment: string, tag: string, ageSeconds: number): Promise<Release[]> {
  committedAt[tag] = ago(ageSeconds);
  const created = await admin.post(`/v1/deployments/${deployment}/versions`, {
    tag,
    metadata: { committedAt: committedAt[tag] },
  });
  expect(created.status).toBe(201);
  const done = await eventually(
    () => admin.get<{ releases: Release[] }>(`/v1/deployments/${deployment}/versions/${tag}`),
    (r) => r.body.releases?.length > 0 && r.body.releases.every((x) => TERMINAL.includes(x.status)),
    { timeoutMs: 20_000 },
  );
  await server.bus.flush();
  await server.engine.idle();
  return done.body.releases;
}

/** The schedule's run of event-metrics, as EventBridge invokes it, under its function's IAM policy. */
const rollUp = () =>
  runAs(FUNCTIONS.find((f) => f.id === 'event-metrics') as FunctionSpec, () =>
    metricsConsumer({ source: 'aws.events', 'detail-type': 'Scheduled Event', detail: {} }, {} as never),
  );

const outcome = (type: string, tag: string, environment: string) => {
  const found = outcomes.find(
    (o) => o.detailType === type && o.version === tag && o.environment === environment,
  );
  if (!found) throw new Error(`no ${type} of ${tag} in ${environment}`);
  return found;
};

beforeAll(async () => {
  await agent.start();
  agent.behaviour = (job) =>
    job.kind === 'deploy' && failing.has(`${job.version.tag}@${job.environment.id}`)
      ? 'failed'
      : 'successful';
  ({ server, admin, as } = await startTestServer({ apiKeys: JSON.stringify(KEYS) }));
  server.bus.tap = (event) => {
    const detail = event.detail as AuditRecord;
    if (detail.detailType?.startsWith('Release ')) outcomes.push(detail);
  };
  for (const env of ['dora-stg', 'dora-prod']) {
    await admin.put(`/v1/resources/${env}-1`, { kind: 'vm', name: `${env}-1`, metadata: { env } });
    await admin.put(`/v1/environments/${env}`, { resourceSelector: `resource.metadata.env == '${env}'` });
  }
  for (const deployment of ['dora', 'dora-b'])
    await admin.put(`/v1/deployments/${deployment}`, {
      environments: deployment === 'dora' ? ['dora-stg', 'dora-prod'] : ['dora-prod'],
      jobAgent: { type: 'webhook', url: agent.url },
    });
  // In production a failed deploy rolls back to the last good version; in staging it just fails.
  await admin.put('/v1/policies/dora-rollback', {
    targets: "environment.id == 'dora-prod'",
    rules: { rollback: { onJobFailure: true } },
  });
});

afterAll(async () => {
  await server?.close();
  await agent.stop();
});

describe('GET /v1/metrics/delivery', () => {
  it('counts successes, failures, rollbacks, lead times and a restore as the releases finish', async () => {
    // v1 everywhere; v2 rolls back in production; v3 restores production; v4 fails in staging.
    await release('dora', 'v1', 7200);
    failing.add('v2@dora-prod');
    const v2 = await release('dora', 'v2', 3600);
    expect(v2.map((r) => [r.environment, r.status]).sort()).toEqual([
      ['dora-prod', 'rolled_back'],
      ['dora-stg', 'successful'],
    ]);
    await new Promise((r) => setTimeout(r, 2000)); // production stays rolled back for a while
    await release('dora', 'v3', 1800);
    failing.add('v4@dora-stg');
    const v4 = await release('dora', 'v4', 600);
    expect(v4.map((r) => [r.environment, r.status]).sort()).toEqual([
      ['dora-prod', 'successful'],
      ['dora-stg', 'failed'],
    ]);
    await release('dora-b', 'b1', 300);

    // The samples, exactly as the audit trail has them.
    const lead = (tag: string, environment: string) =>
      secondsBetween(committedAt[tag] as string, outcome('Release Succeeded', tag, environment).time);
    const restore = secondsBetween(
      outcome('Release Rolled Back', 'v2', 'dora-prod').time,
      outcome('Release Succeeded', 'v3', 'dora-prod').time,
    );
    expect(restore).toBeGreaterThanOrEqual(2);

    const all = await metrics('deployment=dora');
    expect(all.status).toBe(200);
    expect(all.body.counts).toEqual({
      successful: 6,
      failed: 1,
      rolledBack: 1,
      finished: 8,
      restores: 1,
      leadTimes: 6,
      days: 30,
    });
    expect(all.body.changeFailureRate).toBe(0.25);
    expect(all.body.deploymentsPerDay).toBe(0.2);
    const leads = [
      lead('v1', 'dora-stg'),
      lead('v1', 'dora-prod'),
      lead('v2', 'dora-stg'),
      lead('v3', 'dora-stg'),
      lead('v3', 'dora-prod'),
      lead('v4', 'dora-prod'),
    ];
    expect(all.body.leadTimeSeconds).toEqual({
      p50: percentileOf(leads, 0.5),
      p90: percentileOf(leads, 0.9),
    });
    expect(all.body.leadTimeSeconds.p50).toBeGreaterThan(1600); // v3's half hour, not a version's creation
    expect(all.body.timeToRestoreSeconds).toEqual({ p50: bucketValue(bucketOf(restore)) });
    expect(all.body).toMatchObject({ deployment: 'dora', environment: null });

    const prod = await metrics('deployment=dora&environment=dora-prod');
    expect(prod.body.counts).toMatchObject({ successful: 3, failed: 0, rolledBack: 1, restores: 1 });
    expect(prod.body.changeFailureRate).toBe(0.25);
    const prodLeads = [lead('v1', 'dora-prod'), lead('v3', 'dora-prod'), lead('v4', 'dora-prod')];
    expect(prod.body.leadTimeSeconds.p50).toBe(percentileOf(prodLeads, 0.5));

    // Staging failed last: no restore yet.
    const stg = await metrics('deployment=dora&environment=dora-stg');
    expect(stg.body.counts).toMatchObject({ successful: 3, failed: 1, rolledBack: 0, restores: 0 });
    expect(stg.body.timeToRestoreSeconds.p50).toBeNull();

    // Without a deployment: every deployment's, as of the last rollup (the schedule's, every 5 minutes;
    // the local server ran it at its start, when nothing had happened).
    expect((await metrics('')).body.counts.finished).toBe(0);
    for (let run = 0; run < 2; run++) await rollUp(); // a repeated run counts nothing twice
    const everything = await metrics('');
    expect(everything.body.counts).toMatchObject({ successful: 7, failed: 1, rolledBack: 1, finished: 9 });
    expect(everything.body).toMatchObject({ deployment: null, environment: null });
    const production = await metrics('environment=dora-prod');
    expect(production.body.counts).toMatchObject({ successful: 4, rolledBack: 1 });
  }, 90_000);

  it('answers nulls where nothing finished, and whole UTC days', async () => {
    const empty = await metrics('deployment=nothing-here&since=2026-01-01&until=2026-01-07T12:00:00Z');
    expect(empty.status).toBe(200);
    expect(empty.body).toEqual({
      deployment: 'nothing-here',
      environment: null,
      since: '2026-01-01T00:00:00.000Z',
      until: '2026-01-08T00:00:00.000Z',
      deploymentsPerDay: 0,
      leadTimeSeconds: { p50: null, p90: null },
      changeFailureRate: null,
      timeToRestoreSeconds: { p50: null },
      counts: { successful: 0, failed: 0, rolledBack: 0, finished: 0, restores: 0, leadTimes: 0, days: 7 },
    });
  });

  it('reads one item a day with one Query, whatever the history', async () => {
    await server.bus.flush();
    await server.engine.idle();
    const today = new Date().toISOString().slice(0, 10);
    const before = await server.dynamoOperations();
    const reads = [
      `deployment=dora&since=${new Date(Date.now() - (MAX_RANGE_DAYS - 1) * 86_400_000).toISOString()}`,
      'deployment=dora&environment=dora-prod',
      `since=${today}`,
    ];
    for (const query of reads) expect((await metrics(query)).status).toBe(200);
    const after = await server.dynamoOperations();
    const used = Object.fromEntries(
      Object.entries(after)
        .map(([op, n]) => [op, n - (before[op] ?? 0)])
        .filter(([, n]) => n !== 0),
    );
    expect(used).toEqual({ Query: reads.length });
  });

  it('refuses a range it will not read with 400 in the contract shape', async () => {
    for (const query of [
      'since=2026-01-01&until=2026-04-03',
      'since=2026-02-02&until=2026-02-01',
      'since=yesterday',
      'until=2026-13-40',
      'deployment=Not_An_Id',
    ]) {
      const reply = await metrics(query);
      expect(reply.status, query).toBe(400);
      expect((reply.body as unknown as { error: { code: string } }).error.code).toBe('invalid_request');
    }
    const quarter = await metrics('since=2026-07-01&until=2026-09-30');
    expect(quarter.body.counts.days).toBe(92);
  });

  it('needs read, and keeps a key limited to some deployments to those', async () => {
    expect((await metrics('deployment=dora', as('reader'))).status).toBe(200);
    expect((await metrics('deployment=dora', as('agent'))).status).toBe(403);
    expect((await metrics('deployment=dora', new Client(server.url))).status).toBe(401);
    const limited = new Client(server.url, LIMITED);
    const own = await metrics('deployment=dora&environment=dora-prod', limited);
    expect(own.status).toBe(200);
    expect(own.body.counts.successful).toBe(3);
    expect((await metrics('deployment=dora-b', limited)).status).toBe(403);
    expect((await metrics('environment=dora-prod', limited)).status).toBe(403);
  });

  it('counts an outcome once however often it is delivered', async () => {
    const before = (await metrics('deployment=dora')).body.counts;
    const success = outcome('Release Succeeded', 'v3', 'dora-prod');
    const rollback = outcome('Release Rolled Back', 'v2', 'dora-prod');
    // EventBridge delivers at least once: the same events again, through the bus and its consumers.
    for (let i = 0; i < 2; i++)
      server.bus.handleJsonProtocol('AWSEvents.PutEvents', {
        Entries: [success, rollback].map((record) => ({
          Source: 'gantry',
          DetailType: record.detailType,
          Detail: JSON.stringify(record),
        })),
      });
    await server.bus.flush();
    expect(await recordOutcome(runtime(), success)).toBe('duplicate');
    expect((await metrics('deployment=dora')).body.counts).toEqual(before);

    // Another outcome (another audit record id) is counted: the check above could fail.
    expect(await recordOutcome(runtime(), { ...success, id: `${success.id}-again` })).toBe('counted');
    const after = (await metrics('deployment=dora')).body.counts;
    expect(after).toMatchObject({
      successful: (before.successful ?? 0) + 1,
      restores: (before.restores ?? 0) + 1,
    });
  });
});
