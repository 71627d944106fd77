import { runtime } from '../../shared/adapters/runtime';
import { parseInteraction } from '../../shared/adapters/slack';
import { DomainError, forbidden } from '../../shared/core/errors';
import {
  type ApprovalRecord,
  decide,
  isExpired,
  LINK_APPROVER,
  linkMayApprove,
  listApprovals,
  renderApproval,
} from '../../shared/services/approvals';
import {
  beginSignIn,
  finishSignIn,
  SignInRefused,
  signInSettings,
  startSession,
} from '../../shared/services/signin';
import { type ApiResponse, httpHandler, json } from './kernel';
import { approvalByLink, approvalLink } from './middlewares/approval-link';
import { slackSignature } from './middlewares/slack-signature';
import { forbiddenPage, htmlAnswer as html, resultPage, reviewPage } from './presentation/approval-pages';
import { APPROVAL_ROUTES } from './routes/approvals';

/**
 * Approvals (docs/api.md section 7): review page and form, Slack buttons, the API decision route.
 * Each route's credential is checked by its scheme's middleware: a key, the link's token (with the
 * browser's sign-in session), Slack's signature.
 */

const redirect = (status: 302 | 303, location: string, cookies: string[]): ApiResponse => {
  const answer = html(status, '');
  return { ...answer, headers: { ...answer.headers, location }, cookies };
};

const noSignIn = () =>
  html(404, resultPage('No sign-in', 'Sign-in is not configured for approvals.', 'error'));

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
    ...(approval.moreTargets ? { moreTargets: true } : {}),
    status,
    minApprovals: approval.minApprovals,
    decisions: approval.decisions,
    expiresAt: approval.expiresAt,
    decidedAt: approval.decidedAt,
    linkMayApprove: linkMayApprove(approval),
    ...(signIn ? { signIn } : {}),
  } as const;
}

export const handler = httpHandler(
  APPROVAL_ROUTES,
  {
    listApprovals: async (request) => {
      const { status, ...page } = request.query;
      const out = await listApprovals(runtime(), status, page);
      return json(200, {
        items: out.items.map(renderApproval),
        ...(out.nextToken ? { nextToken: out.nextToken } : {}),
      });
    },
    decideApproval: async (request) => {
      const { body, caller } = request;
      // Decisions through the API are made as the key (docs/api.md section 7), never as a name in the body.
      if (body.approver !== undefined && body.approver !== caller.approver)
        throw forbidden(`This key decides as "${caller.approver}"; it cannot decide as "${body.approver}".`);
      const approval = await decide(
        runtime(),
        request.params.approvalId,
        {
          decision: body.decision,
          approver: caller.approver,
          reason: body.reason,
          via: `api:${caller.keyId}`,
        },
        { keyId: caller.keyId },
      );
      return json(200, renderApproval(approval));
    },
    reviewPage: async (request) => {
      const { approval, token, identity } = request.link;
      const signIn = signInSettings()
        ? { url: signInUrl(approval.approvalId, token), ...(identity ? { identity } : {}) }
        : undefined;
      return html(200, reviewPage(pageModel(approval, token, signIn)));
    },
    signIn: async (request) => {
      const settings = signInSettings();
      if (!settings) return noSignIn();
      const { approval, token } = request.link;
      const started = await beginSignIn(runtime(), settings, approval.approvalId, token);
      return redirect(302, started.location, [started.cookie]);
    },
    signInCallback: async (request) => {
      const settings = signInSettings();
      if (!settings) return noSignIn();
      const query = new URLSearchParams();
      for (const [name, value] of Object.entries(request.query))
        if (value !== undefined) query.set(name, value);
      if (!query.has('state') || !(query.has('code') || query.has('error')))
        return html(
          400,
          resultPage(
            'Not a sign-in',
            'This address is where an identity provider answers a sign-in.',
            'error',
          ),
        );
      try {
        const rt = runtime();
        const done = await finishSignIn(rt, settings, query, request.cookies);
        // The sign-in carried the link it started from: that link must still open the approval.
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
      const form = request.body;
      const { approval, identity } = request.link;
      if (!form.decision) return html(400, resultPage('No decision', 'Choose approve or reject.', 'error'));
      // Signed in, the decision is the identity's; else the link's, with the typed name as a claim.
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
        if (error instanceof DomainError && error.code === 'conflict')
          return html(409, resultPage('Already decided', error.message, 'error'));
        if (error instanceof DomainError && error.code === 'forbidden')
          return html(403, resultPage('Not an approver', error.message, 'error'));
        throw error;
      }
    },
    slackInteractions: async (request) => {
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
        if (error instanceof DomainError && error.code !== 'internal')
          return json(200, { response_type: 'ephemeral', text: error.message });
        throw error;
      }
    },
  },
  { slack: slackSignature(), 'approval-link': approvalLink() },
);
