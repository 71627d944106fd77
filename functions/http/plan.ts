import { runtime } from '../../shared/adapters/runtime';
import { planVersionPage } from '../../shared/services/rollouts/plan';
import { httpHandler, json } from './kernel';
import { planView } from './presentation/status-read';
import { PLAN_ROUTES } from './routes/plan';
import { grantOf, readJson } from './view';

/** Plans, for the API (signed) and for the status page (view token). */

type OfVersion = { deployment: string; tag: string };

export const handler = httpHandler(PLAN_ROUTES, {
  getPlan: async (request) =>
    json(
      200,
      await planVersionPage(
        runtime(),
        request.params.deploymentId as string,
        request.params.tag as string,
        request.query as { limit?: number; nextToken?: string },
      ),
    ),
  uiPlan: async (request) => {
    const { deployment, tag } = request.query as OfVersion;
    await grantOf(request, deployment);
    return readJson(await planView(runtime(), deployment, tag));
  },
});
