import './env';
import { benchPlan } from './plan';
import { benchRollouts } from './rollouts';

/** `npm run bench`: every performance figure the README quotes comes from here. */

const only = process.argv[2];
const suites: Record<string, () => Promise<Record<string, string | number>>> = {
  // The plan first: it measures milliseconds, best taken before the rollouts leave a large heap.
  plan: benchPlan,
  rollouts: benchRollouts,
  load: async () => (await import('./load')).benchLoad(),
};

for (const [name, run] of Object.entries(suites)) {
  if (only && only !== name) continue;
  console.log(`\n## ${name}`);
  const figures = await run();
  console.log('| measure | value |\n| --- | --- |');
  for (const [measure, value] of Object.entries(figures)) console.log(`| ${measure} | ${value} |`);
}
