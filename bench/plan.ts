import { startBenchServer } from './support';

/** The plan of a building version over 5,000 release targets with three policies, in the local runtime. */
const TARGETS = Number(process.env.BENCH_PLAN_TARGETS ?? 5000);

export async function benchPlan(): Promise<Record<string, string | number>> {
  const { server, client } = await startBenchServer('plan');
  try {
    const resources = Array.from({ length: TARGETS }, (_, i) => ({
      id: `node-${i}`,
      kind: 'vm',
      name: `node-${i}`,
      metadata: { env: i % 5 === 0 ? 'staging' : 'production', region: i % 2 ? 'eu' : 'us' },
    }));
    await client.post('/v1/resource-providers/bench/sync', { resources });
    await client.put('/v1/environments/staging', { resourceSelector: "resource.metadata.env == 'staging'" });
    await client.put('/v1/environments/production', {
      resourceSelector: "resource.metadata.env == 'production'",
    });
    await client.put('/v1/deployments/api', { jobAgent: { type: 'webhook', url: 'http://127.0.0.1:9/' } });
    await client.put('/v1/policies/progression', {
      targets: "environment.id == 'production'",
      rules: {
        environmentProgression: { dependsOnEnvironments: ['staging'], minSoakSeconds: 600 },
        approval: { minApprovals: 2 },
      },
    });
    await client.put('/v1/policies/gradual', {
      targets: 'true',
      rules: { gradualRollout: { intervalSeconds: 30 } },
    });
    await client.put('/v1/policies/office-hours', {
      targets: "resource.metadata.region == 'eu'",
      rules: {
        deploymentWindow: {
          rrule: 'FREQ=WEEKLY;BYDAY=MO,TU,WE,TH;BYHOUR=9;BYMINUTE=0',
          durationMinutes: 480,
          timezone: 'Europe/Berlin',
          mode: 'allow',
        },
      },
    });
    await client.post('/v1/deployments/api/versions', { tag: 'v1', status: 'building' });

    const timings: number[] = [];
    let targets = 0;
    for (let i = 0; i < 6; i++) {
      const started = performance.now();
      const plan = await client.get<{ targets: unknown[] }>('/v1/deployments/api/versions/v1/plan');
      timings.push(performance.now() - started);
      if (plan.status !== 200) throw new Error(`plan answered ${plan.status}: ${plan.text.slice(0, 300)}`);
      targets = plan.body.targets.length;
    }
    const warm = timings.slice(1).sort((a, b) => a - b);
    return {
      'release targets in the plan': targets,
      policies: 3,
      'first plan (ms)': Math.round(timings[0] ?? 0),
      'plan, median of 5 warm (ms)': Math.round(warm[2] ?? 0),
      'plan, slowest warm (ms)': Math.round(warm[4] ?? 0),
    };
  } finally {
    await server.close();
  }
}
