import { listEvents } from '../../shared/adapters/events';
import { runtime } from '../../shared/adapters/runtime';
import { httpHandler, json } from './kernel';
import document from './openapi.json';
import { META_ROUTES } from './routes/meta';

/** Health, the OpenAPI document and the audit trail. */
export const handler = httpHandler(META_ROUTES, {
  health: async () => json(200, { ok: true }),
  openapi: async () => json(200, document),
  listEvents: async (request) => {
    // A nextToken from another list is a 400 (middlewares/errors.ts).
    const page = await listEvents(runtime(), request.query);
    return json(200, { items: page.items, ...(page.nextToken ? { nextToken: page.nextToken } : {}) });
  },
});
