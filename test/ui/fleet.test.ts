import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalServer } from '../../infra/local/server';
import { FakeAgent } from '../helpers/agent';
import { type Client, eventually, Client as Plain } from '../helpers/client';
import { startTestServer } from '../helpers/local';

/**
 * Issue 15, item 6: the status page at 5,000 release targets, in Debian's Chromium. The first view is
 * a summary per environment, the drill-down pages on the server; both are usable in under 2 s (the
 * median of three loads, timed from navigation). With UPDATE_SCREENSHOTS=1 the page is written to
 * docs/status-page-5000.png for docs/performance.md.
 */
const CHROMIUM = '/usr/bin/chromium';
const ROOT = join(import.meta.dirname, '../..');
const skip = !existsSync(CHROMIUM) && !process.env.CI;

const TARGETS = 5000;
/** Resource i is in production when i % 5 > 0: 1,000 staging and 4,000 production targets. */
const envOf = (i: number) => (i % 5 === 0 ? 'staging' : 'production');
const LOADS = 3;
const BUDGET_MS = 2000;

let server: LocalServer;
let admin: Client;
let reader: Client;
let context: BrowserContext;
let profile: string;
const agent = new FakeAgent();
const seeding: Record<string, number> = {};

async function timed<T>(name: string, work: () => Promise<T>): Promise<T> {
  const start = performance.now();
  const out = await work();
  seeding[name] = Math.round(performance.now() - start);
  return out;
}

const median = (values: number[]) =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;

beforeAll(async () => {
  if (skip) return;
  await agent.start();
  agent.behaviour = () => 'none';
  let as: (id: string) => Client;
  ({ server, admin, as } = await startTestServer());
  reader = as('reader');
  const resources = Array.from({ length: TARGETS }, (_, i) => ({
    id: `node-${String(i).padStart(4, '0')}`,
    kind: 'vm',
    name: `Node ${String(i).padStart(4, '0')} (${i % 2 ? 'eu-west-1' : 'us-east-1'})`,
    metadata: { env: envOf(i) },
  }));
  const sync = await timed('sync', () => admin.post('/v1/resource-providers/fleet/sync', { resources }));
  expect(sync.status).toBe(200);
  for (const env of ['staging', 'production'])
    await timed(`environment ${env}`, () =>
      admin.put(`/v1/environments/${env}`, {
        name: env[0]?.toUpperCase() + env.slice(1),
        resourceSelector: `resource.metadata.env == '${env}'`,
      }),
    );
  await timed('deployment', () =>
    admin.put('/v1/deployments/api', {
      name: 'API',
      environments: ['staging', 'production'],
      jobAgent: { type: 'webhook', url: agent.url },
    }),
  );
  // Paused, so the rollouts wait instead of needing an agent to finish 5,000 jobs.
  await admin.post('/v1/deployments/api/pause', { reason: 'status page test' });
  const created = await timed('version', () => admin.post('/v1/deployments/api/versions', { tag: 'v1' }));
  expect(created.status).toBe(201);
  // Releases are written asynchronously (docs/api.md section 4), in chunks that also start their rollouts:
  // wait until the version has all of them and every rollout waits (minutes on 2 busy cores, hence
  // this hook's timeout), so the page is timed against a server that is not fanning out.
  const token = new URL((await reader.post<{ url: string }>('/v1/view-links', {})).body.url).searchParams.get(
    'v',
  );
  await timed('releases written', () =>
    eventually(
      () =>
        new Plain(server.url).request<{ total: number; environments: { counts: Record<string, number> }[] }>(
          'GET',
          '/ui/api/summary?deployment=api',
          undefined,
          {
            headers: { authorization: `View ${token}` },
          },
        ),
      (reply) => reply.body.total === TARGETS && reply.body.environments.every((e) => !e.counts.pending),
      { timeoutMs: 540_000, intervalMs: 1000 },
    ),
  );
  console.log('seeding (ms):', JSON.stringify(seeding));
  profile = mkdtempSync(join(tmpdir(), 'gantry-chromium-'));
  context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless=new',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    viewport: { width: 1280, height: 1000 },
    locale: 'en-GB',
    timezoneId: 'UTC',
  });
}, 600_000);

afterAll(async () => {
  if (skip) return;
  await context?.close();
  if (profile) rmSync(profile, { recursive: true, force: true });
  await server?.close();
  await agent.stop();
});

/** One load: navigation to a visible summary, then a click to a drill-down filtered by status. */
async function load(page: Page, url: string) {
  const bodies: number[] = [];
  page.on('response', async (response) => {
    if (response.url().includes('/ui/api/'))
      bodies.push((await response.body().catch(() => Buffer.alloc(0))).length);
  });
  const calls: string[] = [];
  const navigation = Date.now();
  page.on('requestfinished', (request) => {
    const url = new URL(request.url());
    if (!url.pathname.startsWith('/ui/api/')) return;
    const timing = request.timing();
    const filtered = url.searchParams.has('status') ? '?status' : '';
    calls.push(
      `${url.pathname.slice(8)}${filtered}@${Math.round(timing.startTime - navigation)}+${Math.round(timing.responseEnd)}`,
    );
  });
  const start = performance.now();
  await page.goto(url);
  const production = page.locator('table.summary tbody tr[data-environment="production"]');
  await production.locator('.progress-text', { hasText: '/ 4,000 successful' }).waitFor({ timeout: 30_000 });
  const summaryMs = performance.now() - start;
  // The biggest count of production opens its drill-down filtered by that status.
  const count = production.locator('button.count').first();
  const status = (await count.getAttribute('data-status')) as string;
  await count.click();
  const rows = page.locator('table.targets tbody tr[data-resource]');
  await rows.first().waitFor({ timeout: 30_000 });
  const drillMs = performance.now() - start;
  expect(await page.locator('#status-filter').inputValue()).toBe(status);
  console.log(
    `load: summary ${Math.round(summaryMs)} ms, drill-down ${Math.round(drillMs)} ms; requests (start+duration ms): ${calls.join(' ')}`,
  );
  return { summaryMs, drillMs, status, rows, bodies };
}

describe.skipIf(skip)('the status page at 5,000 targets in Chromium', () => {
  it('shows the summary and a filtered drill-down in under 2 s, never all targets at once', async () => {
    const link = await reader.post<{ url: string }>('/v1/view-links', { deployment: 'api' });
    const summaries: number[] = [];
    const drills: number[] = [];
    let page: Page | undefined;
    for (let n = 0; n < LOADS; n++) {
      await page?.close();
      page = await context.newPage();
      const { summaryMs, drillMs, status, rows, bodies } = await load(page, link.body.url);
      summaries.push(summaryMs);
      drills.push(drillMs);
      // Server-side paging: one page of rows, each in the status filtered for, and small answers.
      const statuses = await rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-status')));
      expect(statuses.length).toBeGreaterThan(0);
      expect(statuses.length).toBeLessThanOrEqual(50);
      expect(new Set(statuses)).toEqual(new Set([status]));
      expect(Math.max(...bodies)).toBeLessThan(256 * 1024);
    }
    const shown = page as Page;
    console.log(
      `summary visible (ms): ${summaries.map(Math.round).join(', ')}; median ${Math.round(median(summaries))}`,
    );
    console.log(
      `filtered drill-down usable (ms): ${drills.map(Math.round).join(', ')}; median ${Math.round(median(drills))}`,
    );
    expect(median(summaries)).toBeLessThan(BUDGET_MS);
    expect(median(drills)).toBeLessThan(BUDGET_MS);

    // The summary counts every release of the version, per environment.
    expect(await shown.locator('#summary-total').textContent()).toMatch(
      / of 5,000 releases of v1 successful$/,
    );
    const staging = shown.locator('table.summary tbody tr[data-environment="staging"] .progress-text');
    expect(await staging.textContent()).toBe('0 / 1,000 successful (0%)');

    // Search by name (not the id) within all statuses, then page on the server.
    await shown.locator('#status-filter').selectOption('');
    const searchStart = performance.now();
    await shown.locator('#search').fill('Node 4321');
    const found = shown.locator('table.targets tbody tr[data-resource="node-4321"]');
    await found.waitFor({ timeout: 10_000 });
    console.log(
      `search answered in the page (ms, with a 250 ms debounce): ${Math.round(performance.now() - searchStart)}`,
    );
    expect(await shown.locator('table.targets tbody tr[data-resource]').count()).toBe(1);
    await shown.locator('#search').fill('');
    await shown.locator('table.targets tbody tr[data-resource]').nth(49).waitFor({ timeout: 10_000 });
    const first = await shown
      .locator('table.targets tbody tr[data-resource]')
      .first()
      .getAttribute('data-resource');
    await shown.locator('#next').click();
    await shown.locator('#page-no', { hasText: 'Page 2' }).waitFor({ timeout: 10_000 });
    const second = await shown
      .locator('table.targets tbody tr[data-resource]')
      .first()
      .getAttribute('data-resource');
    expect(second && first && second > first).toBe(true);
    await shown.locator('#prev').click();
    await shown.locator('#page-no', { hasText: 'Page 1' }).waitFor({ timeout: 10_000 });

    // The timeline of a big version is drawn when asked for, for the targets the drill-down shows.
    expect(await shown.locator('#timeline tbody tr').count()).toBe(0);
    const timelineStart = performance.now();
    await shown.locator('#timeline-ask').click();
    await shown.locator('#timeline tbody tr').nth(49).waitFor({ timeout: 20_000 });
    console.log(`timeline of 50 targets drawn (ms): ${Math.round(performance.now() - timelineStart)}`);
    expect(await shown.locator('#timeline tbody tr').count()).toBe(50);

    if (process.env.UPDATE_SCREENSHOTS === '1') {
      await shown.locator('#status-filter').selectOption('waiting');
      await shown
        .locator('table.targets tbody tr[data-status="waiting"]')
        .first()
        .waitFor({ timeout: 30_000 });
      await shown.evaluate('window.scrollTo(0, 0)');
      await shown.screenshot({ path: join(ROOT, 'docs/status-page-5000.png') });
    }
  }, 180_000);

  it('pages the drill-down with limit and nextToken, and refuses a token of another list', async () => {
    const token = new URL(
      (await reader.post<{ url: string }>('/v1/view-links', {})).body.url,
    ).searchParams.get('v');
    const view = (path: string) =>
      new Plain(server.url).request<{ items: { resource: string }[]; nextToken?: string }>(
        'GET',
        path,
        undefined,
        {
          headers: { authorization: `View ${token}` },
        },
      );
    const base = '/ui/api/targets?deployment=api&tag=v1&environment=staging&limit=400';
    const seen: string[] = [];
    let next: string | undefined;
    do {
      const page = await view(next ? `${base}&nextToken=${encodeURIComponent(next)}` : base);
      expect(page.status).toBe(200);
      expect(page.body.items.length).toBeLessThanOrEqual(400);
      seen.push(...page.body.items.map((i) => i.resource));
      next = page.body.nextToken;
    } while (next);
    expect(seen).toHaveLength(1000);
    expect(new Set(seen).size).toBe(1000);
    expect(seen).toEqual([...seen].sort());
    const first = await view(base);
    const other = await view(
      `/ui/api/targets?deployment=api&tag=v1&environment=production&nextToken=${first.body.nextToken}`,
    );
    expect(other.status).toBe(400);
  }, 60_000);
});
