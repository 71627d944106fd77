import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The long kill loop runs with `npm run test:soak`, the fleet-scale tests (the shortened scale
    // test and the status page over 5,000 targets) with `npm run test:scale`: both in .ci/run, not
    // in every `npm test`.
    exclude: [
      ...(process.env.GANTRY_SOAK ? [] : ['test/reliability/kill-loop.test.ts']),
      ...(process.env.GANTRY_SCALE ? [] : ['test/reliability/scale.test.ts', 'test/ui/fleet.test.ts']),
    ],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    // One fork per core, at least two: the default (cores - 1) ran the suite one file at a time on the
    // two-core CI machine (8.7 minutes; 4.5 with two forks).
    maxWorkers: Math.max(2, availableParallelism()),
    env: {
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      // The fakes the tests talk to listen on loopback, which the local runtime allows by default;
      // test/reliability/hostile-outbound.test.ts starts its server with the AWS policy instead.
      GANTRY_OUTBOUND_ALLOW: 'loopback',
    },
  },
});
