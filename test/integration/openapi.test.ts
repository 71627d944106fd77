import { readFileSync } from 'node:fs';
import { Validator } from '@seriousme/openapi-schema-validator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OPENAPI_FILE, openApiDocument } from '../../functions/http/openapi';
import { ROUTES, type RouteSpec } from '../../functions/http/routes';
import type { LocalServer } from '../../infra/local/server';
import { startTestServer } from '../helpers/local';
import { rawRequest } from '../support/raw';

type Spec = Parameters<Validator['validate']>[0];

/** docs/api.md section 1: GET /openapi.json serves the OpenAPI 3.1 document of every route. */

interface Operation {
  operationId?: string;
  parameters?: { name: string; in: string; required?: boolean; schema?: Record<string, unknown> }[];
  requestBody?: { required?: boolean; content?: Record<string, { schema?: Record<string, unknown> }> };
  responses?: Record<string, unknown>;
  security?: unknown[];
}
interface Document {
  openapi: string;
  paths: Record<string, Record<string, Operation>>;
  components?: { schemas?: Record<string, unknown>; securitySchemes?: Record<string, unknown> };
}

let server: LocalServer;
let doc: Document;
let status: number;
let contentType: string | string[] | undefined;

beforeAll(async () => {
  ({ server } = await startTestServer());
  const reply = await rawRequest(server.url, 'GET', '/openapi.json');
  status = reply.status;
  contentType = reply.headers['content-type'];
  doc = reply.json as Document;
});

afterAll(async () => {
  await server?.close();
});

/**
 * What a caller refused by each scheme gets (docs/api.md sections 2, 6, 7 and 11): 401 for a missing or
 * bad credential, 403 for one that may not make the call; a bad approval link is the 403 page.
 */
const REFUSED_WITH: Record<Exclude<RouteSpec['auth']['type'], 'public'>, string[]> = {
  signed: ['401', '403'],
  job: ['401', '403'],
  slack: ['401'],
  view: ['401', '403'],
  'approval-link': ['403'],
};

/** Each scheme of the route table and the security schemes that describe it, its credential first. */
const SCHEMES: [RouteSpec['auth']['type'], string[]][] = [
  ['signed', ['gantrySignature']],
  ['job', ['jobToken', 'gantrySignature']],
  ['slack', ['slackSignature']],
  ['view', ['viewToken']],
  ['approval-link', ['approvalLink', 'signInSession']],
];

const operationOf = (route: (typeof ROUTES)[number]) => doc.paths[route.path]?.[route.method.toLowerCase()];

describe('GET /openapi.json', () => {
  it('serves the committed document, which matches the route table (else run `npm run openapi`)', () => {
    const committed = JSON.parse(readFileSync(OPENAPI_FILE, 'utf8')) as unknown;

    expect(committed, 'functions/http/openapi.json is stale: run `npm run openapi`').toEqual(
      openApiDocument(),
    );
    expect(doc).toEqual(committed);
  });

  it('is served without a signature as JSON', () => {
    expect(status).toBe(200);
    expect(String(contentType)).toMatch(/^application\/json/);
    expect(doc.openapi).toMatch(/^3\.1\.\d+$/);
  });

  it('validates as an OpenAPI 3.1 document', async () => {
    const validator = new Validator();

    const result = await validator.validate(structuredClone(doc) as unknown as Spec);

    expect(result.errors ?? [], JSON.stringify(result.errors, null, 2)?.slice(0, 3000)).toEqual([]);
    expect(result.valid).toBe(true);
    expect(validator.version).toBe('3.1');
  });

  it('the validator has teeth: a copy with a parameter in no known place is invalid', async () => {
    const broken = structuredClone(doc);
    const route = ROUTES.find((r) => r.params) as (typeof ROUTES)[number];
    const parameter = operationOf(route)?.parameters?.[0];
    const copy = broken.paths[route.path]?.[route.method.toLowerCase()]?.parameters?.[0];
    expect(parameter).toBeDefined();
    (copy as { in: string }).in = 'nowhere';

    const result = await new Validator().validate(broken as unknown as Spec);

    expect(result.valid).toBe(false);
  });

  it('has every internal $ref resolvable', () => {
    const refs = JSON.stringify(doc).match(/"\$ref":"[^"]+"/g) ?? [];
    for (const ref of refs) {
      const target = (JSON.parse(`{${ref}}`) as { $ref: string }).$ref;
      expect(target.startsWith('#/'), target).toBe(true);
      let node: unknown = doc;
      for (const part of target.slice(2).split('/'))
        node = (node as Record<string, unknown> | undefined)?.[part];
      expect(node, target).toBeDefined();
    }
  });

  it.each(ROUTES.map((route) => [`${route.method} ${route.path}`, route] as const))(
    '%s is documented with its method, operationId, path parameters and responses',
    (_name, route) => {
      const operation = operationOf(route);

      expect(operation, `${route.method} ${route.path} missing`).toBeDefined();
      expect(operation?.operationId).toBe(route.operationId);
      const templated = [...route.path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]);
      const pathParams = (operation?.parameters ?? []).filter((p) => p.in === 'path');
      expect(pathParams.map((p) => p.name).sort()).toEqual([...templated].sort());
      for (const param of pathParams) {
        expect(param.required).toBe(true);
        expect(param.schema && Object.keys(param.schema).length).toBeGreaterThan(0);
      }
      for (const code of Object.keys(route.responses)) expect(operation?.responses).toHaveProperty(code);
      if (route.auth.type !== 'public') {
        for (const code of REFUSED_WITH[route.auth.type]) expect(operation?.responses).toHaveProperty(code);
        expect(operation?.security?.length).toBeGreaterThan(0);
      }
    },
  );

  it.each(SCHEMES)('documents the %s scheme as security schemes its routes require', (type, names) => {
    const routes = ROUTES.filter((route) => route.auth.type === type);
    const schemes = doc.components?.securitySchemes ?? {};

    expect(routes.length).toBeGreaterThan(0);
    const requiredBy = routes.map((route) =>
      (operationOf(route)?.security ?? []).flatMap((each) => Object.keys(each as object)),
    );
    for (const name of names) expect(schemes, name).toHaveProperty(name);
    // Each route requires the scheme's credential; together they name every part of it.
    for (const required of requiredBy) expect(required).toContain(names[0]);
    expect(new Set(requiredBy.flat())).toEqual(new Set(names));
  });

  it.each(
    ROUTES.filter((route) => route.body).map((route) => [`${route.method} ${route.path}`, route] as const),
  )('%s documents its request body with a schema', (_name, route) => {
    const body = operationOf(route)?.requestBody;
    const content = body?.content ?? {};
    const schemas = Object.values(content).map((media) => media.schema);

    expect(Object.keys(content).length, 'no media type').toBeGreaterThan(0);
    for (const schema of schemas) {
      expect(schema, 'no schema').toBeDefined();
      expect(Object.keys(schema ?? {}).length, 'an empty schema').toBeGreaterThan(0);
    }
  });

  it('documents no route the service does not serve', () => {
    const served = new Set(ROUTES.map((route) => `${route.method.toLowerCase()} ${route.path}`));
    const methods = new Set(['get', 'put', 'post', 'patch', 'delete', 'head', 'options', 'trace']);

    const documented = Object.entries(doc.paths).flatMap(([path, item]) =>
      Object.keys(item)
        .filter((key) => methods.has(key))
        .map((method) => `${method} ${path}`),
    );

    expect(documented.sort()).toEqual([...served].sort());
  });

  it('the body schemas carry the contract constraints (ids, required fields, no unknown fields)', () => {
    const put = doc.paths['/v1/environments/{environmentId}']?.put;
    const schema = put?.requestBody?.content?.['application/json']?.schema as
      | { required?: string[]; additionalProperties?: unknown; properties?: Record<string, unknown> }
      | undefined;
    const idParam = put?.parameters?.find((p) => p.name === 'environmentId');

    expect(schema?.required).toContain('resourceSelector');
    expect(schema?.additionalProperties).toBe(false);
    expect(idParam?.schema?.pattern).toBe('^[a-z0-9][a-z0-9-]{0,62}$');
  });
});
