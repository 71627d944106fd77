import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalServer } from '../../infra/local/server';
import type { Client } from '../helpers/client';
import { startTestServer } from '../helpers/local';

/**
 * Issue 18 in a real headless Chromium: the status page's "Loading…" never lingers. Every way the
 * page ends up (no link, a refused link, no deployments, data, an error) replaces it, and an error
 * says which read failed.
 */
const CHROMIUM = '/usr/bin/chromium';
/** Skipped only on a developer's machine without Chromium: in CI a missing browser fails the suite. */
const skip = !existsSync(CHROMIUM) && !process.env.CI;
const LOADING = 'Loading…';

let server: LocalServer;
let admin: Client;
let reader: Client;
let context: BrowserContext;
let page: Page;
let profile: string;

beforeAll(async () => {
  if (skip) return;
  let as: (id: string) => Client;
  ({ server, admin, as } = await startTestServer());
  reader = as('reader');
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
    locale: 'en-GB',
    timezoneId: 'UTC',
  });
}, 60_000);

afterAll(async () => {
  if (skip) return;
  await context?.close();
  if (profile) rmSync(profile, { recursive: true, force: true });
  await server?.close();
});

/** The header's state once it no longer says "Loading…", and the notice shown with it. */
async function settled(): Promise<{ state: string; notice: string }> {
  await page.waitForFunction(
    (loading) =>
      (
        globalThis as unknown as { document: { getElementById(id: string): { textContent: string } | null } }
      ).document.getElementById('updated')?.textContent !== loading,
    LOADING,
    { timeout: 10_000 },
  );
  const notice = page.locator('#notice');
  return {
    state: (await page.locator('#updated').textContent()) ?? '',
    notice: (await notice.isVisible()) ? ((await notice.textContent()) ?? '') : '',
  };
}

/** A fresh page each time: a link that differs only in its hash would not load the page again. */
async function open(url: string): Promise<void> {
  await page?.close();
  page = await context.newPage();
  await page.goto(url);
}

async function link(deployment?: string): Promise<string> {
  const minted = await reader.post<{ url: string }>('/v1/view-links', deployment ? { deployment } : {});
  expect(minted.status).toBe(201);
  return minted.body.url;
}

describe.skipIf(skip)('the status page never stays on Loading…', () => {
  it('/ without a link: the page says it needs one', async () => {
    await open(`${server.url}/`);

    expect(new URL(page.url()).pathname).toBe('/ui');
    const { state, notice } = await settled();
    expect(state).toBe('No view link');
    expect(notice).toContain('needs a view link');
  });

  it('a refused link: stopped, saying why', async () => {
    await open(`${server.url}/ui?v=forged.token`);

    const { state, notice } = await settled();
    expect(state).toBe('Stopped');
    expect(notice).toMatch(/^Could not load the deployments: /);
  });

  it('no deployments yet: says so', async () => {
    await open(await link());

    const { state, notice } = await settled();
    expect(state).toBe('No deployments yet');
    expect(notice).toContain('No deployments yet');
  });

  it('an empty deployment (no environments, no versions): live, with the empty summary drawn', async () => {
    expect(
      (await admin.put('/v1/deployments/api', { jobAgent: { type: 'webhook', url: 'http://127.0.0.1:9/x' } }))
        .status,
    ).toBe(201);

    await open(await link('api'));

    const { state, notice } = await settled();
    expect(state).toMatch(/^Live · updated \d\d:\d\d:\d\d$/);
    expect(notice).toBe('');
    expect(await page.locator('#summary').textContent()).toContain('No environments yet.');
  });

  it('a read that fails: the header and the notice say what failed', async () => {
    // A version that does not exist, as a stale bookmark would ask for: the summary answers 404.
    await open(`${await link('api')}#d=api&t=v-missing`);

    const { state, notice } = await settled();
    expect(state).toBe('Not loaded · retrying');
    expect(notice).toMatch(
      /^Could not load the summary: The version "v-missing" of deployment "api" was not found\./,
    );
  });
});
