import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OPENAPI_FILE } from '../../functions/http/openapi';
import { esbuildOptions } from '../../infra/aws/bundling';

/**
 * The shipped artifact, not the sources: functions bundled exactly as the stack bundles them (ESM,
 * minified, tree-shaken with package.json `sideEffects: false`) and called through their handler.
 * Guards what only the bundle can get wrong: a module dropped whose side effect mattered (zod's
 * English messages), a require() that ESM output cannot serve, an asset left out.
 */

type Handler = (
  event: APIGatewayProxyEventV2,
  context: Context,
) => Promise<APIGatewayProxyStructuredResultV2>;

const out = mkdtempSync(join(tmpdir(), 'gantry-bundles-'));
const handlers: Record<string, Handler> = {};

async function load(entry: string): Promise<Handler> {
  const outfile = join(out, `${entry.replace(/[/.]/g, '_')}.mjs`);
  await build(esbuildOptions(entry, outfile));
  const module = (await import(pathToFileURL(outfile).href)) as { handler: Handler };
  return module.handler;
}

const event = (method: string, path: string, routePath = path, params: Record<string, string> = {}) =>
  ({
    routeKey: `${method} ${routePath}`,
    rawPath: path,
    rawQueryString: '',
    headers: {},
    pathParameters: params,
    isBase64Encoded: false,
    requestContext: { requestId: 'bundle-test', http: { method } },
  }) as unknown as APIGatewayProxyEventV2;

const call = (fn: string, e: APIGatewayProxyEventV2) => (handlers[fn] as Handler)(e, {} as Context);

beforeAll(async () => {
  handlers.meta = await load('functions/http/meta.ts');
  handlers.approvals = await load('functions/http/approvals.ts');
  handlers.ui = await load('functions/http/ui.ts');
}, 60_000);

afterAll(() => rmSync(out, { recursive: true, force: true }));

describe('bundled HTTP functions', () => {
  it('api-meta answers the health check and serves the committed OpenAPI document', async () => {
    const health = await call('meta', event('GET', '/healthz'));
    const openapi = await call('meta', event('GET', '/openapi.json'));

    expect(health.statusCode).toBe(200);
    expect(JSON.parse(health.body as string)).toEqual({ ok: true });
    expect(openapi.statusCode).toBe(200);
    expect(JSON.parse(openapi.body as string)).toEqual(JSON.parse(readFileSync(OPENAPI_FILE, 'utf8')));
  });

  it("api-meta answers API Gateway's $default route (any unlisted method or path) with the contract 404", async () => {
    const reply = await call('meta', { ...event('DELETE', '/nowhere'), routeKey: '$default' });

    expect(reply.statusCode).toBe(404);
    expect(JSON.parse(reply.body as string)).toMatchObject({ error: { code: 'not_found' } });
  });

  it('api-approvals rejects a bad path parameter with the English message of the contract', async () => {
    const reply = await call(
      'approvals',
      event('GET', `/approvals/${'a'.repeat(65)}`, '/approvals/{approvalId}', { approvalId: 'a'.repeat(65) }),
    );

    expect(reply.statusCode).toBe(400);
    expect(JSON.parse(reply.body as string)).toMatchObject({
      error: {
        code: 'invalid_request',
        details: [{ path: '', message: 'Too big: expected string to have <=64 characters' }],
      },
    });
  });

  it('api-ui serves the status page and its assets', async () => {
    const page = await call('ui', event('GET', '/ui'));
    const css = await call(
      'ui',
      event('GET', '/ui/assets/styles.css', '/ui/assets/{name}', { name: 'styles.css' }),
    );

    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('<!doctype html>');
    expect(css.statusCode).toBe(200);
    expect(String(css.headers?.['content-type'])).toMatch(/^text\/css/);
  });
});
