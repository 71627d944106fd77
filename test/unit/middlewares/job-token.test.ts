import { describe, expect, it } from 'vitest';
import { jobToken } from '../../../functions/http/middlewares/job-token';
import { apiOfRequest, requestFor, routeOf } from './request';

const job = routeOf({ method: 'POST', path: '/v1/jobs/{jobId}/status', auth: { type: 'job' } });
const run = (route = job, authorization?: string) => {
  const request = requestFor(route, { api: { headers: { authorization } } });
  jobToken.before?.(request);
  return apiOfRequest(request);
};

describe('the job-token middleware', () => {
  it('takes the bearer token of a job route for the status write to check', () => {
    expect(run(job, 'Bearer  t0ken ').bearerToken).toBe('t0ken');
  });

  it('answers an empty bearer token with 401 unauthenticated', () => {
    expect(() => run(job, 'Bearer   ')).toThrow(expect.objectContaining({ code: 'unauthenticated' }));
  });

  it('leaves a job call without a bearer token to the signed-key middleware', () => {
    expect(run(job).bearerToken).toBeUndefined();
    expect(run(job, 'View abc').bearerToken).toBeUndefined();
  });

  it('takes no bearer token on a route of another scheme', () => {
    const signed = routeOf({ auth: { type: 'signed', scopes: ['read'] } });

    expect(run(signed, 'Bearer t0ken').bearerToken).toBeUndefined();
  });
});
