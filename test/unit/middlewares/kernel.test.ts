import type { Context } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import * as z from 'zod/mini';
import type { Result } from '../../../functions/http/api';
import { httpHandler, json } from '../../../functions/http/kernel';
import { viewToken } from '../../../functions/http/middlewares/view-token';
import { defineRoutes } from '../../../functions/http/routes/spec';
import { Id } from '../../../shared/core/schemas/common';
import { eventOf } from './request';

/** The composition in functions/http/kernel.ts: the middlewares in their order, around the implementations. */

const ROUTES = defineRoutes([
  {
    operationId: 'write',
    method: 'POST',
    path: '/v1/things/{thingId}',
    fn: 'api-meta',
    auth: { type: 'signed', scopes: ['admin'] },
    summary: 'test',
    params: { thingId: Id },
    body: z.object({ name: z.string() }),
    responses: { 200: 'ok' },
  },
  {
    operationId: 'look',
    method: 'GET',
    path: '/ui/api/things',
    fn: 'api-ui',
    auth: { type: 'view' },
    summary: 'test',
    query: z.object({ deployment: Id }),
    responses: { 200: 'ok' },
  },
]);
const calls: string[] = [];
const implementations = {
  write: async () => {
    calls.push('write');
    return json(200, {});
  },
  look: async () => {
    calls.push('look');
    return json(200, {});
  },
};
const handler = httpHandler(ROUTES, implementations, {
  view: viewToken({ keys: () => ({ find: async () => undefined }) }),
});

async function send(
  route: (typeof ROUTES)[number],
  event: object,
): Promise<{ status?: number; code?: string }> {
  const result = (await handler({ ...eventOf(route), ...event }, {} as Context)) as Result;
  return { status: result.statusCode, code: JSON.parse(result.body ?? '{}').error?.code };
}

describe('the HTTP kernel', () => {
  it('checks a signature before it parses anything: an unsigned caller learns nothing of the schema', async () => {
    const answer = await send(ROUTES[0], {
      pathParameters: { thingId: 'NOT AN ID' },
      headers: { 'content-type': 'application/json' },
      body: '{"name": ',
    });

    expect(answer).toEqual({ status: 401, code: 'unauthenticated' });
    expect(calls).toEqual([]);
  });

  it('checks a body limit before the signature', async () => {
    const answer = await send(ROUTES[0], {
      pathParameters: { thingId: 'a' },
      body: 'x'.repeat(1024 * 1024 + 1),
    });

    expect(answer).toEqual({ status: 413, code: 'payload_too_large' });
  });

  it("checks a view token against the validated query, so a malformed read is a 400 before the token's 401", async () => {
    expect(await send(ROUTES[1], { queryStringParameters: { deployment: 'NOT AN ID' } })).toEqual({
      status: 400,
      code: 'invalid_request',
    });
    expect(await send(ROUTES[1], { queryStringParameters: { deployment: 'api' } })).toEqual({
      status: 401,
      code: 'unauthenticated',
    });
    expect(calls).toEqual([]);
  });

  it('refuses to build a handler whose route has a scheme with no middleware, or no implementation', () => {
    expect(() => httpHandler(ROUTES, implementations)).toThrow(
      'No middleware for the view scheme of look in api-ui.',
    );
    expect(() => httpHandler(ROUTES, { write: implementations.write } as never, {})).toThrow(
      'No implementation for look in api-ui.',
    );
  });
});
