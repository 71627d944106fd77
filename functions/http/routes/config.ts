import type * as z from 'zod/mini';
import { Id, ResourceId } from '../../../shared/core/schemas/common';
import {
  DeploymentBody,
  EnvironmentBody,
  PolicyBody,
  ResourceBody,
  SyncBody,
} from '../../../shared/core/schemas/config';
import { ADMIN, defineRoutes, Paging, READ } from './spec';

/** Resources, environments, deployments, policies and the provider sync (docs/api.md section 3). */

const crudRoutes = <
  const Kind extends 'Resource' | 'Environment' | 'Deployment' | 'Policy',
  const Param extends string,
  Body extends z.ZodMiniType,
>(
  kind: Kind,
  plural: string,
  idParam: Param,
  idSchema: z.ZodMiniType<string>,
  body: Body,
) => {
  const params = { [idParam]: idSchema } as Record<Param, z.ZodMiniType<string>>;
  return defineRoutes([
    {
      operationId: `put${kind}`,
      method: 'PUT',
      path: `/v1/${plural}/{${idParam}}`,
      fn: 'api-config',
      auth: { type: 'signed', scopes: ADMIN },
      summary: `Create or replace a ${kind.toLowerCase()}`,
      params,
      body,
      // `warnings` (a deployment naming an environment that does not exist) is answered, never stored.
      responses: {
        200: 'Replaced: the stored object, and "warnings": [...] when there are any',
        201: 'Created: the stored object, and "warnings": [...] when there are any',
      },
      answer: kind,
    },
    {
      operationId: `get${kind}`,
      method: 'GET',
      path: `/v1/${plural}/{${idParam}}`,
      fn: 'api-config',
      auth: { type: 'signed', scopes: READ },
      summary: `Get a ${kind.toLowerCase()}`,
      params,
      responses: { 200: 'The stored object', 404: `Unknown ${kind.toLowerCase()}` },
      answer: kind,
    },
    {
      operationId: `list${kind}s`,
      method: 'GET',
      path: `/v1/${plural}`,
      fn: 'api-config',
      auth: { type: 'signed', scopes: READ },
      summary: `List ${plural}`,
      query: Paging,
      responses: { 200: '{"items": [...], "nextToken"?}' },
      answer: `${kind}List` as const,
    },
    {
      operationId: `delete${kind}`,
      method: 'DELETE',
      path: `/v1/${plural}/{${idParam}}`,
      fn: 'api-config',
      auth: { type: 'signed', scopes: ADMIN },
      summary: `Delete a ${kind.toLowerCase()} (409 while a rollout uses it)`,
      params,
      responses: {
        204: 'Deleted',
        404: `Unknown ${kind.toLowerCase()}`,
        409: 'A rollout uses it',
      },
    },
  ]);
};

export const CONFIG_ROUTES = defineRoutes([
  ...crudRoutes('Resource', 'resources', 'resourceId', ResourceId, ResourceBody),
  ...crudRoutes('Environment', 'environments', 'environmentId', Id, EnvironmentBody),
  ...crudRoutes('Deployment', 'deployments', 'deploymentId', Id, DeploymentBody),
  ...crudRoutes('Policy', 'policies', 'policyId', Id, PolicyBody),
  {
    operationId: 'syncResources',
    method: 'POST',
    path: '/v1/resource-providers/{provider}/sync',
    fn: 'api-config',
    auth: { type: 'signed', scopes: ADMIN },
    summary: "Replace a provider's whole set of resources",
    params: { provider: Id },
    body: SyncBody,
    responses: {
      200: '{"created", "updated", "deleted", "unchanged"}',
      409: 'The sync session is closed or dropped, or a resource belongs to another provider',
    },
    answer: 'SyncCounts',
  },
]);
