import { listEvents } from '../../shared/adapters/events';
import { runtime } from '../../shared/adapters/runtime';
import { InvalidPageToken } from '../../shared/adapters/store/config';
import { invalid } from '../../shared/core/errors';
import { httpHandler, json } from './kernel';
import document from './openapi.json';
import { META_ROUTES } from './routes/meta';

/** Health, the OpenAPI document and the audit trail. */
export const handler = httpHandler(META_ROUTES, {
  health: async () => json(200, { ok: true }),
  openapi: async () => json(200, document),
  listEvents: async (request) => {
    try {
      const page = await listEvents(
        runtime(),
        request.query as { deployment?: string; since?: string; limit?: number; nextToken?: string },
      );
      return json(200, { items: page.items, ...(page.nextToken ? { nextToken: page.nextToken } : {}) });
    } catch (error) {
      if (error instanceof InvalidPageToken) throw invalid(error.message);
      throw error;
    }
  },
});
