import { InvalidArgumentError } from 'commander';
import type { Answer } from '../../shared/core/schemas/answers';
import { EXIT, withQuery } from '../client';
import { type Context, print } from '../context';
import { dash, table } from '../render';

/** `gantry metrics`: the four delivery measures (DORA) of GET /v1/metrics/delivery, and their counts. */

type DeliveryMetrics = Answer<'DeliveryMetrics'>;

const DAY_MS = 86_400_000;

/** `30d` (the 30 days ending today), a date (2026-11-01) or an ISO time; answers what the API takes. */
export function parseSince(text: string, now = Date.now()): string {
  const days = /^(\d{1,3})d$/.exec(text);
  if (days) return new Date(now - (Math.max(1, Number(days[1])) - 1) * DAY_MS).toISOString().slice(0, 10);
  return parseDay(text);
}

/** A date (2026-11-01) or an ISO time. */
export function parseDay(text: string): string {
  if (/^\d{4}-\d{2}-\d{2}(T.+)?$/.test(text) && !Number.isNaN(Date.parse(text))) return text;
  throw new InvalidArgumentError('expected 30d, a date such as 2026-11-01 or an ISO time');
}

/** Seconds as a person reads them: 45s, 12m, 3.5h, 2.1d. */
export function humanSeconds(seconds: number | null): string {
  if (seconds === null) return '-';
  if (seconds < 60) return `${seconds}s`;
  if (seconds < 3600) return `${Math.round(seconds / 60)}m`;
  if (seconds < 172_800) return `${(seconds / 3600).toFixed(1)}h`;
  return `${(seconds / 86_400).toFixed(1)}d`;
}

const percent = (rate: number | null) => (rate === null ? '-' : `${(rate * 100).toFixed(1)}%`);

export async function metrics(
  ctx: Context,
  o: { deployment?: string; environment?: string; since?: string; until?: string },
): Promise<number> {
  const m = await ctx.client.get<DeliveryMetrics>(
    withQuery('/v1/metrics/delivery', {
      deployment: o.deployment,
      environment: o.environment,
      since: o.since,
      until: o.until,
    }),
  );
  print(ctx, m, () => {
    const c = m.counts;
    const last = new Date(Date.parse(m.until) - DAY_MS).toISOString().slice(0, 10);
    return (
      `delivery metrics of ${m.deployment ?? 'every deployment'} in ${m.environment ?? 'every environment'}, ` +
      `${m.since.slice(0, 10)} to ${last} (${c.days} days)\n` +
      table(
        ['MEASURE', 'VALUE', 'FROM'],
        [
          ['deployments per day', String(m.deploymentsPerDay), `${c.successful} successful`],
          [
            'lead time p50 / p90',
            `${humanSeconds(m.leadTimeSeconds.p50)} / ${humanSeconds(m.leadTimeSeconds.p90)}`,
            `${c.leadTimes} successful with a start`,
          ],
          [
            'change failure rate',
            percent(m.changeFailureRate),
            `${c.failed} failed + ${c.rolledBack} rolled back of ${c.finished} finished`,
          ],
          ['time to restore p50', humanSeconds(m.timeToRestoreSeconds.p50), `${c.restores} restores`],
        ].map((row) => row.map(dash)),
      )
    );
  });
  return EXIT.ok;
}
