import { unauthenticated } from '../../../shared/core/errors';
import { apiOf, type HttpMiddleware } from '../api';

/**
 * The `job` scheme's bearer token (docs/api.md section 6): taken from `Authorization: Bearer <token>`
 * and checked against the job's own token in the same conditional write that records the status
 * (shared/services/rollouts/jobs.ts), so a wrong token changes nothing. Without a bearer token the
 * call must be signed with `jobs:write` (signed-key.ts).
 */
export const jobToken: HttpMiddleware = {
  before: (request) => {
    const api = apiOf(request);
    const authorization = api.headers.authorization;
    if (api.route.auth.type !== 'job' || !authorization?.startsWith('Bearer ')) return;
    api.bearerToken = authorization.slice('Bearer '.length).trim();
    if (!api.bearerToken) throw unauthenticated('The bearer token is empty.');
  },
};
