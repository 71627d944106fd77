/** Errors that map to the contract's error body (docs/api.md section 1). Anything else becomes a bare 500. */
export type ErrorCode =
  | 'invalid_request'
  | 'unauthenticated'
  | 'forbidden'
  | 'not_found'
  | 'conflict'
  | 'payload_too_large'
  | 'unsupported_media_type'
  | 'internal';

export interface ErrorDetail {
  path: string;
  message: string;
}

const statusOf: Record<ErrorCode, number> = {
  invalid_request: 400,
  unauthenticated: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  internal: 500,
};

export class ApiError extends Error {
  readonly statusCode: number;
  readonly expose = true;
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details: ErrorDetail[] = [],
  ) {
    super(message);
    this.name = 'ApiError';
    this.statusCode = statusOf[code];
  }
}

export const invalid = (message: string, details: ErrorDetail[] = []) =>
  new ApiError('invalid_request', message, details);
export const notFound = (what: string) => new ApiError('not_found', `${what} was not found.`);
export const conflict = (message: string) => new ApiError('conflict', message);
export const unauthenticated = (message = 'The request signature is missing or invalid.') =>
  new ApiError('unauthenticated', message);
export const forbidden = (message = 'This key is not allowed to make this call.') =>
  new ApiError('forbidden', message);

export function errorBody(code: ErrorCode, message: string, details: ErrorDetail[] = []) {
  return { error: { code, message, details } };
}
