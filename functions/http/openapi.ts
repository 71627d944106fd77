import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as z from 'zod/mini';
import { ROUTES, type RouteSpec } from './routes';

/**
 * The OpenAPI 3.1 document, generated from the route table and the zod schemas that validate
 * requests. `npm run openapi` writes it to openapi.json, which api-meta serves: generating it at
 * request time would put every schema, the CEL parser and rrule into that function's bundle.
 * test/integration/openapi.test.ts fails when the file and the routes drift apart.
 */
export const OPENAPI_FILE = fileURLToPath(new URL('./openapi.json', import.meta.url));

const ErrorBody = z.object({
  error: z.object({
    code: z.string(),
    message: z.string(),
    details: z.array(z.object({ path: z.string(), message: z.string() })),
  }),
});

const jsonSchema = (schema: z.ZodMiniType) =>
  z.toJSONSchema(schema, { target: 'draft-2020-12', io: 'input', unrepresentable: 'any' }) as Record<
    string,
    unknown
  >;

const errorResponse = (description: string) => ({
  description,
  content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
});

function operation(route: RouteSpec) {
  const parameters = [
    ...Object.entries(route.params ?? {}).map(([name, schema]) => ({
      name,
      in: 'path',
      required: true,
      schema: jsonSchema(schema),
    })),
    ...Object.entries(route.query?.shape ?? {}).map(([name, schema]) => ({
      name,
      in: 'query',
      required: false,
      schema: jsonSchema(schema as z.ZodMiniType),
    })),
  ];
  const responses: Record<string, unknown> = {};
  const content = Object.fromEntries((route.produces ?? ['application/json']).map((type) => [type, {}]));
  for (const [status, description] of Object.entries(route.responses)) {
    responses[status] =
      status === '204'
        ? { description }
        : status.startsWith('3')
          ? { description, headers: { Location: { schema: { type: 'string' } } } }
          : { description, content };
  }
  if (route.auth.type !== 'public') {
    responses['400'] = errorResponse('Invalid request');
    responses['401'] = errorResponse('Missing, wrong, stale or replayed signature');
    responses['403'] = errorResponse('The key may not make this call');
    responses['404'] = errorResponse('Unknown id');
    responses['409'] = errorResponse('Conflict');
    responses['413'] = errorResponse('Body over 1 MiB');
    responses['415'] = errorResponse('Body not sent as application/json');
  }
  responses['500'] = errorResponse('Unexpected error (the message carries a request id)');
  return {
    operationId: route.operationId,
    summary: route.summary,
    ...(route.auth.type === 'signed'
      ? { security: [{ gantrySignature: [] }], 'x-gantry-scopes': route.auth.scopes }
      : route.auth.type === 'job'
        ? { security: [{ jobToken: [] }, { gantrySignature: [] }], 'x-gantry-scopes': ['jobs:write'] }
        : { security: [] }),
    ...(parameters.length ? { parameters } : {}),
    ...(route.body
      ? {
          requestBody: {
            // `cancel`, `pause`, `resume` and view links take an optional body.
            required: route.body._zod.optin !== 'optional',
            content: {
              [route.bodyType === 'form' ? 'application/x-www-form-urlencoded' : 'application/json']: {
                schema: jsonSchema(route.body),
              },
            },
          },
        }
      : {}),
    responses,
  };
}

export function openApiDocument(): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of ROUTES) {
    paths[route.path] ??= {};
    (paths[route.path] as Record<string, unknown>)[route.method.toLowerCase()] = operation(route);
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Gantry',
      version: '1.0.0',
      description:
        'Serverless deployment control plane. Every /v1 route is signed with X-Gantry-Key-Id, X-Gantry-Timestamp and X-Gantry-Signature (HMAC-SHA256, see docs/api.md section 2).',
    },
    paths,
    components: {
      schemas: { Error: jsonSchema(ErrorBody) },
      securitySchemes: {
        gantrySignature: { type: 'apiKey', in: 'header', name: 'X-Gantry-Signature' },
        jobToken: { type: 'http', scheme: 'bearer' },
      },
    },
  };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  writeFileSync(OPENAPI_FILE, `${JSON.stringify(openApiDocument(), null, 2)}\n`);
  console.log(`wrote ${OPENAPI_FILE}`);
}
