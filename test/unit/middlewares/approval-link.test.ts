import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { Result } from '../../../functions/http/api';
import { approvalLink } from '../../../functions/http/middlewares/approval-link';
import type { ApprovalRecord } from '../../../shared/services/approvals';
import { apiOfRequest, requestFor, routeOf } from './request';

const ID = `a${'0'.repeat(31)}1`;
const TOKEN = 'link-token-0123456789abcdef';
const hour = 3_600_000;

const approval = (over: Partial<ApprovalRecord> = {}): ApprovalRecord => ({
  approvalId: ID,
  deployment: 'api',
  deploymentName: 'api',
  tag: 'v1',
  environment: 'production',
  environmentName: 'Production',
  status: 'pending',
  minApprovals: 1,
  policies: ['p'],
  targets: ['r1'],
  decisions: [],
  expiresAt: new Date(Date.now() + hour).toISOString(),
  createdAt: new Date().toISOString(),
  decidedAt: null,
  notifiedAt: null,
  rev: 1,
  tokenHash: createHash('sha256').update(TOKEN).digest('hex'),
  ...over,
});

const page = routeOf({
  path: '/approvals/{approvalId}',
  fn: 'api-approvals',
  auth: { type: 'approval-link', session: true },
});
const form = routeOf({
  method: 'POST',
  path: '/approvals/{approvalId}',
  fn: 'api-approvals',
  auth: { type: 'approval-link', session: true },
  bodyType: 'form',
});
const signIn = routeOf({
  path: '/approvals/{approvalId}/signin',
  fn: 'api-approvals',
  auth: { type: 'approval-link' },
});

/** The middleware over one stored approval, recording which ids it looked up and whose session it read. */
function middleware(stored = approval()) {
  const looked: string[] = [];
  const sessions: string[][] = [];
  const checked = approvalLink({
    find: async (id) => {
      looked.push(id);
      return id === stored.approvalId ? stored : undefined;
    },
    session: async (cookies) => {
      sessions.push(cookies);
      return cookies.includes('gantry_session=alice') ? 'alice' : undefined;
    },
  });
  return { checked, looked, sessions };
}

/** A request with the link's id and token (none for null) and the browser's cookies. */
const opening = (route = page, { id = ID, t = TOKEN as string | null, cookies = [] as string[] } = {}) => {
  const fields = t === null ? {} : { t };
  return requestFor(route, {
    api: {
      params: { approvalId: id },
      ...(route.bodyType === 'form' ? { body: { ...fields, decision: 'approve' } } : { query: fields }),
      cookies,
    },
  });
};

const isForbiddenPage = (answer: unknown) => {
  const result = answer as Result;
  expect(result.statusCode).toBe(403);
  expect(result.headers?.['content-type']).toMatch(/^text\/html/);
  expect(result.headers?.['x-frame-options']).toBe('DENY');
  expect(result.body).toContain('This approval link is not valid or has expired.');
};

describe('the approval-link middleware', () => {
  it('opens the approval of the link and reads who is signed in', async () => {
    const stored = approval();
    const { checked } = middleware(stored);
    const request = opening(page, { cookies: ['gantry_session=alice'] });

    expect(await checked.before?.(request)).toBeUndefined();

    expect(apiOfRequest(request).link).toEqual({ approval: stored, token: TOKEN, identity: 'alice' });
  });

  it("takes the decision form's token from its body", async () => {
    const { checked } = middleware();
    const request = opening(form);

    expect(await checked.before?.(request)).toBeUndefined();
    expect(apiOfRequest(request).link?.token).toBe(TOKEN);
  });

  it('reads no session on a route that does not take it', async () => {
    const { checked, sessions } = middleware();
    const request = opening(signIn, { cookies: ['gantry_session=alice'] });

    await checked.before?.(request);

    expect(apiOfRequest(request).link?.identity).toBeUndefined();
    expect(sessions).toEqual([]);
  });

  it.each([
    ['a wrong token', { t: `${TOKEN}x` }],
    ['no token', { t: null }],
    ['an unknown approval', { id: `a${'f'.repeat(32)}` }],
  ])('answers %s with the 403 page, and hands nothing on', async (_name, link) => {
    const { checked } = middleware();
    const request = opening(page, link);

    isForbiddenPage(await checked.before?.(request));
    expect(apiOfRequest(request).link).toBeUndefined();
  });

  it('looks up no id outside the approval id pattern', async () => {
    const { checked, looked } = middleware();

    isForbiddenPage(await checked.before?.(opening(page, { id: '../../pk' })));
    expect(looked).toEqual([]);
  });

  it('opens no page of an expired approval, but lets its form reach the 409 of the decision', async () => {
    const expired = approval({ expiresAt: new Date(Date.now() - hour).toISOString() });
    const { checked } = middleware(expired);
    const decision = opening(form);

    isForbiddenPage(await checked.before?.(opening(page)));
    expect(await checked.before?.(decision)).toBeUndefined();
    expect(apiOfRequest(decision).link?.approval).toBe(expired);
  });

  it('leaves routes of other schemes alone', async () => {
    const { checked, looked } = middleware();

    expect(await checked.before?.(requestFor(routeOf()))).toBeUndefined();
    expect(looked).toEqual([]);
  });
});
