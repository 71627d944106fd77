import type { Actor } from '../../shared/adapters/events';
import { runtime } from '../../shared/adapters/runtime';
import { listVersionsPage } from '../../shared/adapters/store/pages';
import { requireConfig } from '../../shared/services/inventory';
import {
  cancelVersion,
  forceRelease,
  rollbackTarget,
  setPaused,
} from '../../shared/services/rollouts/overrides';
import { listReleaseTargetsPage } from '../../shared/services/rollouts/targets-view';
import {
  createVersion,
  patchVersion,
  renderVersionItem,
  viewVersion,
} from '../../shared/services/rollouts/versions';
import { type ApiRequest, httpHandler, json } from './kernel';
import { VERSION_ROUTES } from './routes/versions';

/** Versions, their releases, release targets and overrides (docs/api.md sections 4 and 5). */

const actorOf = (request: ApiRequest): Actor => ({ keyId: request.caller?.keyId });

export const handler = httpHandler(VERSION_ROUTES, {
  createVersion: async (request) => {
    const out = await createVersion(runtime(), request.params.deploymentId, request.body, actorOf(request));
    return json(out.created ? 201 : 200, {
      version: out.version,
      releaseTargets: out.releaseTargets,
      releaseTargetCount: out.releaseTargetCount,
      warnings: out.warnings,
    });
  },
  listVersions: async (request) => {
    const rt = runtime();
    await requireConfig(rt, 'deployment', request.params.deploymentId);
    const page = await listVersionsPage(rt, request.params.deploymentId, request.query);
    return json(200, {
      items: page.items.map(renderVersionItem),
      ...(page.nextToken ? { nextToken: page.nextToken } : {}),
    });
  },
  getVersion: async (request) =>
    json(200, await viewVersion(runtime(), request.params.deploymentId, request.params.tag, request.query)),
  patchVersion: async (request) =>
    json(
      200,
      await patchVersion(
        runtime(),
        request.params.deploymentId,
        request.params.tag,
        request.body.status,
        actorOf(request),
      ),
    ),
  cancelVersion: async (request) => {
    const rt = runtime();
    const { deploymentId: deployment, tag } = request.params;
    await viewVersion(rt, deployment, tag);
    await cancelVersion(rt, deployment, tag, request.body?.reason, actorOf(request));
    return json(200, await viewVersion(rt, deployment, tag));
  },
  forceRelease: async (request) => json(200, await forceRelease(runtime(), request.body, actorOf(request))),
  rollbackTarget: async (request) =>
    json(202, await rollbackTarget(runtime(), request.body, actorOf(request))),
  listReleaseTargets: async (request) => {
    const page = await listReleaseTargetsPage(runtime(), request.query);
    return json(200, { items: page.items, ...(page.nextToken ? { nextToken: page.nextToken } : {}) });
  },
  pauseDeployment: async (request) =>
    json(
      200,
      await setPaused(runtime(), request.params.deploymentId, true, actorOf(request), request.body?.reason),
    ),
  resumeDeployment: async (request) =>
    json(
      200,
      await setPaused(runtime(), request.params.deploymentId, false, actorOf(request), request.body?.reason),
    ),
});
