import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Provider from 'oidc-provider';

/**
 * A real OpenID Connect provider (oidc-provider, the certified implementation) on 127.0.0.1 with one
 * confidential client. Its login page is replaced by `/interaction/<uid>?login=<account>`: opening it
 * logs that account in and grants the requested scopes, as a person would by typing a name and
 * pressing "Continue". Each account's `sub` is `sub-<name>` and its Slack-style user id claim is
 * `<name>`, so a test can tell which claim names the approver.
 */
export const SLACK_USER_ID_CLAIM = 'https://slack.com/user_id';

export interface OidcProvider {
  issuer: string;
  clientId: string;
  clientSecret: string;
  close(): Promise<void>;
}

export async function startOidcProvider(redirectUri: string): Promise<OidcProvider> {
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const clientId = 'gantry';
  const clientSecret = 'gantry-client-secret-0123456789abcdef';
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: clientId,
        client_secret: clientSecret,
        redirect_uris: [redirectUri],
        grant_types: ['authorization_code'],
        response_types: ['code'],
      },
    ],
    claims: { openid: ['sub'], email: ['email', 'email_verified'], slack: [SLACK_USER_ID_CLAIM] },
    scopes: ['openid', 'email', 'slack'],
    async findAccount(_ctx, sub) {
      const name = sub.replace(/^sub-/, '');
      return {
        accountId: sub,
        claims: async () => ({
          sub,
          email: `${name}@example.test`,
          email_verified: true,
          [SLACK_USER_ID_CLAIM]: name,
        }),
      };
    },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    features: { devInteractions: { enabled: false } },
    cookies: { keys: ['oidc-provider-test-cookie-key'] },
    ttl: {
      Interaction: 600,
      Session: 3600,
      Grant: 3600,
      AuthorizationCode: 60,
      AccessToken: 600,
      IdToken: 600,
    },
  });
  const callback = provider.callback();
  server.on('request', async (req, res) => {
    const url = new URL(req.url ?? '/', issuer);
    const login = /^\/interaction\/[^/]+$/.test(url.pathname) ? url.searchParams.get('login') : null;
    if (!login) return callback(req, res);
    try {
      const { params } = await provider.interactionDetails(req, res);
      const grant = new provider.Grant({ accountId: `sub-${login}`, clientId: String(params.client_id) });
      grant.addOIDCScope(String(params.scope));
      const grantId = await grant.save();
      await provider.interactionFinished(
        req,
        res,
        { login: { accountId: `sub-${login}` }, consent: { grantId } },
        { mergeWithLastSubmission: false },
      );
    } catch (error) {
      res.writeHead(400, { 'content-type': 'text/plain' }).end(String(error));
    }
  });
  return {
    issuer,
    clientId,
    clientSecret,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

interface StoredCookie {
  origin: string;
  name: string;
  value: string;
  path: string;
}

/**
 * A browser for plain HTTP: a cookie jar (origin and path scoped, Max-Age=0 deletes) over fetch, with
 * redirects followed by hand so a test can stop at any of them.
 */
export class Browser {
  private cookies: StoredCookie[] = [];

  /** The cookie header this browser sends to `url`. */
  cookieHeader(url: string): string {
    const { origin, pathname } = new URL(url);
    return this.cookies
      .filter(
        (c) =>
          c.origin === origin &&
          (pathname === c.path || pathname.startsWith(`${c.path.replace(/\/$/, '')}/`)),
      )
      .sort((a, b) => b.path.length - a.path.length)
      .map((c) => `${c.name}=${c.value}`)
      .join('; ');
  }

  cookie(url: string, name: string): string | undefined {
    const { origin } = new URL(url);
    return this.cookies.find((c) => c.origin === origin && c.name === name)?.value;
  }

  setCookie(url: string, name: string, value: string, path = '/'): void {
    const { origin } = new URL(url);
    this.cookies = this.cookies.filter((c) => !(c.origin === origin && c.name === name && c.path === path));
    this.cookies.push({ origin, name, value, path });
  }

  async request(
    url: string,
    init: { method?: string; form?: Record<string, string> } = {},
  ): Promise<Response> {
    const cookie = this.cookieHeader(url);
    const res = await fetch(url, {
      method: init.method ?? (init.form ? 'POST' : 'GET'),
      redirect: 'manual',
      headers: {
        ...(cookie ? { cookie } : {}),
        ...(init.form ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
      },
      body: init.form ? new URLSearchParams(init.form).toString() : undefined,
    });
    for (const header of res.headers.getSetCookie()) {
      const [pair = '', ...attributes] = header.split(';').map((part) => part.trim());
      const name = pair.slice(0, pair.indexOf('='));
      const value = pair.slice(pair.indexOf('=') + 1);
      const attribute = (key: string) =>
        attributes.find((a) => a.toLowerCase().startsWith(`${key}=`))?.slice(key.length + 1);
      const path = attribute('path') ?? '/';
      const expired =
        attribute('max-age') === '0' || Date.parse(attribute('expires') ?? '') < Date.now() || value === '';
      this.cookies = this.cookies.filter(
        (c) => !(c.origin === new URL(url).origin && c.name === name && c.path === path),
      );
      if (!expired) this.cookies.push({ origin: new URL(url).origin, name, value, path });
    }
    return res;
  }

  /** GETs `url` and follows redirects while `until` does not hold for the next URL; the last URL and answer. */
  async follow(
    url: string,
    until: (next: URL) => boolean = () => false,
  ): Promise<{ url: string; res: Response }> {
    let current = url;
    for (let hop = 0; hop < 10; hop++) {
      const res = await this.request(current);
      const location = res.headers.get('location');
      if (res.status < 300 || res.status >= 400 || !location) return { url: current, res };
      const next = new URL(location, current);
      if (until(next)) return { url: next.href, res };
      current = next.href;
    }
    throw new Error(`too many redirects from ${url}`);
  }
}
