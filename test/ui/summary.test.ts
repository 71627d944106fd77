import { describe, expect, it } from 'vitest';
import type { ReleaseStatus } from '../../shared/core/status';
import { type ReleaseTally, summarize, type TargetTally } from '../../shared/core/summary';

/** The first view of the status page: per environment, a version's progress and what runs now. */
const releases = (
  environment: string,
  status: ReleaseStatus,
  n: number,
  waitingFor?: ReleaseTally['waitingFor'],
) => Array.from({ length: n }, (): ReleaseTally => ({ environment, status, waitingFor }));
const targets = (environment: string, currentVersion: string | null, n: number) =>
  Array.from({ length: n }, (): TargetTally => ({ environment, currentVersion }));

const ENVIRONMENTS = [
  { id: 'staging', name: 'Staging' },
  { id: 'production', name: 'Production' },
];

describe('summarize', () => {
  it('counts releases per status and successful of all, per environment and overall', () => {
    const summary = summarize(
      ENVIRONMENTS,
      [
        ...releases('staging', 'successful', 3),
        ...releases('staging', 'failed', 1),
        ...releases('production', 'waiting', 4, 'approval'),
        ...releases('production', 'waiting', 2, 'gradual_rollout'),
        ...releases('production', 'deploying', 1),
      ],
      [],
    );
    expect(summary).toMatchObject({ total: 11, successful: 3 });
    expect(summary.environments).toEqual([
      expect.objectContaining({
        id: 'staging',
        name: 'Staging',
        total: 4,
        successful: 3,
        counts: { successful: 3, failed: 1 },
        waitingFor: {},
      }),
      expect.objectContaining({
        id: 'production',
        total: 7,
        successful: 0,
        counts: { waiting: 6, deploying: 1 },
        waitingFor: { approval: 4, gradual_rollout: 2 },
      }),
    ]);
  });

  it("keeps the deployment's order, lists an environment with no releases, and adds unknown ones last", () => {
    const summary = summarize(ENVIRONMENTS, releases('legacy', 'pending', 2), []);
    expect(summary.environments.map((e) => [e.id, e.name, e.total])).toEqual([
      ['staging', 'Staging', 0],
      ['production', 'Production', 0],
      ['legacy', 'legacy', 2],
    ]);
  });

  it('names the three versions most targets run, never deployed included, and counts the rest together', () => {
    const summary = summarize(
      ENVIRONMENTS,
      [],
      [
        ...targets('production', 'v3', 50),
        ...targets('production', 'v2', 20),
        ...targets('production', null, 5),
        ...targets('production', 'v1', 2),
        ...targets('production', 'v0', 1),
        ...targets('staging', 'v3', 10),
      ],
    );
    const [staging, production] = summary.environments;
    expect(staging?.current).toEqual([{ version: 'v3', count: 10 }]);
    expect(staging?.others).toBeUndefined();
    expect(production?.current).toEqual([
      { version: 'v3', count: 50 },
      { version: 'v2', count: 20 },
      { version: null, count: 5 },
    ]);
    expect(production?.others).toBe(3);
  });
});
