import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

/** The request signature of docs/api.md section 2, shared by the API, the CLI and the webhook agent. */
export const SIGNATURE_HEADERS = {
  keyId: 'x-gantry-key-id',
  timestamp: 'x-gantry-timestamp',
  signature: 'x-gantry-signature',
} as const;

export const MAX_CLOCK_SKEW_SECONDS = 300;

export function sha256Hex(body: string | Uint8Array): string {
  return createHash('sha256').update(body).digest('hex');
}

/**
 * The canonical path of docs/api.md section 2: each `/`-separated segment percent-decoded, then encoded
 * with encodeURIComponent. So a path signs the same whether it arrives encoded (the local server) or
 * decoded (API Gateway's `rawPath`), e.g. a tag `v1.2.3+build.7`. The query string stays as sent.
 */
export function canonicalPathWithQuery(pathWithQuery: string): string {
  const at = pathWithQuery.indexOf('?');
  const path = at === -1 ? pathWithQuery : pathWithQuery.slice(0, at);
  const query = at === -1 ? '' : pathWithQuery.slice(at);
  const segments = path.split('/').map((segment) => {
    try {
      return encodeURIComponent(decodeURIComponent(segment));
    } catch {
      // Not valid percent-encoding: signed as it is (the route then refuses the path).
      return segment;
    }
  });
  return `${segments.join('/')}${query}`;
}

export function stringToSign(
  timestamp: string,
  method: string,
  pathWithQuery: string,
  body: string | Uint8Array,
) {
  return ['v1', timestamp, method.toUpperCase(), canonicalPathWithQuery(pathWithQuery), sha256Hex(body)].join(
    '\n',
  );
}

export function signRequest(
  secret: string,
  timestamp: string,
  method: string,
  pathWithQuery: string,
  body: string | Uint8Array,
): string {
  const mac = createHmac('sha256', secret).update(stringToSign(timestamp, method, pathWithQuery, body));
  return `v1=${mac.digest('hex')}`;
}

/** Headers for a signed request; `now` in ms. */
export function signedHeaders(
  key: { id: string; secret: string },
  method: string,
  pathWithQuery: string,
  body: string | Uint8Array,
  now = Date.now(),
): Record<string, string> {
  const timestamp = String(Math.floor(now / 1000));
  return {
    'X-Gantry-Key-Id': key.id,
    'X-Gantry-Timestamp': timestamp,
    'X-Gantry-Signature': signRequest(key.secret, timestamp, method, pathWithQuery, body),
  };
}

export function constantTimeEqual(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  // timingSafeEqual needs equal lengths; compare against itself so the time does not depend on `a`.
  if (left.length !== right.length) {
    timingSafeEqual(right, right);
    return false;
  }
  return timingSafeEqual(left, right);
}
