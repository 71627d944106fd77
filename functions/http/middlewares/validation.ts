import type { z } from 'zod/mini';
import { DomainError, invalid } from '../../../shared/core/errors';
import { apiOf, type HttpMiddleware } from '../api';
import { jsonSyntaxError, leadingCause } from '../explain';
import type { RouteSpec } from '../routes/spec';

const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH']);

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

/** The body as its content type says: 415 for another type, 400 for JSON that does not parse. */
function parseBody(route: RouteSpec, contentType: string, raw: string): unknown {
  if (!BODY_METHODS.has(route.method) || raw.length === 0) return route.bodyType === 'form' ? {} : undefined;
  if (route.bodyType === 'form') {
    if (!/^application\/x-www-form-urlencoded\s*(;|$)/i.test(contentType)) {
      throw new DomainError(
        'unsupported_media_type',
        'The request body must be sent as application/x-www-form-urlencoded.',
      );
    }
    return Object.fromEntries(new URLSearchParams(raw));
  }
  if (!/^application\/json\s*(;|$)/i.test(contentType)) {
    throw new DomainError('unsupported_media_type', 'The request body must be sent as application/json.');
  }
  try {
    return JSON.parse(raw) as unknown;
  } catch {
    throw invalid(jsonSyntaxError(raw));
  }
}

/**
 * The route's schemas, in this order: path parameters, the body's media type and syntax, the query
 * string, the body. Each 400 leads with its first cause (explain.ts); the implementation gets the
 * parsed values (defaults applied).
 */
export const validation: HttpMiddleware = {
  before: (request) => {
    const api = apiOf(request);
    const { route } = api;
    const { event } = request;
    for (const [name, schema] of Object.entries(route.params ?? {}))
      api.params[name] = parseWith(schema, event.pathParameters?.[name], `The path parameter ${name}`);
    const parsedBody = parseBody(route, api.headers['content-type'] ?? '', api.rawBody);
    api.query = route.query
      ? parseWith(route.query, event.queryStringParameters ?? {}, 'The query string')
      : {};
    if (route.body) api.body = parseWith(route.body, parsedBody, 'The request body');
  },
};
