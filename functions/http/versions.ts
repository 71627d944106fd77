import type { Actor } from '../../shared/adapters/events';
import { runtime } from '../../shared/adapters/runtime';
import { listVersionsPage, type PageRequest } from '../../shared/adapters/store/pages';
import type { ForceBody, RollbackBody, VersionBody } from '../../shared/core/schemas/rollouts';
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
const param = (request: ApiRequest, name: string) => request.params[name] as string;

export const handler = httpHandler(VERSION_ROUTES, {
  createVersion: async (request) => {
    const out = await createVersion(
      runtime(),
      param(request, 'deploymentId'),
      request.body as VersionBody,
      actorOf(request),
    );
    return json(out.created ? 201 : 200, {
      version: out.version,
      releaseTargets: out.releaseTargets,
      releaseTargetCount: out.releaseTargetCount,
      warnings: out.warnings,
    });
  },
  listVersions: async (request) => {
    const rt = runtime();
    await requireConfig(rt, 'deployment', param(request, 'deploymentId'));
    const page = await listVersionsPage(rt, param(request, 'deploymentId'), request.query as PageRequest);
    return json(200, {
      items: page.items.map(renderVersionItem),
      ...(page.nextToken ? { nextToken: page.nextToken } : {}),
    });
  },
  getVersion: async (request) =>
    json(
      200,
      await viewVersion(
        runtime(),
        param(request, 'deploymentId'),
        param(request, 'tag'),
        request.query as PageRequest,
      ),
    ),
  patchVersion: async (request) =>
    json(
      200,
      await patchVersion(
        runtime(),
        param(request, 'deploymentId'),
        param(request, 'tag'),
        (request.body as { status: 'ready' | 'rejected' }).status,
        actorOf(request),
      ),
    ),
  cancelVersion: async (request) => {
    const rt = runtime();
    const deployment = param(request, 'deploymentId');
    const tag = param(request, 'tag');
    await viewVersion(rt, deployment, tag);
    await cancelVersion(
      rt,
      deployment,
      tag,
      (request.body as { reason?: string } | undefined)?.reason,
      actorOf(request),
    );
    return json(200, await viewVersion(rt, deployment, tag));
  },
  forceRelease: async (request) =>
    json(200, await forceRelease(runtime(), request.body as ForceBody, actorOf(request))),
  rollbackTarget: async (request) =>
    json(202, await rollbackTarget(runtime(), request.body as RollbackBody, actorOf(request))),
  listReleaseTargets: async (request) => {
    const page = await listReleaseTargetsPage(
      runtime(),
      request.query as { deployment?: string; environment?: string } & PageRequest,
    );
    return json(200, { items: page.items, ...(page.nextToken ? { nextToken: page.nextToken } : {}) });
  },
  pauseDeployment: async (request) =>
    json(
      200,
      await setPaused(
        runtime(),
        param(request, 'deploymentId'),
        true,
        actorOf(request),
        (request.body as { reason?: string } | undefined)?.reason,
      ),
    ),
  resumeDeployment: async (request) =>
    json(
      200,
      await setPaused(
        runtime(),
        param(request, 'deploymentId'),
        false,
        actorOf(request),
        (request.body as { reason?: string } | undefined)?.reason,
      ),
    ),
});
