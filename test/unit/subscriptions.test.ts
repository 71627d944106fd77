import { describe, expect, it } from 'vitest';
import {
  laneOf,
  retryAt,
  SUBSCRIPTION_TIMING,
  type SubscribedEvent,
  type SubscriptionFilter,
  subscribes,
} from '../../shared/core/subscriptions';

/** docs/subscriptions.md: which events a subscription receives, in which lane, and when a failure is tried again. */

const event = (over: Partial<SubscribedEvent> = {}): SubscribedEvent => ({
  id: '01JDELIVERY0000000000000001',
  time: '2026-11-22T10:00:00.000Z',
  detailType: 'Release Succeeded',
  deployment: 'api',
  version: 'v1',
  environment: 'production',
  resource: 'eu-1',
  actor: { system: 'gantry' },
  data: { jobId: 'j1' },
  ...over,
});
const sub = (
  data: SubscriptionFilter['data'] = { url: 'https://x' },
  activeFrom = '2026-11-22T09:00:00.000Z',
) => ({
  data,
  activeFrom,
});

describe('subscribes', () => {
  it.each([
    ['no filter', {}, event(), true],
    ['a named detail type', { detailTypes: ['Release Succeeded'] }, event(), true],
    ['another detail type', { detailTypes: ['Release Failed'] }, event(), false],
    ['a selector that holds', { selector: "event.environment == 'production'" }, event(), true],
    ['a selector that does not', { selector: "event.environment == 'staging'" }, event(), false],
    ['a selector over data', { selector: "event.data.jobId == 'j1'" }, event(), true],
    [
      'a selector that errors on the event (no resource)',
      { selector: "event.resource == 'eu-1'" },
      event({ resource: undefined }),
      false,
    ],
    [
      'has() on a field the event lacks',
      { selector: '!has(event.resource)' },
      event({ resource: undefined }),
      true,
    ],
    ['a selector that is not a bool', { selector: 'event.deployment' }, event(), false],
    [
      'both filters',
      { detailTypes: ['Release Succeeded'], selector: "event.deployment == 'api'" },
      event(),
      true,
    ],
  ])('%s', (_name, filters, given, expected) => {
    expect(subscribes(sub({ url: 'https://x', ...filters }), given)).toBe(expected);
  });

  it('never receives an event published before it applies', () => {
    const active = '2026-11-22T10:00:00.000Z';
    expect(subscribes(sub(undefined, active), event({ time: '2026-11-22T09:59:59.999Z' }))).toBe(false);
    expect(subscribes(sub(undefined, active), event({ time: active }))).toBe(true);
  });
});

describe('laneOf', () => {
  it.each([
    [{ deployment: 'api', environment: 'prod', resource: 'eu-1:a@b' }, 'api/prod/eu-1:a@b'],
    [{ deployment: 'api', environment: 'prod' }, 'api'],
    [{ deployment: 'api' }, 'api'],
    [{}, '-'],
  ])('%j is in lane %s', (fields, lane) => {
    expect(laneOf(fields)).toBe(lane);
  });
});

describe('retryAt', () => {
  const t0 = Date.parse('2026-11-22T10:00:00.000Z');
  const middle = () => 0.5;

  it('waits 30 s, then twice as long each time, at most an hour', () => {
    const waits = [1, 2, 3, 4, 7, 8, 12].map((n) => ((retryAt(n, t0, t0, middle) as number) - t0) / 1000);
    expect(waits).toEqual([30, 60, 120, 240, 1920, 3600, 3600]);
  });

  it('jitters each wait by at most 20 %', () => {
    expect((retryAt(1, t0, t0, () => 0) as number) - t0).toBe(24_000);
    expect((retryAt(1, t0, t0, () => 0.999_999) as number) - t0).toBe(36_000);
  });

  it('gives up once the next attempt would be more than a day after the event', () => {
    const late = t0 + SUBSCRIPTION_TIMING.giveUpAfterMs - 10_000;
    expect(retryAt(1, t0, late, middle)).toBeUndefined();
    expect(retryAt(1, t0, late - 30_000, middle)).toBe(late);
    // Attempts from the event on, each as late as the schedule allows: about 31 before the day is out.
    let now = t0;
    let attempts = 0;
    for (let next: number | undefined = t0; next !== undefined; attempts++) {
      now = next;
      next = retryAt(attempts + 1, t0, now, middle);
    }
    expect(attempts).toBeGreaterThan(25);
    expect(attempts).toBeLessThan(35);
    expect(now - t0).toBeLessThanOrEqual(SUBSCRIPTION_TIMING.giveUpAfterMs);
  });
});
