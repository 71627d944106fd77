import { runtime } from '../../shared/adapters/runtime';
import {
  endFreeze,
  freezeBanner,
  listFreezesPage,
  putFreeze,
  requireFreeze,
} from '../../shared/services/freezes';
import { httpHandler, json } from './kernel';
import { viewToken } from './middlewares/view-token';
import { FREEZE_ROUTES } from './routes/freezes';
import { readJson } from './view';

/** Freezes (docs/api.md section 10), and the status page's banner of them (with a view token). */
export const handler = httpHandler(
  FREEZE_ROUTES,
  {
    putFreeze: async (request) => {
      const { created, freeze } = await putFreeze(
        runtime(),
        request.params.freezeId,
        request.body,
        request.caller.keyId,
      );
      return json(created ? 201 : 200, freeze);
    },
    getFreeze: async (request) => json(200, await requireFreeze(runtime(), request.params.freezeId)),
    // A nextToken from another list is a 400 (middlewares/errors.ts).
    listFreezes: async (request) => json(200, await listFreezesPage(runtime(), request.query)),
    deleteFreeze: async (request) => {
      await endFreeze(runtime(), request.params.freezeId, request.caller.keyId);
      return json(204);
    },
    uiFreezes: async (request) => readJson(await freezeBanner(runtime(), request.query.deployment)),
  },
  { view: viewToken() },
);
