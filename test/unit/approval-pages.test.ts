import { describe, expect, it } from 'vitest';
import {
  type ApprovalPageModel,
  resultPage,
  reviewPage,
} from '../../functions/http/presentation/approval-pages';

const model: ApprovalPageModel = {
  approvalId: '01APPROVAL',
  token: 'tok_abc123-XYZ',
  deployment: { id: 'api', name: 'Payments API' },
  version: 'v1.2.3',
  environment: { id: 'prod', name: 'Production' },
  targets: ['cluster-eu-1', 'cluster-us-1'],
  status: 'pending',
  minApprovals: 2,
  decisions: [],
  expiresAt: '2026-11-21T10:00:00.000Z',
  linkMayApprove: true,
};

const XSS = '<script>alert("x")</script>&\'';
const XSS_ESCAPED = '&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;';

describe('reviewPage', () => {
  it('is a complete, accessible, self-contained document', () => {
    const html = reviewPage(model);
    expect(html).toMatch(/^<!doctype html>/);
    expect(html).toContain('<html lang="en">');
    expect(html).toContain('<meta charset="utf-8">');
    expect(html).toContain('<meta name="referrer" content="no-referrer">');
    expect(html).toMatch(/<title>[^<]+<\/title>/);
    expect(html.match(/<h1>/g)).toHaveLength(1);
    expect(html).not.toMatch(/<script|<link|src=|https?:\/\//i);
  });

  it('names deployment, version, environment, targets and expiry', () => {
    const html = reviewPage(model);
    for (const s of [
      'Payments API',
      'v1.2.3',
      'Production',
      'cluster-eu-1',
      'cluster-us-1',
      model.expiresAt,
    ]) {
      expect(html).toContain(s);
    }
    expect(html).toContain('0 of 2 needed');
    expect(html).toContain('No decisions yet.');
  });

  it('posts the token in a form with a labelled approver field and two decision buttons', () => {
    const html = reviewPage(model);
    expect(html).toContain('<form method="post" action="/approvals/01APPROVAL">');
    expect(html).toContain('<input type="hidden" name="t" value="tok_abc123-XYZ">');
    expect(html).toContain('<label for="approver">');
    expect(html).toMatch(/<input type="text" id="approver" name="approver"/);
    expect(html).toMatch(/<button type="submit" name="decision" value="approve"[^>]*>Approve<\/button>/);
    expect(html).toMatch(/<button type="submit" name="decision" value="reject"[^>]*>Reject<\/button>/);
    expect(html.match(/<form/g)).toHaveLength(1);
  });

  it('where a link cannot approve (approvers listed, or more than one needed): no approve button, how to approve instead', () => {
    const html = reviewPage({ ...model, linkMayApprove: false });
    expect(html).not.toMatch(/value="approve"/);
    expect(html).toMatch(/<button type="submit" name="decision" value="reject"[^>]*>Reject<\/button>/);
    expect(html).toContain('gantry approve 01APPROVAL');
    expect(html).toContain('Slack');
  });

  it('shows no form once decided or expired', () => {
    for (const status of ['approved', 'rejected', 'expired'] as const) {
      const html = reviewPage({ ...model, status });
      expect(html).not.toContain('<form');
      expect(html).not.toContain(model.token);
      expect(html).toContain('takes no more decisions');
    }
  });

  it('lists the decisions so far', () => {
    const html = reviewPage({
      ...model,
      decisions: [
        { approver: 'alice', decision: 'approve', at: '2026-11-20T09:00:00.000Z', via: 'slack' },
        {
          approver: 'bob',
          decision: 'reject',
          at: '2026-11-20T09:05:00.000Z',
          via: 'api:ops',
          reason: 'too late',
        },
        {
          approver: 'link',
          decision: 'approve',
          at: '2026-11-20T09:06:00.000Z',
          via: 'link',
          claim: 'carol',
        },
      ],
    });
    expect(html).toContain('<th scope="col">Approver</th>');
    expect(html).toMatch(/<td>alice<\/td><td>Approved<\/td>.*2026-11-20T09:00:00.000Z.*<td>slack<\/td>/);
    expect(html).toMatch(/<td>bob<\/td><td>Rejected<\/td>.*<td>api:ops<\/td><td>too late<\/td>/);
    // A link's typed name is shown as what it is: a claim made through the link.
    expect(html).toContain('the review link (signed “carol”)');
    expect(html).toContain('2 of 2 needed');
    // Who may approve is not listed (docs/api.md section 7).
    expect(html).not.toContain('Allowed approvers');
  });

  it('escapes every interpolated value', () => {
    const html = reviewPage({
      ...model,
      approvalId: '"><script>x</script>',
      token: '"><script>t</script>',
      deployment: { id: 'api', name: XSS },
      version: XSS,
      environment: { id: 'prod', name: XSS },
      targets: [XSS],
      decisions: [
        { approver: XSS, decision: 'approve', at: XSS, via: XSS, reason: XSS },
        { approver: 'link', decision: 'reject', at: XSS, via: 'link', claim: XSS },
      ],
      expiresAt: XSS,
    });
    expect(html).not.toContain('<script');
    expect(html).not.toContain('"x"');
    expect(html).toContain(XSS_ESCAPED);
    expect(html).toContain('action="/approvals/%22%3E%3Cscript%3Ex%3C%2Fscript%3E"');
    expect(html).toContain('value="&quot;&gt;&lt;script&gt;t&lt;/script&gt;"');
  });
});

describe('resultPage', () => {
  it('renders an escaped title and message', () => {
    const html = resultPage(XSS, XSS, 'ok');
    expect(html).toContain('<html lang="en">');
    expect(html).not.toContain('<script');
    expect(html).toContain(`<h1>${XSS_ESCAPED}</h1>`);
    expect(html).toContain('role="status"');
  });

  it('marks errors as alerts', () => {
    const html = resultPage('Already decided', 'This approval was already decided or has expired.', 'error');
    expect(html).toContain('<h1>Already decided</h1>');
    expect(html).toContain('role="alert"');
    expect(html).toContain('This approval was already decided or has expired.');
  });
});

describe('reviewPage with a sign-in configured', () => {
  const signIn = { url: '/approvals/01APPROVAL/signin?t=tok_abc123-XYZ' };

  it('offers "Sign in to approve" where the link cannot approve, and says sign-in is a way to approve', () => {
    const html = reviewPage({ ...model, linkMayApprove: false, signIn });
    expect(html).toContain(
      '<a class="button" href="/approvals/01APPROVAL/signin?t=tok_abc123-XYZ">Sign in to approve</a>',
    );
    expect(html).toContain('sign in, or approve with the Approve button');
    expect(html).not.toMatch(/value="approve"/);
  });

  it('signed in: names the identity, offers Approve, and asks for no name', () => {
    const html = reviewPage({ ...model, linkMayApprove: false, signIn: { ...signIn, identity: '<alice>' } });
    expect(html).toContain('Signed in as <strong>&lt;alice&gt;</strong>');
    expect(html).toMatch(/<button type="submit" name="decision" value="approve"[^>]*>Approve<\/button>/);
    expect(html).not.toContain('Sign in to approve');
    expect(html).not.toContain('name="approver"');
  });
});

describe('reviewPage once decided', () => {
  const decisions = [
    { approver: 'alice', decision: 'approve' as const, at: '2026-11-20T09:00:00.000Z', via: 'signin' },
    { approver: 'link', decision: 'approve' as const, at: '2026-11-20T09:01:00.000Z', via: 'link' },
  ];

  it.each([
    [
      'approved',
      decisions,
      'Approved by alice, the review link at <time datetime="2026-11-20T09:02:00.000Z">',
    ],
    [
      'rejected',
      [{ approver: 'bob', decision: 'reject' as const, at: '2026-11-20T09:02:00.000Z', via: 'slack' }],
      'Rejected by bob at <time datetime="2026-11-20T09:02:00.000Z">',
    ],
    ['expired', [], `Expired at <time datetime="${model.expiresAt}">`],
  ] as const)('%s: says by whom and when, and lists no target as waiting', (status, made, says) => {
    const html = reviewPage({
      ...model,
      status,
      decisions: [...made],
      decidedAt: '2026-11-20T09:02:00.000Z',
    });
    expect(html).toContain(says);
    expect(html).toContain('<h2>Targets (2)</h2>');
    expect(html).not.toContain('Waiting');
  });

  it('while pending, lists the targets as waiting', () => {
    const html = reviewPage(model);
    expect(html).toContain('<h2>Waiting targets (2)</h2>');
    expect(html).toContain('<dd>Waiting for approval</dd>');
    expect(html).not.toContain('More targets wait');
  });

  it('counts an approval that names only its first targets as N+', () => {
    const html = reviewPage({ ...model, moreTargets: true });
    expect(html).toContain('<h2>Waiting targets (2+)</h2>');
    expect(html).toContain('More targets wait: the first ones are listed.');
  });
});
