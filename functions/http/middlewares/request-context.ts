import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { log } from '../../../shared/adapters/log';
import { DomainError } from '../../../shared/core/errors';
import type { HttpMiddleware } from '../api';
import { type RouteSpec, routeKey } from '../routes/spec';

function lowerCaseHeaders(headers: APIGatewayProxyEventV2['headers']): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(headers ?? {})) out[name.toLowerCase()] = value;
  return out;
}

function rawBodyOf(event: APIGatewayProxyEventV2): string {
  if (!event.body) return '';
  return event.isBase64Encoded ? Buffer.from(event.body, 'base64').toString('utf8') : event.body;
}

/**
 * The first step of every request: the route its API Gateway route key names (404 `not_found` when
 * the function serves none), and the API request the later middlewares and the implementation read,
 * with a logger that carries the request id and the route.
 */
export function requestContext(routes: readonly RouteSpec[]): HttpMiddleware {
  const byKey = new Map(routes.map((route) => [routeKey(route), route]));
  return {
    before: (request) => {
      const { event } = request;
      const route = byKey.get(event.routeKey);
      if (!route) throw new DomainError('not_found', 'No such route.');
      const requestId = event.requestContext?.requestId ?? 'local';
      event.api = {
        route,
        requestId,
        log: log.createChild({ persistentKeys: { requestId, route: event.routeKey } }),
        params: { ...event.pathParameters },
        query: {},
        body: undefined,
        rawBody: rawBodyOf(event),
        headers: lowerCaseHeaders(event.headers),
        cookies: event.cookies ?? [],
      };
    },
  };
}
