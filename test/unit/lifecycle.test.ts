import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { start } from '../../shared/core/analysis';
import {
  type DecideContext,
  decide,
  type EventData,
  GUARDS,
  type LifecycleEvent,
  MAX_SIGNAL_WAIT_SECONDS,
  type ReleaseRecord,
  type ReleaseUpdateFields,
  TRANSITIONS,
  TransitionRefused,
  transition,
  type Verdict,
  type VerificationState,
} from '../../shared/core/lifecycle';
import { RELEASE_STATUSES, type ReleaseStatus, TERMINAL_RELEASE } from '../../shared/core/status';

const ROOT = join(import.meta.dirname, '../..');
const NOW = new Date('2030-01-01T12:00:00.000Z');
const AT = NOW.toISOString();
const EARLIER = '2030-01-01T11:00:00.000Z';
const secondsAgo = (s: number) => new Date(NOW.getTime() - s * 1000).toISOString();

const verification = (dueInSeconds: number | null): VerificationState => ({
  startedAt: EARLIER,
  metrics: {
    errors: {
      progress: { ...start('errors'), successes: 1, consecutiveSuccesses: 1, measurements: 1 },
      nextDueAt: new Date(NOW.getTime() + (dueInSeconds ?? 0) * 1000).toISOString(),
      verdict: dueInSeconds === null ? 'passed' : 'continue',
      policy: 'p',
    },
  },
  verdict: dueInSeconds === null ? 'passed' : 'continue',
  finishedAt: null,
});

/** A release in a status, with the fields that status carries. */
function releaseIn(status: ReleaseStatus, extra: Partial<ReleaseUpdateFields> = {}): ReleaseRecord {
  const dispatched = !['pending', 'waiting', 'superseded'].includes(status);
  return {
    deployment: 'api',
    tag: 'v2',
    environment: 'prod',
    resource: 'eu-1',
    releaseId: 'r1',
    status,
    waitingFor: status === 'waiting' ? 'approval' : null,
    message: null,
    jobId: dispatched ? 'job-1' : null,
    attempt: 1,
    versionCreatedAt: EARLIER,
    createdAt: EARLIER,
    startedAt: EARLIER,
    finishedAt: TERMINAL_RELEASE.has(status) ? EARLIER : null,
    rolledBackTo: status === 'rolling_back' || status === 'rolled_back' ? 'v1' : null,
    ...(status === 'verifying' ? { verification: verification(30) } : {}),
    updatedAt: EARLIER,
    ...extra,
  } as ReleaseRecord;
}

const drain = (state: 'draining' | 'drained' | 'undraining' | 'undrained', more = {}) => ({
  state,
  seconds: 60,
  jobId: 'drain-1',
  ...more,
});
const FORCED = { by: 'admin', reason: 'hotfix', at: EARLIER };

/** What each event carries in these tests. */
const DATA: { [E in LifecycleEvent]: EventData[E] } = {
  start: {},
  wait: { waitingFor: 'deployment_window', message: 'Outside the window.' },
  hold: { message: 'Waiting for the job of v1 on this target to finish.' },
  force: { forced: FORCED },
  supersede: { by: 'v3' },
  withdraw: { message: 'The version was rejected.' },
  cancel: { message: 'Cancelled.' },
  dispatch: { jobId: 'job-1' },
  drain: { jobId: 'drain-1', seconds: 60 },
  drained: {},
  drain_failed: { message: 'The traffic drain failed: 503' },
  verify: { verification: verification(30) },
  succeed: {},
  fail: { message: 'The job failed.' },
  roll_back: { to: 'v1', message: 'The job failed.' },
  dispatch_rollback: { jobId: 'rollback-1' },
  rolled_back: {},
  error: { message: 'The rollout failed: Boom.' },
  redeploy: { forced: FORCED, message: 'Rollback requested by admin.', versionCreatedAt: AT },
  undrain: { jobId: 'undrain-1' },
  undrained: {},
};

/** What a release needs besides its status for an event's guard to hold. */
const GUARD_MET: Partial<Record<LifecycleEvent, Partial<ReleaseUpdateFields>>> = {
  start: { startedAt: null },
  drained: { drain: drain('draining') },
  drain_failed: { drain: drain('draining') },
  undrain: { drain: drain('drained', { drainedAt: EARLIER }) },
  undrained: { drain: drain('undraining', { undrainJobId: 'undrain-1' }) },
};

const ACTIVE: ReleaseStatus[] = ['pending', 'waiting', 'deploying', 'verifying', 'rolling_back'];
const TERMINAL: ReleaseStatus[] = RELEASE_STATUSES.filter((s) => TERMINAL_RELEASE.has(s));
const to = (statuses: ReleaseStatus[], status: ReleaseStatus | 'same') =>
  Object.fromEntries(statuses.map((s) => [s, status === 'same' ? s : status]));

/** Every event, and where it leads from each status that takes it; every other status refuses it. */
const EXPECTED: Record<LifecycleEvent, Partial<Record<ReleaseStatus, ReleaseStatus>>> = {
  start: to(ACTIVE, 'same'),
  wait: to(['pending', 'waiting'], 'waiting'),
  hold: to(['pending', 'waiting'], 'pending'),
  force: to(['pending', 'waiting'], 'same'),
  supersede: to(['pending', 'waiting'], 'superseded'),
  withdraw: to(['pending', 'waiting'], 'cancelled'),
  cancel: to(ACTIVE, 'cancelled'),
  dispatch: to(['pending', 'waiting', 'deploying'], 'deploying'),
  drain: to(['deploying'], 'deploying'),
  drained: to(['deploying'], 'deploying'),
  drain_failed: to(['deploying'], 'failed'),
  verify: to(['deploying'], 'verifying'),
  succeed: to(['deploying', 'verifying'], 'successful'),
  fail: to(['deploying', 'verifying', 'rolling_back'], 'failed'),
  roll_back: to(['deploying', 'verifying', 'successful'], 'rolling_back'),
  dispatch_rollback: to(['rolling_back'], 'rolling_back'),
  rolled_back: to(['rolling_back'], 'rolled_back'),
  error: to(ACTIVE, 'failed'),
  redeploy: to(TERMINAL, 'pending'),
  undrain: to([...RELEASE_STATUSES], 'same'),
  undrained: to([...RELEASE_STATUSES], 'same'),
};

const EVENTS = Object.keys(EXPECTED) as LifecycleEvent[];

describe('the transition table', () => {
  it('names every event once in these tests, and only events it has', () => {
    expect(new Set(TRANSITIONS.map((row) => row.event))).toEqual(new Set(EVENTS));
  });

  const pairs = EVENTS.flatMap((event) => RELEASE_STATUSES.map((status) => [status, event] as const));
  it.each(pairs)('%s + %s', (status, event) => {
    const release = releaseIn(status, GUARD_MET[event]);
    const expected = EXPECTED[event][status];

    const act = () => transition(release, event, DATA[event], NOW);

    if (!expected) {
      expect(act).toThrow(TransitionRefused);
      return;
    }
    const update = act();
    expect(update.set.status ?? status).toBe(expected);
    expect(update.from).toContain(status);
  });

  it.each(EVENTS)('%s: the rows of one event take disjoint statuses', (event) => {
    const froms = TRANSITIONS.filter((row) => row.event === event).flatMap((row) => row.from);
    expect(froms).toHaveLength(new Set(froms).size);
  });

  it.each<[string, ReleaseStatus, LifecycleEvent, Partial<ReleaseUpdateFields>, object]>([
    ['a release already started', 'pending', 'start', {}, {}],
    ['a release with a job', 'pending', 'supersede', { jobId: 'job-0' }, {}],
    ['another job than the one it has', 'deploying', 'dispatch', {}, { jobId: 'job-2' }],
    ['a drain that is over', 'deploying', 'drain', { drain: drain('drained') }, {}],
    ['no drain job out', 'deploying', 'drained', {}, {}],
    ['no drain job out', 'deploying', 'drain_failed', { drain: drain('drained') }, {}],
    ['an on-demand rollback', 'deploying', 'verify', { jobKind: 'rollback' }, {}],
    ['a target never drained', 'successful', 'undrain', {}, {}],
    ['a drain still out', 'failed', 'undrain', { drain: drain('draining') }, {}],
    ['no undrain job out', 'successful', 'undrained', { drain: drain('drained') }, {}],
  ])('refuses, by its guard, %s (%s + %s)', (_why, status, event, fields, data) => {
    const release = releaseIn(status, fields);

    const act = () => transition(release, event, { ...DATA[event], ...data } as never, NOW);

    expect(act).toThrow(TransitionRefused);
  });

  it.each<[string, ReleaseRecord, LifecycleEvent, object, ReleaseUpdateFields, ReleaseStatus[]]>([
    [
      'start sets startedAt only',
      releaseIn('waiting', { startedAt: null }),
      'start',
      {},
      { startedAt: AT },
      ACTIVE,
    ],
    [
      'wait shows the gate',
      releaseIn('pending'),
      'wait',
      {},
      { status: 'waiting', waitingFor: 'deployment_window', message: 'Outside the window.' },
      ['pending', 'waiting'],
    ],
    [
      'a finished release has finishedAt and no waitingFor',
      releaseIn('waiting'),
      'withdraw',
      {},
      { status: 'cancelled', waitingFor: null, finishedAt: AT, message: 'The version was rejected.' },
      ['pending', 'waiting'],
    ],
    [
      'supersede says by which version',
      releaseIn('pending'),
      'supersede',
      {},
      { status: 'superseded', waitingFor: null, finishedAt: AT, message: 'Superseded by v3.' },
      ['pending', 'waiting'],
    ],
    [
      'dispatch sets the job and clears the gate',
      releaseIn('waiting'),
      'dispatch',
      {},
      { status: 'deploying', waitingFor: null, jobId: 'job-1', message: null },
      ['pending', 'waiting', 'deploying'],
    ],
    [
      'force marks the release and takes a new execution',
      releaseIn('waiting', { generation: 2 }),
      'force',
      {},
      { forced: FORCED, generation: 3 },
      ['pending', 'waiting'],
    ],
    [
      'a successful verification succeeds from verifying only',
      releaseIn('verifying'),
      'succeed',
      {},
      { status: 'successful', waitingFor: null, finishedAt: AT, message: null },
      ['verifying'],
    ],
    [
      'a failed job rolls back in the same execution',
      releaseIn('deploying'),
      'roll_back',
      {},
      { status: 'rolling_back', waitingFor: null, rolledBackTo: 'v1', message: 'The job failed.' },
      ['deploying', 'verifying'],
    ],
    [
      'an environment rollback reopens a successful release in a new execution',
      releaseIn('successful'),
      'roll_back',
      {},
      {
        status: 'rolling_back',
        waitingFor: null,
        finishedAt: null,
        rolledBackTo: 'v1',
        message: 'The job failed.',
        generation: 1,
      },
      ['successful'],
    ],
    [
      'the rollback failed',
      releaseIn('rolling_back'),
      'fail',
      { message: 'The rollback failed.' },
      { status: 'failed', waitingFor: null, finishedAt: AT, message: 'The rollback failed.' },
      ['rolling_back'],
    ],
    [
      'redeploy runs the release again as a new attempt of kind rollback',
      releaseIn('rolled_back', { verification: verification(null), generation: 1 }),
      'redeploy',
      {},
      {
        status: 'pending',
        waitingFor: null,
        jobKind: 'rollback',
        forced: FORCED,
        versionCreatedAt: AT,
        attempt: 2,
        generation: 2,
        jobId: null,
        message: 'Rollback requested by admin.',
        startedAt: null,
        finishedAt: null,
        rolledBackTo: null,
        verification: null,
      },
      TERMINAL,
    ],
    [
      'drain sends the drain job',
      releaseIn('deploying'),
      'drain',
      {},
      { drain: drain('draining'), message: 'Draining traffic before the deploy.' },
      ['deploying'],
    ],
    [
      'drained starts the drain time',
      releaseIn('deploying', { drain: drain('draining') }),
      'drained',
      {},
      { drain: drain('drained', { drainedAt: AT }), message: null },
      ['deploying'],
    ],
    [
      'a failed drain fails the release and keeps the undrain',
      releaseIn('deploying', { drain: drain('draining') }),
      'drain_failed',
      {},
      {
        status: 'failed',
        waitingFor: null,
        finishedAt: AT,
        drain: drain('drained', { failed: true }),
        message: 'The traffic drain failed: 503',
      },
      ['deploying'],
    ],
    [
      'undrain names its job',
      releaseIn('failed', { drain: drain('drained') }),
      'undrain',
      {},
      { drain: drain('undraining', { undrainJobId: 'undrain-1' }) },
      [...RELEASE_STATUSES],
    ],
    [
      'a failed undrain is told in the message',
      releaseIn('successful', { drain: drain('undraining') }),
      'undrained',
      { message: 'The undrain job failed: 500' },
      { drain: drain('undrained'), message: 'The undrain job failed: 500' },
      [...RELEASE_STATUSES],
    ],
  ])('%s', (_what, release, event, data, set, from) => {
    const update = transition(release, event, { ...DATA[event], ...data } as never, NOW);

    expect(update.set).toEqual(set);
    expect([...update.from].sort()).toEqual([...from].sort());
  });

  it('a refusal says which status refused which event', () => {
    const error = (() => {
      try {
        transition(releaseIn('successful'), 'dispatch', { jobId: 'job-1' }, NOW);
      } catch (e) {
        return e;
      }
    })();

    expect(error).toBeInstanceOf(TransitionRefused);
    expect(error).toMatchObject({ status: 'successful', event: 'dispatch' });
  });
});

describe('decide', () => {
  const base: DecideContext = { jobTimeoutSeconds: 600, paused: false };
  const claimed: DecideContext = { ...base, claim: { type: 'claimed' } };
  const open: DecideContext = { ...claimed, gates: { trafficDrain: false } };
  const until = new Date(NOW.getTime() + 3600_000);
  const windowGate = { gate: 'deployment_window' as const, until, message: 'Outside the window.' };
  const approvalGate = (timeoutSeconds?: number) => ({
    gate: 'approval' as const,
    signal: 'approval:a1',
    message: 'Waiting for approval a1.',
    ...(timeoutSeconds === undefined ? {} : { timeoutSeconds }),
  });
  const signalWait = (
    signal: string,
    waitingFor: string | null,
    message: string,
    timeout = MAX_SIGNAL_WAIT_SECONDS,
  ) => ({
    decision: { next: 'wait_signal', signal, waitingFor, timeoutSeconds: timeout },
    waiting: { waitingFor, message },
  });
  const forced = { forced: FORCED };

  it.each<[string, ReleaseRecord, DecideContext, Verdict]>([
    // A re-run resumes where the release is, before any claim or gate.
    ['a finished release is done', releaseIn('successful'), base, { decision: { next: 'done' } }],
    [
      'a finished release whose target was drained undrains',
      releaseIn('failed', { drain: drain('drained') }),
      base,
      { decision: { next: 'undrain', jobTimeoutSeconds: 600 } },
    ],
    [
      'a finished release already undrained is done',
      releaseIn('cancelled', { drain: drain('undrained') }),
      base,
      { decision: { next: 'done' } },
    ],
    [
      'an undrain job out is sent again',
      releaseIn('successful', { drain: drain('undraining') }),
      base,
      { decision: { next: 'undrain', jobTimeoutSeconds: 600 } },
    ],
    [
      'a drain job out is sent again',
      releaseIn('deploying', { drain: drain('draining') }),
      base,
      { decision: { next: 'drain', jobTimeoutSeconds: 600 } },
    ],
    [
      'a drained target waits the rest of the drain time',
      releaseIn('deploying', { drain: drain('drained', { drainedAt: secondsAgo(20) }) }),
      base,
      { decision: { next: 'drain_wait', waitSeconds: 40, jobTimeoutSeconds: 600 } },
    ],
    [
      'a drained target past its drain time deploys',
      releaseIn('deploying', { drain: drain('drained', { drainedAt: secondsAgo(90) }) }),
      base,
      { decision: { next: 'dispatch', jobTimeoutSeconds: 600 } },
    ],
    [
      'verification waits for its next due metric',
      releaseIn('verifying', { verification: verification(45) }),
      base,
      { decision: { next: 'verify', waitSeconds: 45 } },
    ],
    [
      'verification with nothing due measures at once',
      releaseIn('verifying', { verification: verification(null) }),
      base,
      { decision: { next: 'verify', waitSeconds: 0 } },
    ],
    [
      'a rollback resumes',
      releaseIn('rolling_back'),
      base,
      { decision: { next: 'rollback', jobTimeoutSeconds: 600 } },
    ],
    [
      'a release with a job resumes its job',
      releaseIn('deploying'),
      base,
      { decision: { next: 'dispatch', jobTimeoutSeconds: 600 } },
    ],
    // Then the claim on the target, asked for only now.
    ['a pending release needs the claim', releaseIn('pending'), base, { need: 'claim' }],
    [
      'a newer version holds the target: superseded',
      releaseIn('waiting'),
      { ...base, claim: { type: 'superseded', by: 'v3' } },
      { decision: { next: 'done' }, end: { event: 'supersede', by: 'v3' } },
    ],
    [
      "an older version's job on the target: wait for it",
      releaseIn('pending'),
      { ...base, claim: { type: 'busy', holder: 'v1' } },
      signalWait(
        'target:api#prod#eu-1',
        null,
        'Waiting for the job of v1 on this target to finish.',
      ) as Verdict,
    ],
    [
      'an aborted version ends the release',
      releaseIn('pending'),
      { ...claimed, abort: { reason: 'Halted.' } },
      { decision: { next: 'done' }, end: { event: 'withdraw', message: 'Halted.' } },
    ],
    [
      'an aborted version does not stop a forced release',
      releaseIn('pending', forced),
      { ...claimed, abort: { reason: 'Halted.' } },
      { need: 'gates' },
    ],
    // Then the policy gates, asked for only now.
    ['a claimed release needs its gates', releaseIn('pending'), claimed, { need: 'gates' }],
    [
      'a gate that opens at a time: wait until then',
      releaseIn('pending'),
      { ...claimed, gates: { closed: windowGate, trafficDrain: false } },
      {
        decision: { next: 'wait_until', until: until.toISOString(), waitingFor: 'deployment_window' },
        waiting: { waitingFor: 'deployment_window', message: 'Outside the window.', until },
      },
    ],
    [
      'a gate that opens on a signal: wait for it, at most its timeout',
      releaseIn('waiting'),
      { ...claimed, gates: { closed: approvalGate(120), trafficDrain: false } },
      signalWait('approval:a1', 'approval', 'Waiting for approval a1.', 120) as Verdict,
    ],
    [
      'a signal wait is re-checked at least daily',
      releaseIn('waiting'),
      { ...claimed, gates: { closed: approvalGate(10 * 24 * 3600), trafficDrain: false } },
      signalWait('approval:a1', 'approval', 'Waiting for approval a1.') as Verdict,
    ],
    [
      'a gate with no timeout waits the longest',
      releaseIn('waiting'),
      { ...claimed, gates: { closed: approvalGate(), trafficDrain: false } },
      signalWait('approval:a1', 'approval', 'Waiting for approval a1.') as Verdict,
    ],
    [
      'a forced release skips its gates',
      releaseIn('waiting', forced),
      { ...claimed, gates: { closed: approvalGate(), trafficDrain: false } },
      { decision: { next: 'dispatch', jobTimeoutSeconds: 600 } },
    ],
    // Then the pause switch, right before any job.
    [
      'a paused deployment holds the dispatch',
      releaseIn('pending'),
      { ...open, paused: true },
      signalWait('paused:api', 'paused', 'The deployment is paused.') as Verdict,
    ],
    [
      'a closed gate shows before the pause',
      releaseIn('pending'),
      { ...claimed, paused: true, gates: { closed: approvalGate(), trafficDrain: false } },
      signalWait('approval:a1', 'approval', 'Waiting for approval a1.') as Verdict,
    ],
    [
      'a paused deployment holds a forced release too',
      releaseIn('pending', forced),
      { ...open, paused: true },
      signalWait('paused:api', 'paused', 'The deployment is paused.') as Verdict,
    ],
    [
      'the pause holds the drain too',
      releaseIn('pending'),
      { ...claimed, paused: true, gates: { trafficDrain: true } },
      signalWait('paused:api', 'paused', 'The deployment is paused.') as Verdict,
    ],
    // Then the job: the drain first when the rules ask for it.
    [
      'traffic drain first',
      releaseIn('pending'),
      { ...claimed, gates: { trafficDrain: true } },
      { decision: { next: 'drain', jobTimeoutSeconds: 600 } },
    ],
    [
      'a forced release drains first too',
      releaseIn('waiting', forced),
      { ...claimed, gates: { closed: approvalGate(), trafficDrain: true } },
      { decision: { next: 'drain', jobTimeoutSeconds: 600 } },
    ],
    [
      'all open: dispatch',
      releaseIn('pending'),
      open,
      { decision: { next: 'dispatch', jobTimeoutSeconds: 600 } },
    ],
  ])('%s', (_what, release, context, verdict) => {
    expect(decide(release, context, NOW)).toEqual(verdict);
  });
});

describe('one lifecycle, one writer', () => {
  const sources = (dir: string): string[] =>
    readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((entry) =>
      entry.isDirectory()
        ? sources(join(dir, entry.name))
        : entry.name.endsWith('.ts')
          ? [join(dir, entry.name)]
          : [],
    );
  const code = ['shared', 'functions', 'infra', 'cli'].flatMap(sources);

  it('lifecycle.ts is pure: no AWS SDK, no store, no HTTP errors', () => {
    const imports = (file: string) =>
      [...readFileSync(join(ROOT, file), 'utf8').matchAll(/from '([^']+)'/g)].map((m) => m[1]);

    // Only modules of the core beside it (.dependency-cruiser.cjs holds the whole core to the same rule).
    expect(imports('shared/core/lifecycle.ts')).toEqual(['./analysis', './signals', './status']);
    expect(imports('shared/core/signals.ts')).toEqual([]);
  });

  it('no module but shared/adapters/store/rollouts.ts writes a release item', () => {
    const writers = code.filter((file) => {
      const text = readFileSync(join(ROOT, file), 'utf8');
      const writes = /updateItem\(|UpdateCommand|PutCommand|DeleteCommand|TransactWrite|BatchWrite/.test(
        text,
      );
      return /updateRelease\(/.test(text) || (writes && /releaseItemKey|keys\.release\(/.test(text));
    });

    expect(writers).toEqual(['shared/adapters/store/rollouts.ts']);
  });
});

describe('docs/architecture.md: the release lifecycle', () => {
  const statuses = (from: readonly ReleaseStatus[]) =>
    from.length === RELEASE_STATUSES.length ? 'any' : from.map((s) => `\`${s}\``).join(', ');
  const table = [
    '| From | Event | To | Guard |',
    '| --- | --- | --- | --- |',
    ...TRANSITIONS.map(
      (row) =>
        `| ${statuses(row.from)} | \`${row.event}\` | ${row.to === 'same' ? '(unchanged)' : `\`${row.to}\``} | ${row.guard ? GUARDS[row.guard].text : ''} |`,
    ),
  ].join('\n');

  it('shows the transition table of shared/core/lifecycle.ts', () => {
    const doc = readFileSync(join(ROOT, 'docs/architecture.md'), 'utf8');
    const section = doc.split('\n## The release lifecycle\n')[1]?.split(/\n#/)[0] ?? '';

    expect(section, `docs/architecture.md, ## The release lifecycle, should show:\n${table}`).toContain(
      table,
    );
  });
});
