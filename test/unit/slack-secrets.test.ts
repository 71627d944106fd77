import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { slackWebhookUrl } from '../../shared/services/approvals';
import { type Loopback, serveLoopback } from '../helpers/loopback';

/**
 * Issue 16 item 5: the Slack secrets are read through the 60 s secret cache, the "not configured"
 * placeholder included, so filling them in after `cdk deploy` takes effect within a minute. Secrets
 * Manager is a loopback fake answering its JSON protocol, reached through the real SDK client.
 */
let secretsManager: Loopback;
let stored = 'REPLACE_WITH_THE_SLACK_WEBHOOK_URL';
let reads = 0;

beforeAll(async () => {
  secretsManager = await serveLoopback((req, res, body) => {
    expect(req.headers['x-amz-target']).toBe('secretsmanager.GetSecretValue');
    expect(JSON.parse(body).SecretId).toBe('gantry/slack-webhook');
    reads++;
    res.writeHead(200, { 'content-type': 'application/x-amz-json-1.1' });
    res.end(JSON.stringify({ Name: 'gantry/slack-webhook', SecretString: stored }));
  });
  Object.assign(process.env, {
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
    AWS_ENDPOINT_URL_SECRETS_MANAGER: secretsManager.origin,
    GANTRY_SLACK_WEBHOOK_SECRET_ID: 'gantry/slack-webhook',
  });
  delete process.env.SLACK_WEBHOOK_URL;
});

afterAll(async () => {
  vi.useRealTimers();
  await secretsManager.close();
});

describe('Slack secrets in AWS', () => {
  it('are not cached past a minute, so a secret filled in after deploy takes effect', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(new Date('2026-12-02T10:00:00Z'));
    expect(await slackWebhookUrl()).toBeUndefined();
    stored = 'https://hooks.slack.test/services/T0/B0/x';
    // Within the minute the cached placeholder answers (one read, not one per call).
    expect(await slackWebhookUrl()).toBeUndefined();
    expect(reads).toBe(1);
    vi.setSystemTime(new Date('2026-12-02T10:01:01Z'));
    expect(await slackWebhookUrl()).toBe('https://hooks.slack.test/services/T0/B0/x');
    expect(reads).toBe(2);
  });
});
