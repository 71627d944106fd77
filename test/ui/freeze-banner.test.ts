import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalServer } from '../../infra/local/server';
import { nowMs } from '../../shared/core/clock';
import { FakeAgent } from '../helpers/agent';
import { type Client, eventually } from '../helpers/client';
import { startTestServer } from '../helpers/local';

/**
 * Issue 19 item 1, freezes on the status page, in a real headless Chromium: a banner names each active
 * freeze that holds the deployment (reason, environments, end), follows the API without a reload, and
 * goes when the freeze is deleted. Screenshot in test-artifacts/.
 */
const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = join(import.meta.dirname, '../..', 'test-artifacts');
const skip = !existsSync(CHROMIUM) && !process.env.CI;

let server: LocalServer;
let admin: Client;
let reader: Client;
let context: BrowserContext;
let page: Page;
let profile: string;
const agent = new FakeAgent();
const pageErrors: string[] = [];

beforeAll(async () => {
  if (skip) return;
  await agent.start();
  let as: (id: string) => Client;
  ({ server, admin, as } = await startTestServer({ timeScale: 60 }));
  reader = as('reader');
  await admin.put('/v1/resources/shop-stg', { kind: 'vm', name: 'shop-stg', metadata: { env: 'staging' } });
  await admin.put('/v1/resources/shop-prod', {
    kind: 'vm',
    name: 'shop-prod',
    metadata: { env: 'production' },
  });
  await admin.put('/v1/environments/staging', { resourceSelector: "resource.metadata.env == 'staging'" });
  await admin.put('/v1/environments/production', {
    resourceSelector: "resource.metadata.env == 'production'",
  });
  await admin.put('/v1/deployments/shop', {
    environments: ['staging', 'production'],
    jobAgent: { type: 'webhook', url: agent.url },
  });
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
    viewport: { width: 1200, height: 800 },
    locale: 'en-GB',
    timezoneId: 'UTC',
  });
  page = context.pages()[0] ?? (await context.newPage());
  page.on('pageerror', (error) => pageErrors.push(String(error)));
}, 90_000);

afterAll(async () => {
  if (skip) return;
  await context?.close();
  if (profile) rmSync(profile, { recursive: true, force: true });
  await server?.close();
  await agent.stop();
});

const banner = () => page.locator('#frozen');

describe.skipIf(skip)('freezes on the status page', () => {
  it('shows a banner per active freeze that holds the deployment, and drops it when the freeze ends', async () => {
    // Prepare: one freeze of production, one that selects another deployment (not shown).
    await admin.put('/v1/freezes/quarter-end', {
      reason: 'quarter-end close',
      selector: "environment.id == 'production'",
    });
    await admin.put('/v1/freezes/other', { reason: 'not this one', selector: "deployment.id == 'billing'" });
    await admin.post('/v1/deployments/shop/versions', { tag: 'v1' });
    const link = await reader.post<{ url: string }>('/v1/view-links', { deployment: 'shop' });

    // Act
    await page.goto(link.body.url);
    await banner().waitFor({ state: 'visible', timeout: 10_000 });

    // Assess: what holds the releases, where and until when; the summary says production waits for it.
    expect(await banner().textContent()).toBe(
      'Frozen in production: quarter-end close (freeze quarter-end, until it is ended).',
    );
    await eventually(
      () => page.locator('#summary').textContent(),
      (text) => (text ?? '').includes('waiting for freeze'),
      { timeoutMs: 10_000 },
    );
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'freeze-banner.png') });

    // An end, given later, shows without a reload; deleting the freeze removes the banner.
    const until = new Date(Math.floor(nowMs() / 1000) * 1000 + 3_600_000).toISOString();
    await admin.put('/v1/freezes/quarter-end', {
      reason: 'quarter-end close',
      selector: "environment.id == 'production'",
      until,
    });
    await eventually(
      () => banner().textContent(),
      (text) => (text ?? '').includes(`until ${until.replace('.000Z', 'Z')}`),
      { timeoutMs: 10_000 },
    );
    await admin.delete('/v1/freezes/quarter-end');
    await banner().waitFor({ state: 'hidden', timeout: 10_000 });
    expect(pageErrors).toEqual([]);
  });
});
