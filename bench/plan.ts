import type { Stored } from '../shared/adapters/store/config';
import type { DeploymentBody, EnvironmentBody, ResourceBody } from '../shared/core/schemas/config';
import { computeReleaseTargets } from '../shared/core/targets';
import { startBenchServer } from './support';

/** The plan of a building version over 5,000 release targets with three policies, in the local runtime. */
const TARGETS = Number(process.env.BENCH_PLAN_TARGETS ?? 5000);
/** Resources per sync request: each chunk is its own provider, so every body stays under 1 MiB. */
const SYNC_CHUNK = 2000;

type PlanPage = { targets: unknown[]; targetCount: number; nextToken?: string };

/**
 * computeReleaseTargets as the version create and the reconciliation call it: 20,000 resources x 5
 * environments, in-process. The first call evaluates every selector; later calls over the same
 * (cached) inventory objects reuse each environment's membership.
 */
export function benchTargets(): Record<string, number> {
  const stored = <T>(id: string, data: T): Stored<T> => ({ id, data, createdAt: '', updatedAt: '' });
  const regions = ['us', 'eu', 'ap', 'sa', 'af'];
  // Frozen, as the inventory cache hands them out.
  const resources = Array.from({ length: 20_000 }, (_, i) =>
    stored<ResourceBody>(`node-${i}`, {
      kind: 'vm',
      name: `node-${i}`,
      metadata: { region: regions[i % 5] as string, tier: i % 3 ? 'web' : 'db' },
    }),
  );
  Object.freeze(resources);
  const environments = Object.freeze(
    regions.map((r) =>
      stored<EnvironmentBody>(r, { resourceSelector: `resource.metadata.region == '${r}'` }),
    ),
  );
  const deployment = (id: string) =>
    stored<DeploymentBody>(id, {
      resourceSelector: "resource.metadata.tier == 'web'",
      jobAgent: { type: 'webhook', url: 'http://127.0.0.1:9/' },
    } as DeploymentBody);
  const time = (id: string) => {
    const started = performance.now();
    const { targets } = computeReleaseTargets(deployment(id), environments, resources);
    return { ms: performance.now() - started, targets: targets.length };
  };
  const first = time('api');
  const again = [time('web'), time('worker'), time('api')].map((t) => t.ms).sort((a, b) => a - b);
  return {
    'computeReleaseTargets, 20,000 resources x 5 environments: targets': first.targets,
    'computeReleaseTargets, first call (ms)': Math.round(first.ms),
    'computeReleaseTargets, another deployment over the same inventory, median of 3 (ms)': Math.round(
      again[1] ?? 0,
    ),
  };
}

export async function benchPlan(): Promise<Record<string, string | number>> {
  const { server, client } = await startBenchServer('plan');
  try {
    const must = async (reply: Promise<{ status: number; text: string }>) => {
      const out = await reply;
      if (out.status >= 300) throw new Error(`setup answered ${out.status}: ${out.text.slice(0, 300)}`);
    };
    for (let from = 0; from < TARGETS; from += SYNC_CHUNK) {
      const resources = Array.from({ length: Math.min(SYNC_CHUNK, TARGETS - from) }, (_, j) => {
        const i = from + j;
        return {
          id: `node-${i}`,
          kind: 'vm',
          name: `node-${i}`,
          metadata: { env: i % 5 === 0 ? 'staging' : 'production', region: i % 2 ? 'eu' : 'us' },
        };
      });
      await must(client.post(`/v1/resource-providers/bench-${from / SYNC_CHUNK}/sync`, { resources }));
    }
    await must(
      client.put('/v1/environments/staging', { resourceSelector: "resource.metadata.env == 'staging'" }),
    );
    await must(
      client.put('/v1/environments/production', {
        resourceSelector: "resource.metadata.env == 'production'",
      }),
    );
    await must(
      client.put('/v1/deployments/api', { jobAgent: { type: 'webhook', url: 'http://127.0.0.1:9/' } }),
    );
    await must(
      client.put('/v1/policies/progression', {
        targets: "environment.id == 'production'",
        rules: {
          environmentProgression: { dependsOnEnvironments: ['staging'], minSoakSeconds: 600 },
          approval: { minApprovals: 2 },
        },
      }),
    );
    await must(
      client.put('/v1/policies/gradual', {
        targets: 'true',
        rules: { gradualRollout: { intervalSeconds: 30 } },
      }),
    );
    await must(
      client.put('/v1/policies/office-hours', {
        targets: "resource.metadata.region == 'eu'",
        rules: {
          deploymentWindow: {
            rrule: 'FREQ=WEEKLY;BYDAY=MO,TU,WE,TH;BYHOUR=9;BYMINUTE=0',
            durationMinutes: 480,
            timezone: 'Europe/Berlin',
            mode: 'allow',
          },
        },
      }),
    );
    await must(client.post('/v1/deployments/api/versions', { tag: 'v1', status: 'building' }));

    const path = '/v1/deployments/api/versions/v1/plan';
    // A page of 1,000 targets is computed over every target of the version (order, estimates).
    const firstPage: number[] = [];
    let targets = 0;
    for (let i = 0; i < 6; i++) {
      const started = performance.now();
      const plan = await client.get<PlanPage>(path);
      firstPage.push(performance.now() - started);
      if (plan.status !== 200) throw new Error(`plan answered ${plan.status}: ${plan.text.slice(0, 300)}`);
      targets = plan.body.targetCount;
    }
    // Every page, following nextToken: the whole plan as a client reads it.
    const whole: number[] = [];
    let read = 0;
    for (let i = 0; i < 3; i++) {
      const started = performance.now();
      const plan = await client.getAll<PlanPage>(path, 'targets');
      whole.push(performance.now() - started);
      if (plan.status !== 200) throw new Error(`plan answered ${plan.status}: ${plan.text.slice(0, 300)}`);
      read = plan.body.targets.length;
    }
    const warm = firstPage.slice(1).sort((a, b) => a - b);
    whole.sort((a, b) => a - b);
    return {
      'release targets in the plan': targets,
      policies: 3,
      'first plan (ms)': Math.round(firstPage[0] ?? 0),
      'plan (first page of 1,000), median of 5 warm (ms)': Math.round(warm[2] ?? 0),
      'plan (first page of 1,000), slowest warm (ms)': Math.round(warm[4] ?? 0),
      [`whole plan, every page (${read} targets), median of 3 (ms)`]: Math.round(whole[1] ?? 0),
      ...benchTargets(),
    };
  } finally {
    await server.close();
  }
}
