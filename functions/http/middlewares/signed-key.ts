import { apiKeys, type KeySource } from '../../../shared/adapters/keys';
import { runtime } from '../../../shared/adapters/runtime';
import { recordNonce } from '../../../shared/adapters/store/nonces';
import { unauthenticated } from '../../../shared/core/errors';
import type { Scope } from '../../../shared/core/schemas/common';
import { apiOf, type HttpEvent, type HttpMiddleware } from '../api';
import { authenticate, authorize } from '../presentation/auth';
import type { RouteSpec } from '../routes/spec';

/**
 * The path the signature covers (docs/api.md section 2): the route's path with each parameter as API
 * Gateway hands it over (decoded) encoded again, which is the canonical path whatever encoding the
 * client sent, also for a value that decodes to a `/` (rawPath alone could not tell `a%2Fb` from a/b).
 */
function signedPath(route: RouteSpec, event: HttpEvent): string {
  const params = event.pathParameters ?? {};
  return route.path.replace(/\{([A-Za-z]+)\}/g, (whole, name: string) => {
    const value = params[name];
    return value === undefined ? whole : encodeURIComponent(value);
  });
}

/**
 * The `signed` scheme (docs/api.md section 2), and `job` calls without a bearer token: the key's
 * signature, its scopes and deployments, and for a write, a signature never accepted before (replay).
 * Nothing has been parsed yet: an unsigned caller learns nothing about ids or schemas.
 */
export function signedKey({
  keys = apiKeys,
  firstUse = (signature: string, nowMs: number) => recordNonce(runtime(), signature, nowMs),
}: {
  keys?: () => KeySource;
  /** Records an accepted write signature; false when it was seen before. */
  firstUse?: (signature: string, nowMs: number) => Promise<boolean>;
} = {}): HttpMiddleware {
  return {
    before: async (request) => {
      const api = apiOf(request);
      const { auth } = api.route;
      if (auth.type !== 'signed' && !(auth.type === 'job' && api.bearerToken === undefined)) return;
      const { event } = request;
      const now = Date.now();
      const query = event.rawQueryString ? `?${event.rawQueryString}` : '';
      const key = await authenticate(
        {
          // HEAD is served by the GET route but signed as HEAD.
          method: event.requestContext?.http?.method ?? api.route.method,
          pathWithQuery: `${signedPath(api.route, event)}${query}`,
          headers: api.headers,
          rawBody: api.rawBody,
        },
        keys(),
        now,
      );
      const scopes: readonly Scope[] = auth.type === 'signed' ? auth.scopes : ['jobs:write'];
      const deployment = api.params.deploymentId ?? event.queryStringParameters?.deployment;
      const denied = authorize(key, scopes, deployment);
      if (denied) throw denied;
      api.caller = {
        keyId: key.id,
        scopes: key.scopes,
        deployments: key.deployments,
        approver: key.approver ?? key.id,
      };
      if (api.route.method !== 'GET' && !(await firstUse(api.headers['x-gantry-signature'] ?? '', now)))
        throw unauthenticated('This signature was already used (replay).');
    },
  };
}
