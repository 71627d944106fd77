import { type Runtime, runtime } from '../../shared/adapters/runtime';
import { parseInteraction, verifySlackSignature } from '../../shared/adapters/slack';
import { recordNonce } from '../../shared/adapters/store/nonces';
import { ApiError, forbidden } from '../../shared/core/errors';
import {
  APPROVAL_ID_PATTERN,
  type ApprovalRecord,
  decide,
  getApproval,
  isExpired,
  LINK_APPROVER,
  linkMayApprove,
  listApprovals,
  renderApproval,
  slackSigningSecret,
  tokenMatches,
} from '../../shared/services/approvals';
import {
  beginSignIn,
  finishSignIn,
  SignInRefused,
  type SignInSettings,
  sessionIdentity,
  signInSettings,
  startSession,
} from '../../shared/services/signin';
import { type ApiResponse, httpHandler, json } from './kernel';
import { resultPage, reviewPage } from './presentation/approval-pages';
import { APPROVAL_ROUTES } from './routes/approvals';

/** Approvals (docs/api.md section 7): review page and form, Slack buttons, the API decision route. */

const html = (status: number, body: string): ApiResponse => ({
  status,
  body,
  contentType: 'text/html; charset=utf-8',
  headers: {
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    // The review pages cannot be framed (docs/api.md section 7: no clickjacking of the approve button).
    'content-security-policy': "frame-ancestors 'none'",
    'x-frame-options': 'DENY',
  },
});

const redirect = (status: 302 | 303, location: string, cookies: string[]): ApiResponse => {
  const answer = html(status, '');
  return { ...answer, headers: { ...answer.headers, location }, cookies };
};

const forbiddenPage = () =>
  html(403, resultPage('Link not valid', 'This approval link is not valid or has expired.', 'error'));

/** The approval behind a link, or undefined when the id or token is wrong (one answer for both). */
async function approvalByLink(
  approvalId: string,
  token: string | undefined,
): Promise<ApprovalRecord | undefined> {
  if (!APPROVAL_ID_PATTERN.test(approvalId)) return undefined;
  const approval = await getApproval(runtime(), approvalId);
  return approval && tokenMatches(approval, token) ? approval : undefined;
}

const noSignIn = () =>
  html(404, resultPage('No sign-in', 'Sign-in is not configured for approvals.', 'error'));

/** The identity signed in on this browser, where a sign-in is configured. */
async function signedIn(rt: Runtime, settings: SignInSettings | undefined, cookies: string[]) {
  return settings ? await sessionIdentity(rt, cookies) : undefined;
}

const signInUrl = (approvalId: string, token: string) =>
  `/approvals/${encodeURIComponent(approvalId)}/signin?t=${encodeURIComponent(token)}`;

function pageModel(approval: ApprovalRecord, token: string, signIn?: { url: string; identity?: string }) {
  const status = isExpired(approval) ? 'expired' : approval.status;
  return {
    approvalId: approval.approvalId,
    token,
    deployment: { id: approval.deployment, name: approval.deploymentName },
    version: approval.tag,
    environment: { id: approval.environment, name: approval.environmentName },
    targets: approval.targets,
    status,
    minApprovals: approval.minApprovals,
    decisions: approval.decisions,
    expiresAt: approval.expiresAt,
    decidedAt: approval.decidedAt,
    linkMayApprove: linkMayApprove(approval),
    ...(signIn ? { signIn } : {}),
  } as const;
}

export const handler = httpHandler(APPROVAL_ROUTES, {
  listApprovals: async (request) => {
    const { status, ...page } = request.query as {
      status?: ApprovalRecord['status'];
      limit?: number;
      nextToken?: string;
    };
    const out = await listApprovals(runtime(), status, page);
    return json(200, {
      items: out.items.map(renderApproval),
      ...(out.nextToken ? { nextToken: out.nextToken } : {}),
    });
  },
  decideApproval: async (request) => {
    const body = request.body as { decision: 'approve' | 'reject'; approver?: string; reason?: string };
    const keyId = request.caller?.keyId ?? 'unknown';
    // Decisions through the API are made as the key (docs/api.md section 7), never as a name in the body.
    const approver = request.caller?.approver ?? keyId;
    if (body.approver !== undefined && body.approver !== approver)
      throw forbidden(`This key decides as "${approver}"; it cannot decide as "${body.approver}".`);
    const approval = await decide(
      runtime(),
      request.params.approvalId as string,
      { decision: body.decision, approver, reason: body.reason, via: `api:${keyId}` },
      { keyId },
    );
    return json(200, renderApproval(approval));
  },
  reviewPage: async (request) => {
    const token = (request.query as { t?: string }).t;
    const approval = await approvalByLink(request.params.approvalId as string, token);
    if (!approval || isExpired(approval)) return forbiddenPage();
    const settings = signInSettings();
    const identity = await signedIn(runtime(), settings, request.cookies);
    const signIn = settings
      ? { url: signInUrl(approval.approvalId, token as string), ...(identity ? { identity } : {}) }
      : undefined;
    return html(200, reviewPage(pageModel(approval, token as string, signIn)));
  },
  signIn: async (request) => {
    const settings = signInSettings();
    if (!settings) return noSignIn();
    const token = (request.query as { t?: string }).t;
    const approval = await approvalByLink(request.params.approvalId as string, token);
    if (!approval || isExpired(approval)) return forbiddenPage();
    const started = await beginSignIn(runtime(), settings, approval.approvalId, token as string);
    return redirect(302, started.location, [started.cookie]);
  },
  signInCallback: async (request) => {
    const settings = signInSettings();
    if (!settings) return noSignIn();
    const query = new URLSearchParams();
    for (const [name, value] of Object.entries(request.query as Record<string, string | undefined>))
      if (value !== undefined) query.set(name, value);
    if (!query.has('state') || !(query.has('code') || query.has('error')))
      return html(
        400,
        resultPage('Not a sign-in', 'This address is where an identity provider answers a sign-in.', 'error'),
      );
    try {
      const rt = runtime();
      const done = await finishSignIn(rt, settings, query, request.cookies);
      const approval = await approvalByLink(done.approvalId, done.linkToken);
      if (!approval) return forbiddenPage();
      const cookies = await startSession(rt, done.identity);
      const page = `${rt.publicUrl}/approvals/${approval.approvalId}?t=${encodeURIComponent(done.linkToken)}`;
      return redirect(303, page, cookies);
    } catch (error) {
      if (error instanceof SignInRefused)
        return html(
          403,
          resultPage('Sign-in not accepted', `${error.message} Start again from the review link.`, 'error'),
        );
      throw error;
    }
  },
  decideByLink: async (request) => {
    const form = request.body as { t?: string; decision?: 'approve' | 'reject'; approver?: string };
    const approval = await approvalByLink(request.params.approvalId as string, form.t);
    if (!approval) return forbiddenPage();
    if (!form.decision) return html(400, resultPage('No decision', 'Choose approve or reject.', 'error'));
    // Signed in, the decision is the identity's; else the link's, with the typed name as a claim.
    const identity = await signedIn(runtime(), signInSettings(), request.cookies);
    const claim = form.approver?.trim().slice(0, 200) || undefined;
    const as = identity
      ? { approver: identity, via: 'signin' }
      : { approver: LINK_APPROVER, via: 'link', ...(claim ? { claim } : {}) };
    try {
      const decided = await decide(
        runtime(),
        approval.approvalId,
        { decision: form.decision, ...as },
        { approver: as.approver },
      );
      const outcome =
        decided.status === 'pending'
          ? `Your approval was recorded (${decided.decisions.filter((d) => d.decision === 'approve').length} of ${decided.minApprovals}).`
          : `The approval is now ${decided.status}.`;
      return html(200, resultPage('Decision recorded', outcome, 'ok'));
    } catch (error) {
      if (error instanceof ApiError && error.statusCode === 409)
        return html(409, resultPage('Already decided', error.message, 'error'));
      if (error instanceof ApiError && error.statusCode === 403)
        return html(403, resultPage('Not an approver', error.message, 'error'));
      throw error;
    }
  },
  slackInteractions: async (request) => {
    const secret = await slackSigningSecret();
    const valid =
      secret !== undefined &&
      verifySlackSignature({
        signingSecret: secret,
        timestamp: request.headers['x-slack-request-timestamp'],
        signature: request.headers['x-slack-signature'],
        rawBody: request.rawBody,
        nowSeconds: Math.floor(Date.now() / 1000),
      });
    if (!valid) throw new ApiError('unauthenticated', 'The Slack signature is missing or invalid.');
    if (!(await recordNonce(runtime(), `slack:${request.headers['x-slack-signature']}`, Date.now()))) {
      throw new ApiError('unauthenticated', 'This Slack request was already received (replay).');
    }
    const interaction = parseInteraction(request.rawBody);
    // Other actions (the Review link button) are acknowledged and ignored.
    if (!interaction) return json(200, {});
    const decision = interaction.actionId === 'gantry_approve' ? 'approve' : 'reject';
    try {
      const decided = await decide(
        runtime(),
        interaction.approvalId,
        { decision, approver: interaction.userId, via: 'slack' },
        { approver: interaction.userId },
      );
      return json(200, {
        response_type: 'ephemeral',
        text: `Recorded: ${decision}. The approval is ${decided.status}.`,
      });
    } catch (error) {
      if (error instanceof ApiError && error.statusCode < 500)
        return json(200, { response_type: 'ephemeral', text: error.message });
      throw error;
    }
  },
});
