import { createHmac } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { outbound } from '../../shared/adapters/outbound';
import {
  type ApprovalSummary,
  approvalMessage,
  parseInteraction,
  postToSlack,
  SlackError,
  verifySlackSignature,
} from '../../shared/adapters/slack';

const REVIEW_URL = 'https://gantry.example.com/approvals/01APPROVAL?t=tok_abc123-XYZ';

const summary: ApprovalSummary = {
  approvalId: '01APPROVAL',
  deployment: { id: 'api', name: 'Payments API' },
  version: 'v1.2.3',
  environment: { id: 'prod', name: 'Production' },
  targets: ['cluster-eu-1', 'cluster-us-1'],
  minApprovals: 2,
  approvers: ['alice', 'bob'],
  expiresAt: '2026-11-21T10:00:00.000Z',
  reviewUrl: REVIEW_URL,
};

interface Button {
  type: string;
  text: { text: string };
  action_id?: string;
  value?: string;
  url?: string;
  style?: string;
}

function buttons(blocks: unknown[]): Button[] {
  const actions = blocks.find((b) => (b as { type: string }).type === 'actions') as
    | { elements: Button[] }
    | undefined;
  expect(actions).toBeDefined();
  return actions?.elements ?? [];
}

describe('approvalMessage', () => {
  it('puts the review link in the fallback text and on a primary Review button', () => {
    const { text, blocks } = approvalMessage(summary);
    expect(text).toContain(REVIEW_URL);
    const review = buttons(blocks).find((b) => b.text.text === 'Review');
    expect(review).toMatchObject({ url: REVIEW_URL, style: 'primary' });
  });

  it('has Approve and Reject buttons carrying the approval id', () => {
    const all = buttons(approvalMessage(summary).blocks);
    expect(all.find((b) => b.text.text === 'Approve')).toMatchObject({
      action_id: 'gantry_approve',
      value: '01APPROVAL',
    });
    expect(all.find((b) => b.text.text === 'Reject')).toMatchObject({
      action_id: 'gantry_reject',
      value: '01APPROVAL',
    });
    expect(new Set(all.map((b) => b.action_id)).size).toBe(all.length);
  });

  it('names deployment, version, environment, targets, min approvals and expiry', () => {
    const json = JSON.stringify(approvalMessage(summary).blocks);
    for (const s of [
      'Payments API',
      'v1.2.3',
      'Production',
      'cluster-eu-1',
      'cluster-us-1',
      'Approvals needed:*\\n2',
      'alice',
      '2026-11-21T10:00:00.000Z',
      `<!date^${Date.parse(summary.expiresAt) / 1000}^`,
    ]) {
      expect(json).toContain(s);
    }
  });

  it('escapes &, < and > in user-provided strings', () => {
    const { text, blocks } = approvalMessage({
      ...summary,
      deployment: { id: 'api', name: '<script>alert(1)</script> & <!channel>' },
      environment: { id: 'prod', name: 'A&B' },
      targets: ['<@U123>'],
    });
    const mrkdwn = JSON.stringify(blocks.filter((b) => (b as { type: string }).type === 'section'));
    for (const s of [text, mrkdwn]) {
      expect(s).not.toContain('<script>');
      expect(s).not.toContain('<!channel>');
      expect(s).not.toContain('<@U123>');
      expect(s).toContain('&lt;script&gt;alert(1)&lt;/script&gt; &amp; &lt;!channel&gt;');
      expect(s).toContain('A&amp;B');
    }
  });

  it('caps the target list at 20 plus "and N more"', () => {
    const targets = Array.from({ length: 45 }, (_, i) => `res-${String(i).padStart(2, '0')}`);
    const json = JSON.stringify(approvalMessage({ ...summary, targets }).blocks);
    expect(json).toContain('res-19');
    expect(json).not.toContain('res-20');
    expect(json).toContain('and 25 more');
    expect(json).toContain('(45)');
  });

  it('counts an approval that names only its first targets as "N+"', () => {
    const targets = Array.from({ length: 45 }, (_, i) => `res-${String(i).padStart(2, '0')}`);
    const message = approvalMessage({ ...summary, targets, moreTargets: true });
    expect(message.text).toContain('(45+ targets)');
    const json = JSON.stringify(message.blocks);
    expect(json).toContain('(45+)');
    expect(json).toContain('and 25+ more');
  });

  it('keeps long targets within the section limit', () => {
    const targets = Array.from({ length: 30 }, (_, i) => `${i}-${'x'.repeat(250)}`);
    const { blocks } = approvalMessage({ ...summary, targets });
    for (const block of blocks as { type: string; text?: { text: string } }[]) {
      if (block.type === 'section' && block.text) expect(block.text.text.length).toBeLessThanOrEqual(3000);
    }
    expect(JSON.stringify(blocks)).toMatch(/and \d+ more/);
  });
});

describe('verifySlackSignature', () => {
  const signingSecret = '8f742231b10e8888abcd99yyyzzz85a5';
  const rawBody = 'payload=%7B%22type%22%3A%22block_actions%22%7D';
  const now = 1_700_000_000;
  const sign = (secret: string, ts: string, body: string) =>
    `v0=${createHmac('sha256', secret).update(`v0:${ts}:${body}`).digest('hex')}`;
  const valid = {
    signingSecret,
    timestamp: String(now),
    signature: sign(signingSecret, String(now), rawBody),
    rawBody,
    nowSeconds: now,
  };

  it('accepts a valid signature, also a little off in time', () => {
    expect(verifySlackSignature(valid)).toBe(true);
    expect(verifySlackSignature({ ...valid, nowSeconds: now + 300 })).toBe(true);
    expect(verifySlackSignature({ ...valid, nowSeconds: now - 30 })).toBe(true);
  });

  it('rejects a signature made with another secret', () => {
    expect(verifySlackSignature({ ...valid, signature: sign('other-secret', String(now), rawBody) })).toBe(
      false,
    );
  });

  it('rejects a tampered body', () => {
    expect(verifySlackSignature({ ...valid, rawBody: `${rawBody}x` })).toBe(false);
  });

  it('rejects a stale timestamp (301 s) and one from the future', () => {
    expect(verifySlackSignature({ ...valid, nowSeconds: now + 301 })).toBe(false);
    const future = String(now + 301);
    expect(
      verifySlackSignature({ ...valid, timestamp: future, signature: sign(signingSecret, future, rawBody) }),
    ).toBe(false);
  });

  it('rejects missing headers and an empty secret', () => {
    expect(verifySlackSignature({ ...valid, timestamp: undefined })).toBe(false);
    expect(verifySlackSignature({ ...valid, signature: undefined })).toBe(false);
    expect(verifySlackSignature({ ...valid, signature: '' })).toBe(false);
    expect(
      verifySlackSignature({ ...valid, signingSecret: '', signature: sign('', String(now), rawBody) }),
    ).toBe(false);
  });

  it('rejects malformed signatures and timestamps', () => {
    const hex = valid.signature.slice(3);
    for (const signature of [hex, `v1=${hex}`, `v0=${hex.slice(2)}`, `v0=${hex}00`, `v0=${'z'.repeat(64)}`]) {
      expect(verifySlackSignature({ ...valid, signature })).toBe(false);
    }
    for (const timestamp of ['abc', `${now}.5`, '-1', '']) {
      expect(
        verifySlackSignature({ ...valid, timestamp, signature: sign(signingSecret, timestamp, rawBody) }),
      ).toBe(false);
    }
  });
});

describe('parseInteraction', () => {
  /** Shaped like the block_actions payload Slack posts to the interactivity URL. */
  function slackBody(actions: unknown[]): string {
    const payload = {
      type: 'block_actions',
      user: { id: 'U0123ABCD', username: 'alice', name: 'alice', team_id: 'T0001' },
      api_app_id: 'A0001',
      token: 'verification-token',
      container: {
        type: 'message',
        message_ts: '1700000000.000100',
        channel_id: 'C0001',
        is_ephemeral: false,
      },
      trigger_id: '1234.5678.abcd',
      team: { id: 'T0001', domain: 'example' },
      channel: { id: 'C0001', name: 'deploys' },
      message: { type: 'message', text: 'Approval needed', ts: '1700000000.000100' },
      response_url: 'https://hooks.slack.com/actions/T0001/1234/abcd',
      actions,
    };
    return `payload=${encodeURIComponent(JSON.stringify(payload))}`;
  }
  const action = (action_id: string, value?: string) => ({
    action_id,
    block_id: 'gantry_approval',
    text: { type: 'plain_text', text: 'Approve', emoji: true },
    ...(value === undefined ? {} : { value }),
    type: 'button',
    action_ts: '1700000001.000200',
  });

  it('reads the user, action, approval id and response url', () => {
    expect(parseInteraction(slackBody([action('gantry_approve', '01APPROVAL')]))).toEqual({
      userId: 'U0123ABCD',
      userName: 'alice',
      actionId: 'gantry_approve',
      approvalId: '01APPROVAL',
      responseUrl: 'https://hooks.slack.com/actions/T0001/1234/abcd',
    });
    expect(parseInteraction(slackBody([action('gantry_reject', '01APPROVAL')]))?.actionId).toBe(
      'gantry_reject',
    );
  });

  it('decodes `+` as a space, as form encoding does', () => {
    const body = slackBody([action('gantry_approve', 'a b')]).replace(/%20/g, '+');
    expect(parseInteraction(body)?.approvalId).toBe('a b');
  });

  it('ignores other buttons, including the Review link button', () => {
    expect(parseInteraction(slackBody([action('gantry_review')]))).toBeUndefined();
    expect(parseInteraction(slackBody([action('something_else', '01APPROVAL')]))).toBeUndefined();
    expect(parseInteraction(slackBody([action('gantry_approve')]))).toBeUndefined();
    expect(parseInteraction(slackBody([]))).toBeUndefined();
  });

  it('returns undefined for garbage', () => {
    for (const body of [
      '',
      'garbage',
      'payload=',
      'payload=%7Bnot-json',
      `payload=${encodeURIComponent('null')}`,
      `payload=${encodeURIComponent('"text"')}`,
      `payload=${encodeURIComponent(JSON.stringify({ type: 'view_submission', user: { id: 'U1' } }))}`,
      `payload=${encodeURIComponent(JSON.stringify({ type: 'block_actions', user: {}, actions: [] }))}`,
      `payload=${encodeURIComponent(JSON.stringify({ type: 'block_actions', user: { id: 'U1' }, actions: 'x' }))}`,
    ]) {
      expect(parseInteraction(body)).toBeUndefined();
    }
  });
});

describe('postToSlack', () => {
  interface Recorded {
    method: string;
    headers: IncomingHttpHeaders;
    body: string;
  }
  const servers: { close: () => void }[] = [];
  afterEach(() => {
    for (const server of servers.splice(0)) server.close();
  });

  async function startServer(handler: (index: number, res: ServerResponse) => void) {
    const requests: Recorded[] = [];
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        requests.push({
          method: req.method ?? '',
          headers: req.headers,
          body: Buffer.concat(chunks).toString('utf8'),
        });
        handler(requests.length - 1, res);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    servers.push({
      close: () => {
        server.closeAllConnections();
        server.close();
      },
    });
    const { port } = server.address() as AddressInfo;
    return { url: `http://127.0.0.1:${port}/services/T000/B000/secretXYZ`, requests };
  }

  const fast = { retryDelayMs: 1 };

  async function slackError(promise: Promise<void>, url: string): Promise<SlackError> {
    const error = await promise.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(SlackError);
    const failure = error as SlackError;
    expect(failure.message).not.toContain(url);
    expect(failure.message).not.toContain('secretXYZ');
    expect(String(failure.stack)).not.toContain('secretXYZ');
    return failure;
  }

  it('POSTs the body as JSON', async () => {
    const server = await startServer((_i, res) => res.writeHead(200).end('ok'));
    const body = approvalMessage(summary);
    await postToSlack(server.url, body, outbound, fast);
    expect(server.requests).toHaveLength(1);
    const [request] = server.requests;
    expect(request?.method).toBe('POST');
    expect(request?.headers['content-type']).toBe('application/json');
    expect(JSON.parse(request?.body ?? '')).toEqual(body);
  });

  it('retries on 500 and succeeds', async () => {
    const server = await startServer((i, res) => res.writeHead(i < 2 ? 500 : 200).end(i < 2 ? 'oops' : 'ok'));
    await postToSlack(server.url, { text: 'hi' }, outbound, fast);
    expect(server.requests).toHaveLength(3);
    expect(new Set(server.requests.map((r) => r.body))).toEqual(new Set(['{"text":"hi"}']));
  });

  it('gives up after two retries without naming the URL', async () => {
    const server = await startServer((_i, res) => res.writeHead(503).end('service_unavailable'));
    const error = await slackError(postToSlack(server.url, { text: 'hi' }, outbound, fast), server.url);
    expect(server.requests).toHaveLength(3);
    expect(error.status).toBe(503);
    expect(error.message).toContain('503');
  });

  it('does not retry a 4xx', async () => {
    const server = await startServer((_i, res) => res.writeHead(400).end('invalid_payload'));
    const error = await slackError(postToSlack(server.url, { text: 'hi' }, outbound, fast), server.url);
    expect(server.requests).toHaveLength(1);
    expect(error.message).toContain('invalid_payload');
  });

  it('does not echo an unexpected response body', async () => {
    const server = await startServer((_i, res) => res.writeHead(404).end(`no route for ${server.url}`));
    await slackError(postToSlack(server.url, { text: 'hi' }, outbound, fast), server.url);
  });

  it('times out and retries a server that does not answer', async () => {
    const server = await startServer((i, res) => {
      if (i === 2) res.writeHead(200).end('ok');
    });
    await postToSlack(server.url, { text: 'hi' }, outbound, { ...fast, timeoutMs: 200 });
    expect(server.requests).toHaveLength(3);
  });

  it('reports a timeout once retries are used up', async () => {
    const server = await startServer(() => {});
    const error = await slackError(
      postToSlack(server.url, { text: 'hi' }, outbound, { ...fast, timeoutMs: 100 }),
      server.url,
    );
    expect(error.message).toMatch(/timed out/);
    expect(server.requests).toHaveLength(3);
  });

  it('does not name the URL when the connection fails', async () => {
    const url = 'http://127.0.0.1:1/services/T000/B000/secretXYZ';
    const error = await slackError(postToSlack(url, { text: 'hi' }, outbound, fast), url);
    expect(error.message).toMatch(/could not be reached/);
  });
});
