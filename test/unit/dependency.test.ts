import { describe, expect, it } from 'vitest';
import {
  cycleThrough,
  dependencyGraph,
  dependencyVerdict,
  edgesOf,
  isDependedOn,
  MAX_GRAPH_PAIRS,
  MAX_VERSIONS,
  mayApply,
  type Running,
  summarizeRunning,
  type VersionFacts,
  wakesDependants,
} from '../../shared/core/policy/dependency';
import { mergeRules } from '../../shared/core/policy/merge';
import type { Stored } from '../../shared/core/records';
import { PolicyBody } from '../../shared/core/schemas/config';

/** Issue 19, deployment dependencies: the pure parts (core/policy/dependency.ts). */

const policy = (id: string, targets: string, dependsOn: unknown[]): Stored<PolicyBody> => ({
  id,
  data: PolicyBody.parse({ targets, rules: { deploymentDependency: { dependsOn } } }),
  createdAt: '2026-01-01T00:00:00.000Z',
  updatedAt: '2026-01-01T00:00:00.000Z',
});
const deployments = ['api', 'db', 'web'].map((id) => ({ id, name: id.toUpperCase() }));
const running = (versions: Record<string, number>, missing = 0): Running => ({
  name: 'DB',
  targets: Object.values(versions).reduce((a, b) => a + b, 0) + missing,
  missing,
  versions,
  truncated: false,
});
const facts = (entries: [string, Record<string, string>][]) =>
  new Map<string, VersionFacts>(
    entries.map(([tag, metadata]) => [tag, { tag, metadata, createdAt: '2026-01-01T00:00:00.000Z' }]),
  );

describe('the rule in a policy', () => {
  it('is validated when written: a deployment id, a CEL condition that compiles, 1 to 20 dependencies', () => {
    const parse = (rule: unknown) =>
      PolicyBody.safeParse({ targets: 'true', rules: { deploymentDependency: rule } }).success;
    expect(
      parse({ dependsOn: [{ deployment: 'db', versionCondition: "version.metadata.schema >= '5'" }] }),
    ).toBe(true);
    expect(parse({ dependsOn: [{ deployment: 'DB!' }] })).toBe(false);
    expect(parse({ dependsOn: [{ deployment: 'db', versionCondition: 'version.tag ==' }] })).toBe(false);
    expect(parse({ dependsOn: [] })).toBe(false);
    expect(parse({ dependsOn: Array.from({ length: 21 }, (_, i) => ({ deployment: `d${i}` })) })).toBe(false);
    expect(parse({ dependsOn: [{ deployment: 'db', extra: 1 }] })).toBe(false);
  });

  it('merges as the union of every policy’s dependencies, each with its policy, the same one once', () => {
    const merged = mergeRules([
      policy('p1', 'true', [{ deployment: 'db' }, { deployment: 'cache' }]),
      policy('p2', 'true', [
        { deployment: 'db' },
        { deployment: 'db', versionCondition: "version.tag >= 'v2'" },
      ]),
    ]);
    expect(merged.deploymentDependency).toEqual({
      dependsOn: [
        { deployment: 'db', policy: 'p1' },
        { deployment: 'cache', policy: 'p1' },
        { deployment: 'db', versionCondition: "version.tag >= 'v2'", policy: 'p2' },
      ],
      policies: ['p1', 'p2'],
    });
    expect(mergeRules([policy('p1', 'true', [{ deployment: 'db' }])]).deploymentDependency?.policies).toEqual(
      ['p1'],
    );
    expect(mergeRules([]).deploymentDependency).toBeUndefined();
  });

  it('tells whether any policy names a deployment as a dependency', () => {
    const policies = [policy('p1', "deployment.id == 'api'", [{ deployment: 'db' }])];
    expect(isDependedOn(policies, 'db')).toBe(true);
    expect(isDependedOn(policies, 'api')).toBe(false);
  });
});

describe('what a deployment runs in an environment', () => {
  it('counts targets per current version, and those with none', () => {
    const current = new Map<string, string | null>([
      ['r1', 'v2'],
      ['r2', 'v1'],
      ['r3', null],
      ['gone', 'v9'],
    ]);
    expect(summarizeRunning('DB', ['r1', 'r2', 'r3', 'r4'], current)).toEqual({
      name: 'DB',
      targets: 4,
      missing: 2,
      versions: { v1: 1, v2: 1 },
      truncated: false,
    });
  });

  it(`keeps at most ${MAX_VERSIONS} versions and says it truncated`, () => {
    const resources = Array.from({ length: MAX_VERSIONS + 1 }, (_, i) => `r${i}`);
    const summary = summarizeRunning('DB', resources, new Map(resources.map((r, i) => [r, `v${i}`])));
    expect(Object.keys(summary.versions)).toHaveLength(MAX_VERSIONS);
    expect(summary.truncated).toBe(true);
  });
});

describe('a dependency is satisfied', () => {
  const schema5 = { deployment: 'db', versionCondition: "version.metadata.schema >= '5'" };

  it.each([
    ['no targets in the environment', {}, 0, undefined, true],
    ['every target successful, no condition', { v1: 3 }, 0, undefined, true],
    ['one target never successful', { v1: 2 }, 1, undefined, false],
    ['no target successful', {}, 3, undefined, false],
  ])('%s: %s', (_, versions, missing, condition, satisfied) => {
    const verdict = dependencyVerdict(
      { deployment: 'db', versionCondition: condition },
      'production',
      running(versions, missing),
      new Map(),
    );
    expect(verdict.satisfied).toBe(satisfied);
  });

  it('says what is missing', () => {
    const some = dependencyVerdict({ deployment: 'db' }, 'production', running({ v1: 2 }, 1), new Map());
    expect(some).toEqual({
      satisfied: false,
      message: 'db has no successful release on 1 of its 3 targets in production.',
    });
    const none = dependencyVerdict({ deployment: 'db' }, 'production', running({}, 1), new Map());
    expect(none).toEqual({
      satisfied: false,
      message: 'db has no successful release on its only target in production.',
    });
  });

  it('with a condition, only when every version running satisfies it', () => {
    const good = facts([
      ['v5', { schema: '5' }],
      ['v6', { schema: '6' }],
    ]);
    expect(dependencyVerdict(schema5, 'production', running({ v5: 1, v6: 2 }), good)).toEqual({
      satisfied: true,
    });
    const mixed = facts([
      ['v4', { schema: '4' }],
      ['v5', { schema: '5' }],
    ]);
    expect(dependencyVerdict(schema5, 'production', running({ v4: 1, v5: 2 }), mixed)).toEqual({
      satisfied: false,
      message: `db runs v4 on 1 of 3 targets in production, which does not satisfy ${schema5.versionCondition}.`,
    });
  });

  it('not when the condition errors on a version (a missing metadata key), saying why', () => {
    const verdict = dependencyVerdict(schema5, 'production', running({ v1: 1 }), facts([['v1', {}]]));
    expect(verdict.satisfied).toBe(false);
    expect(verdict.satisfied || verdict.message).toMatch(/v1 .*does not satisfy .*No such key: schema/);
  });

  it('sees the dependency as `dependency` and the tag as `version.tag`', () => {
    const byName = { deployment: 'db', versionCondition: "dependency.name == 'DB' && version.tag == 'v7'" };
    expect(dependencyVerdict(byName, 'production', running({ v7: 1 }), facts([['v7', {}]])).satisfied).toBe(
      true,
    );
    expect(dependencyVerdict(byName, 'production', running({ v8: 1 }), facts([['v8', {}]])).satisfied).toBe(
      false,
    );
  });

  it('not with a condition over more versions than a summary keeps', () => {
    const truncated = { ...running({ v1: 1 }), truncated: true };
    expect(dependencyVerdict(schema5, 'production', truncated, new Map()).satisfied).toBe(false);
    expect(dependencyVerdict({ deployment: 'db' }, 'production', truncated, new Map()).satisfied).toBe(true);
  });
});

describe('a new summary wakes the dependants', () => {
  it.each([
    ['the first complete one', undefined, running({ v1: 1 }), true],
    ['the last target succeeded', running({ v1: 1 }, 1), running({ v1: 2 }), true],
    [
      'a new version on the last target (the set changed)',
      running({ v1: 1, v2: 1 }),
      running({ v2: 2 }),
      true,
    ],
    ['a new version on the first target', running({ v1: 2 }), running({ v1: 1, v2: 1 }), true],
    ['more of the same versions (mid-rollout)', running({ v1: 2, v2: 1 }), running({ v1: 1, v2: 2 }), false],
    ['still incomplete', running({}, 2), running({ v1: 1 }, 1), false],
    ['no targets any more', running({ v1: 1 }), running({}), true],
  ])('%s: %s', (_, before, after, wakes) => {
    expect(wakesDependants(before, after)).toBe(wakes);
  });
});

describe('the dependency graph between deployments', () => {
  it('judges targets per deployment; one that needs the environment or resource may apply', () => {
    const p = (targets: string) => policy('p', targets, [{ deployment: 'db' }]);
    const api = { id: 'api', name: 'API' };
    const db = { id: 'db', name: 'DB' };
    expect(mayApply(p("deployment.id == 'api' && environment.id == 'production'"), api)).toBe(true);
    expect(mayApply(p("deployment.id == 'api' && environment.id == 'production'"), db)).toBe(false);
    expect(mayApply(p("environment.id == 'production'"), db)).toBe(true);
    expect(mayApply(p("resource.metadata.tier == 'gold' && deployment.name == 'API'"), db)).toBe(false);
    expect(mayApply(p('true'), db)).toBe(true);
  });

  it('finds the cycle through an edge, shortest first, as a path of deployments', () => {
    const graph = dependencyGraph(
      [
        policy('api-after-db', "deployment.id == 'api'", [{ deployment: 'db' }]),
        policy('db-after-web', "deployment.id == 'db'", [{ deployment: 'web' }]),
        policy('web-after-api', "deployment.id == 'web'", [{ deployment: 'api' }]),
      ],
      deployments,
    );
    if (!graph) throw new Error('no graph');
    expect(cycleThrough(graph, edgesOf(graph, 'api'))).toEqual(['api', 'db', 'web', 'api']);
    expect(cycleThrough(graph, [['web', 'api']])).toEqual(['web', 'api', 'db', 'web']);
  });

  it('has no cycle in a chain', () => {
    const graph = dependencyGraph(
      [
        policy('api-after-db', "deployment.id == 'api'", [{ deployment: 'db' }]),
        policy('web-after-api', "deployment.id == 'web'", [{ deployment: 'api' }, { deployment: 'db' }]),
      ],
      deployments,
    );
    if (!graph) throw new Error('no graph');
    for (const d of deployments) expect(cycleThrough(graph, edgesOf(graph, d.id))).toBeUndefined();
  });

  it('sees a policy whose targets match the dependency itself as a self-dependency', () => {
    const graph = dependencyGraph(
      [policy('all-after-db', "environment.id == 'production'", [{ deployment: 'db' }])],
      deployments,
    );
    if (!graph) throw new Error('no graph');
    expect(cycleThrough(graph, edgesOf(graph, 'db'))).toEqual(['db', 'db']);
    expect(cycleThrough(graph, edgesOf(graph, 'api'))).toBeUndefined();
  });

  it('counts a deployment a rule names before it exists, with its id as name', () => {
    const graph = dependencyGraph(
      [policy('all-after-cache', 'true', [{ deployment: 'cache' }])],
      deployments,
    );
    expect(graph && cycleThrough(graph, edgesOf(graph, 'cache'))).toEqual(['cache', 'cache']);
  });

  it(`refuses to build a graph over ${MAX_GRAPH_PAIRS} (policy, deployment) pairs`, () => {
    const many = Array.from({ length: MAX_GRAPH_PAIRS / 10 + 1 }, (_, i) => ({ id: `d${i}`, name: `d${i}` }));
    const policies = Array.from({ length: 10 }, (_, i) => policy(`p${i}`, 'false', [{ deployment: 'd0' }]));
    expect(dependencyGraph(policies, many)).toBeUndefined();
    expect(dependencyGraph(policies.slice(1), many)).toBeDefined();
  });
});
