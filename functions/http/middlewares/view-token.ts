import { apiKeys, type KeySource } from '../../../shared/adapters/keys';
import { apiOf, type HttpMiddleware } from '../api';
import { checkDeployment, verifyViewToken, viewTokenOf } from '../presentation/view-token';

/**
 * The `view` scheme of the status page's reads (docs/api.md section 11): `Authorization: View <token>`,
 * 401 when missing, forged or expired, 403 for a deployment the token may not read (the query's
 * `deployment`, once validated).
 */
export function viewToken({ keys = apiKeys }: { keys?: () => KeySource } = {}): HttpMiddleware {
  return {
    before: async (request) => {
      const api = apiOf(request);
      if (api.route.auth.type !== 'view') return;
      const grant = await verifyViewToken(viewTokenOf(api.headers.authorization), keys());
      const { deployment } = api.query;
      const denied = typeof deployment === 'string' ? checkDeployment(grant, deployment) : undefined;
      if (denied) throw denied;
      api.grant = grant;
    },
  };
}
