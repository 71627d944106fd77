import type { MetricProgress, Verdict as MetricVerdict } from './analysis';
import { signals } from './signals';
import { RELEASE_STATUSES, type ReleaseStatus, TERMINAL_RELEASE, type WaitingFor } from './status';

/**
 * One release's lifecycle (docs/api.md sections 4-6), pure: what a release record holds in each status,
 * the transition table every write of its state goes through (shared/adapters/store/rollouts.ts
 * `applyTransition` writes it), and `decide`, the rollout's next step from what a step read.
 */

// ---- the record ---------------------------------------------------------------------------------

/** Verification progress, kept on the release so a re-run or a new execution resumes it (verify.ts). */
export interface VerificationState {
  startedAt: string;
  metrics: Record<
    string,
    { progress: MetricProgress; nextDueAt: string; verdict: MetricVerdict; policy: string }
  >;
  verdict: MetricVerdict;
  finishedAt: string | null;
}

/** Traffic drain around the deploy (rule trafficDrain): its jobs and where it stands. */
export interface DrainState {
  state: 'draining' | 'drained' | 'undraining' | 'undrained';
  seconds: number;
  jobId: string;
  drainedAt?: string;
  undrainJobId?: string;
  /** Set when the drain job failed: the deploy is skipped, the undrain still runs. */
  failed?: boolean;
}

export interface Forced {
  by: string;
  reason: string;
  at: string;
}

/** Every field a release has, whatever its status. */
interface ReleaseFields {
  deployment: string;
  tag: string;
  environment: string;
  resource: string;
  releaseId: string;
  status: ReleaseStatus;
  waitingFor: WaitingFor | null;
  /** Why a pending release is held (another version's job on the target), or a terminal reason. */
  message: string | null;
  jobId: string | null;
  attempt: number;
  versionCreatedAt: string;
  /** The version's `metadata.committedAt`, when CI sent a time: where its lead time starts. */
  committedAt?: string;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  rolledBackTo: string | null;
  /** Set by the force override (and an on-demand rollback): the remaining gates are skipped. */
  forced?: Forced;
  /** Bumped when the release needs a new execution (names stay deterministic). */
  generation?: number;
  /** Poll and Measure rounds of the generation's execution (bounds its history; rounds.ts). */
  executionRounds?: { generation: number; count: number };
  /** The kind of the release's deploy job: `rollback` for an on-demand rollback to this version. */
  jobKind?: 'deploy' | 'rollback';
  /** The rollback job of a failed release (its id; the version is `rolledBackTo`). */
  rollbackJobId?: string | null;
  verification?: VerificationState | null;
  drain?: DrainState;
  updatedAt: string;
}

type In<S extends ReleaseStatus, Narrowed> = Omit<ReleaseFields, 'status' | keyof Narrowed> & {
  status: S;
} & Narrowed;

/**
 * A release, by status: `waitingFor` only while waiting, a job id from deploying on, `rolledBackTo`
 * while rolling back and once rolled back, verification progress while verifying.
 */
export type ReleaseRecord =
  | In<'pending', { waitingFor: null; jobId: null; rolledBackTo: null }>
  | In<'waiting', { waitingFor: WaitingFor; jobId: null; rolledBackTo: null }>
  | In<'deploying', { waitingFor: null; jobId: string; rolledBackTo: null }>
  | In<'verifying', { waitingFor: null; jobId: string; rolledBackTo: null; verification: VerificationState }>
  | In<'rolling_back', { waitingFor: null; jobId: string; rolledBackTo: string }>
  | In<'successful', { waitingFor: null; jobId: string; rolledBackTo: null }>
  | In<'rolled_back', { waitingFor: null; jobId: string; rolledBackTo: string }>
  | In<'superseded', { waitingFor: null; jobId: null; rolledBackTo: null }>
  | In<'failed' | 'cancelled', { waitingFor: null }>;

export type ReleaseIn<S extends ReleaseStatus> = Extract<ReleaseRecord, { status: S }>;

/** What a write sets on a release. */
export type ReleaseUpdateFields = Partial<ReleaseFields>;

// ---- the transition table -----------------------------------------------------------------------

type NoData = Record<string, never>;

/** The events of a release and what each carries. */
export interface EventData {
  start: NoData;
  /** A gate is closed. */
  wait: { waitingFor: WaitingFor; message: string };
  /** Held by another version's job on the target. */
  hold: { message: string };
  force: { forced: Forced };
  supersede: { by: string };
  /** A version rejected, halted or aborted in the environment: releases with no job end. */
  withdraw: { message: string };
  cancel: { message: string };
  dispatch: { jobId: string };
  drain: { jobId: string; seconds: number };
  drained: NoData;
  drain_failed: { message: string };
  verify: { verification: VerificationState };
  succeed: NoData;
  fail: { message: string };
  roll_back: { to: string; message: string };
  dispatch_rollback: { jobId: string };
  rolled_back: NoData;
  /** The state machine failed unexpectedly (RecordFailure). */
  error: { message: string };
  /** An on-demand rollback to this version: the release runs again, a job of kind `rollback`. */
  redeploy: { forced: Forced; message: string; versionCreatedAt: string };
  undrain: { jobId: string };
  /** `message`: the undrain job failed. */
  undrained: { message?: string };
}

export type LifecycleEvent = keyof EventData;

/** Conditions on more than the status; the writer re-checks those a concurrent write could break. */
export const GUARDS = {
  not_started: {
    text: 'not started yet',
    holds: (r: ReleaseRecord) => !r.startedAt,
  },
  no_job: {
    text: 'no job dispatched',
    holds: (r: ReleaseRecord) => !r.jobId,
  },
  no_other_job: {
    text: 'no job yet, or this same job (a re-run)',
    holds: (r: ReleaseRecord, data: { jobId?: string }) => !r.jobId || r.jobId === data.jobId,
  },
  not_drained: {
    text: 'no drain yet (or draining: a re-run)',
    holds: (r: ReleaseRecord) => !r.drain || r.drain.state === 'draining',
  },
  draining: {
    text: 'the drain job is out',
    holds: (r: ReleaseRecord) => r.drain?.state === 'draining',
  },
  drained: {
    text: 'drained (or undraining: a re-run)',
    holds: (r: ReleaseRecord) => r.drain?.state === 'drained' || r.drain?.state === 'undraining',
  },
  undraining: {
    text: 'the undrain job is out',
    holds: (r: ReleaseRecord) => r.drain?.state === 'undraining',
  },
  deploy_job: {
    text: 'a deploy, not an on-demand rollback',
    holds: (r: ReleaseRecord) => r.jobKind !== 'rollback',
  },
} as const;

export type Guard = keyof typeof GUARDS;

export interface TransitionRow {
  from: readonly ReleaseStatus[];
  event: LifecycleEvent;
  /** `same`: the event changes the release but not its status. */
  to: ReleaseStatus | 'same';
  guard?: Guard;
}

const ACTIVE: readonly ReleaseStatus[] = ['pending', 'waiting', 'deploying', 'verifying', 'rolling_back'];
const UNDISPATCHED: readonly ReleaseStatus[] = ['pending', 'waiting'];
const TERMINAL: readonly ReleaseStatus[] = RELEASE_STATUSES.filter((s) => TERMINAL_RELEASE.has(s));

/**
 * Every write of a release's state. An event may have several rows with disjoint `from` lists: the
 * row of the status the release was read in gives the write's condition.
 */
export const TRANSITIONS: readonly TransitionRow[] = [
  { from: ACTIVE, event: 'start', to: 'same', guard: 'not_started' },
  { from: UNDISPATCHED, event: 'wait', to: 'waiting' },
  { from: UNDISPATCHED, event: 'hold', to: 'pending' },
  { from: UNDISPATCHED, event: 'force', to: 'same' },
  { from: UNDISPATCHED, event: 'supersede', to: 'superseded', guard: 'no_job' },
  { from: UNDISPATCHED, event: 'withdraw', to: 'cancelled' },
  { from: ACTIVE, event: 'cancel', to: 'cancelled' },
  { from: ['pending', 'waiting', 'deploying'], event: 'dispatch', to: 'deploying', guard: 'no_other_job' },
  { from: ['deploying'], event: 'drain', to: 'same', guard: 'not_drained' },
  { from: ['deploying'], event: 'drained', to: 'same', guard: 'draining' },
  { from: ['deploying'], event: 'drain_failed', to: 'failed', guard: 'draining' },
  { from: ['deploying'], event: 'verify', to: 'verifying', guard: 'deploy_job' },
  { from: ['deploying'], event: 'succeed', to: 'successful' },
  { from: ['verifying'], event: 'succeed', to: 'successful' },
  { from: ['deploying', 'verifying'], event: 'fail', to: 'failed' },
  { from: ['deploying', 'verifying'], event: 'roll_back', to: 'rolling_back' },
  { from: ['successful'], event: 'roll_back', to: 'rolling_back' },
  { from: ['rolling_back'], event: 'dispatch_rollback', to: 'same' },
  { from: ['rolling_back'], event: 'rolled_back', to: 'rolled_back' },
  { from: ['rolling_back'], event: 'fail', to: 'failed' },
  { from: ACTIVE, event: 'error', to: 'failed' },
  { from: TERMINAL, event: 'redeploy', to: 'pending' },
  { from: RELEASE_STATUSES, event: 'undrain', to: 'same', guard: 'drained' },
  { from: RELEASE_STATUSES, event: 'undrained', to: 'same', guard: 'undraining' },
];

/** A release that needs an execution of its own again takes the next generation. */
const nextGeneration = (r: ReleaseRecord) => (r.generation ?? 0) + 1;

/** What each event sets besides the status (which `transition` sets, with `waitingFor` and `finishedAt`). */
const FIELDS: {
  [E in LifecycleEvent]: (r: ReleaseRecord, data: EventData[E], at: string) => ReleaseUpdateFields;
} = {
  start: (_r, _d, at) => ({ startedAt: at }),
  wait: (_r, d) => ({ waitingFor: d.waitingFor, message: d.message }),
  hold: (_r, d) => ({ message: d.message }),
  force: (r, d) => ({ forced: d.forced, generation: nextGeneration(r) }),
  supersede: (_r, d) => ({ message: `Superseded by ${d.by}.` }),
  withdraw: (_r, d) => ({ message: d.message }),
  cancel: (_r, d) => ({ message: d.message }),
  dispatch: (_r, d) => ({ jobId: d.jobId, message: null }),
  drain: (_r, d) => ({
    drain: { state: 'draining', seconds: d.seconds, jobId: d.jobId },
    message: 'Draining traffic before the deploy.',
  }),
  drained: (r, _d, at) => ({ drain: { ...r.drain!, state: 'drained', drainedAt: at }, message: null }),
  drain_failed: (r, d) => ({ drain: { ...r.drain!, state: 'drained', failed: true }, message: d.message }),
  verify: (_r, d) => ({ verification: d.verification }),
  succeed: () => ({ message: null }),
  fail: (_r, d) => ({ message: d.message }),
  // Reopening a successful release (an all-or-nothing rollback) needs a new execution.
  roll_back: (r, d) => ({
    rolledBackTo: d.to,
    message: d.message,
    ...(TERMINAL_RELEASE.has(r.status) ? { generation: nextGeneration(r) } : {}),
  }),
  dispatch_rollback: (_r, d) => ({ rollbackJobId: d.jobId }),
  rolled_back: () => ({}),
  error: (_r, d) => ({ message: d.message }),
  redeploy: (r, d) => ({
    jobKind: 'rollback',
    forced: d.forced,
    // The newest intent for the target: it supersedes releases that have not dispatched.
    versionCreatedAt: d.versionCreatedAt,
    attempt: r.attempt + 1,
    generation: nextGeneration(r),
    jobId: null,
    message: d.message,
    startedAt: null,
    rolledBackTo: null,
    verification: null,
  }),
  undrain: (r, d) => ({ drain: { ...r.drain!, state: 'undraining', undrainJobId: d.jobId } }),
  undrained: (r, d) => ({
    drain: { ...r.drain!, state: 'undrained' },
    ...(d.message === undefined ? {} : { message: d.message }),
  }),
};

/** The table has no row for this event from the release's status, or the row's guard does not hold. */
export class TransitionRefused extends Error {
  constructor(
    readonly status: ReleaseStatus,
    readonly event: LifecycleEvent,
  ) {
    super(`A ${status} release does not take the event "${event}".`);
    this.name = 'TransitionRefused';
  }
}

/** One write of a release's state: what to set, on the condition that its status is one of `from`. */
export interface ReleaseUpdate {
  set: ReleaseUpdateFields;
  from: readonly ReleaseStatus[];
  guard?: Guard;
}

/** The row of the table that takes this event from the release's status. */
const rowOf = (status: ReleaseStatus, event: LifecycleEvent) =>
  TRANSITIONS.find((row) => row.event === event && row.from.includes(status));

export function transition<E extends LifecycleEvent>(
  release: ReleaseRecord,
  event: E,
  data: EventData[E],
  now: Date,
): ReleaseUpdate {
  const row = rowOf(release.status, event);
  if (!row || (row.guard && !GUARDS[row.guard].holds(release, data as { jobId?: string }))) {
    throw new TransitionRefused(release.status, event);
  }
  const at = now.toISOString();
  const set = (FIELDS[event] as (r: ReleaseRecord, d: EventData[E], at: string) => ReleaseUpdateFields)(
    release,
    data,
    at,
  );
  if (row.to !== 'same' && row.to !== release.status) {
    set.status = row.to;
    if (row.to !== 'waiting') set.waitingFor = null;
    // finishedAt is set while, and only while, the release is finished.
    if (TERMINAL_RELEASE.has(row.to)) set.finishedAt = at;
    else if (TERMINAL_RELEASE.has(release.status)) set.finishedAt = null;
  }
  return { set, from: row.from, ...(row.guard ? { guard: row.guard } : {}) };
}

// ---- deciding the next step ---------------------------------------------------------------------

/** What Evaluate tells the state machine to do next (the Choice state routes on `next`). */
export type Decision =
  | { next: 'done' }
  | { next: 'dispatch'; jobTimeoutSeconds: number }
  /** Verification runs: wait, then Measure. */
  | { next: 'verify'; waitSeconds: number }
  /** Roll the target back to its last good version with a job of kind `rollback`. */
  | { next: 'rollback'; jobTimeoutSeconds: number }
  /** Traffic drain: send the drain job, wait the drain time, deploy; send undrain at the end. */
  | { next: 'drain'; jobTimeoutSeconds: number }
  | { next: 'drain_wait'; waitSeconds: number; jobTimeoutSeconds: number }
  | { next: 'undrain'; jobTimeoutSeconds: number }
  | { next: 'wait_until'; until: string; waitingFor: WaitingFor }
  | { next: 'wait_signal'; signal: string; waitingFor: WaitingFor | null; timeoutSeconds: number };

/** A parked execution re-checks its gates at least this often (a missed wake-up costs at most this). */
export const MAX_SIGNAL_WAIT_SECONDS = 24 * 3600;

/** What claiming the release target answered (lock.ts). */
export type ClaimOutcome =
  | { type: 'claimed' }
  /** A newer version holds the target: this release is superseded. */
  | { type: 'superseded'; by: string }
  /** An older version's job is running on the target: wait for it to finish. */
  | { type: 'busy'; holder: string };

/** What a closed gate asks of the workflow: wait until a moment, or until a signal wakes it (gates.ts). */
export type GateWait =
  | { gate: WaitingFor; until: Date; message: string }
  | { gate: WaitingFor; signal: string; message: string; timeoutSeconds?: number };

/**
 * What deciding knows besides the release. `claim` and `gates` cost reads and writes, so `decide`
 * asks for them (`need`) only once the cheaper checks let the release go that far.
 */
export interface DecideContext {
  jobTimeoutSeconds: number;
  /** The deployment's pause switch. */
  paused: boolean;
  /** The version's abort record in the release's environment (safety.ts). */
  abort?: { reason: string };
  claim?: ClaimOutcome;
  /** The first closed policy gate (not looked for when the release is forced), and the drain rule. */
  gates?: { closed?: GateWait; trafficDrain: boolean };
}

/** How a waiting release shows: its gate (null: held by another version's job) and why. */
export interface Waiting {
  waitingFor: WaitingFor | null;
  message: string;
  until?: Date;
}

/** The next step, how a waiting release shows, and the event a release that ends here ends with. */
export interface Decided {
  decision: Decision;
  waiting?: Waiting;
  end?: { event: 'supersede'; by: string } | { event: 'withdraw'; message: string };
}

/** Decided, or what deciding needs to know first. */
export type Verdict = Decided | { need: 'claim' | 'gates' };

const go = (decision: Decision): Decided => ({ decision });

const signalWait = (
  signal: string,
  waitingFor: WaitingFor | null,
  message: string,
  timeoutSeconds = MAX_SIGNAL_WAIT_SECONDS,
): Decided => ({
  decision: {
    next: 'wait_signal',
    signal,
    waitingFor,
    timeoutSeconds: Math.min(timeoutSeconds, MAX_SIGNAL_WAIT_SECONDS),
  },
  waiting: { waitingFor, message },
});

export function secondsUntilNextDue(state: VerificationState, now: Date): number {
  const due = Object.values(state.metrics)
    .filter((m) => m.verdict === 'continue')
    .map((m) => Date.parse(m.nextDueAt));
  if (due.length === 0) return 0;
  return Math.max(0, Math.ceil((Math.min(...due) - now.getTime()) / 1000));
}

/** How a finished release leaves the workflow: through the undrain job when its target was drained. */
export function afterward(release: ReleaseRecord, jobTimeoutSeconds: number): Decision {
  return release.drain?.state === 'drained' ? { next: 'undrain', jobTimeoutSeconds } : { next: 'done' };
}

/**
 * The release's next step. A re-run (restart, new generation) resumes where the release is; then the
 * cheap checks first: does it hold the target, was the version aborted; then the policy gates
 * (skipped for a forced release); then, right before any job, the pause switch.
 */
export function decide(release: ReleaseRecord, context: DecideContext, now: Date): Verdict {
  const { drain } = release;
  const { jobTimeoutSeconds } = context;
  if (drain?.state === 'undraining') return go({ next: 'undrain', jobTimeoutSeconds });
  if (TERMINAL_RELEASE.has(release.status)) return go(afterward(release, jobTimeoutSeconds));
  if (drain?.state === 'draining') return go({ next: 'drain', jobTimeoutSeconds });
  if (drain?.state === 'drained' && release.status === 'deploying' && drain.drainedAt) {
    const left = Math.ceil((Date.parse(drain.drainedAt) + drain.seconds * 1000 - now.getTime()) / 1000);
    if (left > 0) return go({ next: 'drain_wait', waitSeconds: left, jobTimeoutSeconds });
  }
  if (release.status === 'verifying') {
    return go({ next: 'verify', waitSeconds: secondsUntilNextDue(release.verification, now) });
  }
  if (release.status === 'rolling_back') return go({ next: 'rollback', jobTimeoutSeconds });
  if (release.jobId) return go({ next: 'dispatch', jobTimeoutSeconds });

  const { claim } = context;
  if (!claim) return { need: 'claim' };
  if (claim.type === 'superseded') {
    return { decision: { next: 'done' }, end: { event: 'supersede', by: claim.by } };
  }
  if (claim.type === 'busy') {
    const message = `Waiting for the job of ${claim.holder} on this target to finish.`;
    return signalWait(signals.target(release), null, message);
  }
  if (context.abort && !release.forced) {
    return { decision: { next: 'done' }, end: { event: 'withdraw', message: context.abort.reason } };
  }
  const { gates } = context;
  if (!gates) return { need: 'gates' };
  const gate = release.forced ? undefined : gates.closed;
  if (gate && 'until' in gate) {
    return {
      decision: { next: 'wait_until', until: gate.until.toISOString(), waitingFor: gate.gate },
      waiting: { waitingFor: gate.gate, message: gate.message, until: gate.until },
    };
  }
  if (gate) return signalWait(gate.signal, gate.gate, gate.message, gate.timeoutSeconds);
  // Pause holds only dispatch (docs/api.md section 5): the gates before it, an approval request among
  // them, go on, so approvers can approve while paused and the release ships the moment it resumes.
  if (context.paused) {
    return signalWait(signals.paused(release.deployment), 'paused', 'The deployment is paused.');
  }
  // Traffic drain is not a gate: even a forced release drains first.
  if (gates.trafficDrain && !drain) return go({ next: 'drain', jobTimeoutSeconds });
  return go({ next: 'dispatch', jobTimeoutSeconds });
}
