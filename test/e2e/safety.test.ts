import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalServer } from '../../infra/local/server';
import { FakeAgent } from '../helpers/agent';
import { type Client, eventually } from '../helpers/client';
import { startTestServer } from '../helpers/local';

/**
 * Issue "Safety controls", through the local server (GANTRY_TIME_SCALE=60): make before break,
 * halt on failure (and no progression past a halted environment), all-or-nothing rollback.
 */
interface Release {
  environment: string;
  resource: string;
  status: string;
  message: string | null;
  rolledBackTo: string | null;
}
interface AuditEvent {
  detailType: string;
  version?: string;
  environment?: string;
  resource?: string;
  time: string;
  id: string;
}

let server: LocalServer;
let admin: Client;
const agent = new FakeAgent();

const TERMINAL = ['successful', 'failed', 'rolled_back', 'cancelled', 'superseded'];
const view = (deployment: string, tag: string) =>
  admin.get<{ releases: Release[] }>(`/v1/deployments/${deployment}/versions/${tag}`);
const events = async (deployment: string) =>
  (await admin.get<{ items: AuditEvent[] }>(`/v1/events?deployment=${deployment}&limit=1000`)).body.items;

async function environment(id: string, resources: string[]): Promise<void> {
  for (const r of resources)
    await admin.put(`/v1/resources/${r}`, { kind: 'vm', name: r, metadata: { env: id } });
  await admin.put(`/v1/environments/${id}`, { resourceSelector: `resource.metadata.env == '${id}'` });
}

beforeAll(async () => {
  await agent.start();
  ({ server, admin } = await startTestServer({ timeScale: 60 }));
});

afterAll(async () => {
  await server?.close();
  await agent.stop();
});

describe('make before break', () => {
  it('opens each slot only once the target before it is verified successful', async () => {
    await environment('mbb', ['m-1', 'm-2', 'm-3']);
    await admin.put('/v1/deployments/mbb-svc', {
      environments: ['mbb'],
      jobAgent: { type: 'webhook', url: agent.url },
    });
    await admin.put('/v1/policies/mbb', {
      targets: "deployment.id == 'mbb-svc'",
      rules: { gradualRollout: { intervalSeconds: 0, waitForVerified: true } },
    });
    agent.behaviour = () => 'successful';
    await admin.post('/v1/deployments/mbb-svc/versions', { tag: 'm1' });
    const done = await eventually(
      () => view('mbb-svc', 'm1'),
      (r) => r.body.releases.length === 3 && r.body.releases.every((x) => x.status === 'successful'),
      { timeoutMs: 20_000 },
    );
    expect(done.body.releases).toHaveLength(3);

    // Every job after the first was sent after the previous target's success (audit order).
    const trail = (await events('mbb-svc')).filter((e) => e.version === 'm1');
    const dispatched = trail.filter((e) => e.detailType === 'Job Dispatched');
    const succeeded = trail.filter((e) => e.detailType === 'Release Succeeded');
    expect(dispatched).toHaveLength(3);
    for (let i = 1; i < 3; i++) {
      const previous = succeeded.find((s) => s.resource === dispatched[i - 1]?.resource);
      expect(previous, `success of ${dispatched[i - 1]?.resource}`).toBeDefined();
      expect((previous as AuditEvent).id < (dispatched[i] as AuditEvent).id).toBe(true);
    }
    const plan = await admin.get<{ targets: { resource: string; position: number | null }[] }>(
      '/v1/deployments/mbb-svc/versions/m1/plan',
    );
    expect(plan.body.targets.map((t) => t.position).sort()).toEqual([0, 1, 2]);
  }, 30_000);
});

describe('halt on failure', () => {
  it('stops the remaining releases of the environment and keeps dependants from progressing', async () => {
    await environment('halt', ['h-1', 'h-2', 'h-3', 'h-4']);
    await environment('after-halt', ['n-1']);
    await admin.put('/v1/deployments/halt-svc', {
      environments: ['halt', 'after-halt'],
      jobAgent: { type: 'webhook', url: agent.url },
    });
    await admin.put('/v1/policies/halt', {
      targets: "deployment.id == 'halt-svc' && environment.id == 'halt'",
      rules: { gradualRollout: { intervalSeconds: 120 }, halt: { maxFailures: 1 } },
    });
    await admin.put('/v1/policies/after-halt', {
      targets: "deployment.id == 'halt-svc' && environment.id == 'after-halt'",
      rules: { environmentProgression: { dependsOnEnvironments: ['halt'], minSuccessPercentage: 50 } },
    });
    agent.behaviour = (job) => (job.deployment.id === 'halt-svc' ? 'failed' : 'successful');
    await admin.post('/v1/deployments/halt-svc/versions', { tag: 'h1' });
    const done = await eventually(
      () => view('halt-svc', 'h1'),
      (r) =>
        r.body.releases.filter((x) => x.environment === 'halt').every((x) => TERMINAL.includes(x.status)) &&
        r.body.releases.length === 5,
      { timeoutMs: 20_000 },
    );
    const halt = done.body.releases.filter((r) => r.environment === 'halt');
    expect(halt.filter((r) => r.status === 'failed')).toHaveLength(1);
    const cancelled = halt.filter((r) => r.status === 'cancelled');
    expect(cancelled).toHaveLength(3);
    for (const r of cancelled) expect(r.message).toContain('Halted');
    expect(agent.jobs.filter((j) => j.deployment.id === 'halt-svc')).toHaveLength(1);

    const downstream = await eventually(
      () => view('halt-svc', 'h1'),
      (r) =>
        r.body.releases
          .find((x) => x.environment === 'after-halt')
          ?.message?.includes('will not progress') === true,
    );
    expect(downstream.body.releases.find((x) => x.environment === 'after-halt')?.status).toBe('waiting');
  }, 30_000);
});

describe('all-or-nothing rollback', () => {
  it('rolls back every target that took the version when one fails', async () => {
    await environment('aon', ['a-1', 'a-2', 'a-3']);
    await admin.put('/v1/deployments/aon-svc', {
      environments: ['aon'],
      jobAgent: { type: 'webhook', url: agent.url },
    });
    agent.behaviour = () => 'successful';
    await admin.post('/v1/deployments/aon-svc/versions', { tag: 'a1' });
    await eventually(
      () => view('aon-svc', 'a1'),
      (r) => r.body.releases.length === 3 && r.body.releases.every((x) => x.status === 'successful'),
    );

    await admin.put('/v1/policies/aon', {
      targets: "deployment.id == 'aon-svc'",
      rules: {
        gradualRollout: { intervalSeconds: 120 },
        rollback: { onJobFailure: true, scope: 'environment' },
      },
    });
    let deploys = 0;
    // The third target to get a2 fails; the first two already took it.
    agent.behaviour = (job) => {
      if (job.kind !== 'deploy' || job.version.tag !== 'a2') return 'successful';
      deploys++;
      return deploys === 3 ? 'failed' : 'successful';
    };
    await admin.post('/v1/deployments/aon-svc/versions', { tag: 'a2' });
    const done = await eventually(
      () => view('aon-svc', 'a2'),
      // Releases are written off the request: wait for all three, then for their ends.
      (r) => r.body.releases.length === 3 && r.body.releases.every((x) => TERMINAL.includes(x.status)),
      { timeoutMs: 20_000 },
    );
    expect(done.body.releases.map((r) => r.status)).toEqual(['rolled_back', 'rolled_back', 'rolled_back']);
    for (const r of done.body.releases) expect(r.rolledBackTo).toBe('a1');
    const rollbacks = agent.jobs.filter((j) => j.deployment.id === 'aon-svc' && j.kind === 'rollback');
    expect(rollbacks.map((j) => j.version.tag)).toEqual(['a1', 'a1', 'a1']);
    const targets = await admin.get<{ items: { currentVersion: string }[] }>(
      '/v1/release-targets?deployment=aon-svc',
    );
    expect(targets.body.items.map((t) => t.currentVersion)).toEqual(['a1', 'a1', 'a1']);
  }, 30_000);
});

describe('traffic drain', () => {
  it('drains, waits, deploys, then undrains; a failure still undrains after the rollback', async () => {
    await environment('drain', ['d-1']);
    await admin.put('/v1/deployments/drain-svc', {
      environments: ['drain'],
      jobAgent: { type: 'webhook', url: agent.url },
    });
    agent.behaviour = () => 'successful';
    await admin.post('/v1/deployments/drain-svc/versions', { tag: 'd1' });
    await eventually(
      () => view('drain-svc', 'd1'),
      (r) => r.body.releases[0]?.status === 'successful',
    );

    await admin.put('/v1/policies/drain', {
      targets: "deployment.id == 'drain-svc'",
      rules: { trafficDrain: { seconds: 60 }, rollback: { onJobFailure: true } },
    });
    const kinds = () =>
      agent.jobs.filter((j) => j.deployment.id === 'drain-svc').map((j) => `${j.kind}:${j.version.tag}`);
    await admin.post('/v1/deployments/drain-svc/versions', { tag: 'd2' });
    await eventually(
      async () => kinds(),
      (k) => k.includes('undrain:d2'),
      { timeoutMs: 20_000 },
    );
    expect(kinds()).toEqual(['deploy:d1', 'drain:d2', 'deploy:d2', 'undrain:d2']);
    expect((await view('drain-svc', 'd2')).body.releases[0]?.status).toBe('successful');

    // The drain time passed between the drain's callback and the deploy (policy time).
    const trail = (await events('drain-svc')).filter((e) => e.version === 'd2');
    const drained = trail.find(
      (e) =>
        e.detailType === 'Job Updated' && (e as unknown as { data: { kind: string } }).data.kind === 'drain',
    );
    const deployed = trail.find(
      (e) =>
        e.detailType === 'Job Dispatched' &&
        (e as unknown as { data: { kind: string } }).data.kind === 'deploy',
    );
    expect(
      Date.parse((deployed as AuditEvent).time) - Date.parse((drained as AuditEvent).time),
    ).toBeGreaterThanOrEqual(60_000);

    agent.behaviour = (job) => (job.kind === 'deploy' && job.version.tag === 'd3' ? 'failed' : 'successful');
    await admin.post('/v1/deployments/drain-svc/versions', { tag: 'd3' });
    await eventually(
      async () => kinds(),
      (k) => k.includes('undrain:d3'),
      { timeoutMs: 20_000 },
    );
    expect(kinds().slice(4)).toEqual(['drain:d3', 'deploy:d3', 'rollback:d2', 'undrain:d3']);
    const d3 = await eventually(
      () => view('drain-svc', 'd3'),
      (r) => r.body.releases[0]?.status === 'rolled_back',
    );
    expect(d3.body.releases[0]?.rolledBackTo).toBe('d2');
  }, 40_000);
});

describe('alarm gate', () => {
  it('promotes only while no alarm is open (cloudwatch-alarms through the SDK, on loopback)', async () => {
    let inAlarm: string[] = [];
    const cloudwatch = createServer(async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      const target = String(req.headers['x-amz-target'] ?? '');
      const input = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as {
        AlarmNamePrefix?: string;
      };
      res.writeHead(target.endsWith('.DescribeAlarms') ? 200 : 400, {
        'content-type': 'application/x-amz-json-1.0',
      });
      const names = ['api-5xx', 'api-latency'].filter((n) => n.startsWith(input.AlarmNamePrefix ?? ''));
      res.end(
        JSON.stringify({
          MetricAlarms: names.map((AlarmName) => ({
            AlarmName,
            StateValue: inAlarm.includes(AlarmName) ? 'ALARM' : 'OK',
          })),
          CompositeAlarms: [],
        }),
      );
    });
    await new Promise<void>((resolve) => cloudwatch.listen(0, '127.0.0.1', resolve));
    process.env.AWS_ENDPOINT_URL_CLOUDWATCH = `http://127.0.0.1:${(cloudwatch.address() as AddressInfo).port}`;
    try {
      await environment('alarm-stg', ['as-1']);
      await environment('alarm-prod', ['ap-1']);
      await admin.put('/v1/deployments/alarm-svc', {
        environments: ['alarm-stg', 'alarm-prod'],
        jobAgent: { type: 'webhook', url: agent.url },
      });
      await admin.put('/v1/policies/no-open-alerts', {
        targets: "deployment.id == 'alarm-svc' && environment.id == 'alarm-stg'",
        rules: {
          verification: {
            metrics: [
              {
                name: 'no-open-alerts',
                provider: { type: 'cloudwatch-alarms', alarmNamePrefix: 'api-' },
                intervalSeconds: 60,
                count: 1,
                successCondition: 'result.inAlarm == 0',
              },
            ],
          },
        },
      });
      await admin.put('/v1/policies/promote-after-staging', {
        targets: "deployment.id == 'alarm-svc' && environment.id == 'alarm-prod'",
        rules: { environmentProgression: { dependsOnEnvironments: ['alarm-stg'] } },
      });
      agent.behaviour = () => 'successful';

      await admin.post('/v1/deployments/alarm-svc/versions', { tag: 'ok1' });
      const ok = await eventually(
        () => view('alarm-svc', 'ok1'),
        (r) => r.body.releases.length === 2 && r.body.releases.every((x) => x.status === 'successful'),
        { timeoutMs: 20_000 },
      );
      expect(ok.body.releases).toHaveLength(2);

      inAlarm = ['api-5xx'];
      await admin.post('/v1/deployments/alarm-svc/versions', { tag: 'bad1' });
      const held = await eventually(
        () => view('alarm-svc', 'bad1'),
        (r) =>
          r.body.releases.find((x) => x.environment === 'alarm-stg')?.status === 'failed' &&
          r.body.releases.find((x) => x.environment === 'alarm-prod')?.message?.includes('cannot reach') ===
            true,
        { timeoutMs: 20_000 },
      );
      expect(held.body.releases.find((x) => x.environment === 'alarm-prod')?.status).toBe('waiting');
      expect(
        agent.jobs.filter((j) => j.version.tag === 'bad1' && j.environment.id === 'alarm-prod'),
      ).toHaveLength(0);
    } finally {
      delete process.env.AWS_ENDPOINT_URL_CLOUDWATCH;
      cloudwatch.close();
    }
  }, 40_000);
});
