import type { AuditRecord } from '../../shared/adapters/events';
import { type Client, eventually } from '../helpers/client';

/** Reading rollouts back through the API, as the reliability suites check them (docs/api.md sections 4 and 8). */
export interface ReleaseView {
  environment: string;
  resource: string;
  status: string;
  waitingFor: string | null;
  jobId: string | null;
  rolledBackTo: string | null;
  message: string | null;
}

export interface VersionView {
  version: { deployment: string; tag: string; status: string; createdAt: string };
  /** Releases counted per status, all of them. */
  summary: Record<string, number>;
  releases: ReleaseView[];
}

/** An audit record as GET /v1/events answers it (shared/adapters/events.ts). */
export type AuditEvent = AuditRecord;

export const TERMINAL_STATUSES: ReadonlySet<string> = new Set([
  'successful',
  'failed',
  'rolled_back',
  'superseded',
  'cancelled',
]);

/** Read from the summary, so a version of any size settles without reading its releases. */
export const isSettled = (view: Pick<VersionView, 'summary'>, count: number) => {
  const counts = Object.entries(view.summary);
  return (
    counts.reduce((sum, [, n]) => sum + n, 0) === count &&
    counts.every(([status, n]) => n === 0 || TERMINAL_STATUSES.has(status))
  );
};

/** A version with every release (following nextToken past the 1,000 of one answer). */
export async function versionView(client: Client, deployment: string, tag: string): Promise<VersionView> {
  const reply = await client.getAll<VersionView>(`/v1/deployments/${deployment}/versions/${tag}`, 'releases');
  if (reply.status !== 200)
    throw new Error(`GET version ${deployment}/${tag}: ${reply.status} ${reply.text}`);
  return reply.body;
}

/** Waits until every one of `count` releases of the version is terminal (polling its summary). */
export async function waitSettled(
  client: Client,
  deployment: string,
  tag: string,
  count: number,
  timeoutMs = 20_000,
): Promise<VersionView> {
  await eventually(
    async () => {
      const reply = await client.get<VersionView>(`/v1/deployments/${deployment}/versions/${tag}?limit=1`);
      if (reply.status !== 200)
        throw new Error(`GET version ${deployment}/${tag}: ${reply.status} ${reply.text}`);
      return reply.body;
    },
    (v) => isSettled(v, count),
    { timeoutMs, intervalMs: 50 },
  );
  return versionView(client, deployment, tag);
}

/** Every audit event (of one deployment), oldest first, following nextToken to the end (bounded). */
export async function allEvents(client: Client, deployment?: string): Promise<AuditEvent[]> {
  const items: AuditEvent[] = [];
  let nextToken: string | undefined;
  for (let page = 0; page < 200; page++) {
    const query = new URLSearchParams({ limit: '1000' });
    if (deployment) query.set('deployment', deployment);
    if (nextToken) query.set('nextToken', nextToken);
    const reply = await client.get<{ items: AuditEvent[]; nextToken?: string }>(`/v1/events?${query}`);
    if (reply.status !== 200) throw new Error(`GET /v1/events: ${reply.status} ${reply.text}`);
    items.push(...reply.body.items);
    nextToken = reply.body.nextToken;
    if (!nextToken) return items;
  }
  throw new Error('More than 200 pages of events');
}

/** How many times each value occurs. */
export function countBy<T>(items: T[], keyOf: (item: T) => string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const item of items) counts.set(keyOf(item), (counts.get(keyOf(item)) ?? 0) + 1);
  return counts;
}

/** A deterministic pseudo-random generator (mulberry32), so a randomised schedule can be replayed by its seed. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
