import * as z from 'zod/mini';
import { Id } from '../../../shared/core/schemas/common';
import { defineRoutes, Paging, READ } from './spec';

/** Health, the OpenAPI document and the audit trail. */
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
]);
