import { Id, Tag } from '../../../shared/core/schemas/common';
import { defineRoutes, OfVersion, Paging, uiRead, VERSIONS_READ } from './spec';

/**
 * Plans: what a version will do to each release target, for the API and for the status page. The
 * heaviest read (every target against every policy, windows expanded), so a function of its own.
 */
export const PLAN_ROUTES = defineRoutes([
  {
    operationId: 'getPlan',
    method: 'GET',
    path: '/v1/deployments/{deploymentId}/versions/{tag}/plan',
    fn: 'api-plan',
    auth: { type: 'signed', scopes: VERSIONS_READ },
    summary:
      'What will happen to each release target, computed ahead of time with no side effects (a page of at most 1,000 targets)',
    params: { deploymentId: Id, tag: Tag },
    query: Paging,
    responses: {
      200: '{"version", "targetCount", "targets": [{"gates", "position", "estimatedStart", ...}], "warnings", "warningCount", "nextToken"?}',
      404: 'Unknown deployment or version',
    },
    answer: 'Plan',
  },
  uiRead(
    'api-plan',
    'uiPlan',
    '/ui/api/plan',
    "A version's plan drawn as a timeline of estimates",
    OfVersion,
    'UiPlan',
  ),
]);
