import { apiKeys } from '../../shared/adapters/keys';
import type { ApiRequest, ApiResponse } from './kernel';
import { checkDeployment, type ViewGrant, verifyViewToken, viewTokenOf } from './presentation/view-token';

/** What every read of the status page shares: the view-token check and the response headers. */

export const SECURITY_HEADERS = {
  'x-content-type-options': 'nosniff',
  // The page URL carries the view token: never send it on as a Referer.
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
};

/** The grant of the request's view token, limited to `deployment` when one is named. */
export async function grantOf(request: ApiRequest, deployment?: string): Promise<ViewGrant> {
  const grant = await verifyViewToken(viewTokenOf(request.headers.authorization), apiKeys());
  const denied = deployment === undefined ? undefined : checkDeployment(grant, deployment);
  if (denied) throw denied;
  return grant;
}

export const readJson = (body: unknown): ApiResponse => ({
  status: 200,
  body,
  headers: { 'cache-control': 'no-store', ...SECURITY_HEADERS },
});
