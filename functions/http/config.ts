import { type Actor, DETAIL_TYPES, type GantryEvent, publish } from '../../shared/adapters/events';
import { type Runtime, runtime } from '../../shared/adapters/runtime';
import { deleteConfig, listConfig, putConfig, type Stored } from '../../shared/adapters/store/config';
import type { ConfigKind } from '../../shared/adapters/store/keys';
import { notFound } from '../../shared/core/errors';
import { redactPolicy } from '../../shared/core/policy/redact';
import type {
  DeploymentBody,
  EnvironmentBody,
  PolicyBody,
  ResourceBody,
} from '../../shared/core/schemas/config';
import { unknownDependencyWarnings, unknownEnvironmentWarnings } from '../../shared/core/warnings';
import { missingConfigIds, render, requireConfig, syncProvider } from '../../shared/services/inventory';
import { assertNoDependencyCycle } from '../../shared/services/rollouts/dependency-state';
import { assertNotInUse, RESOURCE_IDS_PER_TASK } from '../../shared/services/rollouts/reconcile';
import { queueWork, type ReconcileScope } from '../../shared/services/rollouts/work-queue';
import { type ApiRequest, httpHandler, json } from './kernel';
import { CONFIG_ROUTES } from './routes/config';

/** Resources, environments, deployments, policies and the provider sync (docs/api.md section 3). */

type Caller = Pick<ApiRequest, 'caller'>;

const actorOf = (request: Caller): Actor => ({ keyId: request.caller?.keyId });

/** What each kind stores. */
interface Bodies {
  resource: ResourceBody;
  environment: EnvironmentBody;
  deployment: DeploymentBody;
  policy: PolicyBody;
}
const SHOWN: { [K in ConfigKind]: (data: Bodies[K]) => Bodies[K] } = {
  resource: (data) => data,
  environment: (data) => data,
  deployment: (data) => data,
  policy: redactPolicy,
};
/** A stored object as every answer shows it: a policy's plaintext header values redacted. */
const show = <K extends ConfigKind>(kind: K, stored: Stored<Bodies[K]>) =>
  render({ ...stored, data: SHOWN[kind](stored.data) });

/** The audit event of a configuration change (a deployment's own changes are filed under it). */
const changed = (
  request: Caller,
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
  if (kind === 'policy') {
    const named = (body as PolicyBody).rules.deploymentDependency?.dependsOn.map((d) => d.deployment) ?? [];
    return named.length ? unknownDependencyWarnings(await missingConfigIds(rt, 'deployment', named)) : [];
  }
  if (kind !== 'deployment') return [];
  const named = (body as DeploymentBody).environments ?? [];
  return unknownEnvironmentWarnings(await missingConfigIds(rt, 'environment', named));
}

/** The four routes of a kind of object, by the name of its id parameter. */
function crud<K extends ConfigKind, Param extends string>(kind: K, param: Param) {
  type Request = Caller & { params: Record<Param, string> };
  return {
    put: async (request: Request & { body: Bodies[K] }) => {
      const rt = runtime();
      const id = request.params[param];
      // Deployments that would depend on each other in a cycle: 400 before anything is stored.
      if (kind === 'policy')
        await assertNoDependencyCycle(rt, { kind, id, body: request.body as PolicyBody });
      if (kind === 'deployment')
        await assertNoDependencyCycle(rt, { kind, id, body: request.body as DeploymentBody });
      const { stored, created } = await putConfig(rt, kind, request.params[param], request.body);
      await publish(rt, [changed(request, kind, stored.id, created ? 'created' : 'replaced')]);
      // Targets that appear get the newest ready version; targets that vanish are cancelled: off the
      // request, in bounded chunks (docs/api.md section 3).
      await reconcile(rt, kind, [stored.id]);
      const warnings = await warningsOf(rt, kind, stored.data);
      return json(created ? 201 : 200, { ...show(kind, stored), ...(warnings.length ? { warnings } : {}) });
    },
    get: async (request: Request) =>
      json(200, show(kind, await requireConfig<Bodies[K]>(runtime(), kind, request.params[param]))),
    // A nextToken from another list is a 400 (middlewares/errors.ts).
    list: async (request: { query: { limit?: number; nextToken?: string } }) => {
      const page = await listConfig<Bodies[K]>(runtime(), kind, request.query);
      return json(200, {
        items: page.items.map((item) => show(kind, item)),
        ...(page.nextToken ? { nextToken: page.nextToken } : {}),
      });
    },
    remove: async (request: Request) => {
      const rt = runtime();
      const id = request.params[param];
      await assertNotInUse(rt, kind, id);
      if (!(await deleteConfig(rt, kind, id))) throw notFound(`The ${kind} "${id}"`);
      await publish(rt, [changed(request, kind, id, 'deleted')]);
      // Nothing a rollout holds goes (409 above); a resource's pending releases are cancelled.
      if (kind === 'resource') await reconcile(rt, kind, [id]);
      return json(204);
    },
  };
}

const resource = crud('resource', 'resourceId');
const environment = crud('environment', 'environmentId');
const deployment = crud('deployment', 'deploymentId');
const policy = crud('policy', 'policyId');

export const handler = httpHandler(CONFIG_ROUTES, {
  putResource: resource.put,
  getResource: resource.get,
  listResources: resource.list,
  deleteResource: resource.remove,
  putEnvironment: environment.put,
  getEnvironment: environment.get,
  listEnvironments: environment.list,
  deleteEnvironment: environment.remove,
  putDeployment: deployment.put,
  getDeployment: deployment.get,
  listDeployments: deployment.list,
  deleteDeployment: deployment.remove,
  putPolicy: policy.put,
  getPolicy: policy.get,
  listPolicys: policy.list,
  deletePolicy: policy.remove,
  syncResources: async (request) => {
    const rt = runtime();
    const { counts, changed, deleted } = await syncProvider(
      rt,
      request.params.provider,
      request.body.resources,
      request.body.page,
    );
    await reconcile(rt, 'resource', [...changed, ...deleted]);
    return json(200, counts);
  },
});
