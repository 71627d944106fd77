import * as z from 'zod/mini';
import { Id, Tag } from '../../../shared/core/schemas/common';
import { RELEASE_STATUSES } from '../../../shared/core/status';
import { defineRoutes, OfDeployment, OfVersion, Paging, READ, uiRead } from './spec';

/** Which targets of a version the drill-down (and its timeline) shows: one page of them. */
const TargetSelection = z.object({
  ...OfVersion.shape,
  ...Paging.shape,
  environment: z.optional(Id),
  status: z.optional(z.enum(RELEASE_STATUSES)),
  q: z.optional(z.string().check(z.maxLength(100))),
});

/**
 * The status page (issue 9): a signed route mints read-only view links; the page, its assets and its
 * read API are public routes whose handler checks the view token (Authorization: View <token>).
 */

/** Where the status page lives; `/` leads there. */
export const STATUS_PAGE_PATH = '/ui';

export const UI_ROUTES = defineRoutes([
  {
    operationId: 'home',
    method: 'GET',
    path: '/',
    fn: 'api-ui',
    auth: { type: 'public' },
    summary: 'Leads to the status page',
    responses: { 302: `Redirect to ${STATUS_PAGE_PATH}` },
  },
  {
    operationId: 'createViewLink',
    method: 'POST',
    path: '/v1/view-links',
    fn: 'api-ui',
    auth: { type: 'signed', scopes: READ },
    summary: 'Mint a short-lived, read-only link to the status page (it holds no API secret)',
    body: z.optional(
      z.strictObject({
        ttlSeconds: z.optional(z.int().check(z.minimum(60), z.maximum(86_400))),
        deployment: z.optional(Id),
      }),
    ),
    responses: { 201: '{"url", "expiresAt", "deployment"}', 404: 'Unknown deployment' },
    answer: 'ViewLink',
  },
  {
    operationId: 'statusPage',
    method: 'GET',
    path: STATUS_PAGE_PATH,
    fn: 'api-ui',
    auth: { type: 'public' },
    summary: 'The status page (HTML); its link carries the view token as ?v=',
    query: z.object({ v: z.optional(z.string().check(z.maxLength(512))) }),
    responses: { 200: 'HTML page' },
    produces: ['text/html'],
  },
  {
    operationId: 'statusPageAsset',
    method: 'GET',
    path: '/ui/assets/{name}',
    fn: 'api-ui',
    auth: { type: 'public' },
    summary: 'A static asset of the status page (CSS, JavaScript)',
    params: { name: z.string().check(z.regex(/^[a-z0-9.-]{1,64}$/)) },
    responses: { 200: 'The asset', 404: 'No such asset' },
    produces: ['text/css', 'text/javascript'],
  },
  uiRead(
    'api-ui',
    'uiDeployments',
    '/ui/api/deployments',
    'Deployments the view token may read',
    z.object({}),
    'UiDeployments',
  ),
  uiRead(
    'api-ui',
    'uiSummary',
    '/ui/api/summary',
    "Per environment: a version's releases counted per status (the newest version without tag) and the versions its targets run",
    z.object({ deployment: Id, tag: z.optional(Tag) }),
    'UiSummary',
  ),
  uiRead(
    'api-ui',
    'uiTargets',
    '/ui/api/targets',
    "One page of a version's release targets in an environment, by search (resource id or name) and status",
    z.object({ ...TargetSelection.shape, environment: Id }),
    'UiTargets',
  ),
  uiRead(
    'api-ui',
    'uiVersions',
    '/ui/api/versions',
    "A deployment's recent versions, newest first",
    OfDeployment,
    'UiVersions',
  ),
  uiRead(
    'api-ui',
    'uiTimeline',
    '/ui/api/timeline',
    "A version's timeline (Gantt rows) for one page of its targets, selected as for /ui/api/targets",
    TargetSelection,
    'UiTimeline',
  ),
  uiRead(
    'api-ui',
    'uiDeliveryMetrics',
    '/ui/api/metrics',
    "A deployment's delivery metrics (DORA) over the last 30 days, in an environment or all, and the releases that finished each day (the chart)",
    z.object({ deployment: Id, environment: z.optional(Id) }),
    'UiDeliveryMetrics',
  ),
]);
