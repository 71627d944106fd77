import * as z from 'zod/mini';
import { ApprovalDecisionBody } from '../../../shared/core/schemas/rollouts';
import { defineRoutes, Paging } from './spec';

/** Approvals: the API, the review page of a Slack link and Slack's interactivity callback. */

const APPROVAL_ID = z.string().check(z.regex(/^a[0-9a-f]{32}$/, 'must be an approval id'));
const LinkApprovalId = z.string().check(z.maxLength(64));
const LinkToken = z.optional(z.string().check(z.maxLength(256)));

export const APPROVAL_ROUTES = defineRoutes([
  {
    operationId: 'listApprovals',
    method: 'GET',
    path: '/v1/approvals',
    fn: 'api-approvals',
    auth: { type: 'signed', scopes: ['read', 'approvals:write'] },
    summary: 'Approvals, newest first',
    query: z.extend(Paging, {
      status: z.optional(z.enum(['pending', 'approved', 'rejected', 'expired'])),
    }),
    responses: {
      200: '{"items": [...], "nextToken"?} (a page filtered by status may hold fewer than limit)',
    },
    answer: 'ApprovalList',
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
    responses: {
      200: 'The approval',
      404: 'Unknown approval',
      409: 'Already decided or expired',
    },
    answer: 'Approval',
  },
  {
    operationId: 'reviewPage',
    method: 'GET',
    path: '/approvals/{approvalId}',
    fn: 'api-approvals',
    auth: { type: 'approval-link', session: true },
    summary: 'The review page of an approval link (HTML; never changes anything)',
    params: { approvalId: LinkApprovalId },
    query: z.object({ t: LinkToken }),
    responses: { 200: 'HTML page', 403: 'Bad or expired token (HTML)' },
    produces: ['text/html'],
  },
  {
    operationId: 'decideByLink',
    method: 'POST',
    path: '/approvals/{approvalId}',
    fn: 'api-approvals',
    auth: { type: 'approval-link', session: true },
    summary: 'The decision form of the review page (form fields t, decision, approver)',
    params: { approvalId: LinkApprovalId },
    bodyType: 'form',
    body: z.object({
      t: LinkToken,
      decision: z.optional(z.enum(['approve', 'reject'])),
      approver: z.optional(z.string().check(z.maxLength(128))),
    }),
    responses: {
      200: 'HTML confirmation',
      400: 'No decision chosen (HTML)',
      403: 'Bad token, or not an approver (HTML)',
      409: 'Already decided or expired (HTML)',
    },
    produces: ['text/html'],
  },
  {
    operationId: 'signIn',
    method: 'GET',
    path: '/approvals/{approvalId}/signin',
    fn: 'api-approvals',
    auth: { type: 'approval-link' },
    summary:
      'Sign in on the review page (OpenID Connect, where an issuer is configured): redirects to the issuer',
    params: { approvalId: LinkApprovalId },
    query: z.object({ t: LinkToken }),
    responses: {
      302: 'To the identity provider, with a cookie binding the sign-in to this browser',
      403: 'Bad or expired token (HTML)',
      404: 'No sign-in is configured (HTML)',
    },
    produces: ['text/html'],
  },
  {
    operationId: 'signInCallback',
    method: 'GET',
    path: '/approvals/oidc/callback',
    fn: 'api-approvals',
    auth: { type: 'public' },
    summary: "The identity provider's redirect after a sign-in (the redirect_uri to register at the issuer)",
    query: z.object({
      code: z.optional(z.string().check(z.maxLength(4096))),
      state: z.optional(z.string().check(z.maxLength(512))),
      iss: z.optional(z.string().check(z.maxLength(2048))),
      error: z.optional(z.string().check(z.maxLength(256))),
    }),
    responses: {
      303: 'Signed in: back to the review page, with a session cookie',
      400: 'Not a sign-in answer (HTML)',
      403: 'Sign-in refused: used, expired, from another browser, or not validated (HTML)',
      404: 'No sign-in is configured (HTML)',
    },
    produces: ['text/html'],
  },
  {
    operationId: 'slackInteractions',
    method: 'POST',
    path: '/slack/interactions',
    fn: 'api-approvals',
    auth: { type: 'slack' },
    summary: "Slack's interactivity callback (buttons), verified with Slack's v0 signature",
    bodyType: 'form',
    body: z.object({ payload: z.optional(z.string().check(z.maxLength(1024 * 1024))) }),
    responses: {
      200: 'Acknowledged, with what Slack shows the one who clicked',
      401: 'Missing, stale, wrong or replayed Slack signature',
    },
    answer: 'SlackReply',
  },
]);
