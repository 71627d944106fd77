import { execSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { afterAll, describe, expect, it } from 'vitest';
import { esbuildOptions, NODEJS_BUNDLING, ROOT } from '../../infra/aws/bundling';

/**
 * re2js stays out of the Lambda bundles and ships beside them (infra/aws/bundling.ts): built as the
 * stack builds it, in a directory outside the repository (so nothing resolves from its node_modules),
 * with the files the afterBundling hook copies, the bundle runs `matches()` on RE2.
 */
const out = mkdtempSync(join(tmpdir(), 'gantry-re2-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

type Cel = typeof import('../../shared/core/cel');

async function bundleCel(dir: string, withHook: boolean): Promise<Cel> {
  const outfile = join(dir, 'index.mjs');
  await build(esbuildOptions('shared/core/cel.ts', outfile));
  const hook = NODEJS_BUNDLING.commandHooks?.afterBundling(ROOT, dir) ?? [];
  if (withHook) for (const command of hook) execSync(command);
  return (await import(pathToFileURL(outfile).href)) as Cel;
}

describe('re2js beside the bundle', () => {
  it('is not in the bundle, and the copied files are all the bundle needs', async () => {
    const shipped = await bundleCel(join(out, 'shipped'), true);
    const bare = await bundleCel(join(out, 'bare'), false);
    const selector = "resource.name.matches('^(a+)+$')";
    const scope = { resource: { name: `${'a'.repeat(31)}!` } };

    expect(shipped.matches(selector, scope)).toEqual({ ok: true, value: false });
    expect(bare.matches(selector, scope)).toMatchObject({
      ok: false,
      error: expect.stringContaining('re2js'),
    });
  });
});
