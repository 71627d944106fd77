import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalServer } from '../../infra/local/server';
import type { AuditRecord } from '../../shared/adapters/events';
import { FakeAgent } from '../helpers/agent';
import { type Client, eventually } from '../helpers/client';
import { startTestServer } from '../helpers/local';

/**
 * Issue 19, delivery metrics on the status page, in a real headless Chromium: the page draws the
 * four measures and an SVG bar chart of each day's releases (no CDN, no library) from the view-token
 * read, for the whole deployment and for one environment. Today's releases are real (an agent that
 * fails one deploy, which rolls back); the 29 days before are outcome events put on the local bus,
 * counted by the same consumer. Screenshot in test-artifacts/ (docs/screenshots/ with
 * UPDATE_SCREENSHOTS=1).
 */
const CHROMIUM = '/usr/bin/chromium';
const ROOT = join(import.meta.dirname, '../..');
const ARTIFACTS = join(ROOT, 'test-artifacts');
const DOCS = join(ROOT, 'docs/screenshots');
const skip = !existsSync(CHROMIUM) && !process.env.CI;
const DAY_MS = 86_400_000;

interface Metrics {
  deploymentsPerDay: number;
  changeFailureRate: number | null;
  counts: { successful: number; failed: number; rolledBack: number; finished: number };
}

let server: LocalServer;
let admin: Client;
let reader: Client;
let context: BrowserContext;
let page: Page;
let profile: string;
const agent = new FakeAgent();
const outcomes: AuditRecord[] = [];
const pageErrors: string[] = [];

async function release(tag: string): Promise<void> {
  await admin.post('/v1/deployments/shop/versions', { tag });
  await eventually(
    () => admin.get<{ releases: { status: string }[] }>(`/v1/deployments/shop/versions/${tag}`),
    (r) =>
      r.body.releases?.length === 2 &&
      r.body.releases.every((x) => ['successful', 'failed', 'rolled_back'].includes(x.status)),
    { timeoutMs: 20_000 },
  );
  await server.bus.flush();
}

/** Outcomes of the days before today, as the bus would carry them (one id each). */
function seedPastDays(): void {
  const entries: { Source: string; DetailType: string; Detail: string }[] = [];
  for (let daysAgo = 1; daysAgo < 30; daysAgo++) {
    const time = new Date(Date.now() - daysAgo * DAY_MS).toISOString().replace(/T.*/, 'T12:00:00.000Z');
    const outcomesOfDay = [
      ...Array.from({ length: (daysAgo % 4) + 1 }, () => 'Release Succeeded'),
      ...(daysAgo % 6 === 0 ? ['Release Failed'] : []),
      ...(daysAgo % 9 === 0 ? ['Release Rolled Back'] : []),
    ];
    outcomesOfDay.forEach((detailType, n) => {
      const record = {
        id: `seed-${daysAgo}-${n}`,
        time,
        detailType,
        deployment: 'shop',
        version: `old-${daysAgo}`,
        environment: n % 2 ? 'staging' : 'production',
        resource: n % 2 ? 'shop-stg' : 'shop-prod',
        actor: { system: 'gantry' },
        data: { leadTimeFrom: new Date(Date.parse(time) - (daysAgo + 1) * 3_600_000).toISOString() },
      };
      entries.push({ Source: 'gantry', DetailType: detailType, Detail: JSON.stringify(record) });
    });
  }
  for (let i = 0; i < entries.length; i += 10)
    server.bus.handleJsonProtocol('AWSEvents.PutEvents', { Entries: entries.slice(i, i + 10) });
}

/** What each day's bar must show: the outcomes the bus carried, per day. */
function expectedBars(environment?: string) {
  const bars = new Map<string, { successful: number; failed: number }>();
  for (const o of outcomes) {
    if (o.deployment !== 'shop' || (environment && o.environment !== environment)) continue;
    const day = o.time.slice(0, 10);
    const bar = bars.get(day) ?? { successful: 0, failed: 0 };
    if (o.detailType === 'Release Succeeded') bar.successful++;
    else if (o.detailType === 'Release Failed' || o.detailType === 'Release Rolled Back') bar.failed++;
    bars.set(day, bar);
  }
  return bars;
}

const drawnBars = () =>
  page.locator('#metrics-chart svg g').evaluateAll((groups) =>
    groups.map((g) => ({
      day: g.getAttribute('data-day') as string,
      successful: Number(g.getAttribute('data-successful')),
      failed: Number(g.getAttribute('data-failed')),
      heights: [...g.querySelectorAll('rect')].map((r) => Number(r.getAttribute('height'))),
    })),
  );

const measure = (id: string) => page.locator(`[data-measure="${id}"] .value`).textContent();

beforeAll(async () => {
  if (skip) return;
  await agent.start();
  agent.behaviour = (job) =>
    job.kind === 'deploy' && job.version.tag === 'v2' && job.environment.id === 'production'
      ? 'failed'
      : 'successful';
  let as: (id: string) => Client;
  ({ server, admin, as } = await startTestServer());
  reader = as('reader');
  server.bus.tap = (event) => {
    const detail = event.detail as AuditRecord;
    if (detail.detailType?.startsWith('Release ')) outcomes.push(detail);
  };
  for (const [env, resource] of [
    ['staging', 'shop-stg'],
    ['production', 'shop-prod'],
  ] as const) {
    await admin.put(`/v1/resources/${resource}`, { kind: 'vm', name: resource, metadata: { env } });
    await admin.put(`/v1/environments/${env}`, {
      name: env === 'staging' ? 'Staging' : 'Production',
      resourceSelector: `resource.metadata.env == '${env}'`,
    });
  }
  await admin.put('/v1/deployments/shop', {
    name: 'Shop',
    environments: ['staging', 'production'],
    jobAgent: { type: 'webhook', url: agent.url },
  });
  await admin.put('/v1/policies/shop-rollback', {
    targets: "environment.id == 'production'",
    rules: { rollback: { onJobFailure: true } },
  });
  for (const tag of ['v1', 'v2', 'v3']) await release(tag);
  seedPastDays();
  await server.bus.flush();

  profile = mkdtempSync(join(tmpdir(), 'gantry-chromium-'));
  context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless=new',
      '--no-sandbox',
      '--disable-gpu',
      '--no-first-run',
      '--disable-background-networking',
    ],
    viewport: { width: 1200, height: 900 },
    locale: 'en-GB',
    timezoneId: 'UTC',
  });
  page = context.pages()[0] ?? (await context.newPage());
  // A Content-Security-Policy refusal (an inline style, a script from elsewhere) shows as a console error.
  page.on('console', (message) => {
    if (message.type() === 'error' && !message.text().startsWith('Failed to load resource'))
      pageErrors.push(message.text());
  });
  // Every read answers (the browser's own favicon request aside).
  page.on('response', (response) => {
    if (response.status() >= 400 && !response.url().endsWith('/favicon.ico'))
      pageErrors.push(`${response.status()} ${response.url()}`);
  });
  page.on('pageerror', (error) => pageErrors.push(String(error)));
}, 90_000);

afterAll(async () => {
  if (skip) return;
  await context?.close();
  if (profile) rmSync(profile, { recursive: true, force: true });
  await server?.close();
  await agent.stop();
});

describe.skipIf(skip)('delivery metrics on the status page', () => {
  it('draws the four measures and one bar a day from the counted outcomes', async () => {
    const link = await reader.post<{ url: string }>('/v1/view-links', { deployment: 'shop' });
    await page.goto(link.body.url);
    await page.locator('#metrics-chart svg g').first().waitFor({ timeout: 10_000 });

    const api = await admin.get<Metrics>('/v1/metrics/delivery?deployment=shop');
    const rolledBack = outcomes.filter((o) => o.detailType === 'Release Rolled Back').length;
    expect(api.body.counts.rolledBack).toBe(rolledBack); // v2 in production and the seeded ones
    expect(await measure('deploymentsPerDay')).toBe(String(api.body.deploymentsPerDay));
    expect(await measure('changeFailureRate')).toBe(
      `${((api.body.changeFailureRate as number) * 100).toFixed(1)}%`,
    );
    expect(await page.locator('[data-measure="changeFailureRate"] .basis').textContent()).toBe(
      `${api.body.counts.failed + api.body.counts.rolledBack} of ${api.body.counts.finished} failed or rolled back`,
    );
    expect(await measure('leadTime')).toMatch(/^\S.*, \S.*$/);

    const bars = await drawnBars();
    expect(bars).toHaveLength(30);
    const expected = expectedBars();
    for (const bar of bars)
      expect({ day: bar.day, ...(expected.get(bar.day) ?? { successful: 0, failed: 0 }) }).toEqual({
        day: bar.day,
        successful: bar.successful,
        failed: bar.failed,
      });
    // Every outcome of the range is in a bar, and the busiest day fills the chart's height.
    const drawn = bars.reduce((n, b) => n + b.successful + b.failed, 0);
    expect(drawn).toBe(api.body.counts.finished);
    const busiest = Math.max(...bars.map((b) => b.successful + b.failed));
    for (const bar of bars) {
      const height = (bar.heights[0] ?? 0) + (bar.heights[1] ?? 0);
      expect(height).toBeCloseTo(((bar.successful + bar.failed) / busiest) * 100, 5);
    }
    const label = await page.locator('#metrics-chart svg').getAttribute('aria-label');
    expect(label).toContain(`${api.body.counts.successful} successful`);

    await page.locator('#metrics-chart').scrollIntoViewIfNeeded();
    mkdirSync(ARTIFACTS, { recursive: true });
    const file = join(ARTIFACTS, 'metrics.png');
    await page.locator('section[aria-labelledby="metrics-title"]').screenshot({ path: file });
    if (process.env.UPDATE_SCREENSHOTS === '1') {
      mkdirSync(DOCS, { recursive: true });
      copyFileSync(file, join(DOCS, 'metrics.png'));
    }
    expect(pageErrors).toEqual([]);
  }, 30_000);

  it('narrows the measures and the bars to one environment', async () => {
    await page.locator('#metrics-environment').selectOption('production');
    const api = await admin.get<Metrics>('/v1/metrics/delivery?deployment=shop&environment=production');
    const expected = expectedBars('production');
    const today = [...expected.keys()].sort().at(-1) as string;
    // Today in production: v1 and v3 succeeded, v2 rolled back.
    expect(expected.get(today)).toEqual({ successful: 2, failed: 1 });
    const bars = await eventually(
      drawnBars,
      (drawn) => drawn.find((b) => b.day === today)?.successful === 2,
      { timeoutMs: 10_000 },
    );
    for (const bar of bars) {
      const want = expected.get(bar.day) ?? { successful: 0, failed: 0 };
      expect([bar.day, bar.successful, bar.failed]).toEqual([bar.day, want.successful, want.failed]);
    }
    expect(await measure('changeFailureRate')).toBe(
      `${((api.body.changeFailureRate as number) * 100).toFixed(1)}%`,
    );
    expect(pageErrors).toEqual([]);
  }, 30_000);
});
