import { SUBSCRIBABLE_DETAIL_TYPES } from '../../../shared/adapters/events';
import { Id } from '../../../shared/core/schemas/common';
import { subscriptionBody } from '../../../shared/core/schemas/subscriptions';
import { ADMIN, defineRoutes, Paging, READ } from './spec';

/** Subscriptions, "notifications anywhere" (docs/api.md section 10, docs/subscriptions.md). */
export const SubscriptionBody = subscriptionBody(SUBSCRIBABLE_DETAIL_TYPES);

export const SUBSCRIPTION_ROUTES = defineRoutes([
  {
    operationId: 'putSubscription',
    method: 'PUT',
    path: '/v1/subscriptions/{subscriptionId}',
    fn: 'api-subscriptions',
    auth: { type: 'signed', scopes: ADMIN },
    summary:
      'Create or replace a subscription: every event it matches (detailTypes, a CEL selector over `event`) published from its activeFrom on is POSTed to its url, signed with the secret secretRef names, in order per release target, retried with backoff for a day',
    params: { subscriptionId: Id },
    body: SubscriptionBody,
    responses: { 200: 'Replaced: the subscription', 201: 'Created: the subscription' },
    answer: 'Subscription',
  },
  {
    operationId: 'getSubscription',
    method: 'GET',
    path: '/v1/subscriptions/{subscriptionId}',
    fn: 'api-subscriptions',
    auth: { type: 'signed', scopes: READ },
    summary: 'A subscription, whether it is failing, and its last 20 deliveries (newest event first)',
    params: { subscriptionId: Id },
    responses: { 200: 'The subscription and its deliveries', 404: 'Unknown subscription' },
    answer: 'SubscriptionDetail',
  },
  {
    operationId: 'listSubscriptions',
    method: 'GET',
    path: '/v1/subscriptions',
    fn: 'api-subscriptions',
    auth: { type: 'signed', scopes: READ },
    summary: 'Subscriptions, by id',
    query: Paging,
    responses: { 200: '{"items": [...], "nextToken"?}' },
    answer: 'SubscriptionList',
  },
  {
    operationId: 'deleteSubscription',
    method: 'DELETE',
    path: '/v1/subscriptions/{subscriptionId}',
    fn: 'api-subscriptions',
    auth: { type: 'signed', scopes: ADMIN },
    summary: 'Delete a subscription: nothing more is sent, and its outbox is dropped',
    params: { subscriptionId: Id },
    responses: { 204: 'Deleted', 404: 'Unknown subscription' },
  },
]);
