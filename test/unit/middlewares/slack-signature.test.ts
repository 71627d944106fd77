import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { slackSignature } from '../../../functions/http/middlewares/slack-signature';
import { requestFor, routeOf } from './request';

const SECRET = 'slack-signing-secret-0123456789';
const route = routeOf({
  method: 'POST',
  path: '/slack/interactions',
  auth: { type: 'slack' },
  bodyType: 'form',
});
const BODY = 'payload=%7B%22type%22%3A%22block_actions%22%7D';

/** A request as Slack signs it: v0:<timestamp>:<raw body>, HMAC-SHA256 with the signing secret. */
function fromSlack(body = BODY, timestamp = Math.floor(Date.now() / 1000), secret = SECRET) {
  const signature = `v0=${createHmac('sha256', secret).update(`v0:${timestamp}:${body}`).digest('hex')}`;
  return requestFor(route, {
    api: {
      rawBody: body,
      headers: { 'x-slack-signature': signature, 'x-slack-request-timestamp': String(timestamp) },
    },
  });
}

function middleware(secret: () => Promise<string | undefined> = async () => SECRET) {
  const seen: string[] = [];
  const checked = slackSignature({
    secret,
    firstUse: async (signature) => !seen.includes(signature) && seen.push(signature) > 0,
  });
  return { checked, seen };
}

describe('the Slack-signature middleware', () => {
  it('accepts a request Slack signed, and remembers its signature', async () => {
    const { checked, seen } = middleware();
    const request = fromSlack();

    await expect(checked.before?.(request)).resolves.toBeUndefined();
    expect(seen).toEqual([`slack:${request.event.api?.headers['x-slack-signature']}`]);
  });

  it.each([
    ['a body changed after signing', () => changedBody()],
    ['another signing secret', () => fromSlack(BODY, undefined, 'another-secret-0123456789')],
    ['a timestamp over 300 s old', () => fromSlack(BODY, Math.floor(Date.now() / 1000) - 301)],
    ['no signature', () => requestFor(route, { api: { rawBody: BODY } })],
  ])('answers %s with 401 unauthenticated', async (_name, request) => {
    await expect(middleware().checked.before?.(request())).rejects.toMatchObject({
      code: 'unauthenticated',
      message: 'The Slack signature is missing or invalid.',
    });
  });

  it('refuses every request while no signing secret is configured', async () => {
    await expect(middleware(async () => undefined).checked.before?.(fromSlack())).rejects.toMatchObject({
      code: 'unauthenticated',
    });
  });

  it('answers a replayed request with 401', async () => {
    const { checked } = middleware();
    const timestamp = Math.floor(Date.now() / 1000);
    await checked.before?.(fromSlack(BODY, timestamp));

    await expect(checked.before?.(fromSlack(BODY, timestamp))).rejects.toMatchObject({
      code: 'unauthenticated',
      message: 'This Slack request was already received (replay).',
    });
  });

  it('leaves routes of other schemes alone', async () => {
    const { checked, seen } = middleware();

    await expect(checked.before?.(requestFor(routeOf()))).resolves.toBeUndefined();
    expect(seen).toEqual([]);
  });
});

function changedBody() {
  const request = fromSlack();
  if (request.event.api) request.event.api.rawBody = BODY.replace('block_actions', 'view_submission');
  return request;
}
