import * as z from 'zod';
import {
  ApprovalDecisionBody,
  DeploymentBody,
  EnvironmentBody,
  ForceBody,
  Id,
  JobStatusBody,
  PolicyBody,
  ReasonBody,
  ResourceBody,
  ResourceId,
  RollbackBody,
  type Scope,
  SyncBody,
  Tag,
  VersionBody,
  VersionPatch,
} from '../../shared/schemas';

/**
 * Every HTTP route, in one table read by the handlers (dispatch by route key), the local server
 * (routing), the CDK stack (API Gateway routes) and the OpenAPI document. No handler code here.
 */
export type HttpFunctionId =
  | 'api-config'
  | 'api-versions'
  | 'api-jobs'
  | 'api-approvals'
  | 'api-meta'
  | 'api-ui';

export type Auth =
  | { type: 'public' }
  | { type: 'signed'; scopes: readonly Scope[] }
  /** Signed with jobs:write, or a job's own bearer token (API.md section 6). */
  | { type: 'job' };

export interface RouteSpec {
  operationId: string;
  method: 'GET' | 'PUT' | 'POST' | 'PATCH' | 'DELETE';
  path: string;
  fn: HttpFunctionId;
  auth: Auth;
  summary: string;
  params?: Record<string, z.ZodType>;
  query?: z.ZodObject;
  body?: z.ZodType;
  /** `form`: application/x-www-form-urlencoded, as browsers and Slack send it (API.md section 1). */
  bodyType?: 'json' | 'form';
  /** Success status codes and what they mean, for the OpenAPI document. */
  responses: Record<number, string>;
}

const READ: readonly Scope[] = ['read'];
const ADMIN: readonly Scope[] = ['admin'];
const VERSIONS_READ: readonly Scope[] = ['read', 'versions:write'];
const VERSIONS_WRITE: readonly Scope[] = ['versions:write'];

const Paging = z.object({
  limit: z.coerce.number().int().min(1).max(1000).optional(),
  nextToken: z.string().max(2048).optional(),
});

const configRoutes = (
  kind: string,
  plural: string,
  idParam: string,
  idSchema: z.ZodType,
  body: z.ZodType,
): RouteSpec[] => [
  {
    operationId: `put${kind}`,
    method: 'PUT',
    path: `/v1/${plural}/{${idParam}}`,
    fn: 'api-config',
    auth: { type: 'signed', scopes: ADMIN },
    summary: `Create or replace a ${kind.toLowerCase()}`,
    params: { [idParam]: idSchema },
    body,
    responses: { 200: 'Replaced', 201: 'Created' },
  },
  {
    operationId: `get${kind}`,
    method: 'GET',
    path: `/v1/${plural}/{${idParam}}`,
    fn: 'api-config',
    auth: { type: 'signed', scopes: READ },
    summary: `Get a ${kind.toLowerCase()}`,
    params: { [idParam]: idSchema },
    responses: { 200: 'The stored object' },
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
  },
  {
    operationId: `delete${kind}`,
    method: 'DELETE',
    path: `/v1/${plural}/{${idParam}}`,
    fn: 'api-config',
    auth: { type: 'signed', scopes: ADMIN },
    summary: `Delete a ${kind.toLowerCase()} (409 while a rollout uses it)`,
    params: { [idParam]: idSchema },
    responses: { 204: 'Deleted' },
  },
];

const version = { deploymentId: Id, tag: Tag };

export const ROUTES: RouteSpec[] = [
  {
    operationId: 'health',
    method: 'GET',
    path: '/healthz',
    fn: 'api-meta',
    auth: { type: 'public' },
    summary: 'Liveness',
    responses: { 200: '{"ok": true}' },
  },
  {
    operationId: 'openapi',
    method: 'GET',
    path: '/openapi.json',
    fn: 'api-meta',
    auth: { type: 'public' },
    summary: 'This OpenAPI 3.1 document',
    responses: { 200: 'OpenAPI document' },
  },
  ...configRoutes('Resource', 'resources', 'resourceId', ResourceId, ResourceBody),
  ...configRoutes('Environment', 'environments', 'environmentId', Id, EnvironmentBody),
  ...configRoutes('Deployment', 'deployments', 'deploymentId', Id, DeploymentBody),
  ...configRoutes('Policy', 'policies', 'policyId', Id, PolicyBody),
  {
    operationId: 'syncResources',
    method: 'POST',
    path: '/v1/resource-providers/{provider}/sync',
    fn: 'api-config',
    auth: { type: 'signed', scopes: ADMIN },
    summary: "Replace a provider's whole set of resources",
    params: { provider: Id },
    body: SyncBody,
    responses: { 200: '{"created", "updated", "deleted", "unchanged"}' },
  },
  {
    operationId: 'createVersion',
    method: 'POST',
    path: '/v1/deployments/{deploymentId}/versions',
    fn: 'api-versions',
    auth: { type: 'signed', scopes: VERSIONS_WRITE },
    summary: 'Create a version; ready versions start one rollout per release target',
    params: { deploymentId: Id },
    body: VersionBody,
    responses: { 200: 'Same tag and body as before', 201: 'Created' },
  },
  {
    operationId: 'listVersions',
    method: 'GET',
    path: '/v1/deployments/{deploymentId}/versions',
    fn: 'api-versions',
    auth: { type: 'signed', scopes: VERSIONS_READ },
    summary: 'List the versions of a deployment, newest first',
    params: { deploymentId: Id },
    query: Paging,
    responses: { 200: '{"items": [...], "nextToken"?}' },
  },
  {
    operationId: 'getVersion',
    method: 'GET',
    path: '/v1/deployments/{deploymentId}/versions/{tag}',
    fn: 'api-versions',
    auth: { type: 'signed', scopes: VERSIONS_READ },
    summary: 'A version with its releases',
    params: version,
    responses: { 200: '{"version", "releases"}' },
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
    responses: { 200: '{"version", "releases"}' },
  },
  {
    operationId: 'cancelVersion',
    method: 'POST',
    path: '/v1/deployments/{deploymentId}/versions/{tag}/cancel',
    fn: 'api-versions',
    auth: { type: 'signed', scopes: ADMIN },
    summary: 'Cancel the releases of a version that have not finished',
    params: version,
    body: ReasonBody.optional(),
    responses: { 200: '{"version", "releases"}' },
  },
  ...(['pause', 'resume'] as const).map(
    (action): RouteSpec => ({
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
      body: ReasonBody.optional(),
      responses: { 200: '{"paused", "pausedBy", "reason"}' },
    }),
  ),
  {
    operationId: 'listReleaseTargets',
    method: 'GET',
    path: '/v1/release-targets',
    fn: 'api-versions',
    auth: { type: 'signed', scopes: VERSIONS_READ },
    summary: 'Per release target: current (last successful) version, desired version, live status',
    query: z.object({ deployment: Id.optional(), environment: Id.optional() }),
    responses: { 200: '{"items": [...]}' },
  },
  {
    operationId: 'reportJobStatus',
    method: 'POST',
    path: '/v1/jobs/{jobId}/status',
    fn: 'api-jobs',
    auth: { type: 'job' },
    summary: "A job agent reports a job's status (bearer job token or a jobs:write key)",
    params: { jobId: z.string().regex(/^[a-z0-9]{1,64}$/) },
    body: JobStatusBody,
    responses: { 200: 'The job' },
  },
  {
    operationId: 'listEvents',
    method: 'GET',
    path: '/v1/events',
    fn: 'api-meta',
    auth: { type: 'signed', scopes: READ },
    summary: 'The audit trail, newest last',
    query: Paging.extend({ deployment: Id.optional(), since: z.iso.datetime().optional() }),
    responses: { 200: '{"items": [...], "nextToken"?}' },
  },
];

const APPROVAL_ID = z.string().regex(/^a[0-9a-f]{32}$/, 'must be an approval id');

ROUTES.push(
  {
    operationId: 'forceRelease',
    method: 'POST',
    path: '/v1/release-targets/force',
    fn: 'api-versions',
    auth: { type: 'signed', scopes: ADMIN },
    summary: 'Skip the remaining gates of one release (recorded with its reason)',
    body: ForceBody,
    responses: { 200: 'The release' },
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
    responses: { 202: '{"jobId", "toVersion"}' },
  },
  {
    operationId: 'getPlan',
    method: 'GET',
    path: '/v1/deployments/{deploymentId}/versions/{tag}/plan',
    fn: 'api-versions',
    auth: { type: 'signed', scopes: VERSIONS_READ },
    summary: 'What will happen to each release target, computed ahead of time with no side effects',
    params: version,
    responses: {
      200: '{"version", "targets": [{"gates", "position", "slot", "estimatedStart", ...}], "warnings"}',
    },
  },
  {
    operationId: 'listApprovals',
    method: 'GET',
    path: '/v1/approvals',
    fn: 'api-approvals',
    auth: { type: 'signed', scopes: ['read', 'approvals:write'] },
    summary: 'Approvals, newest first',
    query: z.object({ status: z.enum(['pending', 'approved', 'rejected', 'expired']).optional() }),
    responses: { 200: '{"items": [...]}' },
  },
  {
    operationId: 'decideApproval',
    method: 'POST',
    path: '/v1/approvals/{approvalId}/decision',
    fn: 'api-approvals',
    auth: { type: 'signed', scopes: ['approvals:write'] },
    summary: 'Approve or reject through the API',
    params: { approvalId: APPROVAL_ID },
    body: ApprovalDecisionBody,
    responses: { 200: 'The approval' },
  },
  {
    operationId: 'reviewPage',
    method: 'GET',
    path: '/approvals/{approvalId}',
    fn: 'api-approvals',
    auth: { type: 'public' },
    summary: 'The review page of an approval link (HTML; never changes anything)',
    params: { approvalId: z.string().max(64) },
    query: z.object({ t: z.string().max(256).optional() }),
    responses: { 200: 'HTML page', 403: 'Bad or expired token (HTML)' },
  },
  {
    operationId: 'decideByLink',
    method: 'POST',
    path: '/approvals/{approvalId}',
    fn: 'api-approvals',
    auth: { type: 'public' },
    summary: 'The decision form of the review page (form fields t, decision, approver)',
    params: { approvalId: z.string().max(64) },
    bodyType: 'form',
    body: z.object({
      t: z.string().max(256).optional(),
      decision: z.enum(['approve', 'reject']).optional(),
      approver: z.string().max(128).optional(),
    }),
    responses: {
      200: 'HTML confirmation',
      403: 'Bad token (HTML)',
      409: 'Already decided or expired (HTML)',
    },
  },
  {
    operationId: 'slackInteractions',
    method: 'POST',
    path: '/slack/interactions',
    fn: 'api-approvals',
    auth: { type: 'public' },
    summary: "Slack's interactivity callback (buttons), verified with Slack's v0 signature",
    bodyType: 'form',
    body: z.object({
      payload: z
        .string()
        .max(1024 * 1024)
        .optional(),
    }),
    responses: { 200: 'Acknowledged' },
  },
);

// The status page (issue 9): a signed route mints read-only view links; the page, its assets and its
// read API are public routes whose handler checks the view token (Authorization: View <token>).
const VIEW = 'Needs a view token (Authorization: View <token>) from POST /v1/view-links';
const uiRead = (operationId: string, path: string, summary: string, query: z.ZodObject): RouteSpec => ({
  operationId,
  method: 'GET',
  path,
  fn: 'api-ui',
  auth: { type: 'public' },
  summary: `${summary}. ${VIEW}`,
  query,
  responses: { 200: 'JSON for the status page', 401: 'Missing, forged or expired view token', 403: VIEW },
});
const OfDeployment = z.object({ deployment: Id });
const OfVersion = z.object({ deployment: Id, tag: Tag });

ROUTES.push(
  {
    operationId: 'createViewLink',
    method: 'POST',
    path: '/v1/view-links',
    fn: 'api-ui',
    auth: { type: 'signed', scopes: READ },
    summary: 'Mint a short-lived, read-only link to the status page (it holds no API secret)',
    body: z
      .strictObject({
        ttlSeconds: z.number().int().min(60).max(86_400).optional(),
        deployment: Id.optional(),
      })
      .optional(),
    responses: { 201: '{"url", "expiresAt", "deployment"}' },
  },
  {
    operationId: 'statusPage',
    method: 'GET',
    path: '/ui',
    fn: 'api-ui',
    auth: { type: 'public' },
    summary: 'The status page (HTML); its link carries the view token as ?v=',
    query: z.object({ v: z.string().max(512).optional() }),
    responses: { 200: 'HTML page' },
  },
  {
    operationId: 'statusPageAsset',
    method: 'GET',
    path: '/ui/assets/{name}',
    fn: 'api-ui',
    auth: { type: 'public' },
    summary: 'A static asset of the status page (CSS, JavaScript)',
    params: { name: z.string().regex(/^[a-z0-9.-]{1,64}$/) },
    responses: { 200: 'The asset' },
  },
  uiRead('uiDeployments', '/ui/api/deployments', 'Deployments the view token may read', z.object({})),
  uiRead('uiMatrix', '/ui/api/matrix', "A deployment's release matrix", OfDeployment),
  uiRead('uiVersions', '/ui/api/versions', "A deployment's recent versions, newest first", OfDeployment),
  uiRead('uiTimeline', '/ui/api/timeline', "A version's timeline (Gantt rows per target)", OfVersion),
  uiRead('uiPlan', '/ui/api/plan', "A version's plan drawn as a timeline of estimates", OfVersion),
);

export const routeKey = (route: Pick<RouteSpec, 'method' | 'path'>) => `${route.method} ${route.path}`;
export const routesOf = (fn: HttpFunctionId) => ROUTES.filter((route) => route.fn === fn);
