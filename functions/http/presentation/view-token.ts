import { createHmac } from 'node:crypto';
import type { KeySource } from '../../../shared/adapters/keys';
import { type DomainError, forbidden, unauthenticated } from '../../../shared/core/errors';
import type { ApiKey } from '../../../shared/core/schemas/common';
import { constantTimeEqual } from '../../../shared/core/signature';

/**
 * View tokens: read-only links to the status page that hold no API secret. A token is
 * `<keyId>.<exp>.<deployment or *>.<hex HMAC-SHA256(key secret, "gantry-view\n<keyId>\n<exp>\n<deployment>")>`,
 * so the service checks it against the same key store as signatures, with no new secret: removing or
 * rotating the key ends every link it minted. Expiry uses the real clock, as signatures do.
 */
export const MAX_VIEW_TTL_SECONDS = 86_400;
export const DEFAULT_VIEW_TTL_SECONDS = 3_600;
/** Grace for clocks of the minting host and the service. */
const SKEW_SECONDS = 300;
const ALL = '*';
const TOKEN = /^([A-Za-z0-9._-]{1,128})\.(\d{1,12})\.([a-z0-9][a-z0-9-]{0,62}|\*)\.([0-9a-f]{64})$/;

export interface ViewGrant {
  keyId: string;
  /** The one deployment the token may read, or null for all of them. */
  deployment: string | null;
  expiresAt: string;
}

const mac = (secret: string, keyId: string, exp: number, deployment: string) =>
  createHmac('sha256', secret).update(`gantry-view\n${keyId}\n${exp}\n${deployment}`).digest('hex');

export function mintViewToken(
  key: Pick<ApiKey, 'id' | 'secret'>,
  expSeconds: number,
  deployment?: string | null,
): string {
  const scope = deployment ?? ALL;
  return `${key.id}.${expSeconds}.${scope}.${mac(key.secret, key.id, expSeconds, scope)}`;
}

const canRead = (key: ApiKey) => key.scopes.includes('admin') || key.scopes.includes('read');

/** The grant of a token, or throws 401 (malformed, unknown key, forged, expired) or 403 (key lost `read`). */
export async function verifyViewToken(
  token: string | undefined,
  keys: KeySource,
  nowMs = Date.now(),
): Promise<ViewGrant> {
  const match = token ? TOKEN.exec(token) : null;
  if (!match) throw unauthenticated('A view token is required (Authorization: View <token>).');
  const [, keyId = '', expText = '', scope = '', signature = ''] = match;
  const exp = Number(expText);
  const key = await keys.find(keyId);
  // Compute a MAC even for an unknown key so the answer takes the same time.
  const expected = mac(key?.secret ?? 'unknown-key', keyId, exp, scope);
  if (!constantTimeEqual(expected, signature) || !key) throw unauthenticated('The view link is not valid.');
  const now = nowMs / 1000;
  if (exp <= now) throw unauthenticated('The view link has expired: ask for a new one (gantry open).');
  if (exp > now + MAX_VIEW_TTL_SECONDS + SKEW_SECONDS)
    throw unauthenticated('The view link is valid for longer than a day, which is not allowed.');
  if (!canRead(key)) throw forbidden('The key behind this view link may no longer read.');
  return {
    keyId,
    deployment: scope === ALL ? null : scope,
    expiresAt: new Date(exp * 1000).toISOString(),
  };
}

/** The token of an `Authorization: View <token>` header. */
export function viewTokenOf(authorization: string | undefined): string | undefined {
  const match = /^View\s+(\S+)\s*$/i.exec(authorization ?? '');
  return match?.[1];
}

/** 403 when the grant is limited to another deployment. */
export function checkDeployment(grant: ViewGrant, deployment: string): DomainError | undefined {
  if (grant.deployment !== null && grant.deployment !== deployment)
    return forbidden(`This view link may not read deployment "${deployment}".`);
  return undefined;
}
