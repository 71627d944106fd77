import type { Context } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import type { HttpRequest } from '../../../functions/http/api';
import { requestContext } from '../../../functions/http/middlewares/request-context';
import { eventOf, routeOf } from './request';

const route = routeOf({ method: 'POST', path: '/things/{id}' });
const other = routeOf({ operationId: 'other', path: '/other' });
const middleware = requestContext([route, other]);
const run = async (event: HttpRequest['event']) => {
  const request: HttpRequest = { event, context: {} as Context, response: null, error: null, internal: {} };
  await middleware.before?.(request);
  return request.event.api;
};

describe('the request-context middleware', () => {
  it('matches the route of the route key and makes the API request from the event', async () => {
    const api = await run(
      eventOf(route, {
        pathParameters: { id: 'a b' },
        headers: { 'Content-Type': 'application/json', 'X-Gantry-Key-Id': 'ci' },
        cookies: ['gantry_session=abc'],
        body: Buffer.from('{"é": 1}').toString('base64'),
        isBase64Encoded: true,
      }),
    );

    expect(api?.route).toBe(route);
    expect(api?.requestId).toBe('req-1');
    expect(api?.params).toEqual({ id: 'a b' });
    expect(api?.headers).toEqual({ 'content-type': 'application/json', 'x-gantry-key-id': 'ci' });
    expect(api?.cookies).toEqual(['gantry_session=abc']);
    expect(api?.rawBody).toBe('{"é": 1}');
    expect(api?.query).toEqual({});
    expect(api?.body).toBeUndefined();
  });

  it('gives the request a logger that carries its request id and route', async () => {
    const api = await run(eventOf(other, { requestContext: { requestId: 'req-42' } } as never));

    expect(api?.log.getPersistentLogAttributes()).toMatchObject({ requestId: 'req-42', route: 'GET /other' });
  });

  it('answers a route key the function does not serve with 404 not_found', async () => {
    await expect(run({ ...eventOf(other), routeKey: 'GET /nowhere' })).rejects.toMatchObject({
      code: 'not_found',
    });
  });

  it('names a request without a request id "local"', async () => {
    const api = await run({ ...eventOf(other), requestContext: undefined } as never);

    expect(api?.requestId).toBe('local');
  });
});
