/**
 * What went wrong, in the contract's codes (docs/api.md section 1): the core and the services throw
 * these; the HTTP edge answers each with its status (functions/http/middlewares/errors.ts).
 */
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

export class DomainError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details: ErrorDetail[] = [],
  ) {
    super(message);
    this.name = 'DomainError';
  }
}

export const invalid = (message: string, details: ErrorDetail[] = []) =>
  new DomainError('invalid_request', message, details);
export const notFound = (what: string) => new DomainError('not_found', `${what} was not found.`);
export const conflict = (message: string) => new DomainError('conflict', message);
export const unauthenticated = (message = 'The request signature is missing or invalid.') =>
  new DomainError('unauthenticated', message);
export const forbidden = (message = 'This key is not allowed to make this call.') =>
  new DomainError('forbidden', message);

export function errorBody(code: ErrorCode, message: string, details: ErrorDetail[] = []) {
  return { error: { code, message, details } };
}
