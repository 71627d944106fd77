import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { arch } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import { FUNCTIONS, type FunctionSpec } from '../functions/registry';
import { esbuildOptions, NODE_OPTIONS, ROOT } from '../infra/aws/bundling';

/**
 * Cold-start proxy for every Lambda function: bundles each registry entry exactly as the stack does
 * (infra/aws/bundling.ts), then times `import()` of the bundle in a fresh `node` process with the
 * NODE_OPTIONS the functions get. `--check` exits 1 when a function is over budget; `--parts` lists
 * what each bundle is made of (KiB per package), the place to start when one grows.
 * Run: npx tsx bench/cold-start.ts [--check] [--parts]
 */
const RUNS = 5;
const BUDGET = { kib: 500, importMs: 150 };
const OUT = join(ROOT, 'node_modules', '.cache', 'gantry-cold-start');
const run = promisify(execFile);

interface Row {
  spec: FunctionSpec;
  kib: number;
  gzipKib: number;
  importMs: number;
  /** Why the bundle could not be imported (its module code threw). */
  error?: string;
}

/** The bundle's file and the bytes each package (or folder of ours) adds to it, largest first. */
async function bundle(entry: string): Promise<{ file: string; parts: [string, number][] }> {
  const outfile = join(OUT, entry.replace(/[/.]/g, '_'), 'index.mjs');
  const { metafile } = await build({ ...esbuildOptions(entry, outfile), metafile: true });
  const output = Object.values(metafile.outputs).find((out) => out.entryPoint);
  const parts = new Map<string, number>();
  for (const [input, { bytesInOutput }] of Object.entries(output?.inputs ?? {})) {
    const name =
      /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(input)?.[1] ?? input.split('/').slice(0, 2).join('/');
    parts.set(name, (parts.get(name) ?? 0) + bytesInOutput);
  }
  return { file: outfile, parts: [...parts].sort((a, b) => b[1] - a[1]) };
}

async function importMs(file: string, handler: string): Promise<number> {
  const script = [
    'const start = performance.now();',
    `const module = await import(${JSON.stringify(pathToFileURL(file).href)});`,
    'const ms = performance.now() - start;',
    `if (typeof module[${JSON.stringify(handler)}] !== 'function') throw new Error('no handler ${handler}');`,
    'process.stdout.write(String(ms));',
  ].join('\n');
  try {
    const { stdout } = await run(process.execPath, [NODE_OPTIONS, '--input-type=module', '-e', script], {
      env: { ...process.env, AWS_REGION: process.env.AWS_REGION ?? 'us-east-1' },
    });
    return Number(stdout);
  } catch (error) {
    const stderr = String((error as { stderr?: string }).stderr ?? error);
    throw new Error(/^\w*Error: .*$/m.exec(stderr)?.[0] ?? stderr.trim().split('\n')[0]);
  }
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? NaN;

async function main(): Promise<void> {
  rmSync(OUT, { recursive: true, force: true });
  mkdirSync(OUT, { recursive: true });
  const bundles = new Map<string, { file: string; parts: [string, number][] }>();
  for (const entry of new Set(FUNCTIONS.map((spec) => spec.entry))) bundles.set(entry, await bundle(entry));

  const rows: Row[] = [];
  for (const spec of FUNCTIONS) {
    const { file } = bundles.get(spec.entry) as { file: string };
    const code = readFileSync(file);
    const times: number[] = [];
    for (let i = 0; i < RUNS; i++) times.push(await importMs(file, spec.handler));
    rows.push({
      spec,
      kib: code.length / 1024,
      gzipKib: gzipSync(code).length / 1024,
      importMs: median(times),
    });
  }

  const mark = (ok: boolean) => (ok ? '' : ' !');
  console.log(`Cold start (node ${process.version} ${arch()}, ${NODE_OPTIONS}, median of ${RUNS})`);
  console.log(`Budget: bundle < ${BUDGET.kib} KiB, import < ${BUDGET.importMs} ms ("!" marks a miss)\n`);
  console.log('| function | entry | bundle KiB | headroom KiB | gzip KiB | import ms |');
  console.log('|---|---|--:|--:|--:|--:|');
  for (const row of rows) {
    console.log(
      `| ${row.spec.id} | ${row.spec.entry}#${row.spec.handler} | ${row.kib.toFixed(0)}${mark(row.kib < BUDGET.kib)} ` +
        `| ${(BUDGET.kib - row.kib).toFixed(0)} | ${row.gzipKib.toFixed(0)} ` +
        `| ${row.error ? 'failed' : row.importMs.toFixed(0)}${mark(row.importMs < BUDGET.importMs)} |`,
    );
  }
  if (process.argv.includes('--parts')) {
    for (const [entry, { parts }] of bundles) {
      const top = parts.slice(0, 12).map(([name, bytes]) => `${name} ${(bytes / 1024).toFixed(1)}`);
      console.log(`\n${entry}: ${top.join(', ')}`);
    }
  }
  for (const row of rows.filter((r) => r.error)) console.log(`\n${row.spec.id}: import failed: ${row.error}`);
  const over = rows.filter((row) => !(row.kib < BUDGET.kib && row.importMs < BUDGET.importMs));
  console.log(
    `\n${over.length === 0 ? 'All within budget.' : `Over budget: ${over.map((r) => r.spec.id).join(', ')}`}`,
  );
  if (process.argv.includes('--check') && over.length > 0) process.exitCode = 1;
}

await main();
