import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import {
  type ApiRequest,
  type ApiResponse,
  apiOf,
  type HttpEvent,
  type HttpMiddleware,
  type Implementations,
  type Result,
  toResult,
} from './api';
import { bodyLimit } from './middlewares/body-limit';
import { contractErrors } from './middlewares/errors';
import { jobToken } from './middlewares/job-token';
import { requestContext } from './middlewares/request-context';
import { responseBound } from './middlewares/response-bound';
import { signedKey } from './middlewares/signed-key';
import { validation } from './middlewares/validation';
import type { Auth, RouteSpec } from './routes/spec';

export type {
  ApiRequest,
  ApiResponse,
  HttpEvent,
  HttpMiddleware,
  Implementation,
  Implementations,
  RouteRequest,
} from './api';
export { json } from './api';
export { MAX_BODY_BYTES } from './middlewares/body-limit';
export { MAX_RESPONSE_BYTES } from './middlewares/response-bound';

/** The schemes every function checks; the others' middlewares come with the functions that serve them. */
type OwnScheme = Exclude<Auth['type'], 'public' | 'signed' | 'job'>;
export type SchemeMiddlewares = Partial<Record<OwnScheme, HttpMiddleware>>;
const BUILT_IN = new Set<Auth['type']>(['public', 'signed', 'job']);

/**
 * The middy handler of one HTTP function (its routes, from routes/<function>.ts): each route's
 * implementation, behind the middlewares in this order:
 *
 * 1. contract errors (onError): whatever is thrown becomes the contract's error body;
 * 2. request context: the route (404 when none), the request id, the request's logger;
 * 3. response bound (after): an answer over Lambda's 6 MB becomes the contract's 500;
 * 4. body limit: 413 over 1 MiB;
 * 5. job token, then signed key: the credentials in headers, before anything is parsed;
 * 6. validation: path parameters, media type, query string and body against the route's schemas;
 * 7. the function's own schemes (`schemes`: Slack signature, view token, approval link), whose routes
 *    hold their credential in the validated input (the link's `t`) or check it against it (a view
 *    token's deployment).
 */
export function httpHandler<Routes extends readonly RouteSpec[]>(
  routes: Routes,
  implementations: NoInfer<Implementations<Routes>>,
  schemes: SchemeMiddlewares = {},
) {
  // The middlewares make each request what its route's RouteRequest type says.
  const byOperation = implementations as unknown as Partial<
    Record<string, (request: ApiRequest) => Promise<ApiResponse>>
  >;
  for (const route of routes) {
    if (!byOperation[route.operationId])
      throw new Error(`No implementation for ${route.operationId} in ${route.fn}.`);
    if (!BUILT_IN.has(route.auth.type) && !Object.hasOwn(schemes, route.auth.type))
      throw new Error(
        `No middleware for the ${route.auth.type} scheme of ${route.operationId} in ${route.fn}.`,
      );
  }
  const base = async (event: HttpEvent, _context: Context): Promise<Result> => {
    const api = apiOf({ event });
    const implementation = byOperation[api.route.operationId];
    if (!implementation) throw new Error(`No implementation for ${api.route.operationId}.`);
    return toResult(await implementation(api));
  };
  return middy<HttpEvent, Result>(base)
    .use(contractErrors)
    .use(requestContext(routes))
    .use(responseBound)
    .use(bodyLimit)
    .use(jobToken)
    .use(signedKey())
    .use(validation)
    .use(Object.values(schemes).filter((scheme) => scheme !== undefined));
}
