import { createHash, randomBytes } from 'node:crypto';
import { DeleteCommand, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import * as oidc from 'openid-client';
import { log } from '../adapters/log';
import { outbound } from '../adapters/outbound';
import { ENV, type Runtime, requiredEnv } from '../adapters/runtime';
import { envOrSecret, secretsById } from '../adapters/secrets';
import { isConditionFailed } from '../adapters/store/client';
import { keys } from '../adapters/store/keys';
import { constantTimeEqual } from '../core/signature';
import { LINK_APPROVER } from './approvals';

/**
 * Sign-in on the review page (docs/api.md section 7): OpenID Connect, authorization code with PKCE (S256),
 * state and nonce, through openid-client, which validates the ID token (issuer, audience, nonce,
 * expiry). The identity it proves is an approver, as a Slack user or an API key's approver is.
 *
 * Where the pieces live, and why:
 * - The code verifier and nonce stay on the server, in an item keyed by the hash of `state` that
 *   lives 10 minutes and is deleted by the callback that uses it: a replayed callback finds nothing,
 *   whatever the issuer does with a used code, and no server key is needed to seal a cookie.
 * - The browser holds a cookie with the state (and the review link's token, to go back to the page,
 *   since the server keeps that token only as a hash): the callback of a sign-in another browser
 *   started is refused (login CSRF).
 * - The session is a random cookie value, stored hashed with the identity, for at most an hour.
 */
export const CALLBACK_PATH = '/approvals/oidc/callback';
const SIGN_IN_COOKIE = 'gantry_signin';
export const SESSION_COOKIE = 'gantry_session';
const SIGN_IN_SECONDS = 600;
const SESSION_SECONDS = 3600;
const TIMEOUT_SECONDS = 5;
const MAX_IDENTITY_LENGTH = 256;

export interface SignInSettings {
  issuer: URL;
  clientId: string;
  /** The ID token (or userinfo) claim that names the approver. */
  identityClaim: string;
  scopes: string;
}

/** The sign-in configuration, or undefined where no issuer is configured (then nothing changes). */
export function signInSettings(): SignInSettings | undefined {
  const issuer = process.env[ENV.oidcIssuer];
  if (!issuer) return undefined;
  const scopes = process.env[ENV.oidcScopes] || 'openid email profile';
  return {
    issuer: new URL(issuer),
    clientId: requiredEnv(ENV.oidcClientId),
    identityClaim: process.env[ENV.oidcIdentityClaim] || 'sub',
    scopes: scopes.split(/\s+/).includes('openid') ? scopes : `openid ${scopes}`,
  };
}

/** Unset for a public client (PKCE only). */
const clientSecret = () => envOrSecret(ENV.oidcClientSecret, ENV.oidcClientSecretId, secretsById);

/**
 * The one place sign-in calls out to the issuer (discovery, keys, token, userinfo): through the
 * server's outbound client (no redirects, a timeout, a size cap, the address policy).
 */
const outboundFetch: oidc.CustomFetch = async (url, options) => {
  const answer = await outbound({
    url,
    method: options.method === 'POST' ? 'POST' : 'GET',
    headers: options.headers,
    body: bodyText(options.body),
    timeoutMs: TIMEOUT_SECONDS * 1000,
    signal: options.signal,
  });
  const empty = answer.status === 204 || answer.status === 304;
  return new Response(empty ? null : answer.body, { status: answer.status, headers: answer.headers });
};

function bodyText(body: oidc.FetchBody): string | undefined {
  if (body === undefined || body === null) return undefined;
  if (typeof body === 'string') return body;
  if (body instanceof URLSearchParams) return body.toString();
  if (body instanceof Uint8Array) return Buffer.from(body).toString('utf8');
  if (body instanceof ArrayBuffer) return Buffer.from(new Uint8Array(body)).toString('utf8');
  throw new Error('A streamed request body is not sent to the issuer.');
}

/** Plain HTTP only to an issuer on this machine (a development identity provider, the tests). */
const isLoopbackHttp = (url: URL) =>
  url.protocol === 'http:' && ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname);

/** Basic where the issuer offers it (OAuth's default: Google, Okta), else in the body (Slack). */
const secretAuth =
  (secret: string): oidc.ClientAuth =>
  (as, client, body, headers) => {
    const methods = as.token_endpoint_auth_methods_supported ?? ['client_secret_basic'];
    const auth = methods.includes('client_secret_basic')
      ? oidc.ClientSecretBasic(secret)
      : oidc.ClientSecretPost(secret);
    auth(as, client, body, headers);
  };

let discovered: { key: string; config: Promise<oidc.Configuration> } | undefined;

/** Discovery (/.well-known/openid-configuration) once per issuer, client and secret. */
async function configuration(settings: SignInSettings): Promise<oidc.Configuration> {
  const secret = await clientSecret();
  const key = JSON.stringify([settings.issuer.href, settings.clientId, secret]);
  if (discovered?.key !== key) {
    const config = oidc.discovery(
      settings.issuer,
      settings.clientId,
      undefined,
      secret ? secretAuth(secret) : oidc.None(),
      {
        [oidc.customFetch]: outboundFetch,
        timeout: TIMEOUT_SECONDS,
        execute: isLoopbackHttp(settings.issuer) ? [oidc.allowInsecureRequests] : [],
      },
    );
    const entry = { key, config };
    // A failed discovery (the issuer down) is tried again by the next sign-in.
    config.catch(() => {
      if (discovered === entry) discovered = undefined;
    });
    discovered = entry;
  }
  return discovered.config;
}

const hash = (value: string) => createHash('sha256').update(value).digest('hex');
const epochSeconds = () => Math.floor(Date.now() / 1000);
export const callbackUrl = (rt: Runtime) => `${rt.publicUrl}${CALLBACK_PATH}`;

function setCookie(rt: Runtime, name: string, value: string, path: string, maxAge: number): string {
  const secure = rt.publicUrl.startsWith('https:') ? '; Secure' : '';
  return `${name}=${value}; Path=${path}; Max-Age=${maxAge}; HttpOnly; SameSite=Lax${secure}`;
}

const cookieValue = (cookies: string[], name: string) =>
  cookies.find((cookie) => cookie.startsWith(`${name}=`))?.slice(name.length + 1);

/**
 * Starts a sign-in for the review page of `approvalId` (its link token already checked): the
 * issuer's authorization URL to redirect to, and the cookie that binds the sign-in to this browser.
 */
export async function beginSignIn(
  rt: Runtime,
  settings: SignInSettings,
  approvalId: string,
  linkToken: string,
): Promise<{ location: string; cookie: string }> {
  const config = await configuration(settings);
  const state = oidc.randomState();
  const nonce = oidc.randomNonce();
  const codeVerifier = oidc.randomPKCECodeVerifier();
  await rt.doc.send(
    new PutCommand({
      TableName: rt.tableName,
      Item: {
        ...keys.signIn(hash(state)),
        approvalId,
        nonce,
        codeVerifier,
        expiresAt: epochSeconds() + SIGN_IN_SECONDS,
      },
    }),
  );
  const location = oidc.buildAuthorizationUrl(config, {
    redirect_uri: callbackUrl(rt),
    scope: settings.scopes,
    state,
    nonce,
    code_challenge: await oidc.calculatePKCECodeChallenge(codeVerifier),
    code_challenge_method: 'S256',
  });
  return {
    location: location.href,
    cookie: setCookie(rt, SIGN_IN_COOKIE, `${state}.${linkToken}`, '/approvals/oidc', SIGN_IN_SECONDS),
  };
}

/** Why a callback was refused: said on the page, never with the issuer's own words. */
export class SignInRefused extends Error {
  override readonly name = 'SignInRefused';
}

/** The sign-in's item, deleted as it is read: a second callback with the same state finds nothing. */
async function takeSignIn(rt: Runtime, state: string) {
  try {
    const out = await rt.doc.send(
      new DeleteCommand({
        TableName: rt.tableName,
        Key: keys.signIn(hash(state)),
        ConditionExpression: 'attribute_exists(pk)',
        ReturnValues: 'ALL_OLD',
      }),
    );
    const item = out.Attributes as {
      approvalId: string;
      nonce: string;
      codeVerifier: string;
      expiresAt: number;
    };
    return item.expiresAt > epochSeconds() ? item : undefined;
  } catch (error) {
    if (isConditionFailed(error)) return undefined;
    throw error;
  }
}

/**
 * The approver an identity provider's claims name, or undefined: the configured claim, a non-empty
 * string of sane length; an email the provider says is unverified names nobody; nor does the name
 * every review link decides as.
 */
export function identityFrom(claims: Record<string, unknown>, claim: string): string | undefined {
  const value = claims[claim];
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_IDENTITY_LENGTH) return undefined;
  if (claim === 'email' && claims.email_verified === false) return undefined;
  if (value === LINK_APPROVER) return undefined;
  return value;
}

/**
 * Completes a sign-in from the issuer's redirect (`query`: its parameters) and the browser's cookies:
 * the identity, and the review page to go back to. Throws SignInRefused for anything not accepted.
 */
export async function finishSignIn(
  rt: Runtime,
  settings: SignInSettings,
  query: URLSearchParams,
  cookies: string[],
): Promise<{ identity: string; approvalId: string; linkToken: string }> {
  const [state = '', linkToken = ''] = (cookieValue(cookies, SIGN_IN_COOKIE) ?? '').split('.');
  if (!state || !linkToken)
    throw new SignInRefused('This sign-in was not started in this browser, or it took more than 10 minutes.');
  if (!constantTimeEqual(query.get('state') ?? '', state))
    throw new SignInRefused('This sign-in was started in another browser or tab.');
  const started = await takeSignIn(rt, state);
  if (!started) throw new SignInRefused('This sign-in was already used, or it took more than 10 minutes.');
  if (query.has('error')) throw new SignInRefused('The identity provider did not sign you in.');
  const config = await configuration(settings);
  let claims: Record<string, unknown>;
  try {
    const tokens = await oidc.authorizationCodeGrant(config, new URL(`${callbackUrl(rt)}?${query}`), {
      pkceCodeVerifier: started.codeVerifier,
      expectedState: state,
      expectedNonce: started.nonce,
      idTokenExpected: true,
    });
    const idClaims = tokens.claims() as Record<string, unknown>;
    // Some providers put only `sub` in the ID token (the rest at userinfo, which must name the same sub).
    claims =
      settings.identityClaim in idClaims
        ? idClaims
        : await oidc.fetchUserInfo(config, tokens.access_token, String(idClaims.sub));
  } catch (error) {
    // The error's name and code only: its message may quote what the issuer sent.
    const { name, code } = error as { name?: string; code?: string };
    log.warn('sign-in refused', { approvalId: started.approvalId, error: name, code });
    throw new SignInRefused('The identity provider’s answer was not accepted.');
  }
  const identity = identityFrom(claims, settings.identityClaim);
  if (!identity)
    throw new SignInRefused(`The identity provider did not name you by “${settings.identityClaim}”.`);
  return { identity, approvalId: started.approvalId, linkToken };
}

/** A new session for `identity`: the Set-Cookie values that start it and end the sign-in's cookie. */
export async function startSession(rt: Runtime, identity: string): Promise<string[]> {
  const value = randomBytes(32).toString('base64url');
  await rt.doc.send(
    new PutCommand({
      TableName: rt.tableName,
      Item: { ...keys.session(hash(value)), identity, expiresAt: epochSeconds() + SESSION_SECONDS },
    }),
  );
  return [
    setCookie(rt, SESSION_COOKIE, value, '/approvals', SESSION_SECONDS),
    setCookie(rt, SIGN_IN_COOKIE, '', '/approvals/oidc', 0),
  ];
}

/** The identity of the browser's session, or undefined (none, forged, expired). */
export async function sessionIdentity(rt: Runtime, cookies: string[]): Promise<string | undefined> {
  const value = cookieValue(cookies, SESSION_COOKIE);
  if (!value || !/^[A-Za-z0-9_-]{43}$/.test(value)) return undefined;
  const out = await rt.doc.send(
    new GetCommand({ TableName: rt.tableName, Key: keys.session(hash(value)), ConsistentRead: true }),
  );
  const item = out.Item as { identity: string; expiresAt: number } | undefined;
  return item && item.expiresAt > epochSeconds() ? item.identity : undefined;
}
