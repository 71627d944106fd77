import { mkdtempSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Client } from '../helpers/client';
import { ADMIN, TEST_KEYS } from '../helpers/local';
import { freePort, type ServerProcess, spawnServer } from '../helpers/process';
import {
  allEvents,
  countBy,
  isSettled,
  seededRandom,
  type VersionView,
  versionView,
} from '../support/rollouts';

/**
 * Issue 8, the SIGKILL loop (docs/api.md section 9: "A rollout in flight when the server is killed
 * continues after the restart, with no release lost and no second job for an attempt"). A scripted
 * rollout (6 targets, 3 versions one after the other, a gradual rollout of one target every 4 s, an
 * agent that answers after a random delay) runs against `npm start` in a
 * child process on one data dir, which is killed with SIGKILL at random points at least 20 times and
 * started again each time; then it is left to finish. The schedule comes from a seeded generator
 * (KILL_LOOP_SEED to replay one). Then a restart under GANTRY_TIME_SCALE, which the loop found.
 */
const SEED = Number(process.env.KILL_LOOP_SEED ?? 20261121);
const KILLS = Number(process.env.KILL_LOOP_KILLS ?? 20);
const RESOURCES = Array.from({ length: 6 }, (_, i) => `node-${i + 1}`);
const TAGS = ['v1', 'v2', 'v3'];
const random = seededRandom(SEED);
const between = (min: number, max: number) => Math.round(min + random() * (max - min));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Delivery {
  jobId: string;
  kind: string;
  tag: string;
  resource: string;
  receivedAt: number;
}

/**
 * A job agent as the contract asks for: it de-duplicates by job id (a re-sent job is not deployed
 * again, its fresh callback token replaces the old one) and reports each job once it is done,
 * retrying through the server's restarts until the report is accepted.
 */
class PatientAgent {
  readonly deliveries: Delivery[] = [];
  /** jobId -> the newest callback and whether its report was accepted. */
  readonly jobs = new Map<string, { url: string; token: string; reported: boolean; reporting: boolean }>();
  readonly reportStatuses: number[] = [];
  /** Reports that found the server down (connection refused or reset). */
  refused = 0;
  /** Record jobs but never report them. */
  hold = false;
  private server?: Server;
  private stopped = false;
  url = '';

  async start(): Promise<this> {
    this.server = createServer(async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      const job = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
        jobId: string;
        kind: string;
        version: { tag: string };
        resource: { id: string };
        callback: { url: string; token: string };
      };
      this.deliveries.push({
        jobId: job.jobId,
        kind: job.kind,
        tag: job.version.tag,
        resource: job.resource.id,
        receivedAt: Date.now(),
      });
      const known = this.jobs.get(job.jobId);
      if (known) {
        known.token = job.callback.token;
        known.url = job.callback.url;
      } else {
        this.jobs.set(job.jobId, { ...job.callback, reported: false, reporting: false });
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      const entry = this.jobs.get(job.jobId);
      if (entry && !entry.reporting && !this.hold) {
        entry.reporting = true;
        // The "deployment" takes a while, then the agent reports until the report is accepted.
        void sleep(between(50, 1500)).then(() => this.report(job.jobId));
      }
    });
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/jobs`;
    return this;
  }

  private async report(jobId: string): Promise<void> {
    const entry = this.jobs.get(jobId);
    if (!entry) return;
    // Bounded: at most ~2 minutes of retries, and never after the test stopped the agent.
    for (let attempt = 0; attempt < 1200 && !this.stopped; attempt++) {
      try {
        const res = await fetch(entry.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${entry.token}` },
          body: JSON.stringify({ status: 'successful' }),
          signal: AbortSignal.timeout(5_000),
        });
        await res.text();
        this.reportStatuses.push(res.status);
        if (res.status === 200) {
          entry.reported = true;
          entry.reporting = false;
          return;
        }
        // 401: the server re-sent the job with a fresh token meanwhile; 5xx: retry as well.
      } catch {
        // the server is down: try again once it is back
        this.refused++;
      }
      await sleep(100);
    }
    entry.reporting = false;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    const server = this.server;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

const agent = new PatientAgent();
let current: ServerProcess | undefined;

afterAll(async () => {
  await current?.stop();
  await agent.stop();
});

/**
 * Sends a write until the server answers it (it may be down, or die mid-request) and returns the
 * status. Each attempt is signed afresh in a second of its own (docs/api.md section 2: a retried write is
 * signed again; two identical writes in one second would share a signature and the second would be
 * a replay), so a 401 here is a real failure, recorded with the 5xx ones.
 */
let lastSignedSecond = 0;
async function untilAnswered(client: Client, path: string, body: unknown, errors: string[]): Promise<number> {
  for (let attempt = 0; attempt < 120; attempt++) {
    let second = Math.floor(Date.now() / 1000);
    if (second <= lastSignedSecond) {
      await sleep((lastSignedSecond + 1) * 1000 - Date.now() + 5);
      second = Math.floor(Date.now() / 1000);
    }
    lastSignedSecond = second;
    try {
      const reply = await client.request('POST', path, body, { now: second * 1000 + 500 });
      if (reply.status >= 500 || reply.status === 401) errors.push(`${reply.status} ${reply.text}`);
      else return reply.status;
    } catch {
      // connection refused or reset: the server is being killed or restarted
    }
  }
  throw new Error(`The server never answered POST ${path}`);
}

describe(`SIGKILL at random points of a scripted rollout (seed ${SEED})`, () => {
  it('every release ends as what happened, with one job id per attempt', async () => {
    await agent.start();
    const dataDir = mkdtempSync(join(tmpdir(), 'gantry-kill-loop-'));
    const port = await freePort();
    const env = {
      GANTRY_DATA_DIR: dataDir,
      GANTRY_API_KEYS: JSON.stringify(TEST_KEYS),
      GANTRY_LOG_LEVEL: 'ERROR',
    };
    current = await spawnServer(env, port);
    const admin = new Client(current.url, ADMIN);
    for (const id of RESOURCES)
      await admin.put(`/v1/resources/${id}`, { kind: 'vm', name: id, metadata: { env: 'prod' } });
    await admin.put('/v1/environments/prod', { resourceSelector: "resource.metadata.env == 'prod'" });
    await admin.put('/v1/deployments/web', { jobAgent: { type: 'webhook', url: agent.url } });
    // Releases wait in Wait states (one target every 4 s) across the kills, so some get superseded.
    await admin.put('/v1/policies/one-by-one', {
      targets: "deployment.id == 'web'",
      rules: { gradualRollout: { intervalSeconds: 4 } },
    });

    // The script: the three versions, one after the other, while the server keeps dying.
    let kills = 0;
    const serverErrors: string[] = [];
    const created: Record<string, number> = {};
    const script = (async () => {
      for (const [i, tag] of TAGS.entries()) {
        while (kills < Math.floor((i * KILLS) / TAGS.length)) await sleep(50);
        created[tag] = await untilAnswered(
          admin,
          '/v1/deployments/web/versions',
          { tag, metadata: { commit: tag } },
          serverErrors,
        );
      }
    })();

    // The kill loop: SIGKILL after a random uptime, start again on the same data dir.
    const started = Date.now();
    while (kills < KILLS || Object.keys(created).length < TAGS.length) {
      await sleep(between(100, 1200));
      await current.kill9();
      kills++;
      current = await spawnServer(env, port);
      if (kills > KILLS + 15) break;
    }
    await script;
    const killPhaseMs = Date.now() - started;

    // Left alone, everything finishes.
    const views: VersionView[] = [];
    const until = Date.now() + 30_000;
    for (const tag of TAGS) {
      for (;;) {
        const view = await versionView(admin, 'web', tag);
        if (isSettled(view, RESOURCES.length)) {
          views.push(view);
          break;
        }
        if (Date.now() > until)
          throw new Error(
            `${tag} did not finish: ${JSON.stringify(view.releases)} (create answered ${JSON.stringify(created)}, errors ${JSON.stringify(serverErrors)})\n${current.output().slice(-3000)}`,
          );
        await sleep(100);
      }
    }
    const events = await allEvents(admin, 'web');
    const byJob = countBy(agent.deliveries, (d) => d.jobId);
    console.log(
      `[kill-loop] seed ${SEED}: ${kills} kills in ${(killPhaseMs / 1000).toFixed(1)} s; ` +
        `${agent.deliveries.length} deliveries of ${byJob.size} jobs (${[...byJob.values()].filter((n) => n > 1).length} re-sent); ` +
        `statuses ${views.map((v) => `${v.version.tag} ${JSON.stringify(Object.fromEntries(countBy(v.releases, (r) => r.status)))}`).join(', ')}; ` +
        `report answers ${JSON.stringify(Object.fromEntries(countBy(agent.reportStatuses, String)))}, ${agent.refused} refused`,
    );

    expect(kills).toBeGreaterThanOrEqual(KILLS);
    expect(Object.values(created).every((s) => s === 200 || s === 201)).toBe(true);
    expect(serverErrors).toEqual([]);
    const [v1, v2, v3] = views as [VersionView, VersionView, VersionView];
    // The newest version lands everywhere; the older ones either landed first or were superseded.
    expect(v3.releases.map((r) => r.status)).toEqual(RESOURCES.map(() => 'successful'));
    for (const view of [v1, v2])
      for (const release of view.releases)
        expect(['successful', 'superseded'], `${view.version.tag}/${release.resource}`).toContain(
          release.status,
        );
    const targets = await admin.get<{ items: { resource: string; currentVersion: string }[] }>(
      '/v1/release-targets?deployment=web',
    );
    expect(targets.body.items.map((t) => t.currentVersion)).toEqual(RESOURCES.map(() => 'v3'));

    for (const view of views) {
      expect(view.releases.map((r) => r.resource).sort()).toEqual(RESOURCES);
      for (const release of view.releases) {
        const what = `${view.version.tag}/${release.resource}`;
        const delivered = agent.deliveries.filter(
          (d) => d.tag === view.version.tag && d.resource === release.resource,
        );
        const ids = new Set(delivered.map((d) => d.jobId));
        // One job per attempt, whatever was re-sent across the kills (re-sends keep the job id).
        expect(ids.size, what).toBeLessThanOrEqual(1);
        if (release.status === 'successful') {
          expect([...ids], what).toEqual([release.jobId]);
          expect(agent.jobs.get(release.jobId ?? '')?.reported, what).toBe(true);
        } else {
          // Superseded before dispatch: no agent ever heard of it.
          expect(delivered, what).toEqual([]);
          expect(release.jobId, what).toBeNull();
        }
      }
    }
    // At most one active rollout per target: its jobs arrive in version order, never interleaved.
    for (const resource of RESOURCES) {
      const order = agent.deliveries.filter((d) => d.resource === resource).map((d) => d.tag);
      expect(order, resource).toEqual([...order].sort());
    }
    // Nothing completed twice.
    const succeeded = countBy(
      events.filter((e) => e.detailType === 'Release Succeeded'),
      (e) => `${e.version}/${e.resource}`,
    );
    for (const [release, count] of succeeded) expect(count, release).toBe(1);
    await current.stop();
    current = undefined;
  }, 150_000);
});

/**
 * Issue 15: SIGKILL in the middle of a large fan-out and of a large reconciliation (both run off the
 * request as work advanced chunk by chunk). The version over FLEET targets is created, then the
 * environment grows by half; the server is killed during each. Nothing may be lost (every target
 * ends with a successful release) and nothing doubled (one job id per target, one success each).
 */
const FLEET = Number(process.env.KILL_LOOP_RECONCILE_TARGETS ?? 5000);
/** Time to settle after the last kill: about 25 rollouts a second here, with room for a loaded machine. */
const SETTLE_MS = Math.max(240_000, FLEET * 150);

describe(`SIGKILL during a ${FLEET}-target fan-out and a ${FLEET / 2}-target reconciliation`, () => {
  it(
    'loses no release and doubles no job',
    async () => {
      const fleetAgent = new PatientAgent();
      await fleetAgent.start();
      const dataDir = mkdtempSync(join(tmpdir(), 'gantry-kill-reconcile-'));
      const port = await freePort();
      const env = {
        GANTRY_DATA_DIR: dataDir,
        GANTRY_API_KEYS: JSON.stringify(TEST_KEYS),
        GANTRY_LOG_LEVEL: 'ERROR',
      };
      await current?.stop();
      current = await spawnServer(env, port);
      const admin = new Client(current.url, ADMIN);
      try {
        const node = (i: number, group: string) => ({
          id: `${group}-${i}`,
          kind: 'vm',
          name: `${group}-${i}`,
          metadata: { group },
        });
        const resources = [
          ...Array.from({ length: FLEET }, (_, i) => node(i, 'first')),
          ...Array.from({ length: FLEET / 2 }, (_, i) => node(i, 'later')),
        ];
        expect((await admin.post('/v1/resource-providers/fleet/sync', { resources })).status).toBe(200);
        await admin.put('/v1/environments/fleet', { resourceSelector: "resource.metadata.group == 'first'" });
        await admin.put('/v1/deployments/fleet', { jobAgent: { type: 'webhook', url: fleetAgent.url } });
        const errors: string[] = [];
        const killDuring = async (times: number) => {
          for (let i = 0; i < times; i++) {
            await sleep(between(300, 1500));
            await current?.kill9();
            current = await spawnServer(env, port);
          }
        };

        const created = await untilAnswered(admin, '/v1/deployments/fleet/versions', { tag: 'v1' }, errors);
        expect(created).toBe(201);
        await killDuring(3);
        let grown = 0;
        for (let attempt = 0; attempt < 20 && grown === 0; attempt++) {
          try {
            grown = (
              await admin.put('/v1/environments/fleet', {
                resourceSelector: "resource.metadata.group in ['first', 'later']",
              })
            ).status;
          } catch {
            await sleep(200);
          }
        }
        expect(grown).toBe(200);
        await killDuring(3);

        const total = FLEET + FLEET / 2;
        // The summary alone while waiting (one release a page), every release once settled.
        let summary: VersionView['summary'] = {};
        for (const until = Date.now() + SETTLE_MS; Date.now() < until; await sleep(1000)) {
          const reply = await admin.get<VersionView>('/v1/deployments/fleet/versions/v1?limit=1');
          if (reply.status !== 200)
            throw new Error(`${reply.status} ${reply.text}\n${current?.output().slice(-4000)}`);
          summary = reply.body.summary;
          if (isSettled(reply.body, total)) break;
        }
        expect(isSettled({ summary }, total), JSON.stringify(summary)).toBe(true);
        const { releases } = await versionView(admin, 'fleet', 'v1');
        expect(new Set(releases.map((r) => r.resource)).size).toBe(total);
        expect(releases.filter((r) => r.status !== 'successful')).toEqual([]);
        const jobsPerTarget = countBy(
          [...new Map(fleetAgent.deliveries.map((d) => [d.jobId, d])).values()],
          (d) => d.resource,
        );
        expect(jobsPerTarget.size).toBe(total);
        expect([...jobsPerTarget.values()].filter((n) => n > 1)).toEqual([]);
        const succeeded = countBy(
          (await allEvents(admin, 'fleet')).filter((e) => e.detailType === 'Release Succeeded'),
          (e) => `${e.version}/${e.resource}`,
        );
        expect(succeeded.size).toBe(total);
        expect([...succeeded.values()].every((n) => n === 1)).toBe(true);
        expect(errors).toEqual([]);
      } finally {
        await fleetAgent.stop();
        await current?.stop();
        current = undefined;
      }
    },
    SETTLE_MS + 180_000,
  );
});

describe('a restart of a server running with GANTRY_TIME_SCALE=60', () => {
  // Guards the scaled clock across restarts: the server keeps its origin in <data dir>/clock.json
  // (infra/local/server.ts `clockOrigin`), so the clock goes on from where it was. Were it to restart
  // at the real time, it would run behind the timestamps the previous run wrote (60x its uptime
  // ahead), and since versions are ordered by `createdAt` (shared/services/rollouts/lock.ts `isNewer`), a
  // version created after the restart would count as older and be superseded (the SIGKILL loop once
  // found this at seed 1: v3 superseded everywhere, v2 deployed).
  it('a version created after the restart is newer than one created before it', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'gantry-scaled-restart-'));
    const port = await freePort();
    const env = {
      GANTRY_DATA_DIR: dataDir,
      GANTRY_API_KEYS: JSON.stringify(TEST_KEYS),
      GANTRY_LOG_LEVEL: 'ERROR',
      GANTRY_TIME_SCALE: '60',
    };
    await current?.stop();
    current = undefined;
    const holding = new PatientAgent();
    holding.hold = true;
    await holding.start();
    try {
      current = await spawnServer(env, port);
      const admin = new Client(current.url, ADMIN);
      await admin.put('/v1/resources/solo', { kind: 'vm', name: 'solo', metadata: { env: 'prod' } });
      await admin.put('/v1/environments/prod', { resourceSelector: "resource.metadata.env == 'prod'" });
      await admin.put('/v1/deployments/api', { jobAgent: { type: 'webhook', url: holding.url } });
      // Three real seconds of uptime: three minutes of service time.
      await sleep(3_000);
      expect((await admin.post('/v1/deployments/api/versions', { tag: 'v1' })).status).toBe(201);
      for (let i = 0; i < 100 && holding.deliveries.length === 0; i++) await sleep(100);
      expect(holding.deliveries).toHaveLength(1);

      await current.kill9();
      current = await spawnServer(env, port);
      expect((await admin.post('/v1/deployments/api/versions', { tag: 'v2' })).status).toBe(201);

      // v2 waits for v1's dispatched job (docs/api.md section 4), then deploys: it is never superseded.
      await sleep(1_000);
      const v2 = await versionView(admin, 'api', 'v2');
      expect(v2.releases.map((r) => r.status)).not.toContain('superseded');
      const versions = await admin.get<{ items: { tag: string; createdAt: string }[] }>(
        '/v1/deployments/api/versions',
      );
      expect(versions.body.items.map((v) => v.tag)).toEqual(['v2', 'v1']);
    } finally {
      await holding.stop();
    }
  }, 60_000);
});
