import * as z from 'zod/mini';
import { Id, Tag } from '../../../shared/core/schemas/common';
import {
  ForceBody,
  ReasonBody,
  RollbackBody,
  VersionBody,
  VersionPatch,
} from '../../../shared/core/schemas/rollouts';
import { ADMIN, defineRoutes, Paging, VERSIONS_READ, VERSIONS_WRITE } from './spec';

/** Versions, their releases, release targets and overrides (docs/api.md sections 4 and 5). */

const version = { deploymentId: Id, tag: Tag };
const OptionalReason = z.optional(ReasonBody);

/** Pausing and resuming a deployment: one route each, alike. */
const pauseRoute = <const Action extends 'pause' | 'resume'>(action: Action) =>
  ({
    operationId: `${action}Deployment`,
    method: 'POST',
    path: `/v1/deployments/{deploymentId}/${action}`,
    fn: 'api-versions',
    auth: { type: 'signed', scopes: ADMIN },
    summary:
      action === 'pause'
        ? 'Pause a deployment: no job is dispatched; releases wait with waitingFor "paused"'
        : 'Resume a paused deployment',
    params: { deploymentId: Id },
    body: OptionalReason,
    responses: { 200: '{"paused", "pausedBy", "reason"}', 404: 'Unknown deployment' },
    answer: 'PauseState',
  }) as const;

export const VERSION_ROUTES = defineRoutes([
  {
    operationId: 'createVersion',
    method: 'POST',
    path: '/v1/deployments/{deploymentId}/versions',
    fn: 'api-versions',
    auth: { type: 'signed', scopes: VERSIONS_WRITE },
    summary: 'Create a version; ready versions start one rollout per release target',
    params: { deploymentId: Id },
    body: VersionBody,
    responses: {
      200: 'Same tag and body as before: {"version", "releaseTargets", "releaseTargetCount", "warnings"}',
      201: 'Created: {"version", "releaseTargets", "releaseTargetCount", "warnings": [...]}',
      404: 'Unknown deployment',
      409: 'The tag exists with another body',
    },
    answer: 'VersionCreated',
  },
  {
    operationId: 'listVersions',
    method: 'GET',
    path: '/v1/deployments/{deploymentId}/versions',
    fn: 'api-versions',
    auth: { type: 'signed', scopes: VERSIONS_READ },
    summary: 'List the versions of a deployment, newest first, without their config',
    params: { deploymentId: Id },
    query: Paging,
    responses: { 200: '{"items": [...], "nextToken"?}', 404: 'Unknown deployment' },
    answer: 'VersionList',
  },
  {
    operationId: 'getVersion',
    method: 'GET',
    path: '/v1/deployments/{deploymentId}/versions/{tag}',
    fn: 'api-versions',
    auth: { type: 'signed', scopes: VERSIONS_READ },
    summary:
      'A version, its releases counted per status (summary) and a page of its releases (limit: default and maximum 1,000)',
    params: version,
    query: Paging,
    responses: {
      200: '{"version", "summary": {"<status>": n}, "releases": [...], "nextToken"?}',
      404: 'Unknown deployment or version',
    },
    answer: 'VersionDetail',
  },
  {
    operationId: 'patchVersion',
    method: 'PATCH',
    path: '/v1/deployments/{deploymentId}/versions/{tag}',
    fn: 'api-versions',
    auth: { type: 'signed', scopes: VERSIONS_WRITE },
    summary: 'Mark a building version ready (starts its rollouts) or rejected',
    params: version,
    body: VersionPatch,
    responses: {
      200: '{"version", "summary", "releases", "nextToken"?}',
      404: 'Unknown deployment or version',
      409: 'A rejected version cannot become ready, nor a ready one building',
    },
    answer: 'VersionDetail',
  },
  {
    operationId: 'cancelVersion',
    method: 'POST',
    path: '/v1/deployments/{deploymentId}/versions/{tag}/cancel',
    fn: 'api-versions',
    auth: { type: 'signed', scopes: ADMIN },
    summary: 'Cancel the releases of a version that have not finished',
    params: version,
    body: OptionalReason,
    responses: {
      200: '{"version", "summary", "releases", "nextToken"?}',
      404: 'Unknown deployment or version',
    },
    answer: 'VersionDetail',
  },
  pauseRoute('pause'),
  pauseRoute('resume'),
  {
    operationId: 'listReleaseTargets',
    method: 'GET',
    path: '/v1/release-targets',
    fn: 'api-versions',
    auth: { type: 'signed', scopes: VERSIONS_READ },
    summary: 'Per release target: current (last successful) version, desired version, live status',
    query: z.extend(Paging, { deployment: z.optional(Id), environment: z.optional(Id) }),
    responses: { 200: '{"items": [...], "nextToken"?}' },
    answer: 'ReleaseTargetList',
  },
  {
    operationId: 'forceRelease',
    method: 'POST',
    path: '/v1/release-targets/force',
    fn: 'api-versions',
    auth: { type: 'signed', scopes: ADMIN },
    summary: 'Skip the remaining gates of one release (recorded with its reason)',
    body: ForceBody,
    responses: {
      200: 'The release',
      404: 'Unknown release',
      409: 'The release is neither pending nor waiting',
    },
    answer: 'Release',
  },
  {
    operationId: 'rollbackTarget',
    method: 'POST',
    path: '/v1/release-targets/rollback',
    fn: 'api-versions',
    auth: { type: 'signed', scopes: ADMIN },
    summary:
      'Redeploy toVersion, or the successful version before the current one, past every gate (job kind rollback)',
    body: RollbackBody,
    responses: {
      202: '{"jobId", "toVersion"}',
      404: 'Unknown release target',
      409: 'Nothing to roll back to, a version that cannot be deployed, or a rollout of it in progress',
    },
    answer: 'RollbackStarted',
  },
]);
