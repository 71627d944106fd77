import { runtime } from '../../shared/adapters/runtime';
import { planVersionPage } from '../../shared/services/rollouts/plan';
import { httpHandler, json } from './kernel';
import { viewToken } from './middlewares/view-token';
import { planView } from './presentation/status-read';
import { PLAN_ROUTES } from './routes/plan';
import { readJson } from './view';

/** Plans, for the API (signed) and for the status page (view token). */

export const handler = httpHandler(
  PLAN_ROUTES,
  {
    getPlan: async (request) =>
      json(
        200,
        await planVersionPage(runtime(), request.params.deploymentId, request.params.tag, request.query),
      ),
    uiPlan: async (request) =>
      readJson(await planView(runtime(), request.query.deployment, request.query.tag)),
  },
  { view: viewToken() },
);
