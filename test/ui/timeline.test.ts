import { describe, expect, it } from 'vitest';
import {
  type PlanInput,
  planTimelineOf,
  type ReleaseInput,
  timelineOf,
} from '../../functions/http/presentation/timeline';
import type { AuditRecord } from '../../shared/adapters/events';

/** The Gantt rows of the status page, from releases and audit events (the past) and from a plan. */
let seq = 0;
const at = (minute: number) => new Date(Date.UTC(2026, 10, 21, 10, minute)).toISOString();
const event = (
  minute: number,
  detailType: string,
  target: { environment: string; resource?: string },
  data: Record<string, unknown> = {},
  version = 'v1',
): AuditRecord =>
  ({
    id: String(++seq).padStart(6, '0'),
    time: at(minute),
    detailType,
    deployment: 'api',
    version,
    ...target,
    actor: { system: 'gantry' },
    data,
  }) as AuditRecord;

const release = (resource: string, over: Partial<ReleaseInput> = {}): ReleaseInput => ({
  environment: 'production',
  resource,
  status: 'successful',
  waitingFor: null,
  message: null,
  startedAt: at(0),
  finishedAt: at(20),
  verification: null,
  ...over,
});

describe('timelineOf', () => {
  it('draws waits by gate, the job, verification and the ending of each target', () => {
    const p1 = { environment: 'production', resource: 'p1' };
    const events = [
      event(0, 'Release Started', p1),
      event(0, 'Release Waiting', p1, { waitingFor: 'environment_progression', message: 'soak 10m left' }),
      event(5, 'Release Waiting', p1, { waitingFor: 'environment_progression', message: 'soak 5m left' }),
      event(10, 'Approval Requested', { environment: 'production' }),
      event(10, 'Release Waiting', p1, { waitingFor: 'approval' }),
      event(12, 'Approval Decided', { environment: 'production' }, { decision: 'approve', approver: 'ada' }),
      event(12, 'Release Waiting', p1, { waitingFor: 'deployment_window', until: at(15) }),
      event(15, 'Job Dispatched', p1, { kind: 'deploy', jobId: 'j1' }),
      event(16, 'Job Updated', p1, { kind: 'deploy', status: 'successful' }),
      event(20, 'Release Succeeded', p1),
      event(3, 'Job Dispatched', p1, { kind: 'deploy' }, 'v0'),
    ];
    const timeline = timelineOf(
      'v1',
      [release('p1', { verification: { startedAt: at(16), finishedAt: at(20) } })],
      events,
      at(30),
    );
    const [row] = timeline.rows;
    expect(row?.segments.map((s) => [s.phase, s.label, s.start, s.end])).toEqual([
      ['waiting', 'waiting: environment progression', at(0), at(10)],
      ['waiting', 'waiting: approval', at(10), at(12)],
      ['waiting', 'waiting: deployment window', at(12), at(15)],
      ['deploying', 'deploy job', at(15), at(16)],
      ['verifying', 'verification', at(16), at(20)],
    ]);
    expect(row?.segments[2]?.until).toBe(at(15));
    expect(row?.markers.map((m) => [m.kind, m.label])).toEqual([
      ['approval', 'approval requested'],
      ['approval', 'approved by ada'],
      ['succeeded', 'succeeded'],
    ]);
    expect([timeline.start, timeline.end, timeline.now]).toEqual([at(0), at(30), at(30)]);
  });

  it('draws a rollback, and leaves what goes on open', () => {
    const p1 = { environment: 'production', resource: 'p1' };
    const p2 = { environment: 'production', resource: 'p2' };
    const events = [
      event(0, 'Job Dispatched', p1, { kind: 'deploy' }),
      event(2, 'Job Updated', p1, { kind: 'deploy', status: 'failed' }),
      event(2, 'Job Dispatched', p1, { kind: 'rollback' }),
      event(4, 'Job Updated', p1, { kind: 'rollback', status: 'successful' }),
      event(4, 'Release Rolled Back', p1),
      event(1, 'Release Waiting', p2, { waitingFor: 'gradual_rollout', until: at(9) }),
    ];
    const timeline = timelineOf(
      'v1',
      [
        release('p1', { status: 'rolled_back', finishedAt: at(4) }),
        release('p2', { status: 'waiting', waitingFor: 'gradual_rollout', finishedAt: null }),
      ],
      events,
      at(5),
    );
    const [p1Row, p2Row] = timeline.rows;
    expect(p1Row?.segments.map((s) => [s.phase, s.end])).toEqual([
      ['deploying', at(2)],
      ['rolling_back', at(4)],
    ]);
    expect(p1Row?.markers.map((m) => m.kind)).toEqual(['rolled_back']);
    expect(p2Row?.segments).toEqual([
      {
        phase: 'waiting',
        label: 'waiting: gradual rollout',
        start: at(1),
        end: null,
        until: at(9),
        planned: false,
      },
    ]);
    // The span reaches the expected end of the wait.
    expect(timeline.end).toBe(at(9));
  });

  it('orders rows by the deployment environments, then by resource', () => {
    const rows = timelineOf(
      'v1',
      [release('b', { environment: 'production' }), release('z', { environment: 'staging' }), release('a')],
      [],
      at(1),
      ['staging', 'production'],
    ).rows.map((r) => r.resource);
    expect(rows).toEqual(['z', 'a', 'b']);
  });
});

describe('planTimelineOf', () => {
  it('draws the remaining gates up to the estimated start, then the job, all as estimates', () => {
    const target = (resource: string, estimatedStart: string | null, status = 'pending') => ({
      environment: 'production',
      resource,
      status,
      waitingFor: null,
      message: null,
      policies: ['gates'],
      gates: [
        { gate: 'approval' as const, policies: ['gates'], detail: {} },
        { gate: 'gradual_rollout' as const, policies: ['gates'], detail: {} },
      ],
      position: 0,
      rolloutOffsetSeconds: null,
      nextWindowOpening: null,
      estimatedStart,
      verification: [],
      rollback: null,
    });
    const plan = {
      version: { tag: 'v2' },
      generatedAt: at(0),
      assumptions: [],
      targets: [target('p1', at(10)), target('p2', null), target('p3', at(0), 'successful')],
      warnings: [],
    } as unknown as PlanInput;
    const [p1, p2, p3] = planTimelineOf(plan).rows;
    expect(p1?.segments.map((s) => [s.phase, s.label, s.start, s.end, s.planned])).toEqual([
      ['waiting', 'waiting: approval, gradual rollout', at(0), at(10), true],
      ['deploying', 'deploy job', at(10), at(10), true],
    ]);
    expect(p2?.segments).toEqual([]);
    expect(p2?.message).toMatch(/No estimated start/);
    expect(p3?.segments).toEqual([]);
  });
});
