import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalServer } from '../../infra/local/server';
import { runtime } from '../../shared/adapters/runtime';
import { keys } from '../../shared/adapters/store/keys';
import { FakeAgent } from '../helpers/agent';
import type { Client } from '../helpers/client';
import { startTestServer } from '../helpers/local';
import { versionView, waitSettled } from '../support/rollouts';

/**
 * Issue 8, crash windows the SIGKILL loop (kill-loop.test.ts) hits only now and then, replayed
 * deterministically: the table is left exactly as a kill between two writes of one step leaves it
 * (no execution of a finished release is re-run after a restart), then the rollout goes on.
 */
let server: LocalServer;
let admin: Client;
const agent = new FakeAgent();

beforeAll(async () => {
  await agent.start();
  ({ server, admin } = await startTestServer());
  for (const id of ['a-1', 'a-2'])
    await admin.put(`/v1/resources/${id}`, { kind: 'vm', name: id, metadata: { env: 'solo' } });
  await admin.put('/v1/environments/solo', { resourceSelector: "resource.metadata.env == 'solo'" });
});

afterAll(async () => {
  await server?.close();
  await agent.stop();
});

/** A deployment on `solo` with at most one target at a time, its v1 rolled out everywhere. */
async function deployedOneAtATime(id: string) {
  await admin.put(`/v1/deployments/${id}`, { jobAgent: { type: 'webhook', url: agent.url } });
  await admin.put(`/v1/policies/${id}-one-at-a-time`, {
    targets: `deployment.id == '${id}'`,
    rules: { concurrency: { maxParallel: 1 } },
  });
  await admin.post(`/v1/deployments/${id}/versions`, { tag: 'v1' });
  const v1 = await waitSettled(admin, id, 'v1', 2);
  expect(v1.releases.map((r) => r.status)).toEqual(['successful', 'successful']);
  await server.engine.idle();
}

/** What a kill leaves behind: the finished release `tag` on `resource` still in the slot set. */
async function leaveSlotHeld(id: string, tag: string, resource: string) {
  const rt = runtime();
  await rt.doc.send(
    new UpdateCommand({
      TableName: rt.tableName,
      Key: keys.concurrency(id, 'solo'),
      UpdateExpression: 'ADD holders :me',
      ExpressionAttributeValues: { ':me': new Set([`${id}#${tag}#solo#${resource}`]) },
    }),
  );
}

describe('a kill after a release finished, before it let go of its target and slot', () => {
  it('the next version on that target takes the lock over, and frees the slot for the others', async () => {
    await deployedOneAtATime('held-both');
    await leaveSlotHeld('held-both', 'v1', 'a-1');
    const rt = runtime();
    await rt.doc.send(
      new UpdateCommand({
        TableName: rt.tableName,
        Key: keys.target('held-both', 'solo', 'a-1'),
        UpdateExpression: 'SET activeTag = :v1',
        ExpressionAttributeValues: { ':v1': 'v1' },
      }),
    );

    await admin.post('/v1/deployments/held-both/versions', { tag: 'v2' });

    const v2 = await waitSettled(admin, 'held-both', 'v2', 2, 10_000);
    expect(v2.releases.map((r) => r.status)).toEqual(['successful', 'successful']);
  });
});

describe('a kill between letting go of the target lock and of the concurrency slot', () => {
  // Guards the crash window of shared/services/rollouts/lock.ts `releaseTargetLock`, which writes the target
  // lock, then the slot (shared/services/rollouts/gates.ts `releaseSlot`): a kill between the two leaves a
  // finished release in the slot set. `acquireSlot` takes out holders whose release is terminal, so
  // the next release gets the slot; without that, every later release of the deployment in that
  // environment would wait for `concurrency` forever (the SIGKILL loop once found this at seed 1).
  it('does not block the environment forever', async () => {
    await deployedOneAtATime('held-slot');
    await leaveSlotHeld('held-slot', 'v1', 'a-1');

    await admin.post('/v1/deployments/held-slot/versions', { tag: 'v2' });

    const v2 = await waitSettled(admin, 'held-slot', 'v2', 2, 6_000).catch(async (error: Error) => {
      const stuck = await versionView(admin, 'held-slot', 'v2');
      throw new Error(
        `${error.message.slice(0, 80)}: ${JSON.stringify(stuck.releases.map((r) => r.waitingFor))}`,
      );
    });
    expect(v2.releases.map((r) => r.status)).toEqual(['successful', 'successful']);
  });
});
