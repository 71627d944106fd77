import { log } from '../../../shared/adapters/log';
import { InvalidPageToken } from '../../../shared/adapters/store/config';
import { ApiError, errorBody, invalid } from '../../../shared/core/errors';
import { type HttpMiddleware, json, type Result, toResult } from '../api';

/** The contract's 500: a request id to quote, never a stack trace. */
export const internalError = (requestId: string): Result =>
  toResult(json(500, errorBody('internal', `Something went wrong on our side (request id ${requestId}).`)));

/**
 * Whatever a middleware or an implementation throws, answered in the contract's error body
 * (docs/api.md section 1): an ApiError with its status and code, a page token from another list as a
 * 400, anything else as a bare 500, logged with its stack.
 */
export const contractErrors: HttpMiddleware = {
  onError: (request) => {
    const { error, event } = request;
    const requestId = event.requestContext?.requestId ?? 'unknown';
    const known = error instanceof InvalidPageToken ? invalid(error.message) : error;
    if (known instanceof ApiError) {
      request.response = toResult(
        json(known.statusCode, errorBody(known.code, known.message, known.details)),
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
