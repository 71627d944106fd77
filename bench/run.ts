import './env';
import { benchPlan } from './plan';
import { benchRollouts } from './rollouts';
import type { BenchTable } from './scale';

/**
 * `npm run bench`: every figure of docs/performance.md comes from here. The scale suite
 * takes a quarter of an hour or more and runs only when named: `npx tsx bench/run.ts scale`.
 */

const only = process.argv[2];
type Figures = Record<string, string | number>;
const suites: Record<string, () => Promise<Figures | BenchTable[]>> = {
  // The plan first: it measures milliseconds, best taken before the rollouts leave a large heap.
  plan: benchPlan,
  rollouts: benchRollouts,
  load: async () => (await import('./load')).benchLoad(),
  scale: async () => (await import('./scale')).benchScale(),
};
const OPT_IN = new Set(['scale']);

function print(table: BenchTable): void {
  console.log(`\n## ${table.title}`);
  console.log(`| ${table.columns.join(' | ')} |\n|${' --- |'.repeat(table.columns.length)}`);
  for (const row of table.rows) console.log(`| ${row.join(' | ')} |`);
}

for (const [name, run] of Object.entries(suites)) {
  if (only ? only !== name : OPT_IN.has(name)) continue;
  const result = await run();
  const tables = Array.isArray(result)
    ? result
    : [{ title: name, columns: ['measure', 'value'], rows: Object.entries(result) as BenchTable['rows'] }];
  for (const table of tables) print(table);
}
