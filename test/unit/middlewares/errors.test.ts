import { describe, expect, it } from 'vitest';
import { contractErrors } from '../../../functions/http/middlewares/errors';
import { InvalidPageToken } from '../../../shared/adapters/store/config';
import { conflict, DomainError, invalid } from '../../../shared/core/errors';
import { requestFor, routeOf } from './request';

/** The answer the middleware makes of an error thrown on the way. */
async function answerTo(error: unknown) {
  const request = requestFor(routeOf());
  request.error = error as Error;
  await contractErrors.onError?.(request);
  const response = request.response;
  return {
    status: response?.statusCode,
    type: response?.headers?.['content-type'],
    body: response?.body ?? '',
  };
}

describe('the contract-errors middleware', () => {
  it("answers an DomainError with its status and the contract's body", async () => {
    const answer = await answerTo(invalid('name: Required', [{ path: 'name', message: 'Required' }]));

    expect(answer.status).toBe(400);
    expect(answer.type).toBe('application/json');
    expect(JSON.parse(answer.body)).toEqual({
      error: {
        code: 'invalid_request',
        message: 'name: Required',
        details: [{ path: 'name', message: 'Required' }],
      },
    });
  });

  it('maps the domain errors the edge knows: a page token from another list is a 400', async () => {
    const answer = await answerTo(new InvalidPageToken());

    expect(answer.status).toBe(400);
    expect(JSON.parse(answer.body).error).toMatchObject({
      code: 'invalid_request',
      message: 'The nextToken is not one this service issued.',
    });
    expect((await answerTo(conflict('In use.'))).status).toBe(409);
  });

  it.each([
    ['invalid_request', 400],
    ['unauthenticated', 401],
    ['forbidden', 403],
    ['not_found', 404],
    ['conflict', 409],
    ['payload_too_large', 413],
    ['unsupported_media_type', 415],
  ] as const)(
    'answers a domain error %s with HTTP %i (the only place a code meets a status)',
    async (code, status) => {
      const answer = await answerTo(new DomainError(code, 'Why.'));

      expect(answer.status).toBe(status);
      expect(JSON.parse(answer.body).error).toMatchObject({ code, message: 'Why.' });
    },
  );

  it('answers anything else with a bare 500 that names the request id, never a stack trace', async () => {
    const error = new TypeError("Cannot read properties of undefined (reading 'secret')");

    const answer = await answerTo(error);

    expect(answer.status).toBe(500);
    expect(JSON.parse(answer.body)).toEqual({
      error: {
        code: 'internal',
        message: 'Something went wrong on our side (request id req-1).',
        details: [],
      },
    });
    expect(answer.body).not.toContain('secret');
    expect(answer.body).not.toMatch(/\bat \S+:\d+/);
  });

  it('answers a thrown non-error the same way', async () => {
    expect((await answerTo('a string')).status).toBe(500);
  });
});
