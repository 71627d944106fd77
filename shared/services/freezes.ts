import { type Actor, DETAIL_TYPES, type GantryEvent, publish, putOnBus } from '../adapters/events';
import type { Runtime } from '../adapters/runtime';
import { deleteFreeze, getFreeze, listFreezePage, saveFreeze } from '../adapters/store/freezes';
import { listAllConfigCached, policiesAndFreezes } from '../adapters/store/inventory';
import { isoNow } from '../core/clock';
import { conflict, invalid, notFound } from '../core/errors';
import {
  type Announcement,
  activeFreezesOf,
  activeUntil,
  announcements,
  type CalendarState,
  currentOrNext,
  type FreezeRecord,
  spansOf,
} from '../core/policy/freeze';
import type { DeploymentBody } from '../core/schemas/config';
import { DEFAULT_REFRESH_SECONDS, type FreezeBody } from '../core/schemas/freezes';
import { signals } from '../core/signals';
import { requireConfig } from './inventory';
import { queueWake } from './rollouts/work-queue';

/**
 * Freezes, "stop the line" (docs/api.md section 10): written, read and ended through the API. While
 * one is active, the releases it selects that have not dispatched wait (services/rollouts/gates.ts);
 * its calendar is read and its time-based starts and ends announced by the sweep (freeze-sweep.ts).
 */

const WRITE_ATTEMPTS = 5;

/** A freeze as the API shows it: what was written, the calendar's last good copy, whether it holds now. */
export function renderFreeze(freeze: FreezeRecord, now: Date) {
  const until = activeUntil(freeze, now);
  const span = currentOrNext(freeze, now);
  const calendar = freeze.calendar;
  return {
    id: freeze.id,
    reason: freeze.reason,
    selector: freeze.selector,
    until: freeze.until,
    ...(calendar
      ? {
          calendar: {
            icsUrl: calendar.icsUrl,
            refreshSeconds: calendar.refreshSeconds,
            fetchedAt: calendar.fetchedAt,
            attemptedAt: calendar.attemptedAt,
            lastError: calendar.lastError,
            occurrences: calendar.occurrences.filter((o) => Date.parse(o.end) > now.getTime()),
            truncated: calendar.truncated,
          },
        }
      : {}),
    active: until !== undefined,
    /** When it stops holding releases (null: when it is deleted), while active. */
    activeUntil: until === undefined ? null : (until?.toISOString() ?? null),
    /** The calendar's next occurrence, while none is active. */
    nextStart: until === undefined && span?.start ? span.start : null,
    createdAt: freeze.createdAt,
    updatedAt: freeze.updatedAt,
    updatedBy: freeze.updatedBy,
  };
}

/** The audit events of announced starts and ends (never the feed's URL: it may hold a token). */
export function announcementEvents(
  freeze: FreezeRecord,
  events: Announcement[],
  actor: Actor,
): GantryEvent[] {
  return events.map(({ type, span }) => ({
    detailType: type === 'started' ? DETAIL_TYPES.freezeStarted : DETAIL_TYPES.freezeEnded,
    actor,
    data: {
      freezeId: freeze.id,
      reason: freeze.reason,
      selector: freeze.selector,
      ...(freeze.calendar
        ? { occurrence: { start: span.start, end: span.end, summary: span.summary } }
        : { until: span.end }),
    },
  }));
}

const actorOf = (keyId: string | undefined): Actor => ({ keyId });

/** The calendar's state after a PUT: kept when the feed is the same, to be read afresh when it is new. */
function calendarAfter(body: FreezeBody['calendar'], before: CalendarState | null): CalendarState | null {
  if (!body) return null;
  const refreshSeconds = body.refreshSeconds ?? DEFAULT_REFRESH_SECONDS;
  if (before && before.icsUrl === body.icsUrl) return { ...before, refreshSeconds };
  return {
    icsUrl: body.icsUrl,
    refreshSeconds,
    fetchedAt: null,
    occurrences: [],
    truncated: false,
    attemptedAt: null,
    lastError: null,
  };
}

/**
 * Creates or replaces a freeze. It holds from now on; an `until` in the past is refused. A replaced
 * freeze wakes the releases it held (its selector or end may let them go); a calendar is read by the
 * sweep at once, off the request.
 */
export async function putFreeze(rt: Runtime, id: string, body: FreezeBody, keyId: string | undefined) {
  const now = new Date(isoNow());
  const until = body.until ? new Date(body.until) : undefined;
  if (until && until.getTime() <= now.getTime()) {
    throw invalid(`until: ${body.until} is not in the future; DELETE ends a freeze now.`, [
      { path: 'until', message: 'must be in the future' },
    ]);
  }
  for (let attempt = 1; ; attempt++) {
    const before = await getFreeze(rt, id);
    const written: FreezeRecord = {
      id,
      reason: body.reason,
      selector: body.selector ?? 'true',
      until: until?.toISOString() ?? null,
      calendar: calendarAfter(body.calendar, before?.calendar ?? null),
      createdAt: before?.createdAt ?? now.toISOString(),
      updatedAt: now.toISOString(),
      updatedBy: keyId ?? null,
      announced: before?.announced ?? [],
      announcedAt: before?.announcedAt ?? now.toISOString(),
      rev: (before?.rev ?? 0) + 1,
    };
    const { events, announced } = announcements(written, now);
    const freeze = events.length ? { ...written, announced, announcedAt: now.toISOString() } : written;
    if (!(await saveFreeze(rt, freeze, before?.rev))) {
      if (attempt === WRITE_ATTEMPTS) throw conflict(`The freeze "${id}" is being changed; try again.`);
      continue;
    }
    const actor = actorOf(keyId);
    await publish(rt, [
      {
        detailType: DETAIL_TYPES.configurationChanged,
        actor,
        data: { change: before ? 'replaced' : 'created', kind: 'freeze', id },
      },
      ...announcementEvents(freeze, events, actor),
    ]);
    if (before) await queueWake(rt, signals.freeze(id));
    if (freeze.calendar) {
      await putOnBus(rt, [
        { detailType: DETAIL_TYPES.freezeRefreshRequested, time: now.toISOString(), data: { freezeId: id } },
      ]);
    }
    return { created: !before, freeze: renderFreeze(freeze, now) };
  }
}

export async function requireFreeze(rt: Runtime, id: string) {
  const freeze = await getFreeze(rt, id);
  if (!freeze) throw notFound(`The freeze "${id}"`);
  return renderFreeze(freeze, new Date(isoNow()));
}

export async function listFreezesPage(rt: Runtime, page: { limit?: number; nextToken?: string }) {
  const now = new Date(isoNow());
  const { items, nextToken } = await listFreezePage(rt, page);
  return { items: items.map((f) => renderFreeze(f, now)), ...(nextToken ? { nextToken } : {}) };
}

/** Ends a freeze at once: its releases are woken (off the request, in chunks) and go through their gates. */
export async function endFreeze(rt: Runtime, id: string, keyId: string | undefined): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    const freeze = await getFreeze(rt, id);
    if (!freeze) throw notFound(`The freeze "${id}"`);
    if (!(await deleteFreeze(rt, freeze))) {
      if (attempt === WRITE_ATTEMPTS) throw conflict(`The freeze "${id}" is being changed; try again.`);
      continue;
    }
    const actor = actorOf(keyId);
    const now = new Date(isoNow());
    // Whatever was announced as started ends now.
    const spans = spansOf(freeze);
    const ended = freeze.announced.map((key): Announcement => {
      const span = spans.find((s) => s.key === key) ?? { key, start: null, end: null, summary: null };
      return { type: 'ended', span: { ...span, end: now.toISOString() } };
    });
    await publish(rt, [
      {
        detailType: DETAIL_TYPES.configurationChanged,
        actor,
        data: { change: 'deleted', kind: 'freeze', id },
      },
      ...announcementEvents(freeze, ended, actor),
    ]);
    await queueWake(rt, signals.freeze(id));
    return;
  }
}

/**
 * The status page's banner: the active freezes that hold a deployment in some of its environments (in
 * the deployment's order, all environments by id when it names none), with their end.
 */
export async function freezeBanner(rt: Runtime, deploymentId: string) {
  const [deployment, environments, freezes] = await Promise.all([
    requireConfig<DeploymentBody>(rt, 'deployment', deploymentId),
    listAllConfigCached(rt, 'environment'),
    // From the per-container cache the gates read (no Query while no freeze was written).
    policiesAndFreezes(rt).then((read) => read.freezes),
  ]);
  const named = new Map(environments.map((e) => [e.id, e.data.name ?? e.id]));
  const ids = deployment.data.environments ?? [...named.keys()].sort();
  const scopes = ids.map((id) => ({ id, name: named.get(id) ?? id }));
  const scope = { id: deployment.id, name: deployment.data.name ?? deployment.id };
  return { items: activeFreezesOf(freezes, scope, scopes, new Date(isoNow())) };
}
