import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalServer } from '../../infra/local/server';
import { FakeAgent } from '../helpers/agent';
import { Client, eventually } from '../helpers/client';
import { startTestServer } from '../helpers/local';

/**
 * Issue 19, deployment dependencies ("deploy A before B"), end to end through the local server at the
 * real pace (no time scale): api depends on db in each environment. A new api version waits in
 * production (`waitingFor: "deployment_dependency"`) while db, which has targets there, has no success;
 * db's last success wakes it at once (an event, not a poll); in staging, where db has no targets, it
 * goes at once. A versionCondition holds a dependant until db runs a version that satisfies it. A
 * policy or deployment write that would make deployments depend on each other in a cycle is a 400
 * naming the cycle, and nothing is stored. The plan shows the gate and whether each dependency holds.
 */
interface Release {
  environment: string;
  resource: string;
  status: string;
  waitingFor: string | null;
  message: string | null;
}
interface AuditEvent {
  detailType: string;
  deployment?: string;
  version?: string;
  environment?: string;
  time: string;
}
interface PlanGate {
  gate: string;
  policies: string[];
  detail: { dependsOn?: { deployment: string; satisfied: boolean; message: string | null }[] };
}

let server: LocalServer;
let admin: Client;
const agent = new FakeAgent();

beforeAll(async () => {
  await agent.start();
  ({ server, admin } = await startTestServer());
  const resources: [string, string][] = [
    ['stg-1', 'staging'],
    ['prod-1', 'production'],
    ['prod-2', 'production'],
  ];
  for (const [id, env] of resources)
    await admin.put(`/v1/resources/${id}`, { kind: 'vm', name: id, metadata: { env } });
  for (const env of ['staging', 'production'])
    await admin.put(`/v1/environments/${env}`, { resourceSelector: `resource.metadata.env == '${env}'` });
  const jobAgent = { type: 'webhook', url: agent.url };
  // db runs in production only: in staging it has no release targets.
  await admin.put('/v1/deployments/db', { name: 'Database', environments: ['production'], jobAgent });
  for (const id of ['api', 'worker'])
    await admin.put(`/v1/deployments/${id}`, { environments: ['staging', 'production'], jobAgent });
  const put = await admin.put('/v1/policies/api-after-db', {
    targets: "deployment.id == 'api'",
    rules: { deploymentDependency: { dependsOn: [{ deployment: 'db' }] } },
  });
  expect(put.status).toBe(201);
  expect(put.body.warnings).toBeUndefined();
});

afterAll(async () => {
  await server?.close();
  await agent.stop();
});

const releasesOf = async (deployment: string, tag: string) =>
  (await admin.get<{ releases: Release[] }>(`/v1/deployments/${deployment}/versions/${tag}`)).body.releases;
const inProduction = (releases: Release[]) => releases.filter((r) => r.environment === 'production');
/** Past the first moments, while what db runs is being read for the first time. */
const read = (r: Release) => !r.message?.startsWith('Reading what');
const events = async () => (await admin.getAll<{ items: AuditEvent[] }>('/v1/events?limit=1000')).body.items;
const planGates = async (deployment: string, tag: string) => {
  const plan = await admin.get<{ targets: { environment: string; gates: PlanGate[] }[] }>(
    `/v1/deployments/${deployment}/versions/${tag}/plan`,
  );
  expect(plan.status).toBe(200);
  return (environment: string) => plan.body.targets.find((t) => t.environment === environment)?.gates ?? [];
};

describe('api depends on db', () => {
  it('waits in production until db succeeded on every target there, and is woken at once', async () => {
    // db has two targets in production, but no success there: its version is still building.
    expect(
      (
        await admin.post('/v1/deployments/db/versions', {
          tag: 'v1',
          status: 'building',
          metadata: { schema: '4' },
        })
      ).status,
    ).toBe(201);
    expect((await admin.post('/v1/deployments/api/versions', { tag: 'v1' })).status).toBe(201);

    // Staging goes at once (db has no target there); production waits for db.
    const waiting = await eventually(
      () => releasesOf('api', 'v1'),
      (rs) =>
        rs.find((r) => r.environment === 'staging')?.status === 'successful' &&
        inProduction(rs).length === 2 &&
        inProduction(rs).every((r) => r.waitingFor === 'deployment_dependency' && read(r)),
    );
    for (const r of inProduction(waiting)) {
      expect(r.status).toBe('waiting');
      expect(r.message).toBe(
        'db has no successful release on any of its 2 targets in production (policy api-after-db).',
      );
    }
    expect(
      agent.jobs.filter((j) => j.deployment.id === 'api' && j.environment.id === 'production'),
    ).toHaveLength(0);

    // The plan shows the gate, first, with whether db satisfies it in each environment.
    const gates = await planGates('api', 'v1');
    expect(gates('production').map((g) => g.gate)).toEqual(['deployment_dependency']);
    expect(gates('production')[0]?.policies).toEqual(['api-after-db']);
    expect(gates('production')[0]?.detail.dependsOn).toEqual([
      {
        deployment: 'db',
        policy: 'api-after-db',
        satisfied: false,
        message: 'db has no successful release on any of its 2 targets in production.',
      },
    ]);
    expect(gates('staging')[0]?.detail.dependsOn?.[0]).toMatchObject({
      deployment: 'db',
      satisfied: true,
      message: null,
    });

    // The status page counts the production releases as waiting for the dependency.
    const link = await admin.post<{ url: string }>('/v1/view-links', { deployment: 'api' });
    const token = new URL(link.body.url).searchParams.get('v');
    const summary = await new Client(server.url).request<{
      environments: { id: string; waitingFor: Record<string, number> }[];
    }>('GET', '/ui/api/summary?deployment=api&tag=v1', undefined, {
      headers: { authorization: `View ${token}` },
    });
    expect(summary.body.environments.find((e) => e.id === 'production')?.waitingFor).toEqual({
      deployment_dependency: 2,
    });

    // db ships: its last success wakes api's production releases, well inside any poll interval.
    expect((await admin.patch('/v1/deployments/db/versions/v1', { status: 'ready' })).status).toBe(200);
    await eventually(
      () => releasesOf('api', 'v1'),
      (rs) => inProduction(rs).every((r) => r.status === 'successful'),
    );
    const all = await events();
    const dbSucceeded = all
      .filter((e) => e.detailType === 'Release Succeeded' && e.deployment === 'db')
      .map((e) => Date.parse(e.time));
    const apiDispatched = all
      .filter(
        (e) => e.detailType === 'Job Dispatched' && e.deployment === 'api' && e.environment === 'production',
      )
      .map((e) => Date.parse(e.time));
    expect(dbSucceeded).toHaveLength(2);
    expect(apiDispatched).toHaveLength(2);
    const woken = Math.min(...apiDispatched) - Math.max(...dbSucceeded);
    expect(woken).toBeGreaterThanOrEqual(0);
    expect(woken).toBeLessThan(2000);
  });

  it('with a versionCondition, waits until db runs a version that satisfies it', async () => {
    const put = await admin.put('/v1/policies/worker-after-db-schema-5', {
      targets: "deployment.id == 'worker' && environment.id == 'production'",
      rules: {
        deploymentDependency: {
          dependsOn: [{ deployment: 'db', versionCondition: "version.metadata.schema >= '5'" }],
        },
      },
    });
    expect(put.status).toBe(201);
    // db runs v1 (schema 4) on both production targets: successful, but not what worker needs.
    expect((await admin.post('/v1/deployments/worker/versions', { tag: 'w1' })).status).toBe(201);
    const held = await eventually(
      () => releasesOf('worker', 'w1'),
      (rs) =>
        rs.find((r) => r.environment === 'staging')?.status === 'successful' &&
        inProduction(rs).length === 2 &&
        inProduction(rs).every((r) => r.waitingFor === 'deployment_dependency' && read(r)),
    );
    expect(inProduction(held)[0]?.message).toBe(
      "db runs v1 on 2 of 2 targets in production, which does not satisfy version.metadata.schema >= '5' (policy worker-after-db-schema-5).",
    );
    const gates = await planGates('worker', 'w1');
    expect(gates('production')[0]?.detail.dependsOn?.[0]).toMatchObject({ satisfied: false });
    expect(gates('staging').map((g) => g.gate)).toEqual([]);

    // db v2 (schema 5) everywhere: worker goes.
    expect(
      (await admin.post('/v1/deployments/db/versions', { tag: 'v2', metadata: { schema: '5' } })).status,
    ).toBe(201);
    await eventually(
      () => releasesOf('worker', 'w1'),
      (rs) => inProduction(rs).every((r) => r.status === 'successful'),
    );
    expect((await releasesOf('db', 'v2')).every((r) => r.status === 'successful')).toBe(true);
    const all = await events();
    const lastDb = Math.max(
      ...all
        .filter((e) => e.detailType === 'Release Succeeded' && e.version === 'v2')
        .map((e) => Date.parse(e.time)),
    );
    const firstWorker = Math.min(
      ...all
        .filter(
          (e) =>
            e.detailType === 'Job Dispatched' && e.deployment === 'worker' && e.environment === 'production',
        )
        .map((e) => Date.parse(e.time)),
    );
    // Not before db v2 was everywhere, and at once after.
    expect(firstWorker - lastDb).toBeGreaterThanOrEqual(0);
    expect(firstWorker - lastDb).toBeLessThan(2000);
  });
});

describe('a dependency cycle', () => {
  it('is refused at PUT with a 400 naming it, and nothing is stored', async () => {
    const cycle = await admin.put<{ error: { code: string; message: string; details: { path: string }[] } }>(
      '/v1/policies/db-after-api',
      {
        targets: "deployment.id == 'db'",
        rules: { deploymentDependency: { dependsOn: [{ deployment: 'api' }] } },
      },
    );
    expect(cycle.status).toBe(400);
    expect(cycle.body.error.code).toBe('invalid_request');
    expect(cycle.body.error.message).toContain('db -> api -> db');
    expect(cycle.body.error.message).toContain('policies db-after-api, api-after-db');
    expect(cycle.body.error.details[0]?.path).toBe('rules.deploymentDependency.dependsOn');
    expect((await admin.get('/v1/policies/db-after-api')).status).toBe(404);

    // A policy whose targets match the dependency itself makes db depend on db.
    const self = await admin.put<{ error: { message: string } }>('/v1/policies/prod-after-db', {
      targets: "environment.id == 'production'",
      rules: { deploymentDependency: { dependsOn: [{ deployment: 'db' }] } },
    });
    expect(self.status).toBe(400);
    expect(self.body.error.message).toContain('db -> db');
    expect((await admin.get('/v1/policies/prod-after-db')).status).toBe(404);

    // A deployment write that would close a cycle through the policies is refused too.
    const byName = await admin.put('/v1/policies/edge-after-api', {
      targets: "deployment.name.startsWith('Edge')",
      rules: { deploymentDependency: { dependsOn: [{ deployment: 'api' }] } },
    });
    expect(byName.status).toBe(201);
    const renamed = await admin.put<{ error: { message: string } }>('/v1/deployments/api', {
      name: 'Edge API',
      environments: ['staging', 'production'],
      jobAgent: { type: 'webhook', url: agent.url },
    });
    expect(renamed.status).toBe(400);
    expect(renamed.body.error.message).toContain('api -> api');
    expect((await admin.get<{ name?: string }>('/v1/deployments/api')).body.name).toBeUndefined();

    // A chain is fine, and a dependency on a deployment that does not exist is a warning.
    const chain = await admin.put<{ warnings?: string[] }>('/v1/policies/worker-after-api', {
      targets: "deployment.id == 'worker'",
      rules: { deploymentDependency: { dependsOn: [{ deployment: 'api' }, { deployment: 'cache' }] } },
    });
    expect(chain.status).toBe(201);
    expect(chain.body.warnings).toEqual([expect.stringContaining('The deployment "cache" does not exist')]);
  });
});
