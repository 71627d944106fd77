import type { Context } from 'aws-lambda';
import type { ApiRequest, HttpEvent, HttpRequest } from '../../../functions/http/api';
import type { RouteSpec } from '../../../functions/http/routes/spec';
import { log } from '../../../shared/adapters/log';

/** Crafted middy requests for the middleware tests: what the middlewares before the one under test leave. */

export const routeOf = (over: Partial<RouteSpec> = {}): RouteSpec => ({
  operationId: 'test',
  method: 'GET',
  path: '/test',
  fn: 'api-meta',
  auth: { type: 'public' },
  summary: 'test',
  responses: { 200: 'ok' },
  ...over,
});

/** The API Gateway event (payload v2) of a request to `route`. */
export const eventOf = (route: RouteSpec, over: Partial<HttpEvent> = {}): HttpEvent =>
  ({
    routeKey: `${route.method} ${route.path}`,
    rawPath: route.path,
    rawQueryString: '',
    headers: {},
    isBase64Encoded: false,
    requestContext: { requestId: 'req-1', http: { method: route.method } },
    ...over,
  }) as HttpEvent;

/** A middy request whose API request the request-context middleware has made, with `api` changed. */
export function requestFor(
  route: RouteSpec,
  { event = {}, api = {} }: { event?: Partial<HttpEvent>; api?: Partial<ApiRequest> } = {},
): HttpRequest {
  const httpEvent = eventOf(route, event);
  httpEvent.api = {
    route,
    requestId: 'req-1',
    log,
    params: { ...httpEvent.pathParameters },
    query: {},
    body: undefined,
    rawBody: '',
    headers: {},
    cookies: [],
    ...api,
  };
  return { event: httpEvent, context: {} as Context, response: null, error: null, internal: {} };
}

/** The API request a middleware left behind. */
export const apiOfRequest = (request: HttpRequest): ApiRequest => request.event.api as ApiRequest;
