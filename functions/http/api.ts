import type { Logger } from '@aws-lambda-powertools/logger';
import type { MiddlewareObj, Request } from '@middy/core';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import type { z } from 'zod/mini';
import type { Answer, AnswerName } from '../../shared/core/schemas/answers';
import type { ApprovalRecord } from '../../shared/services/approvals';
import type { Caller } from './presentation/auth';
import type { ViewGrant } from './presentation/view-token';
import type { RouteSpec } from './routes/spec';

/**
 * The HTTP edge's request and answer: what the middlewares (middlewares/) make of an API Gateway
 * event (payload v2), and what an implementation answers. Each implementation sees its request typed
 * from its route's schemas and authentication scheme (RouteRequest).
 */

export interface ApiRequest {
  route: RouteSpec;
  requestId: string;
  /** Every line it logs carries the request id and the route. */
  log: Logger;
  /** As API Gateway hands them over, then as the route's schemas parse them. */
  params: Record<string, string | undefined>;
  query: Record<string, unknown>;
  body: unknown;
  rawBody: string;
  headers: Record<string, string | undefined>;
  /** The request's cookies (`name=value`), which API Gateway hands over apart from the headers. */
  cookies: string[];
  /** `signed`, and `job` with a key: the signing key. */
  caller?: Caller;
  /** `job` with `Authorization: Bearer`: the token, verified against the job when its status is written. */
  bearerToken?: string;
  /** `view`: what the view token may read. */
  grant?: ViewGrant;
  /** `approval-link`: the approval its token opens, and who is signed in on this browser. */
  link?: ApprovalLink;
}

export interface ApprovalLink {
  approval: ApprovalRecord;
  token: string;
  /** The identity of the browser's sign-in session, on routes that take it (`session`). */
  identity?: string;
}

export interface ApiResponse<Body = unknown> {
  status: number;
  body?: Body;
  /** HTML pages and other non-JSON answers. */
  contentType?: string;
  headers?: Record<string, string>;
  /** Set-Cookie values: API Gateway makes each one a `set-cookie` header. */
  cookies?: string[];
}

export type Result = APIGatewayProxyStructuredResultV2;
/** The event as the middlewares pass it on: `api` is set by the request-context middleware. */
export type HttpEvent = APIGatewayProxyEventV2 & { api?: ApiRequest };
export type HttpRequest = Request<HttpEvent, Result>;
export type HttpMiddleware = MiddlewareObj<HttpEvent, Result>;

export function apiOf(request: Pick<HttpRequest, 'event'>): ApiRequest {
  if (!request.event.api) throw new Error('The request-context middleware has not run.');
  return request.event.api;
}

export function json<Body = undefined>(status: number, body?: Body): ApiResponse<Body> {
  return { status, body };
}

export function toResult(response: ApiResponse): Result {
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

// ---- a route's request, typed from its schemas ------------------------------------------------

type ParamsOf<R> = R extends { params: infer P extends Record<string, z.ZodMiniType> }
  ? { [K in keyof P]: z.output<P[K]> }
  : Record<string, never>;
type QueryOf<R> = R extends { query: infer Q extends z.ZodMiniType } ? z.output<Q> : Record<string, never>;
type BodyOf<R> = R extends { body: infer B extends z.ZodMiniType } ? z.output<B> : undefined;
type CredentialsOf<A> = A extends { type: 'signed' }
  ? { caller: Caller }
  : A extends { type: 'view' }
    ? { grant: ViewGrant }
    : A extends { type: 'approval-link' }
      ? { link: ApprovalLink }
      : unknown;

/** What the implementation of route R sees once every middleware has passed the request. */
export type RouteRequest<R extends RouteSpec> = Omit<ApiRequest, 'params' | 'query' | 'body'> & {
  params: ParamsOf<R>;
  query: QueryOf<R>;
  body: BodyOf<R>;
} & CredentialsOf<R['auth']>;

/** What route R answers on success: the type of its `answer` schema (shared/core/schemas/answers.ts). */
type AnswerOf<R> = R extends { answer: infer N extends AnswerName } ? Answer<N> : unknown;

export type Implementation<R extends RouteSpec = RouteSpec> = (
  request: RouteRequest<R>,
) => Promise<ApiResponse<AnswerOf<R>>>;

/** One implementation per route of a function, by operationId. */
export type Implementations<Routes extends readonly RouteSpec[]> = {
  [R in Routes[number] as R['operationId']]: Implementation<R>;
};
