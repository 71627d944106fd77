import { APPROVAL_ROUTES } from './approvals';
import { CONFIG_ROUTES } from './config';
import { FREEZE_ROUTES } from './freezes';
import { JOB_ROUTES } from './jobs';
import { META_ROUTES } from './meta';
import { PLAN_ROUTES } from './plan';
import type { RouteSpec } from './spec';
import { SUBSCRIPTION_ROUTES } from './subscriptions';
import { UI_ROUTES } from './ui';
import { VERSION_ROUTES } from './versions';

export { type Auth, type HttpFunctionId, type RouteSpec, routeKey, UNKNOWN_ROUTE_FUNCTION } from './spec';

/** Every HTTP route: read by the local server (routing), the CDK stack and the OpenAPI document. */
export const ROUTES: RouteSpec[] = [
  ...META_ROUTES,
  ...CONFIG_ROUTES,
  ...VERSION_ROUTES,
  ...PLAN_ROUTES,
  ...JOB_ROUTES,
  ...APPROVAL_ROUTES,
  ...FREEZE_ROUTES,
  ...SUBSCRIPTION_ROUTES,
  ...UI_ROUTES,
];
