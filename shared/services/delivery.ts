import { type AuditRecord, DETAIL_TYPES } from '../adapters/events';
import type { Runtime } from '../adapters/runtime';
import {
  addToDay,
  claimOutcome,
  dropClaim,
  markTargetFailing,
  putDayOfAll,
  readDayOfAll,
  readDays,
} from '../adapters/store/delivery';
import { nowMs } from '../core/clock';
import {
  ALL_ENVIRONMENTS,
  type DayTotals,
  type DeliveryMeasures,
  dayOf,
  dayRange,
  daysOf,
  measuresOf,
  type Outcome,
  outcomeAdds,
  rollupDays,
  samplesOf,
  sumAggregates,
  totalsOf,
} from '../core/delivery';
import { forbidden, invalid } from '../core/errors';

/**
 * Delivery metrics (DORA, docs/metrics.md): release outcomes are counted as their events arrive
 * (event-metrics), into one aggregate per deployment and day, and every 5 minutes the days of all
 * deployments are summed; a read costs one Query over at most 92 days whatever the history or the fleet.
 */

const OUTCOMES: Partial<Record<string, Outcome>> = {
  [DETAIL_TYPES.releaseSucceeded]: 'successful',
  [DETAIL_TYPES.releaseFailed]: 'failed',
  [DETAIL_TYPES.releaseRolledBack]: 'rolledBack',
};

/**
 * Counts one release outcome: once, whatever the number of deliveries (its audit record id is claimed
 * first, with a conditional write), into its deployment's day with one UpdateItem. A failure or
 * rollback marks its target failing; the next success's event carries since when.
 */
export async function recordOutcome(
  rt: Runtime,
  record: AuditRecord,
): Promise<'counted' | 'duplicate' | 'ignored'> {
  const outcome = OUTCOMES[record.detailType];
  const { deployment, environment, resource } = record;
  if (!outcome || !deployment || !environment || !resource) return 'ignored';
  if (!(await claimOutcome(rt, record.id, nowMs()))) return 'duplicate';
  try {
    if (outcome !== 'successful')
      await markTargetFailing(rt, { deployment, environment, resource }, record.time);
    const samples = outcome === 'successful' ? samplesOf(record.time, record.data) : {};
    await addToDay(rt, deployment, dayOf(record.time), outcomeAdds(outcome, environment, samples));
  } catch (error) {
    // Let the retried delivery count it.
    await dropClaim(rt, record.id).catch(() => undefined);
    throw error;
  }
  return 'counted';
}

/**
 * The schedule (every 5 minutes): the days an outcome can still arrive for, every deployment's
 * aggregate summed into the one of all deployments (recomputed, so a run repeated counts nothing twice).
 */
export async function rollUpAllDeployments(rt: Runtime, now = nowMs()): Promise<void> {
  for (const day of rollupDays(now)) {
    const items = await readDayOfAll(rt, day);
    if (items.length > 0) await putDayOfAll(rt, day, sumAggregates(items));
  }
}

export interface DeliveryQuery {
  deployment?: string;
  environment?: string;
  since?: string;
  until?: string;
}

export interface DeliveryMetrics extends DeliveryMeasures {
  deployment: string | null;
  environment: string | null;
  since: string;
  until: string;
}

/**
 * The four measures over whole UTC days (docs/api.md section 10), and the days they come from: one
 * Query of the deployment's aggregates (of all deployments' without one, as of the last rollup), one
 * item a day.
 * `deployments`: the caller may read only these (a key limited to some deployments).
 */
export async function deliveryMetrics(
  rt: Runtime,
  query: DeliveryQuery,
  deployments?: readonly string[],
): Promise<{ metrics: DeliveryMetrics; daily: DayTotals[] }> {
  if (deployments && (query.deployment === undefined || !deployments.includes(query.deployment)))
    throw forbidden(
      query.deployment === undefined
        ? 'This key is limited to some deployments: name one (?deployment=).'
        : `This key may not read deployment "${query.deployment}".`,
    );
  const range = dayRange(query, nowMs());
  if (typeof range === 'string') throw invalid(range);
  const items = await readDays(rt, query.deployment ?? null, range.firstDay, range.lastDay);
  const scope = query.environment ?? ALL_ENVIRONMENTS;
  const byDay = new Map(items.map((item) => [String(item.sk), item]));
  const daily = daysOf(range).map((day) => totalsOf(byDay.get(day) ?? {}, day, scope));
  return {
    metrics: {
      deployment: query.deployment ?? null,
      environment: query.environment ?? null,
      since: range.since,
      until: range.until,
      ...measuresOf(daily, range.days),
    },
    daily,
  };
}
