import { apiOf, type HttpMiddleware } from '../api';
import { internalError } from './errors';

/** Lambda's limit on a synchronous invocation's response: AWS fails the invoke beyond it. */
export const MAX_RESPONSE_BYTES = 6 * 1024 * 1024;
/** Below this a body cannot reach the limit, however much escaping the envelope adds. */
const SAFE_BODY_BYTES = 2 * 1024 * 1024;

/**
 * The answer as it leaves the handler, or the contract's 500 when it is over Lambda's response limit
 * (measured as Lambda does, on the serialised result): a list that could get there is a bug, logged.
 */
export const responseBound: HttpMiddleware = {
  after: (request) => {
    const body = request.response?.body;
    if (!request.response || !body || body.length < SAFE_BODY_BYTES / 3) return;
    if (Buffer.byteLength(body) < SAFE_BODY_BYTES) return;
    const bytes = Buffer.byteLength(JSON.stringify(request.response));
    if (bytes <= MAX_RESPONSE_BYTES) return;
    const api = apiOf(request);
    api.log.error('response over the Lambda response limit', { requestId: api.requestId, bytes });
    request.response = internalError(api.requestId);
  },
};
