import './env';
import { benchPlan } from './plan';
import { benchRollouts } from './rollouts';

/** `npm run bench`: every performance figure the README quotes comes from here. */

const only = process.argv[2];
const suites: Record<string, () => Promise<Record<string, string | number>>> = {
  rollouts: benchRollouts,
  plan: benchPlan,
  load: async () => (await import('./load')).benchLoad(),
};

for (const [name, run] of Object.entries(suites)) {
  if (only && only !== name) continue;
  console.log(`\n## ${name}`);
  const figures = await run();
  console.log('| measure | value |\n| --- | --- |');
  for (const [measure, value] of Object.entries(figures)) console.log(`| ${measure} | ${value} |`);
}
