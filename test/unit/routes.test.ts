import { describe, expect, it } from 'vitest';
import { APPROVAL_ROUTES } from '../../functions/http/routes/approvals';
import { CONFIG_ROUTES } from '../../functions/http/routes/config';
import { FREEZE_ROUTES } from '../../functions/http/routes/freezes';
import { ROUTES } from '../../functions/http/routes/index';
import { JOB_ROUTES } from '../../functions/http/routes/jobs';
import { META_ROUTES } from '../../functions/http/routes/meta';
import { PLAN_ROUTES } from '../../functions/http/routes/plan';
import { type HttpFunctionId, type RouteSpec, routeKey } from '../../functions/http/routes/spec';
import { SUBSCRIPTION_ROUTES } from '../../functions/http/routes/subscriptions';
import { UI_ROUTES } from '../../functions/http/routes/ui';
import { VERSION_ROUTES } from '../../functions/http/routes/versions';
import { FUNCTIONS } from '../../functions/registry';

/**
 * Each HTTP function dispatches only the routes of its own module, while the stack sends a route to
 * the function its `fn` names: the two must agree, or API Gateway would call a function that answers
 * 404 for it.
 */
const MODULES: [HttpFunctionId, readonly RouteSpec[]][] = [
  ['api-config', CONFIG_ROUTES],
  ['api-versions', VERSION_ROUTES],
  ['api-plan', PLAN_ROUTES],
  ['api-jobs', JOB_ROUTES],
  ['api-approvals', APPROVAL_ROUTES],
  ['api-meta', META_ROUTES],
  ['api-ui', UI_ROUTES],
  ['api-freezes', FREEZE_ROUTES],
  ['api-subscriptions', SUBSCRIPTION_ROUTES],
];

describe('the route modules', () => {
  it.each(MODULES)('%s: every route of its module names it', (fn, routes) => {
    expect(routes.length).toBeGreaterThan(0);
    expect(routes.filter((route) => route.fn !== fn).map(routeKey)).toEqual([]);
  });

  it('cover every HTTP function of the registry, once', () => {
    const httpFunctions = FUNCTIONS.filter((spec) => spec.kind === 'http').map((spec) => spec.id);

    expect(MODULES.map(([fn]) => fn).sort()).toEqual([...httpFunctions].sort());
  });

  it('join into a table with each method and path once', () => {
    const keys = ROUTES.map(routeKey);

    expect(ROUTES.length).toBe(MODULES.reduce((n, [, routes]) => n + routes.length, 0));
    expect(keys.filter((key, i) => keys.indexOf(key) !== i)).toEqual([]);
  });
});
