import { runtime } from '../../../shared/adapters/runtime';
import { verifySlackSignature } from '../../../shared/adapters/slack';
import { recordNonce } from '../../../shared/adapters/store/nonces';
import { unauthenticated } from '../../../shared/core/errors';
import { slackSigningSecret } from '../../../shared/services/approvals';
import { apiOf, type HttpMiddleware } from '../api';

/**
 * The `slack` scheme (docs/api.md section 7): Slack's v0 signature of the raw body with the signing
 * secret, within 300 s, each signature accepted once. With no signing secret configured every call is
 * refused.
 */
export function slackSignature({
  secret = slackSigningSecret,
  firstUse = (signature: string, nowMs: number) => recordNonce(runtime(), signature, nowMs),
}: {
  secret?: () => Promise<string | undefined>;
  firstUse?: (signature: string, nowMs: number) => Promise<boolean>;
} = {}): HttpMiddleware {
  return {
    before: async (request) => {
      const api = apiOf(request);
      if (api.route.auth.type !== 'slack') return;
      const signingSecret = await secret();
      const signature = api.headers['x-slack-signature'];
      const valid =
        signingSecret !== undefined &&
        verifySlackSignature({
          signingSecret,
          timestamp: api.headers['x-slack-request-timestamp'],
          signature,
          rawBody: api.rawBody,
          nowSeconds: Math.floor(Date.now() / 1000),
        });
      if (!valid) throw unauthenticated('The Slack signature is missing or invalid.');
      if (!(await firstUse(`slack:${signature}`, Date.now())))
        throw unauthenticated('This Slack request was already received (replay).');
    },
  };
}
