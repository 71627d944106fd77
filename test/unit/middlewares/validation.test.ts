import { describe, expect, it } from 'vitest';
import * as z from 'zod/mini';
import { validation } from '../../../functions/http/middlewares/validation';
import { Paging } from '../../../functions/http/routes/spec';
import { Id } from '../../../shared/core/schemas/common';
import { EnvironmentBody } from '../../../shared/core/schemas/config';
import { apiOfRequest, requestFor, routeOf } from './request';

const put = routeOf({
  method: 'PUT',
  path: '/v1/environments/{environmentId}',
  auth: { type: 'signed', scopes: ['admin'] },
  params: { environmentId: Id },
  body: EnvironmentBody,
});
const list = routeOf({ path: '/v1/environments', query: Paging });
const form = routeOf({
  method: 'POST',
  path: '/form',
  bodyType: 'form',
  body: z.object({ t: z.optional(z.string()), decision: z.optional(z.enum(['approve', 'reject'])) }),
});

function sending(
  route = put,
  { id = 'prod', body = '{"resourceSelector": "true"}', type = 'application/json', query = {} } = {},
) {
  return requestFor(route, {
    event: { pathParameters: { environmentId: id }, queryStringParameters: query },
    api: { rawBody: body, headers: { 'content-type': type } },
  });
}

const refusal = (request: ReturnType<typeof sending>) => {
  try {
    validation.before?.(request);
  } catch (error) {
    return error as { code: string; message: string; details: unknown[] };
  }
  throw new Error('the request was not refused');
};

describe('the validation middleware', () => {
  it('hands the implementation the parsed path, query and body', () => {
    const request = sending();
    const listing = sending(list, { query: { limit: '10' } });

    validation.before?.(request);
    validation.before?.(listing);

    expect(apiOfRequest(request).params.environmentId).toBe('prod');
    expect(apiOfRequest(request).body).toEqual({ resourceSelector: 'true' });
    expect(apiOfRequest(listing).query).toEqual({ limit: 10 });
  });

  it('answers a path parameter outside its pattern with 400, naming it', () => {
    const error = refusal(sending(put, { id: 'Prod!' }));

    expect(error.code).toBe('invalid_request');
    expect(error.message).toMatch(/^The path parameter environmentId: /);
  });

  it('leads a 400 with the first cause: a misspelt key and what it meant', () => {
    const error = refusal(sending(put, { body: '{"resourceSelecter": "true"}' }));

    expect(error.code).toBe('invalid_request');
    expect(error.message).toBe(
      'Unrecognized key "resourceSelecter" at the top level; did you mean "resourceSelector"? (and 1 more problem in details)',
    );
    expect(error.details).toHaveLength(2);
  });

  it('says where JSON that does not parse breaks', () => {
    const error = refusal(sending(put, { body: '{\n  "resourceSelector": "true",\n}' }));

    expect(error.code).toBe('invalid_request');
    expect(error.message).toBe(
      'The request body is not valid JSON: unexpected "}" at line 3, column 1 (expected a property name in double quotes).',
    );
  });

  it('answers a body of another media type with 415', () => {
    expect(refusal(sending(put, { type: 'text/plain' }))).toMatchObject({
      code: 'unsupported_media_type',
      message: 'The request body must be sent as application/json.',
    });
    expect(refusal(sending(form, { body: 't=x' }))).toMatchObject({
      code: 'unsupported_media_type',
      message: 'The request body must be sent as application/x-www-form-urlencoded.',
    });
  });

  it('reads a form body as its fields', () => {
    const request = sending(form, {
      body: 't=abc&decision=reject',
      type: 'application/x-www-form-urlencoded',
    });

    validation.before?.(request);

    expect(apiOfRequest(request).body).toEqual({ t: 'abc', decision: 'reject' });
  });

  it('answers a query parameter outside its schema with 400', () => {
    const error = refusal(sending(list, { query: { limit: '0' } }));

    expect(error.code).toBe('invalid_request');
    expect(error.message).toMatch(/^limit: /);
  });
});
