import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalServer } from '../../infra/local/server';
import { signRequest } from '../../shared/core/signature';
import { FakeAgent } from '../helpers/agent';
import { type Client, eventually } from '../helpers/client';
import { startTestServer } from '../helpers/local';
import { type Loopback, serveLoopback } from '../helpers/loopback';

/**
 * examples/teams-forwarder/forwarder.mjs as it is, between a local Gantry and a fake Teams incoming
 * webhook: it takes only deliveries signed with the subscription's secret, posts each as an Adaptive
 * Card once, and makes Gantry try again while Teams fails.
 */

interface Forwarder {
  startForwarder(options: {
    port: number;
    secret: string;
    teamsUrl: string;
    log: (line: string) => void;
  }): Promise<Server>;
}
interface TeamsMessage {
  type: string;
  attachments: {
    contentType: string;
    content: { type: string; body: { text?: string; facts?: { title: string; value: string }[] }[] };
  }[];
}

const SECRET = 'teams-forwarder-secret-0123456789';
let server: LocalServer;
let admin: Client;
let teams: Loopback;
let forwarder: Server;
let forwarderUrl = '';
const agent = new FakeAgent();
const cards: TeamsMessage[] = [];
let teamsFailures = 0;

beforeAll(async () => {
  teams = await serveLoopback((_req, res, body) => {
    if (teamsFailures-- > 0) return res.writeHead(500).end();
    cards.push(JSON.parse(body) as TeamsMessage);
    res.writeHead(200).end('1');
  });
  const file = new URL('../../examples/teams-forwarder/forwarder.mjs', import.meta.url).href;
  const example = (await import(file)) as Forwarder;
  forwarder = await example.startForwarder({
    port: 0,
    secret: SECRET,
    teamsUrl: `${teams.origin}/webhook`,
    log: () => undefined,
  });
  forwarderUrl = `http://127.0.0.1:${(forwarder.address() as AddressInfo).port}/gantry`;
  await agent.start();
  ({ server, admin } = await startTestServer({ timeScale: 60, secrets: JSON.stringify({ teams: SECRET }) }));
});

afterAll(async () => {
  await server?.close();
  forwarder?.close();
  await teams?.close();
  await agent.stop();
});

/** A delivery as Gantry signs it, sent straight to the forwarder. */
function post(body: string, secret: string, timestamp = Math.floor(Date.now() / 1000), delivery = 'x:1') {
  const path = new URL(forwarderUrl).pathname;
  return fetch(forwarderUrl, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-gantry-delivery': delivery,
      'x-gantry-timestamp': String(timestamp),
      'x-gantry-signature': signRequest(secret, String(timestamp), 'POST', path, body),
    },
    body,
  });
}

describe('the Teams forwarder example', () => {
  it('refuses what is not signed with the secret, or signed long ago', async () => {
    const body = JSON.stringify({
      id: '1',
      time: new Date().toISOString(),
      detailType: 'Release Failed',
      actor: {},
    });

    expect((await post(body, 'another-secret')).status).toBe(401);
    expect((await post(body, SECRET, Math.floor(Date.now() / 1000) - 600)).status).toBe(401);
    expect((await fetch(forwarderUrl, { method: 'POST', body })).status).toBe(401);
    expect(cards).toHaveLength(0);

    expect((await post(body, SECRET)).status).toBe(204);
    expect((await post(body, SECRET)).status).toBe(200); // the same delivery again: not posted twice
    expect(cards).toHaveLength(1);
    cards.length = 0;
  });

  it('posts a release of a subscription as an Adaptive Card, once, Teams failing at first', async () => {
    await admin.put('/v1/resources/prod-1', { kind: 'vm', name: 'prod-1', metadata: { env: 'production' } });
    await admin.put('/v1/environments/production', {
      resourceSelector: "resource.metadata.env == 'production'",
    });
    await admin.put('/v1/deployments/web', {
      environments: ['production'],
      jobAgent: { type: 'webhook', url: agent.url },
    });
    const put = await admin.put('/v1/subscriptions/teams', {
      url: forwarderUrl,
      secretRef: 'teams',
      detailTypes: ['Release Succeeded'],
    });
    expect(put.status).toBe(201);
    await new Promise((r) => setTimeout(r, 250));
    teamsFailures = 2;

    await admin.post('/v1/deployments/web/versions', { tag: 'v1' });

    await eventually(
      async () => cards.length,
      (n) => n === 1,
      { timeoutMs: 20_000 },
    );
    const card = cards[0]?.attachments[0];
    expect(card?.contentType).toBe('application/vnd.microsoft.card.adaptive');
    expect(card?.content.body[0]?.text).toBe('Release Succeeded: web v1 → production / prod-1');
    expect(card?.content.body[1]?.facts).toContainEqual({ title: 'Environment', value: 'production' });
    const view = await admin.get<{ deliveries: { status: string; attempts: number }[] }>(
      '/v1/subscriptions/teams',
    );
    expect(view.body.deliveries).toMatchObject([{ status: 'delivered', attempts: 3 }]);
    await new Promise((r) => setTimeout(r, 1_000));
    expect(cards).toHaveLength(1);
  });
});
