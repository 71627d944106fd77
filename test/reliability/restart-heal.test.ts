import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type LocalServer, startLocalServer } from '../../infra/local/server';
import { runtime } from '../../shared/adapters/runtime';
import { putVersionIfAbsent } from '../../shared/adapters/store/rollouts';
import { isoNow } from '../../shared/core/clock';
import { VersionBody } from '../../shared/core/schemas/rollouts';
import { bodyHashOf } from '../../shared/services/rollouts/versions';
import { FakeAgent } from '../helpers/agent';
import { Client, eventually } from '../helpers/client';
import { ADMIN, TEST_KEYS } from '../helpers/local';

/** The crash window between writing a version and writing its releases, healed on the next start. */
const agent = new FakeAgent();
let server: LocalServer | undefined;

afterAll(async () => {
  await server?.close();
  await agent.stop();
});

describe('a version written without its releases (a crash in between)', () => {
  it('gets its releases and rollouts when the local runtime starts again', async () => {
    await agent.start();
    const dataDir = mkdtempSync(join(tmpdir(), 'gantry-heal-'));
    const start = () => startLocalServer({ port: 0, dataDir, apiKeys: JSON.stringify(TEST_KEYS) });
    server = await start();
    let admin = new Client(server.url, ADMIN);
    for (const id of ['h-1', 'h-2'])
      await admin.put(`/v1/resources/${id}`, { kind: 'vm', name: id, metadata: { env: 'prod' } });
    await admin.put('/v1/environments/prod', { resourceSelector: "resource.metadata.env == 'prod'" });
    await admin.put('/v1/deployments/heal', { jobAgent: { type: 'webhook', url: agent.url } });

    // What a crash right after the version's write leaves behind: the version, no release.
    const body = VersionBody.parse({ tag: 'v1' });
    const now = isoNow();
    await putVersionIfAbsent(runtime(), {
      deployment: 'heal',
      tag: 'v1',
      status: 'ready',
      metadata: {},
      config: {},
      bodyHash: bodyHashOf(body),
      createdAt: now,
      updatedAt: now,
    });
    expect(
      (await admin.get<{ releases: unknown[] }>('/v1/deployments/heal/versions/v1')).body.releases,
    ).toEqual([]);
    await server.close();

    agent.behaviour = () => 'successful';
    server = await start();
    admin = new Client(server.url, ADMIN);
    const healed = await eventually(
      () => admin.get<{ releases: { status: string }[] }>('/v1/deployments/heal/versions/v1'),
      (r) => r.body.releases.length === 2 && r.body.releases.every((x) => x.status === 'successful'),
    );
    expect(healed.body.releases).toHaveLength(2);
    expect(agent.jobs.filter((j) => j.deployment.id === 'heal')).toHaveLength(2);
  });
});
