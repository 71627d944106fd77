import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalServer } from '../../infra/local/server';
import { ADMIN, startTestServer } from '../helpers/local';
import { runNode } from './run';

/**
 * `gantry apply` checks a file with the service's schemas, so the checked-in dist/gantry.mjs carries
 * the RE2 engine of `matches()` (the Lambda bundles load it from beside them, the CLI has nothing
 * beside it): run far from any node_modules, it accepts an RE2 pattern and refuses a backreference.
 */
let server: LocalServer;
const alone = mkdtempSync(join(tmpdir(), 'gantry-cli-re2-'));

beforeAll(async () => {
  copyFileSync(join(import.meta.dirname, '../../dist/gantry.mjs'), join(alone, 'gantry.mjs'));
  ({ server } = await startTestServer());
});

afterAll(async () => {
  await server?.close();
  rmSync(alone, { recursive: true, force: true });
});

function applyDryRun(selector: string) {
  writeFileSync(
    join(alone, 'gantry.yaml'),
    `environments:\n  prod:\n    resourceSelector: ${JSON.stringify(selector)}\n`,
  );
  return runNode(
    [join(alone, 'gantry.mjs'), 'apply', '-f', 'gantry.yaml', '--dry-run'],
    { GANTRY_URL: server.url, GANTRY_KEY_ID: ADMIN.id, GANTRY_KEY_SECRET: ADMIN.secret },
    alone,
  );
}

describe('gantry apply from dist/, with no node_modules', () => {
  it('accepts a selector with an RE2 pattern', async () => {
    const run = await applyDryRun("resource.name.matches('^prod-[a-z]+-\\\\d+$')");

    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('environment prod');
  });

  it('refuses a backreference, naming the pattern', async () => {
    const run = await applyDryRun("resource.name.matches('^(a+)\\\\1$')");

    expect(run.code).toBe(2);
    expect(run.stderr).toContain('pattern "^(a+)\\1$" cannot run on RE2');
    expect(run.stderr).toContain('invalid escape sequence');
  });
});
