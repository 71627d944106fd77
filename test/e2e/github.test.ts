import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalServer } from '../../infra/local/server';
import { environmentState } from '../../shared/adapters/github';
import { FakeAgent } from '../helpers/agent';
import { type Client, eventually } from '../helpers/client';
import { FakeGitHub } from '../helpers/github';
import { startTestServer } from '../helpers/local';

/** GitHub Deployments mirror each version x environment, against a loopback "GitHub Enterprise". */
let server: LocalServer;
let admin: Client;
const github = new FakeGitHub();
const calls = github.calls;
const agent = new FakeAgent();

beforeAll(async () => {
  await github.start();
  const apiUrl = github.apiUrl;
  await agent.start();
  ({ server, admin } = await startTestServer({ secrets: JSON.stringify({ 'gh-token': 'ghp_test_token' }) }));
  for (const [id, env] of [
    ['s-1', 'staging'],
    ['p-1', 'production'],
    ['p-2', 'production'],
  ]) {
    await admin.put(`/v1/resources/${id}`, { kind: 'vm', name: id, metadata: { env } });
  }
  await admin.put('/v1/environments/staging', { resourceSelector: "resource.metadata.env == 'staging'" });
  await admin.put('/v1/environments/production', {
    resourceSelector: "resource.metadata.env == 'production'",
  });
  await admin.put('/v1/deployments/api', {
    jobAgent: { type: 'webhook', url: agent.url },
    github: { owner: 'acme', repo: 'api', tokenSecretRef: 'gh-token', apiUrl },
  });
});

afterAll(async () => {
  await server?.close();
  await agent.stop();
  await github.stop();
});

const statesOf = (id: number) =>
  calls.filter((c) => c.path.endsWith(`/deployments/${id}/statuses`)).map((c) => c.body.state);

describe('GitHub Deployments', () => {
  it.each([
    [['successful', 'successful'], 'success'],
    [['successful', 'deploying'], 'in_progress'],
    [['successful', 'rolled_back'], 'failure'],
    [['superseded', 'cancelled'], 'inactive'],
    [['pending', 'waiting'], undefined],
  ] as const)('an environment with releases %j is %s', (statuses, state) => {
    expect(environmentState([...statuses])).toBe(state);
  });

  it('follow the releases of each version x environment', async () => {
    agent.behaviour = () => 'successful';
    await admin.post('/v1/deployments/api/versions', { tag: 'v1', metadata: { commit: 'abc123' } });
    await eventually(
      async () => calls.filter((c) => c.body.state === 'success').length,
      (n) => n === 2,
    );
    const created = calls.filter((c) => c.path === '/api/v3/repos/acme/api/deployments');
    expect(created.map((c) => c.body.environment).sort()).toEqual(['production', 'staging']);
    expect(created[0]?.body.ref).toBe('abc123');
    expect(calls.every((c) => c.authorization === 'Bearer ghp_test_token')).toBe(true);
    for (const id of [100, 101]) {
      const states = statesOf(id);
      expect(states[states.length - 1]).toBe('success');
    }

    agent.behaviour = (job) =>
      job.environment.id === 'production' && job.resource.id === 'p-2' ? 'failed' : 'successful';
    await admin.post('/v1/deployments/api/versions', { tag: 'v2' });
    await eventually(
      async () => calls.filter((c) => c.body.state === 'failure').length,
      (n) => n === 1,
    );
    const failing = calls.find((c) => c.body.state === 'failure');
    expect(failing?.body.environment).toBe('production');
    // Each version x environment got exactly one GitHub Deployment.
    await eventually(
      async () => calls.filter((c) => c.body.state === 'success').length,
      (n) => n === 3,
    );
    await server.bus.flush();
    await server.engine.idle();
    expect(calls.filter((c) => c.path === '/api/v3/repos/acme/api/deployments')).toHaveLength(4);
  });
});
