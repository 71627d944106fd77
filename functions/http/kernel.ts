import middy from '@middy/core';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import type { z } from 'zod/mini';
import { apiKeys } from '../../shared/adapters/keys';
import { log } from '../../shared/adapters/log';
import { runtime } from '../../shared/adapters/runtime';
import { InvalidPageToken } from '../../shared/adapters/store/config';
import { recordNonce } from '../../shared/adapters/store/nonces';
import { ApiError, errorBody, invalid, unauthenticated } from '../../shared/core/errors';
import { jsonSyntaxError, leadingCause } from './explain';
import { authenticate, authorize, type Caller } from './presentation/auth';
import { type RouteSpec, routeKey } from './routes/spec';

export const MAX_BODY_BYTES = 1024 * 1024;
/** Lambda's limit on a synchronous invocation's response: AWS fails the invoke beyond it. */
export const MAX_RESPONSE_BYTES = 6 * 1024 * 1024;
/** Below this a body cannot reach the limit, however much escaping the envelope adds. */
const SAFE_BODY_BYTES = 2 * 1024 * 1024;

export interface ApiRequest {
  route: RouteSpec;
  requestId: string;
  params: Record<string, string>;
  query: Record<string, unknown>;
  body: unknown;
  rawBody: string;
  headers: Record<string, string | undefined>;
  /** The request's cookies (`name=value`), which API Gateway hands over apart from the headers. */
  cookies: string[];
  /** The signing key, or undefined on public routes and job-token calls. */
  caller?: Caller;
  /** The bearer token of a job callback, verified by the jobs handler against the job. */
  bearerToken?: string;
}

export interface ApiResponse {
  status: number;
  body?: unknown;
  /** HTML pages and other non-JSON answers. */
  contentType?: string;
  headers?: Record<string, string>;
  /** Set-Cookie values: API Gateway makes each one a `set-cookie` header. */
  cookies?: string[];
}

export type Implementation = (request: ApiRequest) => Promise<ApiResponse>;

type Event = APIGatewayProxyEventV2;
type Result = APIGatewayProxyStructuredResultV2;

const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH']);

export function json(status: number, body?: unknown): ApiResponse {
  return { status, body };
}

/** Zod issues become the contract's `details` with dotted paths; `message` leads with the first cause. */
export function parseWith<T extends z.ZodMiniType>(
  schema: T,
  value: unknown,
  what = 'The request body',
): z.output<T> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const details = result.error.issues.map((issue) => ({
    path: issue.path.map(String).join('.'),
    message: issue.message,
  }));
  throw invalid(leadingCause(schema, value, result.error.issues, what), details);
}

function lowerCaseHeaders(headers: Event['headers']): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(headers ?? {})) out[name.toLowerCase()] = value;
  return out;
}

function rawBodyOf(event: Event): string {
  if (!event.body) return '';
  return event.isBase64Encoded ? Buffer.from(event.body, 'base64').toString('utf8') : event.body;
}

function parseBody(route: RouteSpec, headers: Record<string, string | undefined>, raw: string) {
  if (!BODY_METHODS.has(route.method) || raw.length === 0) return route.bodyType === 'form' ? {} : undefined;
  const contentType = headers['content-type'] ?? '';
  if (route.bodyType === 'form') {
    if (!/^application\/x-www-form-urlencoded\s*(;|$)/i.test(contentType)) {
      throw new ApiError(
        'unsupported_media_type',
        'The request body must be sent as application/x-www-form-urlencoded.',
      );
    }
    return Object.fromEntries(new URLSearchParams(raw));
  }
  if (!/^application\/json\s*(;|$)/i.test(contentType)) {
    throw new ApiError('unsupported_media_type', 'The request body must be sent as application/json.');
  }
  try {
    return JSON.parse(raw) as unknown;
  } catch {
    throw invalid(jsonSyntaxError(raw));
  }
}

/**
 * The path the signature covers (docs/api.md section 2): the route's path with each parameter as API
 * Gateway hands it over (decoded) encoded again, which is the canonical path whatever encoding the
 * client sent, also for a value that decodes to a `/` (rawPath alone could not tell `a%2Fb` from a/b).
 */
function signedPath(route: RouteSpec, event: Event): string {
  const params = event.pathParameters ?? {};
  return route.path.replace(/\{([A-Za-z]+)\}/g, (whole, name: string) => {
    const value = params[name];
    return value === undefined ? whole : encodeURIComponent(value);
  });
}

async function authorizeRequest(
  route: RouteSpec,
  request: ApiRequest,
  event: Event,
  now: number,
): Promise<void> {
  if (route.auth.type === 'public') return;
  const authorization = request.headers.authorization;
  if (route.auth.type === 'job' && authorization?.startsWith('Bearer ')) {
    request.bearerToken = authorization.slice('Bearer '.length).trim();
    if (!request.bearerToken) throw unauthenticated('The bearer token is empty.');
    return;
  }
  const query = event.rawQueryString ? `?${event.rawQueryString}` : '';
  const key = await authenticate(
    {
      // HEAD is served by the GET route but signed as HEAD.
      method: event.requestContext?.http?.method ?? route.method,
      pathWithQuery: `${signedPath(route, event)}${query}`,
      headers: request.headers,
      rawBody: request.rawBody,
    },
    apiKeys(),
    now,
  );
  const scopes = route.auth.type === 'job' ? (['jobs:write'] as const) : route.auth.scopes;
  const deployment = request.params.deploymentId ?? event.queryStringParameters?.deployment ?? undefined;
  const denied = authorize(key, scopes, deployment);
  if (denied) throw denied;
  request.caller = {
    keyId: key.id,
    scopes: key.scopes,
    deployments: key.deployments,
    approver: key.approver ?? key.id,
  };
  if (route.method !== 'GET') {
    const signature = request.headers['x-gantry-signature'] ?? '';
    if (!(await recordNonce(runtime(), signature, now)))
      throw unauthenticated('This signature was already used (replay).');
  }
}

async function toRequest(route: RouteSpec, event: Event): Promise<ApiRequest> {
  const headers = lowerCaseHeaders(event.headers);
  const rawBody = rawBodyOf(event);
  if (Buffer.byteLength(rawBody) > MAX_BODY_BYTES) {
    throw new ApiError('payload_too_large', 'The request body is larger than 1 MiB.');
  }
  const request: ApiRequest = {
    route,
    requestId: event.requestContext?.requestId ?? 'local',
    params: { ...event.pathParameters } as Record<string, string>,
    query: {},
    body: undefined,
    rawBody,
    headers,
    cookies: event.cookies ?? [],
  };
  // Authentication comes first: an unsigned caller learns nothing about ids or schemas.
  await authorizeRequest(route, request, event, Date.now());
  for (const [name, schema] of Object.entries(route.params ?? {})) {
    request.params[name] = parseWith(
      schema,
      event.pathParameters?.[name],
      `The path parameter ${name}`,
    ) as string;
  }
  const parsedBody = parseBody(route, headers, rawBody);
  request.query = route.query
    ? parseWith(route.query, event.queryStringParameters ?? {}, 'The query string')
    : {};
  if (route.body) request.body = parseWith(route.body, parsedBody, 'The request body');
  return request;
}

function toResult(response: ApiResponse): Result {
  const contentType = response.contentType ?? 'application/json';
  const body =
    response.body === undefined
      ? undefined
      : typeof response.body === 'string' && contentType !== 'application/json'
        ? response.body
        : JSON.stringify(response.body);
  return {
    statusCode: response.status,
    headers: { 'content-type': contentType, ...response.headers },
    ...(response.cookies ? { cookies: response.cookies } : {}),
    body,
  };
}

const internalError = (requestId: string) =>
  toResult(json(500, errorBody('internal', `Something went wrong on our side (request id ${requestId}).`)));

/**
 * The answer as it leaves the handler, or the contract's 500 when it is over Lambda's response limit
 * (measured as Lambda does, on the serialised result): a list that could get there is a bug, logged.
 */
function boundedResult(result: Result, requestId: string, routeKeyOf: string): Result {
  if (!result.body || result.body.length < SAFE_BODY_BYTES / 3) return result;
  if (Buffer.byteLength(result.body) < SAFE_BODY_BYTES) return result;
  const bytes = Buffer.byteLength(JSON.stringify(result));
  if (bytes <= MAX_RESPONSE_BYTES) return result;
  log.error('response over the Lambda response limit', { requestId, route: routeKeyOf, bytes });
  return internalError(requestId);
}

function errorResult(error: unknown, requestId: string): Result {
  if (error instanceof InvalidPageToken) return errorResult(invalid(error.message), requestId);
  if (error instanceof ApiError) {
    return toResult(json(error.statusCode, errorBody(error.code, error.message, error.details)));
  }
  log.error('unexpected error', {
    requestId,
    error:
      error instanceof Error
        ? { name: error.name, message: error.message, stack: error.stack }
        : String(error),
  });
  return internalError(requestId);
}

/**
 * The middy handler of one HTTP function (its routes, from routes/<function>.ts): dispatch by API
 * Gateway route key to the implementation.
 * Middleware order: error mapping (outermost), then the request pipeline inside the handler.
 */
export function httpHandler(routes: RouteSpec[], implementations: Record<string, Implementation>) {
  const byKey = new Map<string, { route: RouteSpec; implementation: Implementation }>();
  for (const route of routes) {
    const implementation = implementations[route.operationId];
    if (!implementation) throw new Error(`No implementation for ${route.operationId} in ${route.fn}.`);
    byKey.set(routeKey(route), { route, implementation });
  }
  const base = async (event: Event, _context: Context): Promise<Result> => {
    const match = byKey.get(event.routeKey);
    if (!match) throw new ApiError('not_found', 'No such route.');
    const request = await toRequest(match.route, event);
    return boundedResult(toResult(await match.implementation(request)), request.requestId, event.routeKey);
  };
  return middy<Event, Result>(base).use({
    onError: async (request) => {
      request.response = errorResult(request.error, request.event.requestContext?.requestId ?? 'unknown');
    },
  });
}
