import { runtime } from '../../../shared/adapters/runtime';
import {
  APPROVAL_ID_PATTERN,
  type ApprovalRecord,
  getApproval,
  isExpired,
  tokenMatches,
} from '../../../shared/services/approvals';
import { sessionIdentity, signInSettings } from '../../../shared/services/signin';
import { apiOf, type HttpMiddleware, toResult } from '../api';
import { forbiddenPage } from '../presentation/approval-pages';

type Find = (approvalId: string) => Promise<ApprovalRecord | undefined>;
const stored: Find = (approvalId) => getApproval(runtime(), approvalId);

/** The approval a link's id and token open, or undefined when either is wrong (one answer for both). */
export async function approvalByLink(
  approvalId: string | undefined,
  token: string | undefined,
  find = stored,
): Promise<ApprovalRecord | undefined> {
  if (!approvalId || !APPROVAL_ID_PATTERN.test(approvalId)) return undefined;
  const approval = await find(approvalId);
  return approval && tokenMatches(approval, token) ? approval : undefined;
}

/** The link's token: `?t=` on the pages, the field `t` of the review page's form. */
function tokenOf(fields: unknown): string | undefined {
  if (!fields || typeof fields !== 'object' || !('t' in fields)) return undefined;
  return typeof fields.t === 'string' ? fields.t : undefined;
}

/**
 * The `approval-link` scheme of the review pages (docs/api.md section 7): the link's token for the
 * approval in the path, else the 403 page. The token is a field of the validated query or form, so
 * this runs after validation. A page opens only while the approval is pending or decided; a decision
 * sent on an expired one gets the decision's own 409 page. Routes with `session` also read who is
 * signed in on this browser, where a sign-in is configured.
 */
export function approvalLink({
  find = stored,
  session = async (cookies: string[]) =>
    signInSettings() ? await sessionIdentity(runtime(), cookies) : undefined,
}: {
  find?: Find;
  session?: (cookies: string[]) => Promise<string | undefined>;
} = {}): HttpMiddleware {
  return {
    before: async (request) => {
      const api = apiOf(request);
      const { auth } = api.route;
      if (auth.type !== 'approval-link') return;
      const token = tokenOf(api.route.bodyType === 'form' ? api.body : api.query);
      const approval = await approvalByLink(api.params.approvalId, token, find);
      if (!approval || token === undefined || (api.route.method === 'GET' && isExpired(approval)))
        return toResult(forbiddenPage());
      api.link = { approval, token, identity: auth.session ? await session(api.cookies) : undefined };
    },
  };
}
