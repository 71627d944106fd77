import * as z from 'zod/mini';
import type { AnswerName } from '../../../shared/core/schemas/answers';
import { Id, type Scope, Tag } from '../../../shared/core/schemas/common';

/**
 * The shape of the route table. Each HTTP function's routes live in their own module (so a function
 * bundles only its own schemas); index.ts joins them for the local server, the CDK stack and the
 * OpenAPI document. No handler code here.
 */
export type HttpFunctionId =
  | 'api-config'
  | 'api-versions'
  | 'api-jobs'
  | 'api-approvals'
  | 'api-meta'
  | 'api-ui'
  | 'api-plan'
  | 'api-freezes'
  | 'api-subscriptions';

/**
 * How a route authenticates its caller, one middleware per scheme (functions/http/middlewares/) and
 * one OpenAPI security scheme each (openapi.ts).
 */
export type Auth =
  | { type: 'public' }
  /** A key's signature (docs/api.md section 2) with one of these scopes. */
  | { type: 'signed'; scopes: readonly Scope[] }
  /** Signed with jobs:write, or a job's own bearer token (docs/api.md section 6). */
  | { type: 'job' }
  /** Slack's v0 signature of the raw body (docs/api.md section 7). */
  | { type: 'slack' }
  /** A view token of the status page, `Authorization: View <token>` (docs/api.md section 11). */
  | { type: 'view' }
  /**
   * An approval's review link: its token (`?t=`, or the form field `t`) for the approval in the path
   * (docs/api.md section 7); with `session`, also the browser's sign-in session, where one is configured.
   */
  | { type: 'approval-link'; session?: boolean };

export interface RouteSpec {
  operationId: string;
  method: 'GET' | 'PUT' | 'POST' | 'PATCH' | 'DELETE';
  path: string;
  fn: HttpFunctionId;
  auth: Auth;
  summary: string;
  /** Schemas of the path parameters, which are strings. */
  params?: Record<string, z.ZodMiniType<string>>;
  query?: z.ZodMiniObject;
  body?: z.ZodMiniType;
  /** `form`: application/x-www-form-urlencoded, as browsers and Slack send it (docs/api.md section 1). */
  bodyType?: 'json' | 'form';
  /**
   * What each status it answers means: its successes and the errors of its own (404, 409, the pages'
   * 403). openapi.ts adds those every route of its kind answers (400, 401, 403, 413, 415, 500).
   */
  responses: Record<number, string>;
  /** The schema of its JSON success answers, by name (shared/core/schemas/answers.ts). */
  answer?: AnswerName;
  /** Media types of its answers, when not JSON (HTML pages, the status page's assets). */
  produces?: readonly string[];
}

/**
 * A function's routes, each kept with its literal types (operationId, schemas, scheme), from which
 * the handler types each implementation's request (functions/http/api.ts, RouteRequest).
 */
export const defineRoutes = <const Routes extends readonly RouteSpec[]>(routes: Routes): Routes => routes;

export const READ: readonly Scope[] = ['read'];
export const ADMIN: readonly Scope[] = ['admin'];
export const VERSIONS_READ: readonly Scope[] = ['read', 'versions:write'];
export const VERSIONS_WRITE: readonly Scope[] = ['versions:write'];

export const Paging = z.object({
  limit: z.optional(z.coerce.number().check(z.int(), z.minimum(1), z.maximum(1000))),
  nextToken: z.optional(z.string().check(z.maxLength(2048))),
});

const VIEW = 'Needs a view token (Authorization: View <token>) from POST /v1/view-links';
const VIEW_ANSWERS = {
  200: 'JSON for the status page',
  401: 'Missing, forged or expired view token',
  403: VIEW,
};
/** A read of the status page, with a view token. */
export const uiRead = <const Op extends string, Query extends z.ZodMiniObject>(
  fn: HttpFunctionId,
  operationId: Op,
  path: string,
  summary: string,
  query: Query,
  answer: AnswerName,
) => ({
  operationId,
  method: 'GET' as const,
  path,
  fn,
  auth: { type: 'view' as const },
  summary: `${summary}. ${VIEW}`,
  query,
  responses:
    'deployment' in query.shape ? { ...VIEW_ANSWERS, 404: 'Unknown deployment or version' } : VIEW_ANSWERS,
  answer,
});
export const OfDeployment = z.object({ deployment: Id });
export const OfVersion = z.object({ deployment: Id, tag: Tag });

/**
 * What answers a method and path no route lists (API Gateway's `$default` route): its handler finds no
 * route and answers 404 `not_found` in the contract's error body (docs/api.md section 1), as locally.
 */
export const UNKNOWN_ROUTE_FUNCTION: HttpFunctionId = 'api-meta';

export const routeKey = (route: Pick<RouteSpec, 'method' | 'path'>) => `${route.method} ${route.path}`;
