import type { ApiResponse } from './api';

/** What every read of the status page shares: its response headers (the view token is checked by middlewares/view-token.ts). */

export const SECURITY_HEADERS = {
  'x-content-type-options': 'nosniff',
  // The page URL carries the view token: never send it on as a Referer.
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
};

export const readJson = <Body>(body: Body): ApiResponse<Body> => ({
  status: 200,
  body,
  headers: { 'cache-control': 'no-store', ...SECURITY_HEADERS },
});
