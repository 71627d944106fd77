import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalServer } from '../../infra/local/server';
import { nowMs } from '../../shared/core/clock';
import { FakeAgent } from '../helpers/agent';
import { type Client, eventually } from '../helpers/client';
import { startTestServer } from '../helpers/local';
import { type Loopback, serveLoopback } from '../helpers/loopback';

/**
 * Issue 19 item 1 (docs/api.md section 10): freezes stop the line. Through the local server, with the
 * domain clock 60 times faster (a minute passes in a second): the test reads the same clock (the server
 * runs in this process). Freezes hold every deployment they select, so each test selects its own.
 */
let server: LocalServer;
let admin: Client;
let as: (id: string) => Client;
const agent = new FakeAgent();
let feed: Loopback;
let calendar = { status: 200, body: '' };

interface Release {
  environment: string;
  resource: string;
  status: string;
  waitingFor: string | null;
  message: string | null;
}
interface Freeze {
  id: string;
  active: boolean;
  activeUntil: string | null;
  calendar?: {
    fetchedAt: string | null;
    attemptedAt: string | null;
    lastError: string | null;
    occurrences: { start: string; end: string; summary: string | null }[];
  };
}
interface AuditRecord {
  detailType: string;
  time: string;
  actor: { keyId?: string; system?: string };
  data?: Record<string, unknown>;
}

beforeAll(async () => {
  await agent.start();
  feed = await serveLoopback((_req, res) => {
    res.writeHead(calendar.status, { 'content-type': 'text/calendar' }).end(calendar.body);
  });
  ({ server, admin, as } = await startTestServer({ timeScale: 60 }));
  await admin.put('/v1/resources/fz-stg-1', { kind: 'vm', name: 'fz-stg-1', metadata: { env: 'staging' } });
  for (const id of ['fz-prod-1', 'fz-prod-2'])
    await admin.put(`/v1/resources/${id}`, { kind: 'vm', name: id, metadata: { env: 'production' } });
  await admin.put('/v1/environments/staging', { resourceSelector: "resource.metadata.env == 'staging'" });
  await admin.put('/v1/environments/production', {
    resourceSelector: "resource.metadata.env == 'production'",
  });
  for (const id of ['fz-hold', 'fz-until', 'fz-sel', 'fz-cal'])
    await admin.put(`/v1/deployments/${id}`, { jobAgent: { type: 'webhook', url: agent.url } });
});
afterAll(async () => {
  await server?.close();
  await agent.stop();
  await feed?.close();
});

const releases = async (deployment: string, tag: string) =>
  (await admin.get<{ releases: Release[] }>(`/v1/deployments/${deployment}/versions/${tag}`)).body.releases ??
  [];
const all = (status: string) => (rs: Release[]) => rs.length > 0 && rs.every((r) => r.status === status);
const audit = async (detailType: string, freezeId: string) =>
  (await admin.getAll<{ items: AuditRecord[] }>('/v1/events')).body.items.filter(
    (e) => e.detailType === detailType && e.data?.freezeId === freezeId,
  );
const jobsOf = (deployment: string, tag: string) =>
  agent.jobs.filter((j) => j.deployment.id === deployment && j.version.tag === tag);
/** The server's domain clock, in whole seconds (what an ISO time in a body can say). */
const domainSeconds = (offsetSeconds: number) => Math.floor(nowMs() / 1000) * 1000 + offsetSeconds * 1000;

describe('a freeze', () => {
  it('holds releases that have not dispatched; one already deploying goes on; DELETE lets them go at once', async () => {
    // Prepare: v1 is deploying (its agent has not answered) when the freeze starts.
    agent.behaviour = (job) =>
      job.deployment.id === 'fz-hold' && job.version.tag === 'v1' ? 'none' : 'successful';
    await admin.post('/v1/deployments/fz-hold/versions', { tag: 'v1' });
    await eventually(() => releases('fz-hold', 'v1'), all('deploying'));
    const put = await admin.put('/v1/freezes/hold', {
      reason: 'INC-7: database failover',
      selector: "deployment.id == 'fz-hold'",
    });
    expect(put.status).toBe(201);
    expect(put.body).toMatchObject({ id: 'hold', active: true, activeUntil: null, until: null });

    // Act 1: the deploying release finishes; a new version waits for the freeze.
    for (const job of jobsOf('fz-hold', 'v1')) await agent.report(job, 'successful');
    await eventually(() => releases('fz-hold', 'v1'), all('successful'));
    await admin.post('/v1/deployments/fz-hold/versions', { tag: 'v2' });
    const held = await eventually(
      () => releases('fz-hold', 'v2'),
      (rs) => rs.length === 3 && rs.every((r) => r.waitingFor === 'freeze'),
    );
    expect(held).toHaveLength(3);
    expect(held[0]?.message).toBe('Frozen by hold until it is deleted: INC-7: database failover');
    expect(jobsOf('fz-hold', 'v2')).toEqual([]);

    // Act 2: DELETE ends it; the releases are woken (no timer: this freeze has no end).
    const deletedAt = Date.now();
    expect((await admin.delete('/v1/freezes/hold')).status).toBe(204);
    await eventually(() => releases('fz-hold', 'v2'), all('successful'), { timeoutMs: 5_000 });
    expect(Date.now() - deletedAt).toBeLessThan(5_000);
    expect(jobsOf('fz-hold', 'v2')).toHaveLength(3);
    expect((await admin.get('/v1/freezes/hold')).status).toBe(404);

    // Assess: the start and the end are events and audit records, made by the admin key.
    const started = await audit('Freeze Started', 'hold');
    const ended = await audit('Freeze Ended', 'hold');
    expect(started).toHaveLength(1);
    expect(started[0]).toMatchObject({
      actor: { keyId: 'admin' },
      data: { reason: 'INC-7: database failover' },
    });
    expect(ended).toHaveLength(1);
    expect(ended[0]?.actor).toEqual({ keyId: 'admin' });
  });

  it('with until ends by itself, and the sweep announces its end once', async () => {
    agent.behaviour = () => 'successful';
    const until = new Date(domainSeconds(150)).toISOString();
    await admin.put('/v1/freezes/brief', {
      reason: 'release train',
      selector: "deployment.id == 'fz-until'",
      until,
    });
    await admin.post('/v1/deployments/fz-until/versions', { tag: 'v1' });
    const held = await eventually(
      () => releases('fz-until', 'v1'),
      (rs) => rs.length === 3 && rs.every((r) => r.waitingFor === 'freeze'),
    );
    expect(held[0]?.message).toBe(`Frozen by brief until ${until}: release train`);

    await eventually(() => releases('fz-until', 'v1'), all('successful'), { timeoutMs: 15_000 });
    const done = await admin.get<Freeze>('/v1/freezes/brief');
    expect(done.body).toMatchObject({ active: false, activeUntil: null });
    const ended = await eventually(
      () => audit('Freeze Ended', 'brief'),
      (e) => e.length > 0,
    );
    expect(ended[0]).toMatchObject({ actor: { system: 'gantry' }, data: { until } });
    // A second sweep announces nothing more.
    await new Promise((r) => setTimeout(r, 2_500));
    expect(await audit('Freeze Ended', 'brief')).toHaveLength(1);
    expect(await audit('Freeze Started', 'brief')).toHaveLength(1);
  });

  it('holds only what its selector selects, shows in the plan, and force passes it', async () => {
    await admin.put('/v1/freezes/prod-only', {
      reason: 'quarter end',
      selector: "deployment.id == 'fz-sel' && environment.id == 'production'",
    });
    await admin.post('/v1/deployments/fz-sel/versions', { tag: 'v1' });
    const rs = await eventually(
      () => releases('fz-sel', 'v1'),
      (r) =>
        r.find((x) => x.environment === 'staging')?.status === 'successful' &&
        r.filter((x) => x.waitingFor === 'freeze').length === 2,
    );
    expect(rs.filter((r) => r.environment === 'production').map((r) => r.waitingFor)).toEqual([
      'freeze',
      'freeze',
    ]);

    const plan = await admin.get<{
      targets: {
        environment: string;
        gates: { gate: string; detail: Record<string, unknown> }[];
        estimatedStart: string | null;
      }[];
    }>('/v1/deployments/fz-sel/versions/v1/plan');
    const production = plan.body.targets.filter((t) => t.environment === 'production');
    expect(production[0]?.gates.map((g) => g.gate)).toEqual(['freeze']);
    expect(production[0]?.gates[0]?.detail).toEqual({
      freezes: [
        { freezeId: 'prod-only', reason: 'quarter end', active: true, start: expect.any(String), end: null },
      ],
    });
    expect(production[0]?.estimatedStart).toBeNull();
    expect(plan.body.targets.find((t) => t.environment === 'staging')?.gates).toEqual([]);

    const forced = await admin.post('/v1/release-targets/force', {
      deployment: 'fz-sel',
      environment: 'production',
      resource: 'fz-prod-1',
      tag: 'v1',
      reason: 'hotfix for INC-8',
    });
    expect(forced.status).toBe(200);
    const after = await eventually(
      () => releases('fz-sel', 'v1'),
      (r) => r.find((x) => x.resource === 'fz-prod-1')?.status === 'successful',
    );
    expect(after.find((x) => x.resource === 'fz-prod-2')?.waitingFor).toBe('freeze');
    await admin.delete('/v1/freezes/prod-only');
    await eventually(() => releases('fz-sel', 'v1'), all('successful'));
  });

  it('refuses bad input with a 400 that names it, and changes nothing', async () => {
    const future = new Date(domainSeconds(3600)).toISOString();
    const cases: [Record<string, unknown>, string][] = [
      [{ reason: 'x', selector: 'deployment.id ==' }, 'selector'],
      [{ reason: 'x', selector: "resource.metadata.env == 'prod'" }, 'selector'],
      [{ reason: 'x', until: new Date(domainSeconds(-60)).toISOString() }, 'until'],
      [{ reason: 'x', until: 'tomorrow' }, 'until'],
      [{ reason: 'x', until: future, calendar: { icsUrl: `${feed.origin}/cal.ics` } }, 'calendar'],
      [{ reason: 'x', calendar: { icsUrl: 'ftp://calendar.example/cal.ics' } }, 'calendar.icsUrl'],
      [
        { reason: 'x', calendar: { icsUrl: `${feed.origin}/cal.ics`, refreshSeconds: 5 } },
        'calendar.refreshSeconds',
      ],
      [{ selector: 'true' }, 'reason'],
    ];
    for (const [body, path] of cases) {
      const reply = await admin.put<{ error: { code: string; details: { path: string }[] } }>(
        '/v1/freezes/bad',
        body,
      );
      expect(reply.status, JSON.stringify(body)).toBe(400);
      expect(reply.body.error.code).toBe('invalid_request');
      expect(reply.body.error.details.map((d) => d.path)).toContain(path);
    }
    expect((await admin.get('/v1/freezes/bad')).status).toBe(404);
    expect((await admin.put('/v1/freezes/Bad_Id', { reason: 'x' })).status).toBe(400);
  });

  it('is written and ended by admin keys only; read keys list and read', async () => {
    expect((await as('reader').put('/v1/freezes/nope', { reason: 'x' })).status).toBe(403);
    expect((await as('ci-api').put('/v1/freezes/nope', { reason: 'x' })).status).toBe(403);
    await admin.put('/v1/freezes/listed', { reason: 'x', selector: 'false' });
    expect((await as('reader').delete('/v1/freezes/listed')).status).toBe(403);
    const list = await as('reader').get<{ items: Freeze[] }>('/v1/freezes');
    expect(list.status).toBe(200);
    expect(list.body.items.map((f) => f.id)).toContain('listed');
    expect((await as('reader').get('/v1/freezes/listed')).status).toBe(200);
    expect((await as('ci-api').get('/v1/freezes')).status).toBe(403);
    expect((await admin.delete('/v1/freezes/listed')).status).toBe(204);
    expect((await admin.delete('/v1/freezes/listed')).status).toBe(404);
  });
});

/** An iCalendar time in Europe/Berlin's wall clock (TZID without a VTIMEZONE, as many feeds send it). */
function berlin(ms: number): string {
  const parts = new Intl.DateTimeFormat('en-GB', {
    timeZone: 'Europe/Berlin',
    hourCycle: 'h23',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  }).formatToParts(ms);
  const get = (type: string) => parts.find((p) => p.type === type)?.value ?? '';
  return `${get('year')}${get('month')}${get('day')}T${get('hour')}${get('minute')}${get('second')}`;
}

/** The same wall clock a week earlier (a weekly event's first occurrence). */
const weekEarlier = (wall: string) => {
  const d = new Date(
    Date.UTC(
      +wall.slice(0, 4),
      +wall.slice(4, 6) - 1,
      +wall.slice(6, 8) - 7,
      +wall.slice(9, 11),
      +wall.slice(11, 13),
      +wall.slice(13, 15),
    ),
  );
  return d.toISOString().replace(/[-:]/g, '').slice(0, 15);
};

describe('a calendar freeze', () => {
  it('freezes during each occurrence of a weekly event in Europe/Berlin, and keeps the last good copy when the feed is down', async () => {
    // Prepare: a weekly event whose occurrence this week began a minute ago and lasts four (4 s here).
    const start = domainSeconds(-60);
    const end = start + 240_000;
    calendar = {
      status: 200,
      body: [
        'BEGIN:VCALENDAR',
        'VERSION:2.0',
        'PRODID:-//gantry test//EN',
        'BEGIN:VEVENT',
        'UID:weekly-freeze@test',
        `DTSTART;TZID=Europe/Berlin:${weekEarlier(berlin(start))}`,
        `DTEND;TZID=Europe/Berlin:${weekEarlier(berlin(end))}`,
        'RRULE:FREQ=WEEKLY',
        'SUMMARY:Weekly change freeze',
        'END:VEVENT',
        'END:VCALENDAR',
      ].join('\r\n'),
    };
    const put = await admin.put<Freeze>('/v1/freezes/weekly', {
      reason: 'weekly change freeze',
      selector: "deployment.id == 'fz-cal'",
      calendar: { icsUrl: `${feed.origin}/team.ics`, refreshSeconds: 60 },
    });
    expect(put.status).toBe(201);

    // Act: the feed is read at once, off the request.
    const read = await eventually(
      () => admin.get<Freeze>('/v1/freezes/weekly'),
      (r) => Boolean(r.body.calendar?.fetchedAt),
    );
    // Assess: the Berlin wall clock is read in Berlin, whatever this process's time zone.
    const [first, second] = read.body.calendar?.occurrences ?? [];
    expect(first).toEqual({
      start: new Date(start).toISOString(),
      end: new Date(end).toISOString(),
      summary: 'Weekly change freeze',
    });
    const week = Date.parse(second?.start ?? '') - start;
    expect([7 * 86_400_000, 7 * 86_400_000 - 3_600_000, 7 * 86_400_000 + 3_600_000]).toContain(week);
    expect(read.body).toMatchObject({ active: true, activeUntil: new Date(end).toISOString() });

    await admin.post('/v1/deployments/fz-cal/versions', { tag: 'v1' });
    const held = await eventually(
      () => releases('fz-cal', 'v1'),
      (rs) => rs.length === 3 && rs.every((r) => r.waitingFor === 'freeze'),
    );
    expect(held[0]?.message).toContain(`until ${new Date(end).toISOString()}`);
    await eventually(() => releases('fz-cal', 'v1'), all('successful'), { timeoutMs: 15_000 });
    const started = await audit('Freeze Started', 'weekly');
    const ended = await eventually(
      () => audit('Freeze Ended', 'weekly'),
      (e) => e.length > 0,
    );
    expect(started[0]?.data?.occurrence).toEqual(first);
    expect(ended[0]?.data?.occurrence).toEqual(first);

    // The feed goes down: the last good copy stays, and the freeze says so.
    calendar = { status: 503, body: 'maintenance' };
    const down = await eventually(
      () => admin.get<Freeze>('/v1/freezes/weekly'),
      (r) => Boolean(r.body.calendar?.lastError),
    );
    expect(down.body.calendar?.lastError).toBe('The feed could not be read: the feed answered HTTP 503.');
    expect(Date.parse(down.body.calendar?.fetchedAt ?? '')).toBeLessThan(
      Date.parse(down.body.calendar?.attemptedAt ?? ''),
    );
    expect(down.body.calendar?.occurrences[0]).toEqual(second);
    // Tried again later, still down: the copy and its time stay as they were.
    const later = await eventually(
      () => admin.get<Freeze>('/v1/freezes/weekly'),
      (r) => (r.body.calendar?.attemptedAt ?? '') > (down.body.calendar?.attemptedAt ?? ''),
    );
    expect(later.body.calendar?.fetchedAt).toBe(down.body.calendar?.fetchedAt);
    expect(later.body.calendar?.occurrences).toEqual(down.body.calendar?.occurrences);
    expect(JSON.stringify(await audit('Freeze Started', 'weekly'))).not.toContain(feed.origin);
    await admin.delete('/v1/freezes/weekly');
  });
});
