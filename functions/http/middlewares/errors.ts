import { log } from '../../../shared/adapters/log';
import { InvalidPageToken } from '../../../shared/adapters/store/config';
import { DomainError, type ErrorCode, errorBody, invalid } from '../../../shared/core/errors';
import { type HttpMiddleware, json, type Result, toResult } from '../api';

/** The HTTP status of each of the contract's error codes: the one place errors meet HTTP. */
const HTTP_STATUS: Record<ErrorCode, number> = {
  invalid_request: 400,
  unauthenticated: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  internal: 500,
};

/** The contract's 500: a request id to quote, never a stack trace. */
export const internalError = (requestId: string): Result =>
  toResult(json(500, errorBody('internal', `Something went wrong on our side (request id ${requestId}).`)));

/**
 * Whatever a middleware or an implementation throws, answered in the contract's error body
 * (docs/api.md section 1): an DomainError with its status and code, a page token from another list as a
 * 400, anything else as a bare 500, logged with its stack.
 */
export const contractErrors: HttpMiddleware = {
  onError: (request) => {
    const { error, event } = request;
    const requestId = event.requestContext?.requestId ?? 'unknown';
    const known = error instanceof InvalidPageToken ? invalid(error.message) : error;
    if (known instanceof DomainError) {
      request.response = toResult(
        json(HTTP_STATUS[known.code], errorBody(known.code, known.message, known.details)),
      );
      return;
    }
    (event.api?.log ?? log).error('unexpected error', {
      requestId,
      error:
        error instanceof Error
          ? { name: error.name, message: error.message, stack: error.stack }
          : String(error),
    });
    request.response = internalError(requestId);
  },
};
