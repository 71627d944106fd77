import { describe, expect, it } from 'vitest';
import {
  addPlanPage,
  duration,
  newPlanSummary,
  type PlanTargetView,
  planNeedsAttention,
  renderPlanSummary,
} from '../../shared/core/plan-summary';

/** The plan of a check run, summed page by page: its size follows environments and gates, not targets. */
const APPROVAL = { gate: 'approval', policies: ['prod'], detail: { minApprovals: 2 } };
const ROLLOUT = { gate: 'gradual_rollout', policies: ['slow'], detail: { intervalSeconds: 60 } };
const at = (minutes: number) => new Date(Date.UTC(2026, 0, 5, 9, minutes)).toISOString();

function target(environment: string, i: number, gates = [APPROVAL, ROLLOUT]): PlanTargetView {
  return {
    environment,
    gates,
    rolloutOffsetSeconds: i * 60,
    nextWindowOpening: null,
    estimatedStart: at(i),
  };
}

describe('the plan summary', () => {
  it('counts targets and gates over pages, with the first and last start', () => {
    // Prepare: 2,500 production targets in three pages, 500 of them without the approval gate.
    const summary = newPlanSummary();
    const all = Array.from({ length: 2500 }, (_, i) =>
      target('production', i, i < 500 ? [ROLLOUT] : undefined),
    );
    // Act
    for (let i = 0; i < all.length; i += 1000) addPlanPage(summary, { targets: all.slice(i, i + 1000) });
    addPlanPage(summary, { targets: [target('staging', 0, [])] });
    const { title, summary: text } = renderPlanSummary(
      summary,
      { deployment: 'web', tag: 'v1', status: 'building' },
      at(0),
    );
    // Assess
    expect(title).toBe(`2,501 release targets, first start 2026-01-05 09:00 UTC, last 2026-01-07 02:39 UTC`);
    expect(text).toContain('2,501 release targets in 2 environments');
    const rows = text.split('\n').filter((line) => line.startsWith('| `'));
    expect(rows[0]).toMatch(/^\| `production` \| 2,500 \| /);
    expect(rows[0]).toContain('approval (2 approvals; 2,000 of 2,500 targets; policy `prod`)');
    expect(rows[0]).toContain('gradual rollout (every 1 min; last offset +1 d 17 h; policy `slow`)');
    expect(rows[0]?.indexOf('approval')).toBeLessThan(rows[0]?.indexOf('gradual rollout') ?? 0);
    expect(rows[1]).toBe('| `staging` | 1 | none | 2026-01-05 09:00 UTC | 2026-01-05 09:00 UTC |');
    expect(planNeedsAttention(summary)).toBe(false);
  });

  it('needs attention for warnings or targets that never start, and escapes what users wrote', () => {
    const summary = newPlanSummary();
    addPlanPage(summary, {
      targets: [{ ...target('production', 0), estimatedStart: null }],
      warnings: [{ message: 'resource.metadata["a|b"] <script>' }],
      warningCount: 1,
    });
    const { summary: text } = renderPlanSummary(
      summary,
      { deployment: 'web', tag: 'v1', status: 'ready' },
      at(0),
    );
    expect(text).toContain('No estimate for 1 (a missing or circular dependency).');
    expect(text).toContain('- resource.metadata\\["a\\|b"\\] \\<script\\>');
    expect(planNeedsAttention(summary)).toBe(true);
  });

  it.each([
    [0, '0 s'],
    [90, '1 min 30 s'],
    [7200, '2 h'],
    [90_061, '1 d 1 h'],
  ])('writes %i seconds as %s', (seconds, text) => {
    expect(duration(seconds)).toBe(text);
  });
});
