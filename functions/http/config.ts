import { type Actor, DETAIL_TYPES, type GantryEvent, publish } from '../../shared/adapters/events';
import { type Runtime, runtime } from '../../shared/adapters/runtime';
import {
  deleteConfig,
  InvalidPageToken,
  listConfig,
  putConfig,
  type Stored,
} from '../../shared/adapters/store/config';
import type { ConfigKind } from '../../shared/adapters/store/keys';
import { invalid, notFound } from '../../shared/core/errors';
import { redactPolicy } from '../../shared/core/policy/redact';
import type { DeploymentBody, PolicyBody, SyncBody } from '../../shared/core/schemas/config';
import { unknownEnvironmentWarnings } from '../../shared/core/warnings';
import { missingConfigIds, render, requireConfig, syncProvider } from '../../shared/services/inventory';
import { assertNotInUse, RESOURCE_IDS_PER_TASK } from '../../shared/services/rollouts/reconcile';
import { queueWork, type ReconcileScope } from '../../shared/services/rollouts/work-queue';
import { type ApiRequest, httpHandler, type Implementation, json } from './kernel';
import { CONFIG_ROUTES } from './routes/config';

/** Resources, environments, deployments, policies and the provider sync (docs/api.md section 3). */

const idParam: Record<ConfigKind, string> = {
  resource: 'resourceId',
  environment: 'environmentId',
  deployment: 'deploymentId',
  policy: 'policyId',
};

const actorOf = (request: ApiRequest): Actor => ({ keyId: request.caller?.keyId });

/** A stored object as every answer shows it: a policy's plaintext header values redacted. */
const show = (kind: ConfigKind, stored: Stored<object>) =>
  render(kind === 'policy' ? { ...stored, data: redactPolicy(stored.data as PolicyBody) } : stored);

/** The audit event of a configuration change (a deployment's own changes are filed under it). */
const changed = (
  request: ApiRequest,
  kind: ConfigKind,
  id: string,
  change: 'created' | 'replaced' | 'deleted',
): GantryEvent => ({
  detailType: DETAIL_TYPES.configurationChanged,
  deployment: kind === 'deployment' ? id : undefined,
  actor: actorOf(request),
  data: { change, kind, id },
});

/** Queues the reconciliation a write causes; a resource task names at most RESOURCE_IDS_PER_TASK ids. */
async function reconcile(rt: Runtime, kind: ConfigKind, ids: string[]): Promise<void> {
  const scopes: ReconcileScope[] = [];
  if (kind === 'deployment' || kind === 'environment')
    scopes.push(...ids.map((id) => ({ [kind]: id }) as ReconcileScope));
  if (kind === 'resource') {
    for (let i = 0; i < ids.length; i += RESOURCE_IDS_PER_TASK)
      scopes.push({ resources: ids.slice(i, i + RESOURCE_IDS_PER_TASK) });
  }
  await queueWork(
    rt,
    scopes.map((scope) => ({ type: 'reconcile', scope })),
  );
}

/** What a valid object may still be wrong about, answered as `warnings` (never stored). */
async function warningsOf(rt: Runtime, kind: ConfigKind, body: object): Promise<string[]> {
  if (kind !== 'deployment') return [];
  const named = (body as DeploymentBody).environments ?? [];
  return unknownEnvironmentWarnings(await missingConfigIds(rt, 'environment', named));
}

function crud(kind: ConfigKind, name: string): Record<string, Implementation> {
  const id = (request: ApiRequest) => request.params[idParam[kind]] as string;
  return {
    [`put${name}`]: async (request) => {
      const rt = runtime();
      const { stored, created } = await putConfig(rt, kind, id(request), request.body as object);
      await publish(rt, [changed(request, kind, stored.id, created ? 'created' : 'replaced')]);
      // Targets that appear get the newest ready version; targets that vanish are cancelled: off the
      // request, in bounded chunks (docs/api.md section 3).
      await reconcile(rt, kind, [stored.id]);
      const warnings = await warningsOf(rt, kind, stored.data);
      return json(created ? 201 : 200, { ...show(kind, stored), ...(warnings.length ? { warnings } : {}) });
    },
    [`get${name}`]: async (request) =>
      json(200, show(kind, await requireConfig<object>(runtime(), kind, id(request)))),
    [`list${name}s`]: async (request) => {
      try {
        const page = await listConfig<object>(
          runtime(),
          kind,
          request.query as { limit?: number; nextToken?: string },
        );
        return json(200, {
          items: page.items.map((item) => show(kind, item)),
          ...(page.nextToken ? { nextToken: page.nextToken } : {}),
        });
      } catch (error) {
        if (error instanceof InvalidPageToken) throw invalid(error.message);
        throw error;
      }
    },
    [`delete${name}`]: async (request) => {
      const rt = runtime();
      await assertNotInUse(rt, kind, id(request));
      if (!(await deleteConfig(rt, kind, id(request)))) throw notFound(`The ${kind} "${id(request)}"`);
      await publish(rt, [changed(request, kind, id(request), 'deleted')]);
      // Nothing a rollout holds goes (409 above); a resource's pending releases are cancelled.
      if (kind === 'resource') await reconcile(rt, kind, [id(request)]);
      return json(204);
    },
  };
}

export const handler = httpHandler(CONFIG_ROUTES, {
  ...crud('resource', 'Resource'),
  ...crud('environment', 'Environment'),
  ...crud('deployment', 'Deployment'),
  ...crud('policy', 'Policy'),
  syncResources: async (request) => {
    const rt = runtime();
    const body = request.body as SyncBody;
    const { counts, changed, deleted } = await syncProvider(
      rt,
      request.params.provider as string,
      body.resources,
      body.page,
    );
    await reconcile(rt, 'resource', [...changed, ...deleted]);
    return json(200, counts);
  },
});
