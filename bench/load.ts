import { signedHeaders } from '../shared/core/signature';
import { BENCH_KEY, instantAgent, startBenchServer } from './support';

/**
 * Load (issue 8): 50 concurrent CI clients, one per deployment, each creating versions of its
 * deployment one after the other for BENCH_LOAD_SECONDS (60 by default) against the in-process
 * local server, with a job agent that calls back at once. Then every created version is checked:
 * all its releases exist and end terminal (successful, or superseded by a newer version of the same
 * deployment), else it counts as lost. Reports throughput and the latency of the create call.
 */
const CLIENTS = Number(process.env.BENCH_LOAD_CLIENTS ?? 50);
const SECONDS = Number(process.env.BENCH_LOAD_SECONDS ?? 60);
const TARGETS = Number(process.env.BENCH_LOAD_TARGETS ?? 2);
const SETTLE_TIMEOUT_MS = Number(process.env.BENCH_LOAD_SETTLE_MS ?? 900_000);
const TERMINAL = new Set(['successful', 'failed', 'rolled_back', 'superseded', 'cancelled']);

/** One signed request, signed at the real clock: every body here is unique, so no two share a signature. */
async function send(
  baseUrl: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; json: unknown }> {
  const payload = body === undefined ? '' : JSON.stringify(body);
  const res = await fetch(`${baseUrl}${path}`, {
    method,
    headers: {
      ...(payload ? { 'content-type': 'application/json' } : {}),
      ...signedHeaders(BENCH_KEY, method, path, payload, Date.now()),
    },
    body: payload || undefined,
  });
  const text = await res.text();
  let json: unknown = text;
  try {
    json = text ? JSON.parse(text) : {};
  } catch {
    // not JSON
  }
  return { status: res.status, json };
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
}

export async function benchLoad(): Promise<Record<string, string | number>> {
  const agent = await instantAgent();
  const { server } = await startBenchServer('load');
  const deployments = Array.from({ length: CLIENTS }, (_, i) => `load-${i}`);
  try {
    const resources = deployments.flatMap((d) =>
      Array.from({ length: TARGETS }, (_, t) => ({
        id: `${d}-node-${t}`,
        kind: 'vm',
        name: `${d}-node-${t}`,
        metadata: { env: 'prod', app: d },
      })),
    );
    const synced = await send(server.url, 'POST', '/v1/resource-providers/bench/sync', { resources });
    if (synced.status !== 200) throw new Error(`sync answered ${synced.status}`);
    await send(server.url, 'PUT', '/v1/environments/prod', {
      resourceSelector: "resource.metadata.env == 'prod'",
    });
    for (const d of deployments) {
      const put = await send(server.url, 'PUT', `/v1/deployments/${d}`, {
        resourceSelector: `resource.metadata.app == '${d}'`,
        jobAgent: { type: 'webhook', url: agent.url },
      });
      if (put.status !== 201) throw new Error(`PUT deployment answered ${put.status}`);
    }

    // Act: each client creates versions of its deployment back to back until the time is up.
    const latencies: number[] = [];
    const errors: string[] = [];
    const created: { deployment: string; tag: string }[] = [];
    const started = performance.now();
    const until = started + SECONDS * 1000;
    await Promise.all(
      deployments.map(async (deployment) => {
        for (let n = 1; performance.now() < until; n++) {
          const tag = `v${n}`;
          const t0 = performance.now();
          try {
            const reply = await send(server.url, 'POST', `/v1/deployments/${deployment}/versions`, {
              tag,
              metadata: { commit: `${deployment}-${n}` },
            });
            latencies.push(performance.now() - t0);
            const targets = (reply.json as { releaseTargets?: unknown[] }).releaseTargets ?? [];
            if (reply.status !== 201 || targets.length !== TARGETS) {
              errors.push(
                `${deployment}/${tag}: ${reply.status} ${JSON.stringify(reply.json).slice(0, 200)}`,
              );
            } else {
              created.push({ deployment, tag });
            }
          } catch (error) {
            errors.push(`${deployment}/${tag}: ${(error as Error).message}`);
          }
        }
      }),
    );
    const loadSeconds = (performance.now() - started) / 1000;

    // Assess: every created version has all its releases, and each ends terminal.
    const settleStarted = performance.now();
    const statuses = new Map<string, number>();
    let lost: string[] = [];
    for (;;) {
      lost = [];
      statuses.clear();
      for (const deployment of deployments) {
        const mine = created.filter((v) => v.deployment === deployment);
        for (const version of mine) {
          const view = await send(server.url, 'GET', `/v1/deployments/${deployment}/versions/${version.tag}`);
          const releases = (view.json as { releases?: { status: string }[] }).releases ?? [];
          for (const r of releases) statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
          if (
            view.status !== 200 ||
            releases.length !== TARGETS ||
            !releases.every((r) => TERMINAL.has(r.status))
          )
            lost.push(`${deployment}/${version.tag}`);
        }
      }
      if (lost.length === 0 || performance.now() - settleStarted > SETTLE_TIMEOUT_MS) break;
      await new Promise((r) => setTimeout(r, 1000));
    }
    const settleSeconds = (performance.now() - settleStarted) / 1000;
    // The newest version of each deployment must have landed on every target.
    const targets = (await send(server.url, 'GET', '/v1/release-targets')).json as {
      items: { deployment: string; currentVersion?: string | null }[];
    };
    const newest = new Map<string, string>();
    for (const v of created) newest.set(v.deployment, v.tag);
    const stale = targets.items.filter((t) => newest.get(t.deployment) !== t.currentVersion).length;

    latencies.sort((a, b) => a - b);
    const figures: Record<string, string | number> = {
      'concurrent CI clients (one deployment each)': CLIENTS,
      'release targets per deployment': TARGETS,
      'load duration (s)': loadSeconds.toFixed(1),
      'versions created': created.length,
      'create errors': errors.length,
      'lost versions (a release missing or never terminal)': lost.length,
      'targets not on their newest version': stale,
      'throughput (versions/s)': (created.length / loadSeconds).toFixed(1),
      'create latency p50 (ms)': Math.round(percentile(latencies, 50)),
      'create latency p99 (ms)': Math.round(percentile(latencies, 99)),
      'create latency max (ms)': Math.round(latencies.at(-1) ?? Number.NaN),
      'releases by final status': JSON.stringify(Object.fromEntries(statuses)),
      'jobs called back': agent.callbacks(),
      'all rollouts terminal, after the load stopped (s)': settleSeconds.toFixed(1),
      'end-to-end rollouts (releases/s, load + settle)': (
        [...statuses.values()].reduce((a, b) => a + b, 0) /
        (loadSeconds + settleSeconds)
      ).toFixed(1),
    };
    if (errors.length > 0 || lost.length > 0 || stale > 0) {
      console.error(
        `benchLoad: ${errors.length} errors, ${lost.length} lost versions, ${stale} stale targets; first: ${[...errors, ...lost].slice(0, 5).join('; ')}`,
      );
      process.exitCode = 1;
    }
    return figures;
  } finally {
    await server.close();
    agent.server.close();
  }
}
