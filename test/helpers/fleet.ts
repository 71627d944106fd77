import type { Client, Reply } from './client';
import { type Loopback, serveLoopback } from './loopback';

/**
 * A fleet built as a user with one would build it, through the signed API only: used by the scale
 * bench (bench/scale.ts) and the CI scale test (test/reliability/scale.test.ts).
 */
export interface FleetResource {
  id: string;
  kind: string;
  name: string;
  metadata: Record<string, string>;
}

export const FLEET_ENVIRONMENTS = ['e0', 'e1', 'e2', 'e3', 'e4'];

/**
 * Resource i lives in environment `e{i % 5}` and in band `floor(i / 5) % 20` (so every band spreads
 * evenly over the environments; deployments select bands), and its `ring` is 1 for the first
 * `ringOne` resources (the deployment that rolls out selects ring 1). `rack` splits each
 * environment's share of ring 1 in two, so a selector change can move half of it.
 */
export function fleetResources(count: number, ringOne: number): FleetResource[] {
  return Array.from({ length: count }, (_, i) => ({
    id: `node-${String(i).padStart(6, '0')}`,
    kind: 'vm',
    name: `node-${i}`,
    metadata: {
      env: `e${i % 5}`,
      band: String(Math.floor(i / 5) % 20).padStart(2, '0'),
      ring: i < ringOne ? '1' : '2',
      rack: String(Math.floor(i / 5) % 2),
      region: i % 2 ? 'eu-west-1' : 'us-east-1',
    },
  }));
}

export const environmentSelector = (env: string) => `resource.metadata.env == '${env}'`;

/**
 * Resources per sync page, as the fleet-scale bench syncs them (docs/performance.md): a page's time grows with the resources it writes
 * (about 0.5 ms each on dynalite here), never with the fleet, so 1,000 a page keeps each well under
 * a second.
 */
export const SYNC_PAGE_RESOURCES = 1_000;

/** Cuts a provider's set into sync bodies under the 1 MiB limit (docs/api.md section 3) and the page size. */
export function syncPages(
  resources: FleetResource[],
  maxBytes = 900_000,
  maxCount = SYNC_PAGE_RESOURCES,
): FleetResource[][] {
  const pages: FleetResource[][] = [];
  let page: FleetResource[] = [];
  let bytes = 0;
  for (const resource of resources) {
    const size = JSON.stringify(resource).length + 1;
    if (page.length > 0 && (bytes + size > maxBytes || page.length === maxCount)) {
      pages.push(page);
      page = [];
      bytes = 0;
    }
    page.push(resource);
    bytes += size;
  }
  if (page.length > 0) pages.push(page);
  return pages;
}

export interface Timed<T> {
  ms: number;
  reply: Reply<T>;
}

export async function timed<T>(call: () => Promise<Reply<T>>): Promise<Timed<T>> {
  const started = performance.now();
  const reply = await call();
  return { ms: performance.now() - started, reply };
}

/** Every item of a paginated list (docs/api.md section 3: `limit` and `nextToken`). */
export async function listAll<T>(client: Client, path: string, limit = 1000): Promise<T[]> {
  const items: T[] = [];
  let nextToken: string | undefined;
  do {
    const sep = path.includes('?') ? '&' : '?';
    const query = `limit=${limit}${nextToken ? `&nextToken=${encodeURIComponent(nextToken)}` : ''}`;
    const reply = await client.get<{ items: T[]; nextToken?: string }>(`${path}${sep}${query}`);
    if (reply.status !== 200)
      throw new Error(`GET ${path} answered ${reply.status}: ${reply.text.slice(0, 300)}`);
    items.push(...reply.body.items);
    nextToken = reply.body.nextToken;
  } while (nextToken);
  return items;
}

export interface TargetView {
  deployment: string;
  environment: string;
  resource: string;
  currentVersion: string | null;
  desiredVersion: string | null;
  status: string | null;
}

/**
 * Releases of a version counted per status: the version's `summary` (docs/api.md section 4). A server
 * without it yet is answered by counting the pages of `releases`, so the figures stay comparable.
 */
export async function versionSummary(
  client: Client,
  deployment: string,
  tag: string,
): Promise<Record<string, number>> {
  const path = `/v1/deployments/${deployment}/versions/${tag}`;
  const first = await client.get<{
    summary?: Record<string, number>;
    releases: { status: string }[];
    nextToken?: string;
  }>(path);
  if (first.status !== 200)
    throw new Error(`GET ${path} answered ${first.status}: ${first.text.slice(0, 300)}`);
  if (first.body.summary) return first.body.summary;
  const counts: Record<string, number> = {};
  let page = first.body;
  for (;;) {
    for (const r of page.releases) counts[r.status] = (counts[r.status] ?? 0) + 1;
    if (!page.nextToken) return counts;
    const next = await client.get<typeof page>(`${path}?nextToken=${encodeURIComponent(page.nextToken)}`);
    page = next.body;
  }
}

export const total = (summary: Record<string, number>) =>
  Object.values(summary).reduce((sum, n) => sum + n, 0);

/** Polls until `done` holds, at most `timeoutMs`; returns the last value and when it held. */
export async function until<T>(
  probe: () => Promise<T>,
  done: (value: T) => boolean,
  { timeoutMs, intervalMs = 500 }: { timeoutMs: number; intervalMs?: number },
): Promise<{ value: T; ok: boolean }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (done(value)) return { value, ok: true };
    if (Date.now() > deadline) return { value, ok: false };
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

export interface RecordedJob {
  jobId: string;
  kind: string;
  deployment: string;
  environment: string;
  resource: string;
  tag: string;
}

/**
 * A webhook agent that accepts each job at once and calls back `successful`, retrying a refused or
 * lost callback; it records every job it was sent, so a test can tell a lost rollout from a doubled one.
 */
export class RecordingAgent {
  readonly jobs: RecordedJob[] = [];
  callbacks = 0;
  /** Callbacks given up on after every retry, with the last answer (0: no answer). */
  readonly lostCallbacks: number[] = [];
  private server?: Loopback;
  url = '';

  async start(): Promise<this> {
    this.server = await serveLoopback((_req, res, raw) => {
      const job = JSON.parse(raw) as {
        jobId: string;
        kind: string;
        deployment: { id: string };
        environment: { id: string };
        resource: { id: string };
        version: { tag: string };
        callback: { url: string; token: string };
      };
      this.jobs.push({
        jobId: job.jobId,
        kind: job.kind,
        deployment: job.deployment.id,
        environment: job.environment.id,
        resource: job.resource.id,
        tag: job.version.tag,
      });
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      void this.callBack(job.callback);
    });
    this.url = `${this.server.origin}/jobs`;
    return this;
  }

  private async callBack(callback: { url: string; token: string }): Promise<void> {
    for (let attempt = 0; attempt < 8; attempt++) {
      const reply = await fetch(callback.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${callback.token}` },
        body: JSON.stringify({ status: 'successful' }),
      }).catch(() => undefined);
      if (reply) await reply.arrayBuffer();
      if (reply?.status === 200) {
        this.callbacks++;
        return;
      }
      if (attempt === 7) this.lostCallbacks.push(reply?.status ?? 0);
      else await new Promise((r) => setTimeout(r, 200 * (attempt + 1)));
    }
  }

  async stop(): Promise<void> {
    await this.server?.close();
  }
}

export interface ReleaseView {
  environment: string;
  resource: string;
  status: string;
  waitingFor?: string | null;
  jobId?: string | null;
}

/** Every release of a version, following the view's top-level `nextToken` (docs/api.md section 4). */
export async function allReleases(client: Client, deployment: string, tag: string): Promise<ReleaseView[]> {
  const path = `/v1/deployments/${deployment}/versions/${tag}`;
  const releases: ReleaseView[] = [];
  let nextToken: string | undefined;
  do {
    const query = `?limit=1000${nextToken ? `&nextToken=${encodeURIComponent(nextToken)}` : ''}`;
    const reply = await client.get<{ releases: ReleaseView[]; nextToken?: string }>(`${path}${query}`);
    if (reply.status !== 200)
      throw new Error(`GET ${path} answered ${reply.status}: ${reply.text.slice(0, 300)}`);
    releases.push(...reply.body.releases);
    nextToken = reply.body.nextToken;
  } while (nextToken);
  return releases;
}
