import { runtime } from '../../shared/adapters/runtime';
import { endFreeze, listFreezesPage, putFreeze, requireFreeze } from '../../shared/services/freezes';
import { httpHandler, json } from './kernel';
import { FREEZE_ROUTES } from './routes/freezes';

/** Freezes (docs/api.md section 10). */
export const handler = httpHandler(FREEZE_ROUTES, {
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
});
