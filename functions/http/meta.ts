import { listEvents } from '../../shared/adapters/events';
import { runtime } from '../../shared/adapters/runtime';
import { deliveryMetrics } from '../../shared/services/delivery';
import { httpHandler, json } from './kernel';
import document from './openapi.json';
import { META_ROUTES } from './routes/meta';

/** Health, the OpenAPI document, the audit trail and the delivery metrics. */
export const handler = httpHandler(META_ROUTES, {
  health: async () => json(200, { ok: true }),
  openapi: async () => json(200, document),
  listEvents: async (request) => {
    // A nextToken from another list is a 400 (middlewares/errors.ts).
    const page = await listEvents(runtime(), request.query);
    return json(200, { items: page.items, ...(page.nextToken ? { nextToken: page.nextToken } : {}) });
  },
  getDeliveryMetrics: async (request) => {
    const { caller } = request;
    const only = caller.scopes.includes('admin') ? undefined : caller.deployments;
    return json(200, (await deliveryMetrics(runtime(), request.query, only)).metrics);
  },
});
