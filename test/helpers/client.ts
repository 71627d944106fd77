import { canonicalPathWithQuery, signedHeaders } from '../../shared/core/signature';

/** A signing HTTP client over real sockets, as CI and the CLI use the API. */
export interface Key {
  id: string;
  secret: string;
}

export interface Reply<T = Record<string, unknown>> {
  status: number;
  body: T;
  text: string;
  headers: Headers;
}

/** The seconds each write (method, path, body) was signed at: a signature must never repeat. */
const signedSeconds = new Map<string, Set<number>>();

/**
 * Two identical writes in one second would share a signature, and the second would be a replay
 * (docs/api.md section 2). An identical write signed before gets an earlier second it never used (well
 * within the 300 s skew), so it can never collide with one sent earlier either.
 */
export function unusedSecond(write: string, nowMs: number): number {
  const used = signedSeconds.get(write) ?? new Set<number>();
  signedSeconds.set(write, used);
  let second = Math.floor(nowMs / 1000);
  while (used.has(second)) second--;
  used.add(second);
  return second * 1000 + (nowMs % 1000);
}

export class Client {
  constructor(
    readonly baseUrl: string,
    readonly key?: Key,
  ) {}

  async request<T = Record<string, unknown>>(
    method: string,
    path: string,
    body?: unknown,
    options: { headers?: Record<string, string>; raw?: string; sign?: boolean; now?: number } = {},
  ): Promise<Reply<T>> {
    const payload = options.raw ?? (body === undefined ? '' : JSON.stringify(body));
    const now =
      options.now ??
      (method === 'GET'
        ? Date.now()
        : unusedSecond(`${this.key?.id} ${method} ${canonicalPathWithQuery(path)}\n${payload}`, Date.now()));
    const headers: Record<string, string> = {
      ...(payload ? { 'content-type': 'application/json' } : {}),
      ...(this.key && options.sign !== false ? signedHeaders(this.key, method, path, payload, now) : {}),
      ...options.headers,
    };
    const res = await fetch(`${this.baseUrl}${path}`, { method, headers, body: payload || undefined });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : {};
    } catch {
      // HTML pages stay text
    }
    return { status: res.status, body: parsed as T, text, headers: res.headers };
  }

  get<T = Record<string, unknown>>(path: string) {
    return this.request<T>('GET', path);
  }
  put<T = Record<string, unknown>>(path: string, body: unknown) {
    return this.request<T>('PUT', path, body);
  }
  post<T = Record<string, unknown>>(path: string, body?: unknown) {
    return this.request<T>('POST', path, body);
  }
  patch<T = Record<string, unknown>>(path: string, body: unknown) {
    return this.request<T>('PATCH', path, body);
  }
  delete<T = Record<string, unknown>>(path: string) {
    return this.request<T>('DELETE', path);
  }

  /**
   * Every item of a paged list (`field` of each page: `items`, or `releases` of a version), following
   * `nextToken`; the reply is the first page's with the field holding all of them.
   */
  async getAll<T = Record<string, unknown>>(path: string, field = 'items'): Promise<Reply<T>> {
    const first = await this.get<T>(path);
    const all = [...(((first.body as Record<string, unknown>)[field] as unknown[]) ?? [])];
    let reply = first;
    while (reply.status === 200 && (reply.body as { nextToken?: string }).nextToken) {
      const token = encodeURIComponent((reply.body as { nextToken: string }).nextToken);
      reply = await this.get<T>(`${path}${path.includes('?') ? '&' : '?'}nextToken=${token}`);
      if (reply.status !== 200) return reply;
      all.push(...(((reply.body as Record<string, unknown>)[field] as unknown[]) ?? []));
    }
    const { nextToken: _next, ...rest } = first.body as Record<string, unknown>;
    return { ...first, body: { ...rest, [field]: all } as T };
  }
}

export async function eventually<T>(
  probe: () => Promise<T>,
  done: (value: T) => boolean,
  { timeoutMs = 15_000, intervalMs = 50 } = {},
): Promise<T> {
  const until = Date.now() + timeoutMs;
  let last = await probe();
  while (!done(last)) {
    if (Date.now() > until)
      throw new Error(`Timed out waiting; last value: ${JSON.stringify(last).slice(0, 2000)}`);
    await new Promise((r) => setTimeout(r, intervalMs));
    last = await probe();
  }
  return last;
}
