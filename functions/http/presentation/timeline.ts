import type { AuditRecord } from '../../../shared/adapters/events';
import {
  IN_FLIGHT_RELEASE,
  type ReleaseStatus,
  TERMINAL_RELEASE,
  type WaitingFor,
} from '../../../shared/core/status';
import type { planVersion } from '../../../shared/services/rollouts/plan';

/**
 * The Gantt rows of the status page: one row per release target, bars for what it waited for (by
 * gate), its jobs, its verification and its rollback, with times. Built from a version's releases
 * and its audit events (the past), or from its plan (the future tense: estimated starts). Pure, so
 * the page draws what the server computed and tests can check it without a browser.
 */
export type Phase = 'waiting' | 'deploying' | 'verifying' | 'rolling_back';

export interface Segment {
  phase: Phase;
  label: string;
  start: string;
  /** null while it goes on. */
  end: string | null;
  /** For waits with a known end (a window opening, an interval): when it is expected to end. */
  until: string | null;
  /** Part of a plan: an estimate, not something that happened. */
  planned: boolean;
}

export interface Marker {
  time: string;
  kind: 'succeeded' | 'failed' | 'rolled_back' | 'cancelled' | 'superseded' | 'approval' | 'override';
  label: string;
}

export interface TimelineRow {
  environment: string;
  resource: string;
  status: ReleaseStatus;
  waitingFor: WaitingFor | null;
  message: string | null;
  segments: Segment[];
  markers: Marker[];
}

export interface Timeline {
  now: string;
  /** The span to draw: every segment and marker, and now. */
  start: string;
  end: string;
  rows: TimelineRow[];
}

/** What the rows need of a release (renderRelease's shape). */
export interface ReleaseInput {
  environment: string;
  resource: string;
  status: ReleaseStatus;
  waitingFor: WaitingFor | null;
  message: string | null;
  startedAt: string | null;
  finishedAt: string | null;
  verification: { startedAt: string; finishedAt: string | null } | null;
}

export type PlanInput = Awaited<ReturnType<typeof planVersion>>;

export const gateLabel = (gate: string) => gate.replace(/_/g, ' ');

const END_MARKERS: Partial<Record<string, Marker['kind']>> = {
  'Release Succeeded': 'succeeded',
  'Release Failed': 'failed',
  'Release Rolled Back': 'rolled_back',
  'Release Cancelled': 'cancelled',
  'Release Superseded': 'superseded',
};

const text = (value: unknown): string | null => (typeof value === 'string' && value ? value : null);
const targetKey = (t: { environment?: string; resource?: string }) => `${t.environment}\n${t.resource}`;

function rowOf(release: ReleaseInput, events: AuditRecord[], environmentEvents: AuditRecord[]): TimelineRow {
  const segments: Segment[] = [];
  const markers: Marker[] = [];
  let open: Segment | undefined;
  const close = (time: string) => {
    if (open) segments.push({ ...open, end: time });
    open = undefined;
  };
  const begin = (phase: Phase, label: string, time: string, until: string | null = null) => {
    // A gate that says so again (a new message, a later `until`) goes on in the same bar.
    if (open?.phase === phase && open.label === label) {
      open.until = until;
      return;
    }
    close(time);
    open = { phase, label, start: time, end: null, until, planned: false };
  };
  for (const event of events) {
    const data = event.data ?? {};
    switch (event.detailType) {
      case 'Release Waiting': {
        const gate = text(data.waitingFor) ?? 'another rollout';
        begin('waiting', `waiting: ${gateLabel(gate)}`, event.time, text(data.until));
        break;
      }
      case 'Job Dispatched': {
        const kind = text(data.kind) ?? 'deploy';
        begin(kind === 'rollback' ? 'rolling_back' : 'deploying', `${kind} job`, event.time);
        break;
      }
      case 'Job Updated':
        if (data.status === 'successful' || data.status === 'failed') close(event.time);
        break;
      case 'Override Applied':
        markers.push({
          time: event.time,
          kind: 'override',
          label: `override: ${text(data.override) ?? '?'}`,
        });
        break;
      default: {
        const kind = END_MARKERS[event.detailType];
        if (kind) {
          close(event.time);
          markers.push({ time: event.time, kind, label: kind.replace('_', ' ') });
        }
      }
    }
  }
  const done = TERMINAL_RELEASE.has(release.status);
  if (open) {
    if (done) close(release.finishedAt ?? open.start);
    else segments.push(open);
  } else if (!done && (release.status === 'pending' || release.status === 'waiting') && release.startedAt) {
    // Held with no event of its own (pending behind another version's job).
    segments.push({
      phase: 'waiting',
      label: release.waitingFor ? `waiting: ${gateLabel(release.waitingFor)}` : 'pending',
      start: release.startedAt,
      end: null,
      until: null,
      planned: false,
    });
  }
  const verification = release.verification;
  if (verification?.startedAt) {
    segments.push({
      phase: 'verifying',
      label: 'verification',
      start: verification.startedAt,
      end: verification.finishedAt ?? (done ? release.finishedAt : null),
      until: null,
      planned: false,
    });
  }
  for (const event of environmentEvents) {
    const data = event.data ?? {};
    const label =
      event.detailType === 'Approval Requested'
        ? 'approval requested'
        : `${data.decision === 'reject' ? 'rejected' : 'approved'} by ${text(data.approver) ?? 'someone'}`;
    markers.push({ time: event.time, kind: 'approval', label });
  }
  segments.sort((a, b) => a.start.localeCompare(b.start));
  markers.sort((a, b) => a.time.localeCompare(b.time));
  return {
    environment: release.environment,
    resource: release.resource,
    status: release.status,
    waitingFor: release.waitingFor,
    message: release.message,
    segments,
    markers,
  };
}

function span(rows: TimelineRow[], now: string): { start: string; end: string } {
  const times = [now];
  for (const row of rows) {
    for (const s of row.segments) times.push(s.start, s.end ?? now, ...(s.until ? [s.until] : []));
    for (const m of row.markers) times.push(m.time);
  }
  times.sort();
  return { start: times[0] ?? now, end: times[times.length - 1] ?? now };
}

const byTarget = (a: TimelineRow, b: TimelineRow) =>
  a.environment.localeCompare(b.environment) || a.resource.localeCompare(b.resource);

/** The past: a version's releases and its audit events (any order; other versions' are ignored). */
export function timelineOf(
  tag: string,
  releases: ReleaseInput[],
  events: AuditRecord[],
  now: string,
  environmentOrder: string[] = [],
): Timeline {
  const mine = events
    .filter((e) => e.version === tag)
    .sort((a, b) => a.time.localeCompare(b.time) || a.id.localeCompare(b.id));
  const perTarget = new Map<string, AuditRecord[]>();
  const perEnvironment = new Map<string, AuditRecord[]>();
  for (const event of mine) {
    if (event.detailType === 'Approval Requested' || event.detailType === 'Approval Decided') {
      const list = perEnvironment.get(event.environment ?? '') ?? [];
      perEnvironment.set(event.environment ?? '', [...list, event]);
    } else if (event.resource) {
      const key = targetKey(event);
      perTarget.set(key, [...(perTarget.get(key) ?? []), event]);
    }
  }
  const rows = releases.map((r) =>
    rowOf(r, perTarget.get(targetKey(r)) ?? [], perEnvironment.get(r.environment) ?? []),
  );
  rows.sort(orderBy(environmentOrder));
  return { now, ...span(rows, now), rows };
}

const orderBy = (environments: string[]) => (a: TimelineRow, b: TimelineRow) => {
  const rank = (env: string) => {
    const i = environments.indexOf(env);
    return i < 0 ? environments.length : i;
  };
  return rank(a.environment) - rank(b.environment) || byTarget(a, b);
};

/**
 * The future tense: each target's remaining gates as one wait up to its estimated start, then its
 * job. Plans assume that jobs and verification finish at once, so the job is drawn at its start only.
 */
export function planTimelineOf(plan: PlanInput, environmentOrder: string[] = []): Timeline {
  const now = plan.generatedAt;
  const rows = plan.targets.map((target): TimelineRow => {
    const segments: Segment[] = [];
    const start = target.estimatedStart;
    const future = !TERMINAL_RELEASE.has(target.status) && !IN_FLIGHT_RELEASE.has(target.status);
    if (future && start) {
      if (start > now) {
        const gates = target.gates.map((g) => gateLabel(g.gate)).join(', ') || 'start';
        segments.push({
          phase: 'waiting',
          label: `waiting: ${gates}`,
          start: now,
          end: start,
          until: null,
          planned: true,
        });
      }
      segments.push({
        phase: 'deploying',
        label: 'deploy job',
        start,
        end: start,
        until: null,
        planned: true,
      });
    }
    return {
      environment: target.environment,
      resource: target.resource,
      status: target.status,
      waitingFor: target.waitingFor,
      message:
        future && !start ? (target.message ?? 'No estimated start (see the warnings).') : target.message,
      segments,
      markers: [],
    };
  });
  rows.sort(orderBy(environmentOrder));
  return { now, ...span(rows, now), rows };
}
