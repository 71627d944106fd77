import { describe, expect, it } from 'vitest';
import { toResult } from '../../../functions/http/api';
import { MAX_RESPONSE_BYTES, responseBound } from '../../../functions/http/middlewares/response-bound';
import { requestFor, routeOf } from './request';

/** The response as it leaves the middleware, for an implementation's answer. */
async function bounded(body: unknown, contentType?: string) {
  const request = requestFor(routeOf());
  request.response = toResult({ status: 200, body, contentType });
  await responseBound.after?.(request);
  return request.response;
}

describe('the response-bound middleware', () => {
  it('lets an answer under Lambda 6 MB through unchanged', async () => {
    const answer = toResult({ status: 200, body: { items: ['x'.repeat(4 * 1024 * 1024)] } });

    expect(await bounded({ items: ['x'.repeat(4 * 1024 * 1024)] })).toEqual(answer);
    expect(await bounded({ ok: true })).toEqual(toResult({ status: 200, body: { ok: true } }));
  });

  it("answers one over the limit with the contract's 500 and the request id", async () => {
    const answer = await bounded({ items: ['x'.repeat(MAX_RESPONSE_BYTES)] });

    expect(answer?.statusCode).toBe(500);
    expect(JSON.parse(answer?.body ?? '{}').error).toMatchObject({
      code: 'internal',
      message: 'Something went wrong on our side (request id req-1).',
    });
  });

  it('measures the result as Lambda does, escaping included', async () => {
    // 3.5 MB of quotes is 7 MB once the result is serialised (each becomes \").
    const answer = await bounded('"'.repeat(3.5 * 1024 * 1024), 'text/plain');

    expect(answer?.statusCode).toBe(500);
  });
});
