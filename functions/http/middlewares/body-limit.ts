import { DomainError } from '../../../shared/core/errors';
import { apiOf, type HttpMiddleware } from '../api';

export const MAX_BODY_BYTES = 1024 * 1024;

/** A body over 1 MiB is 413 `payload_too_large` before anything reads it (docs/api.md section 1). */
export const bodyLimit: HttpMiddleware = {
  before: (request) => {
    if (Buffer.byteLength(apiOf(request).rawBody) > MAX_BODY_BYTES)
      throw new DomainError('payload_too_large', 'The request body is larger than 1 MiB.');
  },
};
