import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalServer } from '../../infra/local/server';
import { FakeAgent } from '../helpers/agent';
import { type Client, eventually } from '../helpers/client';
import { startTestServer } from '../helpers/local';
import { waitSettled } from '../support/rollouts';

/**
 * An on-demand rollback is a release whose own job is of kind `rollback`. When that job fails and the
 * policy rolls back on job failure, the automatic rollback must be a job of its own, not the failed one
 * found again under the same id.
 */

let server: LocalServer;
let admin: Client;
const agent = new FakeAgent();

beforeAll(async () => {
  await agent.start();
  ({ server, admin } = await startTestServer());
  await admin.put('/v1/resources/r1', { kind: 'vm', name: 'r1', metadata: {} });
  await admin.put('/v1/environments/prod', { resourceSelector: 'true' });
  expect(
    (await admin.put('/v1/deployments/app', { jobAgent: { type: 'webhook', url: agent.url } })).status,
  ).toBe(201);
  await admin.put('/v1/policies/undo', { targets: 'true', rules: { rollback: { onJobFailure: true } } });
});

afterAll(async () => {
  await server?.close();
  await agent.stop();
});

describe('an on-demand rollback whose job fails', () => {
  it('is rolled back by a job of its own, to the version the target ran', async () => {
    for (const tag of ['v1', 'v2']) {
      await admin.post('/v1/deployments/app/versions', { tag });
      expect((await waitSettled(admin, 'app', tag, 1)).releases[0]?.status).toBe('successful');
    }
    agent.behaviour = (job) =>
      job.kind === 'rollback' && job.version.tag === 'v1' ? 'failed' : 'successful';

    const reply = await admin.post<{ jobId: string }>('/v1/release-targets/rollback', {
      deployment: 'app',
      environment: 'prod',
      resource: 'r1',
      toVersion: 'v1',
    });
    expect(reply.status).toBe(202);

    const back = await eventually(
      async () => agent.jobs.find((j) => j.kind === 'rollback' && j.version.tag === 'v2'),
      (job) => job !== undefined,
      { timeoutMs: 15_000 },
    );
    expect(back?.jobId).not.toBe(reply.body.jobId);
    expect(agent.jobs.find((j) => j.jobId === reply.body.jobId)?.version.tag).toBe('v1');
    const targets = await eventually(
      () =>
        admin.get<{ items: { currentVersion: string; status: string }[] }>(
          '/v1/release-targets?deployment=app',
        ),
      (r) => r.body.items[0]?.currentVersion === 'v2' && r.body.items[0]?.status !== 'rolling_back',
    );
    expect(targets.body.items[0]?.currentVersion).toBe('v2');
  });
});
