import { createHmac } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROUTES, type RouteSpec } from '../../functions/http/routes';
import type { LocalServer } from '../../infra/local/server';
import { signedHeaders } from '../../shared/core/signature';
import { FakeAgent } from '../helpers/agent';
import { eventually, type Key, unusedSecond } from '../helpers/client';
import { startTestServer, TEST_KEYS } from '../helpers/local';
import { Browser, type OidcProvider, startOidcProvider } from '../helpers/oidc';
import { FakeSlack } from '../helpers/slack';

/**
 * Issue 18, docs/api.md section 1: GET /openapi.json types every answer. A scenario through the local
 * server calls every route, with its success and the typical errors, and each live answer (status,
 * media type, JSON body) is checked against the document with ajv as it arrives: a generated client
 * gets what the document promises.
 */

interface Response {
  $ref?: string;
  description?: string;
  content?: Record<string, { schema?: { $ref?: string; type?: string } }>;
}
interface Operation {
  operationId: string;
  responses: Record<string, Response>;
}
interface Document {
  paths: Record<string, Record<string, Operation>>;
  components: { responses: Record<string, Response>; schemas: Record<string, unknown> };
}

const SIGNING_SECRET = 'slack-signing-secret-for-answers';
const key = (id: string): Key => TEST_KEYS.find((k) => k.id === id) as Key;
const ADMIN = key('admin');
const READER = key('reader');
const APPROVER = key('approver');

let server: LocalServer;
let idp: OidcProvider;
/** A metrics endpoint for the verification of staging releases. */
let metrics: Server;
let metricsUrl = '';
let doc: Document;
const agent = new FakeAgent();
const slack = new FakeSlack();
const ajv = new Ajv2020({ strict: false, allErrors: true, validateSchema: false });
addFormats(ajv);
const validators = new Map<string, ValidateFunction>();

/** What the scenario was answered: operation and status. */
const seen: { operationId: string; status: number }[] = [];

beforeAll(async () => {
  metrics = createServer((_req, res) =>
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"errorRate":0.001}'),
  );
  await new Promise<void>((resolve) => metrics.listen(0, '127.0.0.1', resolve));
  metricsUrl = `http://127.0.0.1:${(metrics.address() as AddressInfo).port}/metrics`;
  await agent.start();
  await slack.start();
  process.env.SLACK_WEBHOOK_URL = slack.url;
  process.env.SLACK_SIGNING_SECRET = SIGNING_SECRET;
  ({ server } = await startTestServer({ timeScale: 60 }));
  idp = await startOidcProvider(`${server.url}/approvals/oidc/callback`);
  Object.assign(process.env, {
    GANTRY_OIDC_ISSUER: idp.issuer,
    GANTRY_OIDC_CLIENT_ID: idp.clientId,
    GANTRY_OIDC_CLIENT_SECRET: idp.clientSecret,
  });
  doc = (await (await fetch(`${server.url}/openapi.json`)).json()) as Document;
  ajv.addSchema(doc, 'openapi.json');
}, 60_000);

afterAll(async () => {
  for (const name of [
    'SLACK_WEBHOOK_URL',
    'SLACK_SIGNING_SECRET',
    'GANTRY_OIDC_ISSUER',
    'GANTRY_OIDC_CLIENT_ID',
    'GANTRY_OIDC_CLIENT_SECRET',
  ])
    delete process.env[name];
  await server?.close();
  await idp?.close();
  await agent.stop();
  await slack.stop();
  metrics?.close();
});

// ---- checking an answer against the document ----------------------------------------------------

const paramCount = (route: RouteSpec) => route.path.split('{').length - 1;
const MATCHERS = [...ROUTES]
  .sort((a, b) => paramCount(a) - paramCount(b))
  .map((route) => ({ route, pattern: new RegExp(`^${route.path.replace(/\{[^}]+\}/g, '[^/]+')}$`) }));

function routeOf(method: string, pathWithQuery: string): RouteSpec {
  const path = pathWithQuery.split('?')[0] ?? '';
  const found = MATCHERS.find((m) => m.route.method === method && m.pattern.test(path));
  if (!found) throw new Error(`no route serves ${method} ${path}`);
  return found.route;
}

const validatorOf = (ref: string) => {
  let validate = validators.get(ref);
  if (!validate) {
    validate = ajv.compile({ $ref: `openapi.json${ref}` });
    validators.set(ref, validate);
  }
  return validate;
};

/** The problems of one answer against the document, or [] when it is what the document says. */
function problemsOf(route: RouteSpec, status: number, contentType: string, text: string): string[] {
  const operation = doc.paths[route.path]?.[route.method.toLowerCase()] as Operation;
  let response = operation.responses[String(status)];
  if (!response) return [`status ${status} is not documented: ${text.slice(0, 300)}`];
  if (response.$ref) response = doc.components.responses[response.$ref.split('/').pop() as string] ?? {};
  if (status === 204 || (status >= 300 && status < 400)) return [];
  const media = contentType.split(';')[0]?.trim() ?? '';
  const content = response.content?.[media];
  if (!content)
    return [`answered ${media}, documented ${Object.keys(response.content ?? {}).join(', ') || 'nothing'}`];
  if (media !== 'application/json') return [];
  if (!content.schema?.$ref) return ['a JSON answer without a schema'];
  const validate = validatorOf(content.schema.$ref);
  if (validate(JSON.parse(text))) return [];
  return [`${ajv.errorsText(validate.errors, { separator: '\n' })}\nbody: ${text.slice(0, 1500)}`];
}

interface Reply {
  status: number;
  text: string;
  json: Record<string, unknown>;
  headers: Headers;
}

/** Records the answer to `method url` and checks it against the document. */
async function checked(method: string, url: string, res: globalThis.Response): Promise<Reply> {
  const path = url.startsWith('http') ? url.slice(new URL(url).origin.length) : url;
  const route = routeOf(method, path);
  const text = await res.text();
  seen.push({ operationId: route.operationId, status: res.status });
  const problems = problemsOf(route, res.status, res.headers.get('content-type') ?? '', text);
  expect(problems, `${route.operationId} (${method} ${path}) answered ${res.status}`).toEqual([]);
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(text);
  } catch {
    // HTML, CSS, JavaScript, or nothing
  }
  return { status: res.status, text, json, headers: res.headers };
}

/** A request as a client sends it: signed with `as` (when given), JSON unless `raw` says otherwise. */
async function call(
  method: string,
  path: string,
  options: { as?: Key; body?: unknown; raw?: string; headers?: Record<string, string> } = {},
): Promise<Reply> {
  const payload = options.raw ?? (options.body === undefined ? '' : JSON.stringify(options.body));
  const write = `${options.as?.id} ${method} ${path}\n${payload}`;
  const now = method === 'GET' ? Date.now() : unusedSecond(write, Date.now());
  const headers = {
    ...(payload ? { 'content-type': 'application/json' } : {}),
    ...(options.as ? signedHeaders(options.as, method, path, payload, now) : {}),
    ...options.headers,
  };
  const res = await fetch(`${server.url}${path}`, {
    method,
    headers,
    body: payload || undefined,
    redirect: 'manual',
  });
  return checked(method, path, res);
}

const admin = {
  get: (path: string) => call('GET', path, { as: ADMIN }),
  put: (path: string, body: unknown) => call('PUT', path, { as: ADMIN, body }),
  post: (path: string, body?: unknown) => call('POST', path, { as: ADMIN, body }),
  patch: (path: string, body: unknown) => call('PATCH', path, { as: ADMIN, body }),
  delete: (path: string) => call('DELETE', path, { as: ADMIN }),
};

interface Release {
  environment: string;
  resource: string;
  status: string;
  waitingFor: string | null;
}
const releases = async (tag: string) =>
  (await admin.get(`/v1/deployments/web/versions/${tag}`)).json.releases as Release[];
const waitFor = (tag: string, done: (r: Release[]) => boolean) =>
  eventually(() => releases(tag), done, { timeoutMs: 20_000 });
const inProduction = (r: Release[]) => r.filter((x) => x.environment === 'production');

/** The review link Slack was sent for a version's production approval. */
async function reviewLink(tag: string): Promise<URL> {
  const message = await eventually(
    async () => slack.messages.find((m) => m.text.includes(` ${tag} `)),
    (m) => m !== undefined,
  );
  return new URL(FakeSlack.link(message as { text: string }));
}

function slackClick(approvalId: string, secret = SIGNING_SECRET) {
  const payload = {
    type: 'block_actions',
    user: { id: 'U1', username: 'u1' },
    actions: [{ action_id: 'gantry_approve', value: approvalId, type: 'button' }],
    response_url: 'https://hooks.slack.invalid/actions/1',
  };
  const body = new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
  const timestamp = String(Math.floor(Date.now() / 1000));
  const signature = `v0=${createHmac('sha256', secret).update(`v0:${timestamp}:${body}`).digest('hex')}`;
  return call('POST', '/slack/interactions', {
    raw: body,
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      'x-slack-request-timestamp': timestamp,
      'x-slack-signature': signature,
    },
  });
}

// ---- the scenario ---------------------------------------------------------------------------------

describe('a scenario through every route answers what /openapi.json documents', () => {
  it('health, the document, and the configuration', async () => {
    agent.behaviour = (job) =>
      job.version.tag === 'v1' && job.environment.id === 'staging' ? 'none' : 'successful';
    expect((await call('GET', '/healthz')).status).toBe(200);
    expect((await call('GET', '/openapi.json')).status).toBe(200);

    const resource = (env: string) => ({ kind: 'vm', name: `a ${env} machine`, metadata: { env } });
    expect((await admin.put('/v1/resources/stg-1', resource('staging'))).status).toBe(201);
    expect((await admin.put('/v1/resources/stg-1', resource('staging'))).status).toBe(200);
    expect((await admin.put('/v1/resources/prod-1', resource('production'))).status).toBe(201);
    expect((await admin.put('/v1/resources/spare', resource('none'))).status).toBe(201);
    const synced = await admin.post('/v1/resource-providers/cloud/sync', {
      resources: [{ id: 'prod-2', ...resource('production') }],
    });
    expect(synced.json).toEqual({ created: 1, updated: 0, deleted: 0, unchanged: 0 });
    for (const env of ['staging', 'production', 'scratch'])
      expect(
        (
          await admin.put(`/v1/environments/${env}`, {
            resourceSelector: `resource.metadata.env == '${env}'`,
          })
        ).status,
      ).toBe(201);
    const agentConfig = { type: 'webhook', url: agent.url };
    const web = await admin.put('/v1/deployments/web', {
      name: 'Web',
      environments: ['staging', 'production'],
      jobAgent: agentConfig,
      variables: {
        LOG_LEVEL: {
          default: 'info',
          overrides: [{ selector: "environment.id == 'production'", value: 'warn' }],
        },
      },
    });
    expect(web.status).toBe(201);
    const stray = await admin.put('/v1/deployments/stray', {
      environments: ['nowhere'],
      jobAgent: agentConfig,
    });
    expect(stray.json.warnings).toHaveLength(1);
    expect(
      (
        await admin.put('/v1/policies/production-gates', {
          targets: "environment.id == 'production'",
          rules: {
            approval: { minApprovals: 1 },
            concurrency: { maxParallel: 5 },
            rollback: { onJobFailure: true },
          },
        })
      ).status,
    ).toBe(201);
    const checks = await admin.put('/v1/policies/staging-checks', {
      targets: "environment.id == 'staging'",
      rules: {
        verification: {
          metrics: [
            {
              name: 'error-rate',
              provider: { type: 'http', url: metricsUrl, headers: { 'x-team': 'web' } },
              intervalSeconds: 60,
              count: 1,
              successCondition: 'result.json.errorRate < 0.01',
            },
          ],
        },
      },
    });
    expect(checks.status).toBe(201);
    const unused = { targets: "deployment.id == 'none'", rules: { halt: { maxFailures: 1 } } };
    expect((await admin.put('/v1/policies/unused', unused)).status).toBe(201);

    for (const path of [
      '/v1/resources/prod-2',
      '/v1/environments/staging',
      '/v1/deployments/web',
      '/v1/policies/production-gates',
      '/v1/policies/staging-checks',
    ])
      expect((await admin.get(path)).status).toBe(200);
    for (const path of ['/v1/resources', '/v1/environments', '/v1/deployments', '/v1/policies?limit=1'])
      expect((await admin.get(path)).status).toBe(200);

    // The typical errors: unknown id, bad id, schema, content type, size, signature, scope.
    expect((await admin.get('/v1/resources/nope')).status).toBe(404);
    expect((await admin.get('/v1/deployments/Not-An-Id')).status).toBe(400);
    expect((await admin.put('/v1/environments/x', { resourceSelecter: 'true' })).status).toBe(400);
    expect((await admin.get('/v1/policies?nextToken=forged')).status).toBe(400);
    const plain = { as: ADMIN, raw: 'kind=vm', headers: { 'content-type': 'text/plain' } };
    expect((await call('PUT', '/v1/resources/x', plain)).status).toBe(415);
    const huge = JSON.stringify({ kind: 'vm', name: 'x'.repeat(1024 * 1024) });
    expect((await call('PUT', '/v1/resources/x', { as: ADMIN, raw: huge })).status).toBe(413);
    expect((await call('GET', '/v1/resources')).status).toBe(401);
    expect((await call('PUT', '/v1/resources/x', { as: READER, body: resource('x') })).status).toBe(403);
  });

  it('versions, releases, jobs, plans and events', async () => {
    const created = await admin.post('/v1/deployments/web/versions', { tag: 'v1', metadata: { sha: 'abc' } });
    expect(created.status).toBe(201);
    expect(
      (await admin.post('/v1/deployments/web/versions', { tag: 'v1', metadata: { sha: 'abc' } })).status,
    ).toBe(200);
    expect((await admin.post('/v1/deployments/web/versions', { tag: 'v1' })).status).toBe(409);
    expect((await admin.post('/v1/deployments/ghost/versions', { tag: 'v1' })).status).toBe(404);

    // The agent leaves v1's staging job to this test, which reports as an agent does.
    const job = await eventually(
      async () => agent.jobs.find((j) => j.version.tag === 'v1' && j.environment.id === 'staging'),
      (j) => j !== undefined,
    );
    const report = (status: string, token = job?.callback.token, jobId = job?.jobId) =>
      call('POST', `/v1/jobs/${jobId}/status`, {
        body: { status, message: `agent says ${status}`, links: { logs: 'https://ci.example/1' } },
        headers: { authorization: `Bearer ${token}` },
      });
    expect((await report('in_progress')).status).toBe(200);
    expect((await report('successful')).status).toBe(200);
    expect((await report('failed')).status).toBe(409);
    expect((await report('successful', 'wrong-token')).status).toBe(401);
    expect((await call('POST', `/v1/jobs/${job?.jobId}/status`, { body: { status: 'done' } })).status).toBe(
      401,
    );

    // Production waits for an approval, given through the API.
    await waitFor(
      'v1',
      (r) => inProduction(r).length === 2 && inProduction(r).every((x) => x.waitingFor === 'approval'),
    );
    const pending = await call('GET', '/v1/approvals?status=pending', { as: APPROVER });
    const approvals = pending.json.items as { approvalId: string; version: string }[];
    const v1 = approvals.find((a) => a.version === 'v1')?.approvalId as string;
    const decision = { decision: 'approve', reason: 'looks good' };
    expect(
      (await call('POST', `/v1/approvals/${v1}/decision`, { as: APPROVER, body: decision })).status,
    ).toBe(200);
    expect(
      (await call('POST', `/v1/approvals/${v1}/decision`, { as: APPROVER, body: decision })).status,
    ).toBe(409);
    const unknown = `/v1/approvals/a${'0'.repeat(32)}/decision`;
    expect((await call('POST', unknown, { as: APPROVER, body: decision })).status).toBe(404);
    expect((await call('POST', `/v1/approvals/${v1}/decision`, { as: READER, body: decision })).status).toBe(
      403,
    );
    expect((await call('GET', '/v1/approvals?status=lost', { as: APPROVER })).status).toBe(400);
    await waitFor('v1', (r) => r.every((x) => x.status === 'successful'));
    const verified = (await releases('v1')).find((r) => r.environment === 'staging') as Release & {
      verification: { status: string };
    };
    expect(verified.verification.status).toBe('passed');

    expect((await admin.get('/v1/deployments/web/versions')).status).toBe(200);
    expect((await admin.get('/v1/deployments/web/versions/v1?limit=1')).status).toBe(200);
    expect((await admin.get('/v1/deployments/web/versions/v9')).status).toBe(404);
    expect((await admin.get('/v1/release-targets?deployment=web')).status).toBe(200);
    expect((await admin.get('/v1/release-targets?limit=0')).status).toBe(400);
    const plan = await admin.get('/v1/deployments/web/versions/v1/plan?limit=2');
    expect(plan.json.targetCount).toBe(3);
    expect((await admin.get('/v1/deployments/web/versions/v9/plan')).status).toBe(404);

    expect((await admin.post('/v1/deployments/web/versions', { tag: 'v2', status: 'building' })).status).toBe(
      201,
    );
    expect((await admin.patch('/v1/deployments/web/versions/v2', { status: 'ready' })).status).toBe(200);
    expect(
      (await admin.post('/v1/deployments/web/versions', { tag: 'bad', status: 'building' })).status,
    ).toBe(201);
    expect((await admin.patch('/v1/deployments/web/versions/bad', { status: 'rejected' })).status).toBe(200);
    expect((await admin.patch('/v1/deployments/web/versions/bad', { status: 'ready' })).status).toBe(409);
    expect((await admin.patch('/v1/deployments/web/versions/v9', { status: 'ready' })).status).toBe(404);
    await waitFor('v2', (r) => r.length === 3);

    expect((await admin.get('/v1/events?deployment=web&limit=200')).status).toBe(200);
    expect((await admin.get('/v1/events?since=yesterday')).status).toBe(400);
    expect((await admin.get('/v1/metrics/delivery?deployment=web&environment=production')).status).toBe(200);
    expect((await admin.get('/v1/metrics/delivery')).status).toBe(200);
    expect((await admin.get('/v1/metrics/delivery?since=2026-01-01&until=2026-12-31')).status).toBe(400);
  });

  it('approvals: through the API, the review page, a sign-in and Slack', async () => {
    // v2 by its review link, after a sign-in round trip.
    await waitFor('v2', (r) => inProduction(r).some((x) => x.waitingFor === 'approval'));
    const link = await reviewLink('v2');
    const page = `${link.pathname}${link.search}`;
    const token = link.searchParams.get('t') as string;
    expect((await call('GET', page)).status).toBe(200);
    expect((await call('GET', `${link.pathname}?t=forged`)).status).toBe(403);
    const browser = new Browser();
    const signInUrl = `${server.url}${link.pathname}/signin?t=${encodeURIComponent(token)}`;
    const started = await checked('GET', signInUrl, await browser.request(signInUrl));
    expect(started.status).toBe(302);
    const interaction = await browser.follow(started.headers.get('location') as string, (next) =>
      next.pathname.startsWith('/interaction/'),
    );
    const back = await browser.follow(`${interaction.url}?login=alice`, (next) => next.origin === server.url);
    expect((await checked('GET', back.url, await browser.request(back.url))).status).toBe(303);
    expect((await call('GET', `${link.pathname}/signin?t=forged`)).status).toBe(403);
    expect((await call('GET', '/approvals/oidc/callback')).status).toBe(400);

    const form = (fields: Record<string, string>) => ({
      raw: new URLSearchParams(fields).toString(),
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect((await call('POST', link.pathname, form({ t: token }))).status).toBe(400);
    expect((await call('POST', link.pathname, form({ t: 'forged', decision: 'approve' }))).status).toBe(403);
    expect((await call('POST', link.pathname, form({ t: token, decision: 'approve' }))).status).toBe(200);
    expect((await call('POST', link.pathname, form({ t: token, decision: 'approve' }))).status).toBe(409);
    expect((await call('POST', link.pathname, form({ t: token, decision: 'maybe' }))).status).toBe(400);
    expect((await call('POST', link.pathname, { raw: `t=${token}` })).status).toBe(415);
    await waitFor('v2', (r) => r.every((x) => x.status === 'successful'));

    // v3 by a Slack button.
    expect((await admin.post('/v1/deployments/web/versions', { tag: 'v3' })).status).toBe(201);
    await waitFor('v3', (r) => inProduction(r).some((x) => x.waitingFor === 'approval'));
    const v3 = /\/approvals\/([a-z0-9]+)\?/.exec((await reviewLink('v3')).href)?.[1] as string;
    expect((await slackClick(v3, 'wrong-secret')).status).toBe(401);
    const clicked = await slackClick(v3);
    expect(clicked.json.text).toMatch(/^Recorded: approve/);
    await waitFor('v3', (r) => r.every((x) => x.status === 'successful'));
  });

  it('overrides: pause, resume, force, cancel, roll back', async () => {
    expect((await admin.post('/v1/deployments/web/pause', { reason: 'freeze' })).status).toBe(200);
    expect((await admin.post('/v1/deployments/web/resume')).status).toBe(200);
    expect((await admin.post('/v1/deployments/ghost/pause')).status).toBe(404);

    expect((await admin.post('/v1/deployments/web/versions', { tag: 'v4' })).status).toBe(201);
    await waitFor('v4', (r) => inProduction(r).length === 2 && inProduction(r).every((x) => x.waitingFor));
    const force = {
      deployment: 'web',
      environment: 'production',
      resource: 'prod-1',
      tag: 'v4',
      reason: 'hotfix',
    };
    expect((await admin.post('/v1/release-targets/force', force)).status).toBe(200);
    expect((await admin.post('/v1/release-targets/force', force)).status).toBe(409);
    expect((await admin.post('/v1/release-targets/force', { ...force, tag: 'v9' })).status).toBe(404);
    expect((await admin.post('/v1/deployments/web/versions/v4/cancel', { reason: 'enough' })).status).toBe(
      200,
    );
    expect((await admin.post('/v1/deployments/web/versions/v9/cancel')).status).toBe(404);

    const target = { deployment: 'web', environment: 'staging', resource: 'stg-1' };
    await waitFor('v4', (r) => r.some((x) => x.environment === 'staging' && x.status === 'successful'));
    const rollback = await admin.post('/v1/release-targets/rollback', { ...target, reason: 'bad deploy' });
    expect(rollback.status).toBe(202);
    expect((await admin.post('/v1/release-targets/rollback', { ...target, toVersion: 'bad' })).status).toBe(
      409,
    );
    expect((await admin.post('/v1/release-targets/rollback', { ...target, resource: 'prod-9' })).status).toBe(
      404,
    );
  });

  it('the status page: its page, assets, view links and reads', async () => {
    expect((await call('GET', '/')).status).toBe(302);
    expect((await call('GET', '/ui')).status).toBe(200);
    expect((await call('GET', '/ui/assets/app.js')).status).toBe(200);
    expect((await call('GET', '/ui/assets/styles.css')).status).toBe(200);
    expect((await call('GET', '/ui/assets/nope.js')).status).toBe(404);
    expect((await call('POST', '/v1/view-links', { as: READER, body: { deployment: 'ghost' } })).status).toBe(
      404,
    );
    const minted = await call('POST', '/v1/view-links', { as: READER, body: { deployment: 'web' } });
    const all = await call('POST', '/v1/view-links', { as: READER });
    const view = (reply: Reply) => ({
      headers: { authorization: `View ${new URL(reply.json.url as string).searchParams.get('v')}` },
    });

    for (const path of [
      '/ui/api/deployments',
      '/ui/api/summary?deployment=web',
      '/ui/api/summary?deployment=web&tag=v1',
      '/ui/api/targets?deployment=web&tag=v1&environment=production&limit=1',
      '/ui/api/targets?deployment=web&tag=v1&environment=production&q=prod&status=successful',
      '/ui/api/versions?deployment=web',
      '/ui/api/timeline?deployment=web&tag=v4',
      '/ui/api/plan?deployment=web&tag=v1',
      '/ui/api/metrics?deployment=web',
      '/ui/api/metrics?deployment=web&environment=production',
      '/ui/api/freezes?deployment=web',
    ])
      expect((await call('GET', path, view(minted))).status, path).toBe(200);
    expect((await call('GET', '/ui/api/summary?deployment=stray', view(all))).json.version).toBeNull();
    expect((await call('GET', '/ui/api/summary?deployment=web')).status).toBe(401);
    expect((await call('GET', '/ui/api/versions?deployment=stray', view(minted))).status).toBe(403);
    expect((await call('GET', '/ui/api/timeline?deployment=web&tag=v9', view(minted))).status).toBe(404);
    expect((await call('GET', '/ui/api/plan?deployment=web', view(minted))).status).toBe(400);
  });

  it('deletes, and a delete of what a rollout holds', async () => {
    agent.behaviour = () => 'none';
    expect((await admin.post('/v1/deployments/web/versions', { tag: 'v5' })).status).toBe(201);
    await waitFor('v5', (r) => r.some((x) => x.environment === 'staging' && x.status === 'deploying'));
    expect((await admin.delete('/v1/resources/stg-1')).status).toBe(409);
    expect((await admin.delete('/v1/resources/spare')).status).toBe(204);
    expect((await admin.delete('/v1/resources/spare')).status).toBe(404);
    expect((await admin.delete('/v1/environments/scratch')).status).toBe(204);
    expect((await admin.delete('/v1/deployments/stray')).status).toBe(204);
    expect((await admin.delete('/v1/policies/unused')).status).toBe(204);
  });

  it('freezes: written, read, listed and ended, one of a calendar too', async () => {
    const freeze = { reason: 'checking the answers', selector: 'false' };
    expect((await admin.put('/v1/freezes/answers', freeze)).status).toBe(201);
    const until = '2099-01-01T00:00:00.000Z';
    expect((await admin.put('/v1/freezes/answers', { ...freeze, until })).json.until).toBe(until);
    const calendar = { icsUrl: 'http://127.0.0.1:9/team.ics', refreshSeconds: 60 };
    expect((await admin.put('/v1/freezes/feed', { ...freeze, calendar })).status).toBe(201);
    expect((await admin.get('/v1/freezes/feed')).json.calendar).toMatchObject(calendar);
    expect((await admin.get('/v1/freezes')).status).toBe(200);
    expect(
      (await admin.put('/v1/freezes/answers', { ...freeze, until: '2000-01-01T00:00:00Z' })).status,
    ).toBe(400);
    expect((await call('PUT', '/v1/freezes/answers', { as: READER, body: freeze })).status).toBe(403);
    expect((await admin.delete('/v1/freezes/answers')).status).toBe(204);
    expect((await admin.delete('/v1/freezes/feed')).status).toBe(204);
    expect((await admin.get('/v1/freezes/answers')).status).toBe(404);
  });

  it('subscriptions: written, read with a delivery, listed and deleted', async () => {
    // The metrics endpoint answers 200 to any request: a subscriber that takes everything.
    const subscription = { url: metricsUrl, detailTypes: ['Configuration Changed'] };
    expect((await admin.put('/v1/subscriptions/answers', subscription)).status).toBe(201);
    expect((await admin.put('/v1/subscriptions/answers', subscription)).status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 200)); // its activeFrom: 5 s of the scaled clock
    await admin.put('/v1/resources/subscribed', { kind: 'vm', name: 'subscribed', metadata: {} });
    await eventually(
      async () => (await admin.get('/v1/subscriptions/answers')).json.deliveries as { status: string }[],
      (deliveries) => deliveries.some((d) => d.status === 'delivered'),
    );
    expect((await admin.get('/v1/subscriptions')).status).toBe(200);
    expect(
      (await admin.put('/v1/subscriptions/answers', { url: metricsUrl, detailTypes: ['Nope'] })).status,
    ).toBe(400);
    expect((await call('PUT', '/v1/subscriptions/answers', { as: READER, body: subscription })).status).toBe(
      403,
    );
    expect((await admin.delete('/v1/subscriptions/answers')).status).toBe(204);
    expect((await admin.get('/v1/subscriptions/answers')).status).toBe(404);
  });

  it('answered every route with a success, and each typical error at least once', () => {
    const succeeded = new Set(seen.filter((s) => s.status < 400).map((s) => s.operationId));
    expect(ROUTES.map((r) => r.operationId).filter((id) => !succeeded.has(id))).toEqual([]);
    const errors = new Set(seen.filter((s) => s.status >= 400).map((s) => s.status));
    expect([...errors].sort()).toEqual([400, 401, 403, 404, 409, 413, 415]);
  });
});

// ---- the document itself --------------------------------------------------------------------------

describe('the document types every answer', () => {
  const operations = () =>
    ROUTES.map((route) => ({
      route,
      operation: doc.paths[route.path]?.[route.method.toLowerCase()] as Operation,
    }));

  it('has a schema for the success answers of every JSON operation', () => {
    const untyped = operations().flatMap(({ route, operation }) =>
      Object.entries(operation.responses)
        .filter(([status]) => /^2/.test(status) && status !== '204' && !route.produces)
        .filter(([, response]) => !response.content?.['application/json']?.schema?.$ref)
        .map(([status]) => `${route.operationId} ${status}`),
    );

    expect(untyped).toEqual([]);
  });

  it('documents a 4xx for every operation, with the error body where it is JSON', () => {
    for (const { route, operation } of operations()) {
      const errors = Object.entries(operation.responses).filter(([status]) => /^4/.test(status));
      expect(errors.length, route.operationId).toBeGreaterThan(0);
      for (const [, response] of errors) {
        const json = response.$ref
          ? doc.components.responses[response.$ref.split('/').pop() as string]?.content?.['application/json']
          : response.content?.['application/json'];
        if (json) expect(json.schema?.$ref, route.operationId).toBe('#/components/schemas/Error');
      }
    }
  });

  it('the check has teeth: a wrong field, a missing one or an extra one is refused', () => {
    const route = ROUTES.find((r) => r.operationId === 'health') as RouteSpec;
    const job = ROUTES.find((r) => r.operationId === 'reportJobStatus') as RouteSpec;

    expect(problemsOf(route, 200, 'application/json', '{"ok":true}')).toEqual([]);
    expect(problemsOf(route, 200, 'application/json', '{"ok":"yes"}')).toHaveLength(1);
    expect(problemsOf(route, 200, 'application/json', '{"ok":true,"extra":1}')).toHaveLength(1);
    expect(problemsOf(route, 200, 'text/html', '<p>ok</p>')[0]).toMatch(/answered text\/html/);
    expect(problemsOf(route, 418, 'application/json', '{}')[0]).toMatch(/status 418 is not documented/);
    expect(problemsOf(job, 200, 'application/json', '{"jobId":"j1"}')[0]).toMatch(
      /must have required property/,
    );
    expect(problemsOf(job, 404, 'application/json', '{"error":{"code":"not_found"}}')).toHaveLength(1);
  });
});
