import * as z from 'zod/mini';
import { Id } from '../../../shared/core/schemas/common';
import { defineRoutes, Paging, READ } from './spec';

/** A date (whole UTC day) or an ISO time of the delivery metrics' range. */
const Day = z.union([z.iso.date(), z.iso.datetime({ offset: true })]);

/** Health, the OpenAPI document, the audit trail and the delivery metrics drawn from it. */
export const META_ROUTES = defineRoutes([
  {
    operationId: 'health',
    method: 'GET',
    path: '/healthz',
    fn: 'api-meta',
    auth: { type: 'public' },
    summary: 'Liveness',
    responses: { 200: '{"ok": true}' },
    answer: 'Health',
  },
  {
    operationId: 'openapi',
    method: 'GET',
    path: '/openapi.json',
    fn: 'api-meta',
    auth: { type: 'public' },
    summary: 'This OpenAPI 3.1 document',
    responses: { 200: 'OpenAPI document' },
    answer: 'OpenApiDocument',
  },
  {
    operationId: 'listEvents',
    method: 'GET',
    path: '/v1/events',
    fn: 'api-meta',
    auth: { type: 'signed', scopes: READ },
    summary: 'The audit trail, newest last',
    query: z.extend(Paging, { deployment: z.optional(Id), since: z.optional(z.iso.datetime()) }),
    responses: { 200: '{"items": [...], "nextToken"?}' },
    answer: 'EventList',
  },
  {
    operationId: 'getDeliveryMetrics',
    method: 'GET',
    path: '/v1/metrics/delivery',
    fn: 'api-meta',
    auth: { type: 'signed', scopes: READ },
    summary:
      'Delivery metrics (DORA) of a deployment (all without one) in an environment (all without one), over whole UTC days from since to until (default the last 30, at most 92): deployments per day, lead time, change failure rate, time to restore, and the counts they come from. A key limited to some deployments names one of them',
    query: z.object({
      deployment: z.optional(Id),
      environment: z.optional(Id),
      since: z.optional(Day),
      until: z.optional(Day),
    }),
    responses: { 200: 'The four measures and their counts (nulls where nothing finished)' },
    answer: 'DeliveryMetrics',
  },
]);
