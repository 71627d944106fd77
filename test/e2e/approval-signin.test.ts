import { createHmac, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalServer } from '../../infra/local/server';
import { FakeAgent } from '../helpers/agent';
import { type Client, eventually } from '../helpers/client';
import { startTestServer } from '../helpers/local';
import { Browser, type OidcProvider, SLACK_USER_ID_CLAIM, startOidcProvider } from '../helpers/oidc';
import { FakeSlack } from '../helpers/slack';

/**
 * Issue 17, docs/api.md section 7: sign-in on the review page with OpenID Connect, end to end through the
 * local server against a real OpenID provider (oidc-provider) on loopback, logins driven by plain HTTP
 * with a cookie jar. The approver is the configured claim (a Slack user id here, so Slack buttons and
 * sign-ins name the same people); distinct identities count, the `approvers` list is enforced, and
 * forged cookies, replayed callbacks and another browser's sign-in are refused.
 */
const SIGNING_SECRET = 'slack-signing-secret-for-sign-in-tests';
let server: LocalServer;
let admin: Client;
let idp: OidcProvider;
const agent = new FakeAgent();
const slack = new FakeSlack();

interface Release {
  status: string;
  waitingFor: string | null;
}
interface Approval {
  approvalId: string;
  status: string;
  decisions: { approver: string; decision: string; via: string }[];
}
interface AuditEvent {
  detailType: string;
  version?: string;
  data: Record<string, unknown>;
}

beforeAll(async () => {
  await agent.start();
  await slack.start();
  process.env.SLACK_WEBHOOK_URL = slack.url;
  process.env.SLACK_SIGNING_SECRET = SIGNING_SECRET;
  ({ server, admin } = await startTestServer({ timeScale: 60 }));
  idp = await startOidcProvider(`${server.url}/approvals/oidc/callback`);
  Object.assign(process.env, {
    GANTRY_OIDC_ISSUER: idp.issuer,
    GANTRY_OIDC_CLIENT_ID: idp.clientId,
    GANTRY_OIDC_CLIENT_SECRET: idp.clientSecret,
    GANTRY_OIDC_IDENTITY_CLAIM: SLACK_USER_ID_CLAIM,
    GANTRY_OIDC_SCOPES: 'openid slack',
  });
  await admin.put('/v1/resources/pay-1', { kind: 'vm', name: 'pay-1', metadata: {} });
  await admin.put('/v1/environments/prod', { resourceSelector: 'true' });
  await admin.put('/v1/deployments/pay', { jobAgent: { type: 'webhook', url: agent.url } });
  await admin.put('/v1/policies/two-of-alice-and-bob', {
    targets: "deployment.id == 'pay'",
    rules: { approval: { minApprovals: 2, approvers: ['alice', 'bob'] } },
  });
}, 60_000);

afterAll(async () => {
  for (const name of [
    'SLACK_WEBHOOK_URL',
    'SLACK_SIGNING_SECRET',
    'GANTRY_OIDC_ISSUER',
    'GANTRY_OIDC_CLIENT_ID',
    'GANTRY_OIDC_CLIENT_SECRET',
    'GANTRY_OIDC_IDENTITY_CLAIM',
    'GANTRY_OIDC_SCOPES',
  ])
    delete process.env[name];
  await server?.close();
  await idp?.close();
  await agent.stop();
  await slack.stop();
});

const release = async (tag: string) =>
  (await admin.get<{ releases: Release[] }>(`/v1/deployments/pay/versions/${tag}`)).body.releases[0];

const approvalOf = async (approvalId: string) =>
  (await admin.get<{ items: Approval[] }>('/v1/approvals?limit=100')).body.items.find(
    (a) => a.approvalId === approvalId,
  ) as Approval;

/** A new version waiting on its approval: the review link Slack was sent, and the approval id. */
async function waitingVersion(tag: string): Promise<{ link: string; approvalId: string }> {
  await admin.post('/v1/deployments/pay/versions', { tag });
  await eventually(
    () => release(tag),
    (r) => r?.waitingFor === 'approval',
  );
  const message = await eventually(
    async () => slack.messages.find((m) => m.text.includes(` ${tag} `)),
    (m) => m !== undefined,
  );
  const link = FakeSlack.link(message as { text: string });
  return { link, approvalId: /\/approvals\/([a-z0-9]+)\?/.exec(link)?.[1] as string };
}

/** The sign-in link of a review page, as the page shows it. */
async function signInLink(browser: Browser, link: string): Promise<string> {
  const page = await (await browser.request(link)).text();
  const href = /<a class="button" href="([^"]+)">Sign in to approve<\/a>/.exec(page)?.[1];
  if (!href) throw new Error(`no sign-in link on ${page}`);
  return new URL(href.replace(/&amp;/g, '&'), link).href;
}

/** Starts a sign-in from the review page and logs `account` in at the provider: the callback URL it sends the browser to. */
async function loginAt(browser: Browser, link: string, account: string): Promise<string> {
  const started = await browser.request(await signInLink(browser, link));
  expect(started.status).toBe(302);
  const authorize = new URL(started.headers.get('location') as string);
  expect(authorize.origin).toBe(idp.issuer);
  expect(authorize.searchParams.get('code_challenge_method')).toBe('S256');
  expect(authorize.searchParams.get('redirect_uri')).toBe(`${server.url}/approvals/oidc/callback`);
  const interaction = await browser.follow(authorize.href, (next) =>
    next.pathname.startsWith('/interaction/'),
  );
  const back = await browser.follow(
    `${interaction.url}?login=${account}`,
    (next) => next.origin === server.url,
  );
  expect(new URL(back.url).pathname).toBe('/approvals/oidc/callback');
  return back.url;
}

/** A whole sign-in in a new browser: it comes back to the review page, signed in. */
async function signedIn(link: string, account: string): Promise<Browser> {
  const browser = new Browser();
  const callback = await browser.request(await loginAt(browser, link, account));
  expect(callback.status).toBe(303);
  expect(callback.headers.get('location')).toBe(link);
  const cookie = callback.headers.getSetCookie().find((c) => c.startsWith('gantry_session='));
  expect(cookie).toMatch(/; Path=\/approvals; Max-Age=3600; HttpOnly; SameSite=Lax$/);
  return browser;
}

const decide = (browser: Browser, link: string, decision: 'approve' | 'reject') => {
  const url = new URL(link);
  return browser.request(`${url.origin}${url.pathname}`, {
    form: { t: url.searchParams.get('t') as string, decision },
  });
};

describe('sign-in on the review page (OpenID Connect)', () => {
  it('counts distinct signed-in approvers: alice twice is one, bob makes two, and the releases resume', async () => {
    const { link, approvalId } = await waitingVersion('v1');
    const anonymous = new Browser();
    const page = await (await anonymous.request(link)).text();
    expect(page).toContain('Sign in to approve');
    expect(page).not.toMatch(/value="approve"/);
    // The link alone still cannot approve.
    const byLink = await decide(anonymous, link, 'approve');
    expect(byLink.status).toBe(403);
    expect((await approvalOf(approvalId)).decisions).toEqual([]);

    const alice = await signedIn(link, 'alice');
    const alicePage = await (await alice.request(link)).text();
    expect(alicePage).toContain('Signed in as <strong>alice</strong>');
    expect(alicePage).toMatch(/<button type="submit" name="decision" value="approve"/);
    expect((await decide(alice, link, 'approve')).status).toBe(200);
    expect((await decide(alice, link, 'approve')).status).toBe(200);
    expect((await approvalOf(approvalId)).decisions).toMatchObject([
      { approver: 'alice', decision: 'approve', via: 'signin' },
    ]);
    expect((await release('v1'))?.status).toBe('waiting');

    const bob = await signedIn(link, 'bob');
    expect((await decide(bob, link, 'approve')).status).toBe(200);
    const done = await eventually(
      () => release('v1'),
      (r) => r?.status === 'successful',
    );
    expect(done?.status).toBe('successful');
    const approval = await approvalOf(approvalId);
    expect(approval.status).toBe('approved');
    expect(approval.decisions.map((d) => [d.approver, d.via])).toEqual([
      ['alice', 'signin'],
      ['bob', 'signin'],
    ]);
    const events = await admin.get<{ items: AuditEvent[] }>('/v1/events?deployment=pay&limit=1000');
    const decided = events.body.items.filter(
      (e) => e.detailType === 'Approval Decided' && e.version === 'v1',
    );
    expect(decided.map((e) => [e.data.approver, e.data.via])).toEqual([
      ['alice', 'signin'],
      ['bob', 'signin'],
    ]);

    // After the decision the page says who decided and when, and lists no target as waiting.
    const after = await (await bob.request(link)).text();
    expect(after).toMatch(/Approved by alice, bob at <time datetime="[^"]+">/);
    expect(after).toContain('Targets (1)');
    expect(after).not.toContain('Waiting targets');
    expect(after).not.toContain('<form');
  });

  it('an identity not among the approvers gets the 403 page and changes nothing', async () => {
    const { link, approvalId } = await waitingVersion('v2');
    const mallory = await signedIn(link, 'mallory');
    expect(await (await mallory.request(link)).text()).toContain('Signed in as <strong>mallory</strong>');

    const answer = await decide(mallory, link, 'approve');

    expect(answer.status).toBe(403);
    expect(await answer.text()).toContain('&quot;mallory&quot; is not one of the approvers');
    expect((await approvalOf(approvalId)).decisions).toEqual([]);
  });

  it('a forged or tampered session cookie is no session: the link alone, which cannot approve', async () => {
    const { link, approvalId } = await waitingVersion('v3');
    const alice = await signedIn(link, 'alice');
    const real = alice.cookie(server.url, 'gantry_session') as string;
    const tampered = `${real.slice(0, -1)}${real.endsWith('A') ? 'B' : 'A'}`;
    const forged = randomBytes(32).toString('base64url');

    for (const value of [tampered, forged, 'alice', '']) {
      const browser = new Browser();
      browser.setCookie(server.url, 'gantry_session', value, '/approvals');
      expect(await (await browser.request(link)).text()).not.toContain('Signed in as');
      expect((await decide(browser, link, 'approve')).status).toBe(403);
    }
    expect((await approvalOf(approvalId)).decisions).toEqual([]);
  });

  it('a replayed callback is refused, and starts no session', async () => {
    const { link } = await waitingVersion('v4');
    const browser = new Browser();
    const callback = await loginAt(browser, link, 'alice');
    const signInCookie = browser.cookie(server.url, 'gantry_signin') as string;
    expect((await browser.request(callback)).status).toBe(303);

    const replayer = new Browser();
    replayer.setCookie(server.url, 'gantry_signin', signInCookie, '/approvals/oidc');
    const replay = await replayer.request(callback);

    expect(replay.status).toBe(403);
    expect(await replay.text()).toContain('already used');
    expect(replay.headers.getSetCookie().some((c) => c.startsWith('gantry_session='))).toBe(false);
  });

  it('the state of another sign-in is refused: from another browser, or with another sign-in of this one', async () => {
    const { link } = await waitingVersion('v5');
    const victim = new Browser();
    const mallory = new Browser();
    const mallorysCallback = await loginAt(mallory, link, 'mallory');
    // The victim has a sign-in of its own under way; mallory's callback (login CSRF) is not it.
    const victimsCallback = await loginAt(victim, link, 'alice');
    const crossed = await victim.request(mallorysCallback);
    expect(crossed.status).toBe(403);
    expect(await crossed.text()).toContain('another browser');

    // Mallory's code with the victim's own state: the state is right, the code was not issued to it (PKCE).
    const swapped = new URL(mallorysCallback);
    swapped.searchParams.set('state', new URL(victimsCallback).searchParams.get('state') as string);
    const mixed = await victim.request(swapped.href);
    expect(mixed.status).toBe(403);
    expect(mixed.headers.getSetCookie().some((c) => c.startsWith('gantry_session='))).toBe(false);
    expect(await (await victim.request(link)).text()).not.toContain('Signed in as');
  });

  it('the same person through Slack and through a sign-in counts once', async () => {
    const { link, approvalId } = await waitingVersion('v6');
    expect((await click('alice', approvalId)).status).toBe(200);

    const alice = await signedIn(link, 'alice');
    expect((await decide(alice, link, 'approve')).status).toBe(200);

    const approval = await approvalOf(approvalId);
    expect(approval.status).toBe('pending');
    expect(approval.decisions.map((d) => [d.approver, d.via])).toEqual([['alice', 'slack']]);
  });
});

function click(user: string, approvalId: string) {
  const payload = {
    type: 'block_actions',
    user: { id: user },
    actions: [{ action_id: 'gantry_approve', value: approvalId, type: 'button' }],
  };
  const body = new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
  const timestamp = String(Math.floor(Date.now() / 1000));
  const signature = `v0=${createHmac('sha256', SIGNING_SECRET).update(`v0:${timestamp}:${body}`).digest('hex')}`;
  return fetch(`${server.url}/slack/interactions`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      'x-slack-request-timestamp': timestamp,
      'x-slack-signature': signature,
    },
    body,
  });
}
