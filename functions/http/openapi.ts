import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as z from 'zod/mini';
import { answerRegistry } from '../../shared/core/schemas/answers';
import { SESSION_COOKIE } from '../../shared/services/signin';
import { type Auth, ROUTES, type RouteSpec } from './routes';

/**
 * The OpenAPI 3.1 document, generated from the route table, the zod schemas that validate requests
 * and those of the answers (shared/core/schemas/answers.ts). `npm run openapi` writes it to openapi.json, which api-meta serves: generating it at
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

const ref = (kind: 'schemas' | 'responses', name: string) => ({ $ref: `#/components/${kind}/${name}` });

/** The answers (shared/core/schemas/answers.ts) as they leave the handlers, one component each. */
function answerSchemas(): Record<string, unknown> {
  const { schemas } = z.toJSONSchema(answerRegistry(), {
    target: 'draft-2020-12',
    io: 'output',
    unrepresentable: 'any',
    uri: (id) => ref('schemas', id).$ref,
  });
  // A component is a part of this document, not a document of its own.
  return Object.fromEntries(
    Object.entries(schemas).map(([name, { $schema: _s, $id: _i, ...schema }]) => [name, schema]),
  );
}

const errorContent = { 'application/json': { schema: ref('schemas', 'Error') } };

/** The errors every route of a kind answers in the contract's error body (docs/api.md section 1). */
const ERRORS = {
  400: ['BadRequest', 'A path parameter, query parameter or body outside its schema'],
  401: ['Unauthenticated', 'Missing, wrong, stale or replayed signature (or job token)'],
  403: ['Forbidden', "The key's scopes or deployments do not allow the call"],
  /** The local server's answer to a foreign Host header (docs/api.md section 9), on every route. */
  '403host': [
    'ForeignHost',
    'Locally: the Host header names neither the loopback address nor the public URL',
  ],
  413: ['PayloadTooLarge', 'Body over 1 MiB'],
  415: ['UnsupportedMediaType', 'Body sent with another content type'],
  500: ['Internal', 'Unexpected error (the message carries a request id)'],
} as const;

/** Each authentication scheme of the route table (routes/spec.ts) as a security requirement. */
function securityOf(auth: Auth): Record<string, unknown> {
  switch (auth.type) {
    case 'public':
      return { security: [] };
    case 'signed':
      return { security: [{ gantrySignature: [] }], 'x-gantry-scopes': auth.scopes };
    case 'job':
      return { security: [{ jobToken: [] }, { gantrySignature: [] }], 'x-gantry-scopes': ['jobs:write'] };
    case 'slack':
      return { security: [{ slackSignature: [] }] };
    case 'view':
      return { security: [{ viewToken: [] }] };
    case 'approval-link':
      return {
        security: auth.session
          ? [{ approvalLink: [], signInSession: [] }, { approvalLink: [] }]
          : [{ approvalLink: [] }],
      };
  }
}

/**
 * The refusals every route of a scheme answers in the contract's error body; the approval link
 * refuses with a page of its own, which its routes list (403).
 */
const REFUSALS: Record<Auth['type'], readonly (401 | 403 | '403host')[]> = {
  public: ['403host'],
  signed: [401, 403],
  job: [401, 403],
  slack: [401, '403host'],
  view: [401, 403],
  'approval-link': ['403host'],
};

const hasInput = (route: RouteSpec) => Boolean(route.params || route.query || route.body);

function responsesOf(route: RouteSpec): Record<string, unknown> {
  const responses: Record<string, unknown> = {};
  const media = route.produces ?? ['application/json'];
  const pages = media.includes('text/html');
  for (const [status, description] of Object.entries(route.responses)) {
    const code = Number(status);
    if (code === 204) responses[status] = { description };
    else if (code < 400 && code >= 300)
      responses[status] = { description, headers: { Location: { schema: { type: 'string' } } } };
    else if (code >= 400)
      responses[status] = {
        description,
        content: pages ? { 'text/html': { schema: { type: 'string' } } } : errorContent,
      };
    else if (route.produces)
      responses[status] = {
        description,
        content: Object.fromEntries(media.map((type) => [type, { schema: { type: 'string' } }])),
      };
    else
      responses[status] = {
        description,
        content: { 'application/json': { schema: route.answer ? ref('schemas', route.answer) : {} } },
      };
  }
  const kinds: (keyof typeof ERRORS)[] = [
    ...(hasInput(route) ? ([400] as const) : []),
    ...REFUSALS[route.auth.type],
    ...(route.body ? ([413, 415] as const) : []),
    500,
  ];
  for (const kind of kinds) {
    const status = String(kind).slice(0, 3);
    const [name, description] = ERRORS[kind];
    const own = responses[status] as { description: string; content?: object } | undefined;
    if (!own) responses[status] = ref('responses', name);
    // A page's own 400 (HTML), or the kernel's refusal of its input (JSON): either answer.
    else if (kind !== '403host' && own.content !== errorContent)
      responses[status] = {
        description: `${own.description}; or ${description.toLowerCase()}`,
        content: { ...own.content, ...errorContent },
      };
  }
  return Object.fromEntries(Object.entries(responses).sort(([a], [b]) => a.localeCompare(b)));
}

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
  return {
    operationId: route.operationId,
    summary: route.summary,
    ...securityOf(route.auth),
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
    responses: responsesOf(route),
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
      schemas: { Error: jsonSchema(ErrorBody), ...answerSchemas() },
      responses: Object.fromEntries(
        Object.values(ERRORS).map(([name, description]) => [name, { description, content: errorContent }]),
      ),
      securitySchemes: {
        gantrySignature: { type: 'apiKey', in: 'header', name: 'X-Gantry-Signature' },
        jobToken: { type: 'http', scheme: 'bearer' },
        slackSignature: {
          type: 'apiKey',
          in: 'header',
          name: 'X-Slack-Signature',
          description:
            "Slack's v0 signature of the raw body with the app's signing secret, with X-Slack-Request-Timestamp within 300 s; each signature is accepted once (docs/api.md section 7)",
        },
        viewToken: {
          type: 'http',
          scheme: 'View',
          description:
            'Authorization: View <token>, a read-only token of the status page minted by POST /v1/view-links (docs/api.md section 11)',
        },
        approvalLink: {
          type: 'apiKey',
          in: 'query',
          name: 't',
          description:
            "The approval link's token: ?t= on the review pages, the form field t on the decision form (docs/api.md section 7)",
        },
        signInSession: {
          type: 'apiKey',
          in: 'cookie',
          name: SESSION_COOKIE,
          description:
            "The session of an OpenID Connect sign-in on the review page, where one is configured: the decision is then the identity's (docs/api.md section 7)",
        },
      },
    },
  };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  writeFileSync(OPENAPI_FILE, `${JSON.stringify(openApiDocument(), null, 2)}\n`);
  console.log(`wrote ${OPENAPI_FILE}`);
}
