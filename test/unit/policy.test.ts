import { describe, expect, it } from 'vitest';
import type { Stored } from '../../shared/adapters/store/config';
import { matchingPolicies, mergeRules } from '../../shared/core/policy/merge';
import { progressionState, type UpstreamRelease } from '../../shared/core/policy/progression';
import { rolloutOrder, slotTime } from '../../shared/core/policy/rollout-order';
import { PolicyBody } from '../../shared/core/schemas/config';
import { MAX_POLLS_PER_JOB, pollInterval } from '../../shared/services/rollouts/jobs';

const policy = (id: string, body: unknown): Stored<PolicyBody> => ({
  id,
  data: PolicyBody.parse(body),
  createdAt: '2026-01-01T00:00:00.000Z',
  updatedAt: '2026-01-01T00:00:00.000Z',
});

const scope = (env: string, metadata: Record<string, string> = {}) => ({
  deployment: { id: 'api', name: 'API' },
  environment: { id: env, name: env },
  resource: { id: 'r1', kind: 'vm', name: 'r1', metadata },
});

describe('policy matching and merging (strictest wins)', () => {
  const a = policy('a', {
    targets: "environment.id == 'production'",
    priority: 1,
    rules: {
      approval: { minApprovals: 1, approvers: ['U1', 'U2', 'U3'], expiresAfterSeconds: 3600 },
      environmentProgression: { dependsOnEnvironments: ['staging'], minSoakSeconds: 600 },
      gradualRollout: { intervalSeconds: 60 },
      deploymentWindow: { rrule: 'FREQ=DAILY;BYHOUR=9', durationMinutes: 60, timezone: 'UTC', mode: 'allow' },
      concurrency: { maxParallel: 5 },
    },
  });
  const b = policy('b', {
    targets: "resource.metadata.tier == 'gold'",
    rules: {
      approval: { minApprovals: 2, approvers: ['U2', 'U3', 'U4'], expiresAfterSeconds: 600 },
      environmentProgression: {
        dependsOnEnvironments: ['canary'],
        minSoakSeconds: 60,
        minSuccessPercentage: 50,
      },
      gradualRollout: { intervalSeconds: 300 },
      deploymentWindow: {
        rrule: 'FREQ=WEEKLY;BYDAY=FR',
        durationMinutes: 1440,
        timezone: 'UTC',
        mode: 'deny',
      },
      concurrency: { maxParallel: 2 },
      rollback: { onVerificationFailure: true, scope: 'environment' },
    },
  });
  const broken = policy('broken', {
    targets: "resource.metadata.missing == 'x'",
    rules: { halt: { maxFailures: 1 } },
  });

  it('matches by CEL over deployment, environment and resource; an erroring selector warns and does not match', () => {
    const { matched, warnings } = matchingPolicies([b, broken, a], scope('production', { tier: 'gold' }));
    expect(matched.map((p) => p.id)).toEqual(['a', 'b']);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]?.message).toContain('broken');
    expect(matchingPolicies([a, b], scope('staging', { tier: 'silver' })).matched).toEqual([]);
  });

  it('merges two policies into the strictest of each rule', () => {
    const merged = mergeRules([a, b]);
    expect(merged.approval).toEqual({
      minApprovals: 2,
      approvers: ['U2', 'U3'],
      expiresAfterSeconds: 600,
      policies: ['a', 'b'],
    });
    expect(merged.environmentProgression).toEqual({
      dependsOnEnvironments: ['staging', 'canary'],
      minSoakSeconds: 600,
      minSuccessPercentage: 100,
      policies: ['a', 'b'],
    });
    expect(merged.gradualRollout?.intervalSeconds).toBe(300);
    expect(merged.deploymentWindows.map((w) => [w.policy, w.mode])).toEqual([
      ['a', 'allow'],
      ['b', 'deny'],
    ]);
    expect(merged.concurrency?.maxParallel).toBe(2);
    expect(merged.rollback).toEqual({
      onJobFailure: false,
      onVerificationFailure: true,
      scope: 'environment',
      policies: ['b'],
    });
  });

  it('has no rules when no policy matches', () => {
    expect(mergeRules([])).toEqual({ deploymentWindows: [], verification: [] });
  });
});

describe('environment progression', () => {
  const now = new Date('2026-06-01T12:00:00.000Z');
  const ok = (minutesAgo: number): UpstreamRelease => ({
    status: 'successful',
    finishedAt: new Date(now.getTime() - minutesAgo * 60_000).toISOString(),
  });
  const failed: UpstreamRelease = { status: 'failed', finishedAt: now.toISOString() };
  const running: UpstreamRelease = { status: 'deploying', finishedAt: null };

  it.each([
    ['100% with every upstream success, soak elapsed', [ok(20), ok(15)], 100, 600, 'open'],
    ['soak not yet elapsed since the last needed success', [ok(20), ok(5)], 100, 600, 'soaking'],
    ['100% with one still running', [ok(20), running], 100, 0, 'waiting'],
    ['100% with one failed can never pass', [ok(20), failed], 100, 0, 'blocked'],
    ['50% with one failed passes', [ok(20), failed], 50, 0, 'open'],
    ['50% soaks from the success that reached it', [ok(5), failed, ok(30), running], 50, 600, 'soaking'],
    ['0% needs no success at all', [failed, running], 0, 600, 'open'],
    ['no upstream release of this version yet', [], 100, 0, 'waiting'],
  ] as const)('%s', (_name, upstream, minSuccessPercentage, minSoakSeconds, expected) => {
    expect(progressionState([...upstream], { minSuccessPercentage, minSoakSeconds }, now).type).toBe(
      expected,
    );
  });

  it('reports when the soak ends', () => {
    const state = progressionState([ok(5)], { minSuccessPercentage: 100, minSoakSeconds: 600 }, now);
    expect(state).toEqual({ type: 'soaking', until: new Date(now.getTime() + 5 * 60_000) });
  });
});

describe('gradual rollout order', () => {
  const keys = Array.from({ length: 20 }, (_, i) => `api#v1#prod#node-${i}`);

  it('is deterministic per version and differs between versions', () => {
    expect(rolloutOrder(keys, 'v1')).toEqual(rolloutOrder([...keys].reverse(), 'v1'));
    expect(rolloutOrder(keys, 'v1')).not.toEqual(rolloutOrder(keys, 'v2'));
    expect(new Set(keys.map((k) => rolloutOrder(keys, 'v1').indexOf(k)))).toEqual(
      new Set(keys.map((_, i) => i)),
    );
  });

  it('opens a slot position x interval after the anchor', () => {
    expect(slotTime(new Date('2026-01-01T00:00:00Z'), 3, 300).toISOString()).toBe('2026-01-01T00:15:00.000Z');
  });
});

describe('polling agents stay within the execution history', () => {
  it.each([
    [30, 3600, 30],
    [1, 604_800, 404],
    [0, 60, 1],
    [120, 86_400, 120],
  ])('asked %is with a %is job timeout polls every %is', (requested, timeout, expected) => {
    expect(pollInterval(requested, timeout)).toBe(expected);
    expect(Math.ceil(timeout / pollInterval(requested, timeout))).toBeLessThanOrEqual(MAX_POLLS_PER_JOB);
  });
});
