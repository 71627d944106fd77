import { request as httpRequest } from 'node:http';
import { canonicalPathWithQuery, signedHeaders } from '../../shared/core/signature';
import { type Key, unusedSecond } from '../helpers/client';

/**
 * A raw HTTP client for hostile tests: the path is sent byte for byte (no URL normalisation, so
 * `..` and `%2F` reach the server), headers are exactly the ones given, and the body is any string
 * or buffer. `fetch` would normalise the path and refuse some header values.
 */
export interface RawReply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  /** The parsed JSON body, or undefined when the body is not JSON. */
  json: unknown;
}

export function rawRequest(
  baseUrl: string,
  method: string,
  path: string,
  options: { headers?: Record<string, string>; body?: string | Buffer } = {},
): Promise<RawReply> {
  const url = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: url.hostname,
        port: url.port,
        // A connection of its own: a socket the server closed (413) is never reused by the next test.
        agent: false,
        method,
        path,
        headers: {
          ...(options.body !== undefined
            ? { 'content-length': String(Buffer.byteLength(options.body)) }
            : {}),
          ...options.headers,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: unknown;
          try {
            json = text ? JSON.parse(text) : undefined;
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
        });
      },
    );
    req.on('error', reject);
    if (options.body !== undefined) req.write(options.body);
    req.end();
  });
}

/** Signs `method path body` with `key` at `nowMs` and sends it raw, with a JSON content type. */
export function signedRaw(
  baseUrl: string,
  key: Key,
  method: string,
  path: string,
  body = '',
  options: { nowMs?: number; headers?: Record<string, string> } = {},
): Promise<RawReply> {
  return rawRequest(baseUrl, method, path, {
    body: body || undefined,
    headers: {
      ...(body ? { 'content-type': 'application/json' } : {}),
      // A write never reuses a signature: two paths with one canonical form sign alike (docs/api.md section 2).
      ...signedHeaders(
        key,
        method,
        path,
        body,
        options.nowMs ??
          (method === 'GET'
            ? Date.now()
            : unusedSecond(`${key.id} ${method} ${canonicalPathWithQuery(path)}\n${body}`, Date.now())),
      ),
      ...options.headers,
    },
  });
}

/** The contract's error body (docs/api.md section 1), or a description of why the body is not one. */
export function errorOf(body: unknown): { code: string; message: string; details: unknown[] } {
  const error = (body as { error?: { code?: unknown; message?: unknown; details?: unknown } } | undefined)
    ?.error;
  if (
    !error ||
    typeof error.code !== 'string' ||
    typeof error.message !== 'string' ||
    !Array.isArray(error.details)
  ) {
    throw new Error(`Not a contract error body: ${JSON.stringify(body)}`);
  }
  return { code: error.code, message: error.message, details: error.details };
}
