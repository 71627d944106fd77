import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalServer } from '../../infra/local/server';
import type { Client } from '../helpers/client';
import {
  allReleases,
  environmentSelector,
  FLEET_ENVIRONMENTS,
  fleetResources,
  listAll,
  RecordingAgent,
  syncPages,
  type TargetView,
  type Timed,
  timed,
  until,
  versionSummary,
} from '../helpers/fleet';
import { startTestServer } from '../helpers/local';

/**
 * Issue 15, "Done means": the shortened scale test of CI. At 5,000 resources every write answers in
 * under 3 s (the work it causes runs off the request), a rollout to 1,000 targets loses nothing and
 * doubles nothing, and a selector change gives appearing targets the newest version and cancels the
 * unfinished rollouts of disappearing ones. The full figures come from `npx tsx bench/run.ts scale`.
 */
const RESOURCES = 5_000;
const ROLLOUTS = 1_000;
const WRITE_LIMIT_MS = 3_000;
const resources = fleetResources(RESOURCES, ROLLOUTS);

/** Ring 1 of e0 leaves e0 and ring 1 of e1 joins it. */
const CHANGED_SELECTOR =
  "(resource.metadata.env == 'e0' && resource.metadata.ring != '1') || (resource.metadata.env == 'e1' && resource.metadata.ring == '1')";
const ringOne = (env: string, rack?: string) =>
  resources
    .filter((r) => r.metadata.ring === '1' && r.metadata.env === env && (!rack || r.metadata.rack === rack))
    .map((r) => r.id)
    .sort();

let server: LocalServer;
let admin: Client;
const agent = new RecordingAgent();
/** Every config write and version create, with its answer time. */
const writes: { call: string; status: number; ms: number }[] = [];

async function write(method: 'PUT' | 'POST', path: string, body: unknown) {
  const t = await timed(() => admin.request<Record<string, unknown>>(method, path, body));
  writes.push({ call: `${method} ${path}`, status: t.reply.status, ms: Math.round(t.ms) });
  return t;
}

/** The writes since `from` (an index into `writes`) that took longer than the limit. */
const slow = (from: number) => writes.slice(from).filter((w) => w.ms > WRITE_LIMIT_MS);

/** Deploy jobs per `environment/resource` of one version. */
function deployJobs(deployment: string, tag: string): Map<string, string[]> {
  const jobs = new Map<string, string[]>();
  for (const job of agent.jobs) {
    if (job.deployment !== deployment || job.tag !== tag || job.kind !== 'deploy') continue;
    const key = `${job.environment}/${job.resource}`;
    jobs.set(key, [...(jobs.get(key) ?? []), job.jobId]);
  }
  return jobs;
}

beforeAll(async () => {
  await agent.start();
  // DynamoDB in a process of its own, as `npm start` runs it.
  ({ server, admin } = await startTestServer({ dynamoProcess: true }));
});

afterAll(async () => {
  await server?.close();
  await agent.stop();
});

describe('fleet scale, shortened for CI (issue 15)', () => {
  it('a provider sync of 5,000 resources in pages: every page answers in under 3 s', {
    timeout: 60_000,
  }, async () => {
    const from = writes.length;
    const pages = syncPages(resources);
    expect(pages.length).toBeGreaterThan(1);
    let last: Timed<Record<string, unknown>> | undefined;
    for (const [i, page] of pages.entries()) {
      last = await write('POST', '/v1/resource-providers/fleet/sync', {
        resources: page,
        page: { session: 'ci-scale', final: i === pages.length - 1 },
      });
      expect(last.reply.status, last.reply.text.slice(0, 300)).toBe(200);
    }
    expect(last?.reply.body).toMatchObject({ created: RESOURCES, deleted: 0 });
    expect(slow(from)).toEqual([]);
  });

  it('every environment and deployment write answers in under 3 s', { timeout: 120_000 }, async () => {
    const from = writes.length;
    for (const env of FLEET_ENVIRONMENTS) {
      const t = await write('PUT', `/v1/environments/${env}`, { resourceSelector: environmentSelector(env) });
      expect(t.reply.status).toBe(201);
    }
    const jobAgent = { type: 'webhook', url: agent.url };
    const deployments = {
      // 1,000 targets, rolled out by the instant agent.
      edge: { resourceSelector: "resource.metadata.ring == '1'", jobAgent },
      // 5,000 targets, with a building version.
      fleet: { jobAgent },
      // 200 targets in e0 and e1, paused so that their rollouts are unfinished when e0 changes.
      held: {
        resourceSelector: "resource.metadata.ring == '1' && resource.metadata.rack == '0'",
        environments: ['e0', 'e1'],
        jobAgent,
      },
    };
    for (const [id, body] of Object.entries(deployments)) {
      const t = await write('PUT', `/v1/deployments/${id}`, body);
      expect(t.reply.status).toBe(201);
    }

    expect(slow(from)).toEqual([]);
  });

  it('a version over 5,000 targets is created in under 3 s, answering its count and the first 1,000', {
    timeout: 60_000,
  }, async () => {
    const from = writes.length;
    const t = await write('POST', '/v1/deployments/fleet/versions', { tag: 'b1', status: 'building' });

    expect(t.reply.status, t.reply.text.slice(0, 300)).toBe(201);
    expect(t.reply.body.releaseTargetCount).toBe(RESOURCES);
    expect(t.reply.body.releaseTargets).toHaveLength(1_000);
    expect(slow(from)).toEqual([]);
  });

  it('a rollout to 1,000 targets ends successful on every one, with exactly one deploy job each', {
    timeout: 180_000,
  }, async () => {
    const from = writes.length;
    const t = await write('POST', '/v1/deployments/edge/versions', { tag: 'v1' });
    expect(t.reply.status, t.reply.text.slice(0, 300)).toBe(201);
    expect(t.reply.body.releaseTargetCount).toBe(ROLLOUTS);

    const done = await until(
      () => versionSummary(admin, 'edge', 'v1'),
      (s) => (s.successful ?? 0) === ROLLOUTS,
      { timeoutMs: 150_000, intervalMs: 1_000 },
    );

    const agentSaw = `jobs sent ${agent.jobs.length}, called back ${agent.callbacks}, callbacks given up (last answer) ${JSON.stringify(agent.lostCallbacks)}`;
    expect(done.value, agentSaw).toEqual({ successful: ROLLOUTS });
    const jobs = deployJobs('edge', 'v1');
    expect(jobs.size).toBe(ROLLOUTS);
    expect([...jobs].filter(([, ids]) => ids.length !== 1)).toEqual([]);
    expect(slow(from)).toEqual([]);
  });

  it("a selector change gives appearing targets the newest version and cancels disappearing targets' unfinished rollouts", {
    timeout: 180_000,
  }, async () => {
    const from = writes.length;
    // Prepare: held's 200 rollouts wait at dispatch, unfinished.
    expect((await admin.post('/v1/deployments/held/pause')).status).toBe(200);
    expect((await write('POST', '/v1/deployments/held/versions', { tag: 'v1' })).reply.status).toBe(201);
    const waiting = await until(
      () => versionSummary(admin, 'held', 'v1'),
      (s) => (s.waiting ?? 0) === 200,
      { timeoutMs: 60_000, intervalMs: 500 },
    );
    expect(waiting.value).toEqual({ waiting: 200 });

    // Act
    const t = await write('PUT', '/v1/environments/e0', { resourceSelector: CHANGED_SELECTOR });

    // Assess: the answer was quick; edge's appearing targets get v1, its disappearing ones leave.
    expect(t.reply.status).toBe(200);
    expect(slow(from)).toEqual([]);
    const appearing = ringOne('e1');
    const disappearing = ringOne('e0');
    const listed = await until(
      () => listAll<TargetView>(admin, '/v1/release-targets?deployment=edge&environment=e0'),
      (items) =>
        items
          .map((i) => i.resource)
          .sort()
          .join() === appearing.join() && items.every((i) => i.currentVersion === 'v1'),
      { timeoutMs: 120_000, intervalMs: 1_000 },
    );
    expect(listed.value.map((i) => i.resource).sort()).toEqual(appearing);
    expect(listed.value.filter((i) => i.currentVersion !== 'v1')).toEqual([]);
    const edgeJobs = deployJobs('edge', 'v1');
    for (const id of appearing) expect(edgeJobs.get(`e0/${id}`), `e0/${id}`).toHaveLength(1);
    for (const id of disappearing) expect(edgeJobs.get(`e0/${id}`), `e0/${id}`).toHaveLength(1);

    // held: the unfinished rollouts of the 100 disappearing targets are cancelled, the 100
    // appearing ones wait like the rest, then all deploy once resumed.
    const heldGone = new Set(ringOne('e0', '0'));
    const heldNew = new Set(ringOne('e1', '0'));
    const cancelled = await until(
      () => allReleases(admin, 'held', 'v1'),
      (releases) =>
        releases.filter((r) => r.environment === 'e0' && heldGone.has(r.resource) && r.status === 'cancelled')
          .length === heldGone.size &&
        releases.filter((r) => r.environment === 'e0' && heldNew.has(r.resource)).length === heldNew.size,
      { timeoutMs: 60_000, intervalMs: 1_000 },
    );
    const e0 = cancelled.value.filter((r) => r.environment === 'e0');
    expect(e0.filter((r) => heldGone.has(r.resource)).map((r) => r.status)).toEqual(
      Array(heldGone.size).fill('cancelled'),
    );
    expect(e0.filter((r) => heldNew.has(r.resource)).every((r) => r.status === 'waiting')).toBe(true);

    expect((await admin.post('/v1/deployments/held/resume')).status).toBe(200);
    const resumed = await until(
      () => versionSummary(admin, 'held', 'v1'),
      (s) => (s.successful ?? 0) === 200,
      { timeoutMs: 60_000, intervalMs: 1_000 },
    );
    expect(resumed.value).toEqual({ successful: 200, cancelled: 100 });
    const heldJobs = deployJobs('held', 'v1');
    expect(heldJobs.size).toBe(200);
    expect([...heldJobs].filter(([, ids]) => ids.length !== 1)).toEqual([]);
    for (const id of heldGone) expect(heldJobs.has(`e0/${id}`), `e0/${id} got a job`).toBe(false);
  });
});
