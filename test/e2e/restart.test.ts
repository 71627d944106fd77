import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FakeAgent, type ReceivedJob } from '../helpers/agent';
import { Client, eventually } from '../helpers/client';
import { ADMIN, TEST_KEYS } from '../helpers/local';
import { freePort, type ServerProcess, spawnServer } from '../helpers/process';

interface VersionView {
  releases: { resource: string; status: string; jobId: string | null }[];
}

const agent = new FakeAgent();
let current: ServerProcess | undefined;

afterAll(async () => {
  await current?.stop();
  await agent.stop();
});

/** The newest callback token an agent holds for each job id (a re-sent job carries a fresh one). */
function latestByJob(jobs: ReceivedJob[]): Map<string, ReceivedJob> {
  const latest = new Map<string, ReceivedJob>();
  for (const job of jobs) latest.set(job.jobId, job);
  return latest;
}

describe('kill -9 mid-rollout, then npm start on the same data dir', () => {
  it('finishes every rollout with exactly one job id per attempt', async () => {
    await agent.start();
    agent.behaviour = () => 'none';
    const dataDir = mkdtempSync(join(tmpdir(), 'gantry-restart-'));
    const port = await freePort();
    const env = { GANTRY_DATA_DIR: dataDir, GANTRY_API_KEYS: JSON.stringify(TEST_KEYS) };
    current = await spawnServer(env, port);
    const admin = new Client(current.url, ADMIN);

    const resources = Array.from({ length: 8 }, (_, i) => `node-${i}`);
    for (const id of resources)
      await admin.put(`/v1/resources/${id}`, { kind: 'vm', name: id, metadata: { env: 'prod' } });
    await admin.put('/v1/environments/prod', { resourceSelector: "resource.metadata.env == 'prod'" });
    await admin.put('/v1/deployments/web', { jobAgent: { type: 'webhook', url: agent.url } });
    expect((await admin.post('/v1/deployments/web/versions', { tag: 'v1' })).status).toBe(201);

    // First kill: right after the version was accepted, while executions are starting and dispatching.
    await current.kill9();
    current = await spawnServer(env, port);
    const view = () => admin.get<VersionView>('/v1/deployments/web/versions/v1');
    await eventually(
      view,
      (r) => r.body.releases.length === 8 && r.body.releases.every((x) => x.status === 'deploying'),
    );
    await eventually(
      async () => latestByJob(agent.jobs).size,
      (n) => n === 8,
    );

    // Report half, then kill again while the other half waits for callbacks.
    const firstHalf = [...latestByJob(agent.jobs).values()].slice(0, 4);
    for (const job of firstHalf) expect((await agent.report(job, 'successful')).status).toBe(200);
    await current.kill9();
    current = await spawnServer(env, port);

    for (const job of latestByJob(agent.jobs).values()) {
      if (firstHalf.some((j) => j.jobId === job.jobId)) continue;
      const reply = await agent.report(job, 'successful');
      expect(reply.status).toBe(200);
    }
    const done = await eventually(view, (r) => r.body.releases.every((x) => x.status === 'successful'));
    expect(done.body.releases).toHaveLength(8);

    // One job id per release attempt, whatever was re-sent after the kills.
    const idsByResource = new Map<string, Set<string>>();
    for (const job of agent.jobs) {
      const ids = idsByResource.get(job.resource.id) ?? new Set<string>();
      ids.add(job.jobId);
      idsByResource.set(job.resource.id, ids);
    }
    expect([...idsByResource.keys()].sort()).toEqual([...resources].sort());
    for (const ids of idsByResource.values()) expect(ids.size).toBe(1);
    for (const release of done.body.releases)
      expect(idsByResource.get(release.resource)).toContain(release.jobId);
  }, 120_000);
});
