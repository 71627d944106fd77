// Gantry events in a Microsoft Teams channel: receives the deliveries of a Gantry subscription
// (docs/subscriptions.md), checks their signature, and posts each as an Adaptive Card to a Teams
// incoming webhook (a Workflows "When a Teams webhook request is received" URL, or a classic one).
// No dependencies; Node 20 or later.
//
// Run:  GANTRY_SUBSCRIPTION_SECRET=... TEAMS_WEBHOOK_URL=https://... node examples/teams-forwarder/forwarder.mjs
// Then: PUT /v1/subscriptions/teams {"url": "https://<where this runs>/gantry", "secretRef": "<name of the same secret>",
//       "detailTypes": ["Release Succeeded", "Release Failed", "Release Rolled Back", "Approval Requested"]}
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';
import { fileURLToPath } from 'node:url';

const MAX_SKEW_SECONDS = 300;
const MAX_BODY_BYTES = 1024 * 1024;

/**
 * docs/api.md sections 2 and 6: `X-Gantry-Signature: v1=<hex HMAC-SHA256(secret, string to sign)>`, the
 * string to sign being v1, the timestamp, POST, the canonical path with its query, and the body's SHA-256.
 */
export function verifySignature({
  secret,
  method,
  pathWithQuery,
  headers,
  body,
  nowSeconds = Date.now() / 1000,
}) {
  const timestamp = headers['x-gantry-timestamp'];
  const signature = headers['x-gantry-signature'];
  if (typeof timestamp !== 'string' || !/^\d{1,12}$/.test(timestamp) || typeof signature !== 'string')
    return false;
  if (Math.abs(nowSeconds - Number(timestamp)) > MAX_SKEW_SECONDS) return false;
  const toSign = ['v1', timestamp, method.toUpperCase(), canonical(pathWithQuery), sha256(body)].join('\n');
  const expected = Buffer.from(`v1=${createHmac('sha256', secret).update(toSign).digest('hex')}`);
  const given = Buffer.from(signature);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** Each path segment decoded, then encoded with encodeURIComponent; the query as it is. */
function canonical(pathWithQuery) {
  const at = pathWithQuery.indexOf('?');
  const path = at === -1 ? pathWithQuery : pathWithQuery.slice(0, at);
  const query = at === -1 ? '' : pathWithQuery.slice(at);
  const segments = path.split('/').map((segment) => {
    try {
      return encodeURIComponent(decodeURIComponent(segment));
    } catch {
      return segment;
    }
  });
  return segments.join('/') + query;
}

const sha256 = (body) => createHash('sha256').update(body).digest('hex');

/** A Teams message holding one Adaptive Card for a Gantry event (the body `GET /v1/events` shows for it). */
export function toTeamsMessage(event) {
  const where = [event.environment, event.resource].filter(Boolean).join(' / ');
  const what = [event.deployment, event.version].filter(Boolean).join(' ');
  const actor = event.actor?.approver ?? event.actor?.keyId ?? event.actor?.system;
  const bad = /Failed|Rolled Back|Failing/.test(event.detailType);
  const facts = [
    ['Deployment', event.deployment],
    ['Version', event.version],
    ['Environment', event.environment],
    ['Resource', event.resource],
    ['By', actor],
    ['Message', typeof event.data?.message === 'string' ? event.data.message : undefined],
    ['At', event.time],
  ].filter(([, value]) => value);
  const card = {
    $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
    type: 'AdaptiveCard',
    version: '1.4',
    body: [
      {
        type: 'TextBlock',
        size: 'Medium',
        weight: 'Bolder',
        wrap: true,
        color: bad ? 'Attention' : 'Default',
        text: `${event.detailType}${what ? `: ${what}` : ''}${where ? ` → ${where}` : ''}`,
      },
      { type: 'FactSet', facts: facts.map(([title, value]) => ({ title, value: String(value) })) },
    ],
  };
  return {
    type: 'message',
    attachments: [
      { contentType: 'application/vnd.microsoft.card.adaptive', contentUrl: null, content: card },
    ],
  };
}

/**
 * The forwarder: 401 for a bad signature, 2xx once Teams took the card (and for a delivery it already
 * forwarded), 502 when Teams did not, so Gantry tries again later, in order.
 */
export function startForwarder({ port = 4100, host = '127.0.0.1', secret, teamsUrl, log = console.log }) {
  if (!secret || !teamsUrl) throw new Error('GANTRY_SUBSCRIPTION_SECRET and TEAMS_WEBHOOK_URL are required');
  const forwarded = new Set();
  const server = createServer(async (req, res) => {
    const chunks = [];
    let size = 0;
    for await (const chunk of req) {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) return res.writeHead(413).end();
      chunks.push(chunk);
    }
    const body = Buffer.concat(chunks);
    const signed = {
      secret,
      method: req.method ?? 'POST',
      pathWithQuery: req.url ?? '/',
      headers: req.headers,
      body,
    };
    if (req.method !== 'POST') return res.writeHead(405).end();
    if (!verifySignature(signed)) return res.writeHead(401).end();
    const delivery = String(req.headers['x-gantry-delivery'] ?? '');
    if (forwarded.has(delivery)) return res.writeHead(200).end();
    let event;
    try {
      event = JSON.parse(body.toString('utf8'));
    } catch {
      return res.writeHead(400).end();
    }
    try {
      const answer = await fetch(teamsUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(toTeamsMessage(event)),
        redirect: 'error',
        signal: AbortSignal.timeout(8_000),
      });
      if (!answer.ok) throw new Error(`Teams answered ${answer.status}`);
    } catch (error) {
      log(`${delivery}: not forwarded (${error.message})`);
      return res.writeHead(502).end();
    }
    forwarded.add(delivery);
    if (forwarded.size > 10_000) forwarded.delete(forwarded.values().next().value);
    log(`${delivery}: ${event.detailType} forwarded`);
    res.writeHead(204).end();
  });
  return new Promise((resolve) => server.listen(port, host, () => resolve(server)));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const server = await startForwarder({
    port: Number(process.env.PORT ?? 4100),
    host: process.env.HOST ?? '127.0.0.1',
    secret: process.env.GANTRY_SUBSCRIPTION_SECRET,
    teamsUrl: process.env.TEAMS_WEBHOOK_URL,
  });
  console.log(
    `forwarding Gantry deliveries to Teams on http://${server.address().address}:${server.address().port}/`,
  );
}
