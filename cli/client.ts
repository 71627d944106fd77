import { sha256Hex, signedHeaders } from '../shared/core/signature';

/** The HTTP client of the CLI: signs every request (docs/api.md section 2) and turns failures into CliErrors. */

export const EXIT = { ok: 0, failed: 1, usage: 2, timeout: 3 } as const;

export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT.failed,
  ) {
    super(message);
  }
}

export const usageError = (message: string) => new CliError(message, EXIT.usage);

export interface ErrorDetail {
  path?: string;
  message?: string;
}

/** A non-2xx answer that carried the contract's error body (or at least a status). */
export class ApiError extends CliError {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: ErrorDetail[] = [],
  ) {
    super(message);
  }
}

/** The service could not be reached or answered 5xx/429: worth another try when polling. */
export class TransientError extends CliError {
  constructor(
    message: string,
    /** False when another try at once is pointless (nothing listens at that address). */
    readonly retryNow = true,
  ) {
    super(message);
  }
}

const UNREACHABLE = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH']);

export interface Credentials {
  url: string;
  key?: { id: string; secret: string };
  /** A job's own bearer token (docs/api.md section 6): used instead of the key when set. */
  bearer?: string;
}

const REQUEST_TIMEOUT_MS = 30_000;
const RETRIES = 2;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export function withQuery(path: string, query: Record<string, string | number | undefined>): string {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) if (value !== undefined) params.set(name, String(value));
  const text = params.toString();
  return text ? `${path}?${text}` : path;
}

/** Encodes one path segment (an id, a tag). */
export const seg = (value: string) => encodeURIComponent(value);

export class GantryClient {
  readonly baseUrl: string;
  /** Second in which each write (method, path, body) was last signed. */
  private readonly signedWrites = new Map<string, number>();

  constructor(private readonly credentials: Credentials) {
    this.baseUrl = credentials.url.replace(/\/+$/, '');
    let parsed: URL;
    try {
      parsed = new URL(this.baseUrl);
    } catch {
      throw usageError(`GANTRY_URL "${credentials.url}" is not a URL (for example http://127.0.0.1:3000)`);
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
      throw usageError(`GANTRY_URL "${credentials.url}" must start with http:// or https://`);
    }
  }

  get keyId(): string | undefined {
    return this.credentials.key?.id;
  }

  /**
   * Every page of a list (docs/api.md section 3: every list pages with `limit` and `nextToken`): the first answer
   * with `field` holding the items of all pages.
   */
  async getAll<T extends object>(path: string, field: string): Promise<T> {
    const first = await this.get<T & { nextToken?: string }>(path);
    const items = [...(((first as Record<string, unknown>)[field] as unknown[]) ?? [])];
    let nextToken = first.nextToken;
    while (nextToken) {
      const page = await this.get<Record<string, unknown> & { nextToken?: string }>(
        `${path}${path.includes('?') ? '&' : '?'}nextToken=${encodeURIComponent(nextToken)}`,
      );
      items.push(...((page[field] as unknown[]) ?? []));
      nextToken = page.nextToken;
    }
    const { nextToken: _last, ...rest } = first;
    return { ...rest, [field]: items } as T;
  }

  get<T>(path: string): Promise<T> {
    return this.request<T>('GET', path);
  }

  /**
   * Sends one request and answers the parsed JSON body of a 2xx, or throws. `idempotent` requests
   * are retried on connection resets, 429 and 5xx; GETs always are.
   */
  async request<T>(
    method: string,
    path: string,
    body?: unknown,
    options: { idempotent?: boolean; allow404?: boolean } = {},
  ): Promise<T> {
    const retries = method === 'GET' || options.idempotent ? RETRIES : 0;
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.once<T>(method, path, body, options.allow404 ?? false);
      } catch (error) {
        if (!(error instanceof TransientError) || !error.retryNow || attempt >= retries) throw error;
        await sleep(500 * 2 ** attempt);
      }
    }
  }

  private async once<T>(method: string, path: string, body: unknown, allow404: boolean): Promise<T> {
    const url = new URL(`${this.baseUrl}${path}`);
    const payload = body === undefined ? '' : JSON.stringify(body);
    const headers: Record<string, string> = payload ? { 'content-type': 'application/json' } : {};
    const { key, bearer } = this.credentials;
    if (bearer) headers.authorization = `Bearer ${bearer}`;
    else if (key) {
      // Sign what is sent: the path and query as the URL serialises them.
      const sentPath = url.pathname + url.search;
      if (method !== 'GET' && method !== 'HEAD') await this.nextFreshSecond(method, sentPath, payload);
      Object.assign(headers, signedHeaders(key, method, sentPath, payload));
    }

    let res: Response;
    try {
      res = await fetch(url, {
        method,
        headers,
        body: payload || undefined,
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
    } catch (error) {
      const reason = networkReason(error);
      throw new TransientError(`cannot reach Gantry at ${this.baseUrl}: ${reason}`, !UNREACHABLE.has(reason));
    }
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : {};
    } catch {
      parsed = undefined;
    }
    if (res.ok) {
      if (parsed === undefined) {
        throw new CliError(
          `${this.baseUrl} answered ${res.status} with something that is not JSON: is it Gantry?`,
        );
      }
      return parsed as T;
    }
    if (res.status === 404 && allow404) return undefined as T;
    throw this.errorOf(res.status, parsed, method, path);
  }

  /**
   * Two identical writes in one second would share a signature and the second would be refused as
   * a replay (docs/api.md section 2), so a repeated write waits for the next second.
   */
  private async nextFreshSecond(method: string, path: string, payload: string): Promise<void> {
    const id = `${method} ${path} ${sha256Hex(payload)}`;
    const now = Date.now();
    if (this.signedWrites.get(id) === Math.floor(now / 1000)) await sleep(1000 - (now % 1000) + 5);
    this.signedWrites.set(id, Math.floor(Date.now() / 1000));
  }

  private errorOf(status: number, parsed: unknown, method: string, path: string): CliError {
    const error = (parsed as { error?: { code?: unknown; message?: unknown; details?: unknown } } | undefined)
      ?.error;
    const code = typeof error?.code === 'string' ? error.code : `http_${status}`;
    const message = typeof error?.message === 'string' ? error.message : '';
    const details = Array.isArray(error?.details) ? (error.details as ErrorDetail[]) : [];
    const who = this.credentials.bearer ? 'the job token' : `the key "${this.keyId ?? ''}"`;
    if (!error) {
      const text = `${method} ${path}: ${this.baseUrl} answered ${status} without a Gantry error body`;
      return status >= 500 || status === 429 ? new TransientError(text) : new ApiError(status, code, text);
    }
    if (status === 401) {
      return new ApiError(
        status,
        code,
        `Gantry refused ${who} (401 ${code}): ${message} Check GANTRY_KEY_ID and GANTRY_KEY_SECRET (or the job token), and that this machine's clock is right.`,
      );
    }
    if (status === 403) {
      return new ApiError(
        status,
        code,
        `${who} lacks the scope for ${method} ${path.split('?')[0]} (403 ${code}): ${message}`,
      );
    }
    if (status >= 500 || status === 429) {
      return new TransientError(`Gantry failed on ${method} ${path} (${status} ${code}): ${message}`);
    }
    const lines = details.map((d) => `\n  - ${d.path ? `${d.path}: ` : ''}${d.message ?? ''}`).join('');
    return new ApiError(status, code, `${status} ${code}: ${message}${lines}`, details);
  }
}

function networkReason(error: unknown): string {
  if (error instanceof Error && error.name === 'TimeoutError') {
    return `no answer within ${REQUEST_TIMEOUT_MS / 1000}s`;
  }
  // undici puts the socket error in `cause`; with several addresses it is an AggregateError.
  const cause = (error as { cause?: { code?: string; message?: string; errors?: { code?: string }[] } })
    ?.cause;
  return (
    cause?.code ??
    cause?.errors?.[0]?.code ??
    cause?.message ??
    (error instanceof Error ? error.message : String(error))
  );
}
