/**
 * The direction of the house (README "Architecture"): the core imports nothing but itself; adapters
 * reach the outside world on the core's terms; services compose both; the edges (functions/, infra/,
 * cli/) sit on top. `npm run check:layers` runs this in .ci/run; no exceptions.
 */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'No import cycles, type-only ones included.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'core-is-pure',
      severity: 'error',
      comment:
        'The core (records, statuses, policies, the release lifecycle) imports only itself and pure libraries: no AWS SDK, no adapters, no services, no edge.',
      from: { path: '^shared/core/' },
      to: {
        pathNot: ['^shared/core/', '^node_modules/(zod|@marcbachmann/cel-js|rrule|re2js|mnemonist)/'],
        dependencyTypesNot: ['core'],
      },
    },
    {
      name: 'adapters-below-services',
      severity: 'error',
      comment: 'Adapters talk to the outside world for the services; they never call a service or an edge.',
      from: { path: '^shared/adapters/' },
      to: { path: '^(shared/services|functions|infra|cli)/' },
    },
    {
      name: 'services-below-edges',
      severity: 'error',
      comment: 'Services are called by the edges (handlers, the local runtime), never the other way round.',
      from: { path: '^shared/services/' },
      to: { path: '^(functions|infra|cli)/' },
    },
    {
      name: 'handlers-not-infra',
      severity: 'error',
      comment: 'Handlers run the same in Lambda and locally: they never import the infrastructure.',
      from: { path: '^functions/' },
      to: { path: '^(infra|cli)/' },
    },
  ],
  options: {
    tsPreCompilationDeps: true,
    parser: 'swc',
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '(^|/)(node_modules|dist|cdk\\.out)/' },
  },
};
