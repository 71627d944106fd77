import type { Page } from '../api';
import { EXIT, seg, usageError } from '../client';
import { type Context, print } from '../context';
import { table } from '../render';

/** Freezes, "stop the line" (docs/api.md section 10): `gantry freeze`, `gantry unfreeze`, `gantry freezes`. */

interface Freeze {
  id: string;
  reason: string;
  selector: string;
  until: string | null;
  calendar?: { icsUrl: string; fetchedAt: string | null; lastError: string | null };
  active: boolean;
  activeUntil: string | null;
  nextStart: string | null;
}

export interface FreezeOptions {
  reason?: string;
  selector?: string;
  until?: string;
  /** Milliseconds from now (--for 2h). */
  for?: number;
  ics?: string;
  refresh?: number;
  list?: boolean;
}

const state = (f: Freeze) =>
  f.active ? `active until ${f.activeUntil ?? 'ended'}` : f.nextStart ? `next ${f.nextStart}` : 'over';

export async function listFreezes(ctx: Context): Promise<number> {
  const page = await ctx.client.getAll<Page<Freeze>>('/v1/freezes?limit=1000', 'items');
  print(ctx, page, () =>
    table(
      ['FREEZE', 'STATE', 'SELECTOR', 'CALENDAR', 'REASON'],
      page.items.map((f) => [
        f.id,
        state(f),
        f.selector,
        f.calendar ? (f.calendar.lastError ? `not read: ${f.calendar.lastError}` : 'read') : '-',
        f.reason,
      ]),
    ),
  );
  return EXIT.ok;
}

/** Starts (or changes) a freeze: until a time, for a while, while a calendar says so, or until unfreeze. */
export async function freeze(ctx: Context, id: string | undefined, o: FreezeOptions): Promise<number> {
  if (o.list) return listFreezes(ctx);
  if (!id) throw usageError('name the freeze: gantry freeze <id> --reason "..." (or --list)');
  if (!o.reason) throw usageError('--reason is required: it is shown on every release the freeze holds');
  if ([o.until, o.for, o.ics].filter((v) => v !== undefined).length > 1)
    throw usageError('give one of --until, --for and --ics');
  const until = o.for !== undefined ? new Date(Date.now() + o.for).toISOString() : o.until;
  const body = {
    reason: o.reason,
    ...(o.selector ? { selector: o.selector } : {}),
    ...(until ? { until } : {}),
    ...(o.ics ? { calendar: { icsUrl: o.ics, ...(o.refresh ? { refreshSeconds: o.refresh } : {}) } } : {}),
  };
  // A PUT of the same freeze again is harmless, so a retry is safe.
  const f = await ctx.client.request<Freeze>('PUT', `/v1/freezes/${seg(id)}`, body, { idempotent: true });
  print(
    ctx,
    f,
    () => `freeze ${f.id}: ${state(f)}; holds ${f.selector === 'true' ? 'every release' : f.selector}\n`,
  );
  return EXIT.ok;
}

export async function unfreeze(ctx: Context, id: string): Promise<number> {
  await ctx.client.request('DELETE', `/v1/freezes/${seg(id)}`, undefined, { idempotent: true });
  print(ctx, { id, ended: true }, () => `freeze ${id} ended: the releases it held go on\n`);
  return EXIT.ok;
}
