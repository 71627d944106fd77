import type { KeySource } from '../../../shared/adapters/keys';
import { type DomainError, forbidden, unauthenticated } from '../../../shared/core/errors';
import type { ApiKey, Scope } from '../../../shared/core/schemas/common';
import {
  constantTimeEqual,
  MAX_CLOCK_SKEW_SECONDS,
  SIGNATURE_HEADERS,
  signRequest,
} from '../../../shared/core/signature';

export interface SignedRequest {
  method: string;
  pathWithQuery: string;
  headers: Record<string, string | undefined>;
  rawBody: string;
}

export interface Caller {
  keyId: string;
  scopes: Scope[];
  deployments?: string[];
  /** The identity approvals made with this key count as: its `approver`, else its id. */
  approver: string;
}

const SIGNATURE_FORMAT = /^v1=[0-9a-f]{64}$/;

/** Verifies docs/api.md section 2 (all but replay, which needs a write and comes after authorisation). */
export async function authenticate(request: SignedRequest, keys: KeySource, nowMs: number): Promise<ApiKey> {
  const keyId = request.headers[SIGNATURE_HEADERS.keyId];
  const timestamp = request.headers[SIGNATURE_HEADERS.timestamp];
  const signature = request.headers[SIGNATURE_HEADERS.signature];
  if (!keyId || !timestamp || !signature)
    throw unauthenticated(
      'The X-Gantry-Key-Id, X-Gantry-Timestamp and X-Gantry-Signature headers are required.',
    );
  if (!/^\d{1,12}$/.test(timestamp) || !SIGNATURE_FORMAT.test(signature)) {
    throw unauthenticated('The signature headers are malformed.');
  }
  if (Math.abs(nowMs / 1000 - Number(timestamp)) > MAX_CLOCK_SKEW_SECONDS) {
    throw unauthenticated('The request timestamp is more than 300 seconds away from the service clock.');
  }
  const key = await keys.find(keyId);
  // Compute a signature even for an unknown key so the answer takes the same time.
  const expected = signRequest(
    key?.secret ?? 'unknown-key',
    timestamp,
    request.method,
    request.pathWithQuery,
    request.rawBody,
  );
  if (!constantTimeEqual(expected, signature) || !key) throw unauthenticated();
  return key;
}

/**
 * A key may make the call when one of its scopes is allowed by the route; `versions:write` keys with
 * a deployments list only reach those deployments.
 */
export function authorize(
  key: ApiKey,
  allowed: readonly Scope[],
  deployment?: string,
): DomainError | undefined {
  if (key.scopes.includes('admin')) return undefined;
  const granted = key.scopes.filter((scope) => allowed.includes(scope));
  if (granted.length === 0) return forbidden();
  const limitedOnly = granted.every((scope) => scope === 'versions:write') && key.deployments;
  if (limitedOnly && deployment === undefined) {
    return forbidden('This key is limited to some deployments: name one (for example ?deployment=).');
  }
  if (limitedOnly && deployment !== undefined && !key.deployments?.includes(deployment)) {
    return forbidden(`This key may not act on deployment "${deployment}".`);
  }
  return undefined;
}
