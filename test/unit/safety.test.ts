import { describe, expect, it } from 'vitest';
import { mergeRules } from '../../shared/core/policy/merge';
import { rolloutOrder } from '../../shared/core/policy/rollout-order';
import { PolicyBody } from '../../shared/core/schemas/config';
import type { ReleaseStatus } from '../../shared/core/status';
import { haltReached } from '../../shared/services/rollouts/safety';

const policy = (id: string, rules: unknown) => ({
  id,
  data: PolicyBody.parse({ targets: 'true', rules }),
  createdAt: '',
  updatedAt: '',
});

describe('halt.maxFailures', () => {
  it.each([
    [['failed'], 1, true],
    [['successful', 'successful'], 1, false],
    [['rolled_back', 'successful'], 1, true],
    [['rolling_back', 'deploying'], 1, true],
    [['failed', 'waiting', 'pending'], 2, false],
    [['failed', 'rolled_back', 'waiting'], 2, true],
    [['cancelled', 'superseded'], 1, false],
    [[], 1, false],
  ] as [ReleaseStatus[], number, boolean][])('%j with maxFailures %i halts: %s', (statuses, max, halted) => {
    expect(haltReached(statuses, max).halted).toBe(halted);
  });
});

describe('safety rules merged strictest-wins', () => {
  it('takes the lowest maxFailures, any waitForVerified, environment scope, and the longest drain', () => {
    const merged = mergeRules([
      policy('a', {
        halt: { maxFailures: 3 },
        gradualRollout: { intervalSeconds: 60 },
        trafficDrain: { seconds: 30 },
      }),
      policy('b', {
        halt: { maxFailures: 1 },
        gradualRollout: { intervalSeconds: 0, waitForVerified: true },
        rollback: { onJobFailure: true, scope: 'environment' },
        trafficDrain: { seconds: 120 },
      }),
      policy('c', { rollback: { onVerificationFailure: true } }),
    ]);
    expect(merged.halt).toEqual({ maxFailures: 1, policies: ['a', 'b'] });
    expect(merged.gradualRollout).toEqual({
      intervalSeconds: 60,
      waitForVerified: true,
      policies: ['a', 'b'],
    });
    expect(merged.rollback).toEqual({
      onJobFailure: true,
      onVerificationFailure: true,
      scope: 'environment',
      policies: ['b', 'c'],
    });
    expect(merged.trafficDrain).toEqual({ seconds: 120, policies: ['a', 'b'] });
  });

  it('gives make-before-break a single predecessor for every target but the first', () => {
    const order = rolloutOrder(['d#v#e#a', 'd#v#e#b', 'd#v#e#c'], 'v');
    expect(new Set(order).size).toBe(3);
    expect(order.slice(1).map((key) => order[order.indexOf(key) - 1])).toEqual(order.slice(0, 2));
  });
});
