import type { ApiResponse } from '../api';

/** Server-rendered approval pages (docs/api.md section 7): no script, no external resources, every value escaped. */

export interface ApprovalDecisionView {
  approver: string;
  decision: 'approve' | 'reject';
  at: string;
  via: string;
  reason?: string;
  claim?: string;
}

export interface ApprovalPageModel {
  approvalId: string;
  token: string;
  deployment: { id: string; name: string };
  version: string;
  environment: { id: string; name: string };
  targets: string[];
  /** More targets wait than `targets` names (an approval names the first 1,000). */
  moreTargets?: boolean;
  status: 'pending' | 'approved' | 'rejected' | 'expired';
  minApprovals: number;
  decisions: ApprovalDecisionView[];
  expiresAt: string;
  /** When it was approved, rejected or expired. */
  decidedAt?: string | null;
  /** False where the policy lists approvers or needs more than one: a link can then only reject. */
  linkMayApprove: boolean;
  /** Where a sign-in is configured: the page's sign-in link, and who is signed in. */
  signIn?: { url: string; identity?: string };
}

export function escapeHtml(value: string): string {
  return value
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

const e = escapeHtml;

// Text #1b1f24 on #fff and white on the button colours all exceed WCAG AA (4.5:1).
const CSS = `
*{box-sizing:border-box}
body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1b1f24;background:#fff}
main{max-width:44rem;margin:0 auto;padding:1.5rem 1rem}
h1{font-size:1.5rem;margin:0 0 1rem}
h2{font-size:1.15rem;margin:1.5rem 0 .5rem}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.25rem 1rem;margin:0}
dt{font-weight:600}
dd{margin:0;overflow-wrap:anywhere}
code{font:.95em ui-monospace,SFMono-Regular,Menlo,monospace;overflow-wrap:anywhere}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:.35rem .5rem;border-bottom:1px solid #8c959f;vertical-align:top}
.note{padding:.75rem 1rem;border-left:4px solid #0550ae;background:#f0f6ff}
.error{border-left-color:#a40e26;background:#fff0f0}
label{display:block;font-weight:600;margin-bottom:.25rem}
input[type=text]{width:100%;max-width:24rem;padding:.5rem;font:inherit;border:1px solid #57606a;border-radius:4px}
.buttons{display:flex;gap:.75rem;margin-top:1rem}
button{font:inherit;font-weight:600;padding:.55rem 1.25rem;border:0;border-radius:4px;color:#fff;cursor:pointer}
.approve{background:#116329}
a.button{display:inline-block;color:#fff;background:#0550ae;text-decoration:none;font-weight:600;padding:.55rem 1.25rem;border-radius:4px}
.reject{background:#a40e26}
:focus-visible{outline:3px solid #0550ae;outline-offset:2px}
`;

function layout(title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex, nofollow">
<meta name="referrer" content="no-referrer">
<title>${e(title)} · Gantry</title>
<style>${CSS}</style>
</head>
<body>
<main>
${body}
</main>
</body>
</html>
`;
}

const named = (x: { id: string; name: string }) =>
  x.name && x.name !== x.id ? `${e(x.name)} (<code>${e(x.id)}</code>)` : `<code>${e(x.id)}</code>`;

const time = (iso: string) => `<time datetime="${e(iso)}">${e(iso)}</time>`;

const STATUS_TEXT: Record<ApprovalPageModel['status'], string> = {
  pending: 'Waiting for approval',
  approved: 'Approved',
  rejected: 'Rejected',
  expired: 'Expired',
};

/** Who made a decision: an identity, or the review link (with the name typed into it, a claim). */
const decidedBy = (d: ApprovalDecisionView) =>
  d.via === 'link' ? `the review link${d.claim ? ` (signed “${e(d.claim)}”)` : ''}` : e(d.approver);

function decisionsSection(decisions: ApprovalDecisionView[]): string {
  if (decisions.length === 0) return '<h2>Decisions</h2>\n<p>No decisions yet.</p>';
  const rows = decisions
    .map(
      (d) =>
        `<tr><td>${decidedBy(d)}</td><td>${d.decision === 'approve' ? 'Approved' : 'Rejected'}</td>` +
        `<td>${time(d.at)}</td><td>${e(d.via)}</td><td>${d.reason ? e(d.reason) : ''}</td></tr>`,
    )
    .join('\n');
  return `<h2>Decisions</h2>
<table>
<thead><tr><th scope="col">Approver</th><th scope="col">Decision</th><th scope="col">When</th><th scope="col">Via</th><th scope="col">Reason</th></tr></thead>
<tbody>
${rows}
</tbody>
</table>`;
}

function decisionForm(m: ApprovalPageModel): string {
  const identity = m.signIn?.identity;
  const signIn =
    m.signIn && !identity
      ? `<p><a class="button" href="${e(m.signIn.url)}">Sign in to approve</a></p>\n`
      : '';
  const how =
    identity || m.linkMayApprove
      ? ''
      : `<p class="note">This approval needs a known approver: ${m.signIn ? 'sign in, or ' : ''}approve with the Approve button of the Slack message, or with <code>gantry approve ${e(m.approvalId)}</code> and your API key. This link can reject.</p>\n`;
  const approve =
    identity || m.linkMayApprove
      ? '<button type="submit" name="decision" value="approve" class="approve">Approve</button>\n'
      : '';
  // Signed in, the decision is the identity's: no name to type.
  const who = identity
    ? `<p class="note" role="status">Signed in as <strong>${e(identity)}</strong>.</p>\n`
    : '<label for="approver">Your name, for the record (optional)</label>\n<input type="text" id="approver" name="approver" maxlength="200" autocomplete="name">\n';
  return `<h2>Your decision</h2>
${how}${signIn}<form method="post" action="/approvals/${e(encodeURIComponent(m.approvalId))}">
<input type="hidden" name="t" value="${e(m.token)}">
${who}<div class="buttons">
${approve}<button type="submit" name="decision" value="reject" class="reject">Reject</button>
</div>
</form>`;
}

/** The status line: who decided and when, once decided. */
function outcome(m: ApprovalPageModel): string {
  if (m.status === 'pending') return STATUS_TEXT.pending;
  if (m.status === 'expired') return `Expired at ${time(m.expiresAt)}`;
  const decision = m.status === 'approved' ? 'approve' : 'reject';
  const by = m.decisions.filter((d) => d.decision === decision).map(decidedBy);
  return `${STATUS_TEXT[m.status]}${by.length ? ` by ${by.join(', ')}` : ''}${m.decidedAt ? ` at ${time(m.decidedAt)}` : ''}`;
}

/** The review page for GET /approvals/{id}. It only shows; the form POSTs the decision. */
export function reviewPage(m: ApprovalPageModel): string {
  const approvals = new Set(m.decisions.filter((d) => d.decision === 'approve').map((d) => d.approver)).size;
  const title = `Approve ${m.deployment.name || m.deployment.id} ${m.version} to ${m.environment.name || m.environment.id}`;
  const pending = m.status === 'pending';
  const targets =
    m.targets.length > 0
      ? `<ul>\n${m.targets.map((t) => `<li><code>${e(t)}</code></li>`).join('\n')}\n</ul>`
      : `<p>${pending ? 'No targets are waiting.' : 'No targets.'}</p>`;
  const action = pending
    ? decisionForm(m)
    : `<p class="note" role="status">This approval is ${e(STATUS_TEXT[m.status].toLowerCase())}; it takes no more decisions.</p>`;

  return layout(
    title,
    `<h1>${e(title)}</h1>
<dl>
<dt>Deployment</dt><dd>${named(m.deployment)}</dd>
<dt>Version</dt><dd><code>${e(m.version)}</code></dd>
<dt>Environment</dt><dd>${named(m.environment)}</dd>
<dt>Status</dt><dd>${outcome(m)}</dd>
<dt>Approvals</dt><dd>${approvals} of ${m.minApprovals} needed</dd>
<dt>Expires</dt><dd>${time(m.expiresAt)}</dd>
</dl>
<h2>${pending ? 'Waiting targets' : 'Targets'} (${m.targets.length}${m.moreTargets ? '+' : ''})</h2>
${targets}${m.moreTargets ? '\n<p>More targets wait: the first ones are listed.</p>' : ''}
${decisionsSection(m.decisions)}
${action}`,
  );
}

/** A plain result page: the confirmation after a decision, the 403 page, the 409 "already decided or expired" page. */
export function resultPage(title: string, message: string, status: 'ok' | 'error'): string {
  const cls = status === 'ok' ? 'note' : 'note error';
  const role = status === 'ok' ? 'status' : 'alert';
  return layout(title, `<h1>${e(title)}</h1>\n<p class="${cls}" role="${role}">${e(message)}</p>`);
}

/** An approval page as the edge answers it: never cached, never framed, never sent on as a Referer. */
export const htmlAnswer = (status: number, body: string): ApiResponse => ({
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

/** The one answer to a wrong approval id, a wrong token and an expired link. */
export const forbiddenPage = () =>
  htmlAnswer(403, resultPage('Link not valid', 'This approval link is not valid or has expired.', 'error'));
