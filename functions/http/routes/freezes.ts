import { Id } from '../../../shared/core/schemas/common';
import { FreezeBody } from '../../../shared/core/schemas/freezes';
import { ADMIN, defineRoutes, OfDeployment, Paging, READ, uiRead } from './spec';

/** Freezes, "stop the line" (docs/api.md section 10). */
export const FREEZE_ROUTES = defineRoutes([
  {
    operationId: 'putFreeze',
    method: 'PUT',
    path: '/v1/freezes/{freezeId}',
    fn: 'api-freezes',
    auth: { type: 'signed', scopes: ADMIN },
    summary:
      'Create or replace a freeze: while it is active, releases its selector matches that have not dispatched wait (waitingFor "freeze"); until ends it by itself, a calendar makes each event of an iCalendar feed a freeze',
    params: { freezeId: Id },
    body: FreezeBody,
    responses: { 200: 'Replaced: the freeze', 201: 'Created: the freeze' },
    answer: 'Freeze',
  },
  {
    operationId: 'getFreeze',
    method: 'GET',
    path: '/v1/freezes/{freezeId}',
    fn: 'api-freezes',
    auth: { type: 'signed', scopes: READ },
    summary: "A freeze: whether it is active and until when, and its calendar's last good copy",
    params: { freezeId: Id },
    responses: { 200: 'The freeze', 404: 'Unknown freeze' },
    answer: 'Freeze',
  },
  {
    operationId: 'listFreezes',
    method: 'GET',
    path: '/v1/freezes',
    fn: 'api-freezes',
    auth: { type: 'signed', scopes: READ },
    summary: 'Freezes, by id (an ended one is listed for 30 days)',
    query: Paging,
    responses: { 200: '{"items": [...], "nextToken"?}' },
    answer: 'FreezeList',
  },
  {
    operationId: 'deleteFreeze',
    method: 'DELETE',
    path: '/v1/freezes/{freezeId}',
    fn: 'api-freezes',
    auth: { type: 'signed', scopes: ADMIN },
    summary: 'End a freeze at once: the releases it held go on through their other gates',
    params: { freezeId: Id },
    responses: { 204: 'Ended and deleted', 404: 'Unknown freeze' },
  },
  // The status page's banner is read here, where CEL is bundled anyway (api-ui does without it).
  uiRead(
    'api-freezes',
    'uiFreezes',
    '/ui/api/freezes',
    'The active freezes that hold a deployment: reason, environments and end (the banner)',
    OfDeployment,
    'UiFreezes',
  ),
]);
