import type { Page } from '../api';
import { EXIT, seg, usageError } from '../client';
import { type Context, print } from '../context';
import { table } from '../render';

/**
 * Subscriptions, "notifications anywhere" (docs/api.md section 10): `gantry subscribe`,
 * `gantry unsubscribe`, `gantry subscriptions [id]`.
 */

interface Subscription {
  id: string;
  url: string;
  secretRef?: string;
  detailTypes?: string[];
  selector?: string;
  failing: boolean;
  failingSince: string | null;
  lastError: string | null;
}

interface Delivery {
  eventId: string;
  detailType: string;
  status: string;
  attempts: number;
  lastStatus: number | null;
  lastError: string | null;
  updatedAt: string;
}

export interface SubscribeOptions {
  to?: string;
  secretRef?: string;
  detailType?: string[];
  selector?: string;
}

const health = (s: Subscription) => (s.failing ? `failing since ${s.failingSince ?? '?'}` : 'ok');
const filter = (s: Subscription) =>
  [s.detailTypes?.join(', ') ?? 'every event', s.selector ? `where ${s.selector}` : ''].join(' ').trim();

export async function subscribe(ctx: Context, id: string, o: SubscribeOptions): Promise<number> {
  if (!o.to) throw usageError('--to is required: the URL each matching event is POSTed to');
  const body = {
    url: o.to,
    ...(o.secretRef ? { secretRef: o.secretRef } : {}),
    ...(o.detailType?.length ? { detailTypes: o.detailType } : {}),
    ...(o.selector ? { selector: o.selector } : {}),
  };
  // A PUT of the same subscription again is harmless, so a retry is safe.
  const s = await ctx.client.request<Subscription>('PUT', `/v1/subscriptions/${seg(id)}`, body, {
    idempotent: true,
  });
  print(ctx, s, () => `subscription ${s.id}: ${filter(s)} -> ${s.url}${s.secretRef ? ' (signed)' : ''}\n`);
  return EXIT.ok;
}

export async function unsubscribe(ctx: Context, id: string): Promise<number> {
  await ctx.client.request('DELETE', `/v1/subscriptions/${seg(id)}`, undefined, { idempotent: true });
  print(ctx, { id, deleted: true }, () => `subscription ${id} deleted: nothing more is delivered\n`);
  return EXIT.ok;
}

/** Every subscription and its health, or one with its last deliveries. */
export async function subscriptions(ctx: Context, id: string | undefined): Promise<number> {
  if (id) {
    const s = await ctx.client.get<Subscription & { deliveries: Delivery[] }>(`/v1/subscriptions/${seg(id)}`);
    print(ctx, s, () =>
      [
        `subscription ${s.id}: ${filter(s)} -> ${s.url}; ${health(s)}${s.lastError ? ` (${s.lastError})` : ''}\n`,
        table(
          ['EVENT', 'TYPE', 'STATUS', 'ATTEMPTS', 'LAST ANSWER', 'UPDATED'],
          s.deliveries.map((d) => [
            d.eventId,
            d.detailType,
            d.status,
            String(d.attempts),
            d.lastStatus === null ? (d.lastError ?? '-') : String(d.lastStatus),
            d.updatedAt,
          ]),
        ),
      ].join(''),
    );
    return EXIT.ok;
  }
  const page = await ctx.client.getAll<Page<Subscription>>('/v1/subscriptions?limit=1000', 'items');
  print(ctx, page, () =>
    table(
      ['SUBSCRIPTION', 'HEALTH', 'EVENTS', 'URL'],
      page.items.map((s) => [s.id, health(s), filter(s), s.url]),
    ),
  );
  return EXIT.ok;
}
