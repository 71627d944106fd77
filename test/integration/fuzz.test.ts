import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalServer } from '../../infra/local/server';
import { signRequest } from '../../shared/core/signature';
import type { Client } from '../helpers/client';
import { ADMIN, startTestServer } from '../helpers/local';
import { errorOf, type RawReply, rawRequest, signedRaw } from '../support/raw';

/**
 * Property tests (docs/api.md section 1): whatever a client sends, the answer is 2xx or a 4xx with the
 * contract body, never a 5xx, and the server keeps taking requests. The seed is fixed so a run is
 * reproducible; set FUZZ_SEED to explore other inputs.
 */

const SEED = Number(process.env.FUZZ_SEED ?? 20261121);
const NOWHERE = 'http://127.0.0.1:9/never-called';
const STATUS_OF: Record<string, number> = {
  invalid_request: 400,
  unauthenticated: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
};

let server: LocalServer;
let admin: Client;

beforeAll(async () => {
  ({ server, admin } = await startTestServer());
  for (const [id, env] of [
    ['fuzz-r1', 'prod'],
    ['fuzz-r2', 'staging'],
  ]) {
    expect((await admin.put(`/v1/resources/${id}`, { kind: 'vm', name: id, metadata: { env } })).status).toBe(
      201,
    );
  }
  // Versions are posted to fuzz-api only; it lists an environment that never exists, so a ready
  // version has no release target and starts no rollout. fuzz-eval has no version: every PUT that
  // reconciles evaluates every environment selector against the resources for it, and stops there.
  expect(
    (
      await admin.put('/v1/deployments/fuzz-api', {
        environments: ['nowhere'],
        jobAgent: { type: 'webhook', url: NOWHERE },
      })
    ).status,
  ).toBe(201);
  expect(
    (await admin.put('/v1/deployments/fuzz-eval', { jobAgent: { type: 'webhook', url: NOWHERE } })).status,
  ).toBe(201);
});

afterAll(async () => {
  await server?.close();
});

// Every write is signed once: a per-request query parameter makes each signature unique, so two
// equal bodies in one second are not replays (the config and version routes take no query).
let counter = 0;
const send = (method: string, path: string, body: string) =>
  signedRaw(server.url, ADMIN, method, `${path}?fuzz=${++counter}`, body);

/** 2xx, or a 4xx with the contract error body whose code matches the status. */
function assertWellBehaved(reply: RawReply, sent: string) {
  const context = `${reply.status} ${reply.text.slice(0, 500)} for ${sent.slice(0, 500)}`;
  expect(reply.status, context).toBeGreaterThanOrEqual(200);
  expect(reply.status, context).toBeLessThan(500);
  if (reply.status >= 400) {
    const error = errorOf(reply.json);
    expect(STATUS_OF[error.code], context).toBe(reply.status);
    expect(reply.text, context).not.toMatch(/\n\s+at /);
  }
}

async function assertUp() {
  const health = await rawRequest(server.url, 'GET', '/healthz');
  expect(health.status).toBe(200);
}

// ---- bodies ------------------------------------------------------------------------------------

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Path = (string | number)[];

function pathsOf(value: Json, prefix: Path = []): Path[] {
  const out: Path[] = [prefix];
  if (Array.isArray(value)) {
    for (const [i, v] of value.entries()) out.push(...pathsOf(v, [...prefix, i]));
  } else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) out.push(...pathsOf(v, [...prefix, k]));
  }
  return out;
}

const nasty = fc.constantFrom<Json>(
  1e300,
  -1e300,
  2 ** 53 + 2,
  -(2 ** 63),
  1e-300,
  0.1,
  -1,
  0,
  '',
  ' ',
  'x'.repeat(5000),
  '\u0000',
  '\ud800',
  '__proto__',
  "resource.metadata['env'] == 'prod'",
  [],
  {},
  null,
  true,
  { __proto__: { admin: true } } as unknown as Json,
  JSON.parse('{"__proto__": {"polluted": "yes"}}') as Json,
  JSON.parse('{"constructor": {"prototype": {"polluted": "yes"}}}') as Json,
);
const anyValue: fc.Arbitrary<Json> = fc.oneof(
  { weight: 3, arbitrary: fc.jsonValue({ maxDepth: 4 }) as fc.Arbitrary<Json> },
  { weight: 2, arbitrary: nasty },
);

const mutation: fc.Arbitrary<Mutation> = fc.record({
  pick: fc.nat(),
  op: fc.constantFrom('set', 'set', 'delete', 'add'),
  key: fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom('__proto__', 'constructor', 'id', 'createdAt')),
  value: anyValue,
});

type Mutation = { pick: number; op: string; key: string; value: Json };

function mutate(valid: Json, mutations: Mutation[]): Json {
  let body = structuredClone(valid);
  for (const m of mutations) {
    const paths = pathsOf(body);
    const path = paths[m.pick % paths.length] as Path;
    if (path.length === 0) {
      if (m.op === 'set') body = structuredClone(m.value);
      continue;
    }
    let parent = body as Record<string | number, Json>;
    for (const step of path.slice(0, -1)) parent = parent[step] as Record<string | number, Json>;
    const last = path[path.length - 1] as string | number;
    const target = parent[last];
    if (m.op === 'set') parent[last] = structuredClone(m.value);
    else if (m.op === 'delete') {
      if (Array.isArray(parent)) parent.splice(last as number, 1);
      else delete parent[last];
    } else if (Array.isArray(target)) target.push(structuredClone(m.value));
    else if (target && typeof target === 'object')
      Object.defineProperty(target, m.key, {
        value: structuredClone(m.value),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    else parent[last] = structuredClone(m.value);
  }
  return body;
}

/** Random bodies around a valid one: anything, any JSON text, and mutations of the valid body. */
const bodiesAround = (valid: Json): fc.Arbitrary<string> =>
  fc.oneof(
    { weight: 1, arbitrary: fc.anything().map((v) => JSON.stringify(v) ?? 'null') },
    { weight: 1, arbitrary: fc.json({ maxDepth: 4 }) },
    {
      weight: 4,
      arbitrary: fc
        .array(mutation, { minLength: 1, maxLength: 4 })
        .map((mutations) => JSON.stringify(mutate(valid, mutations))),
    },
    { weight: 1, arbitrary: fc.constant(JSON.stringify(valid)) },
  );

const VALID: Record<'resource' | 'environment' | 'deployment' | 'policy' | 'version' | 'sync', Json> = {
  resource: { kind: 'vm', name: 'fuzzed', metadata: { env: 'prod', region: 'eu' } },
  environment: { name: 'Fuzz', resourceSelector: "resource.metadata.env == 'prod'" },
  deployment: {
    name: 'Fuzz',
    resourceSelector: 'true',
    environments: ['fuzz-env'],
    jobAgent: { type: 'webhook', url: NOWHERE, secretRef: 'agent-secret', pollIntervalSeconds: 30 },
    jobTimeoutSeconds: 60,
    variables: {
      replicas: { default: '2', overrides: [{ selector: "environment.id == 'fuzz-env'", value: '6' }] },
      dbPassword: { secretRef: 'db-password' },
    },
    github: { owner: 'o', repo: 'r', tokenSecretRef: 'gh-token' },
  },
  policy: {
    targets: "environment.id == 'fuzz-env'",
    priority: 1,
    rules: {
      approval: { minApprovals: 1, approvers: ['U0123'], expiresAfterSeconds: 604800 },
      environmentProgression: {
        dependsOnEnvironments: ['staging'],
        minSoakSeconds: 600,
        minSuccessPercentage: 100,
      },
      gradualRollout: { intervalSeconds: 300, waitForVerified: true },
      deploymentWindow: {
        rrule: 'FREQ=WEEKLY;BYDAY=MO,TU,WE,TH;BYHOUR=9;BYMINUTE=0',
        durationMinutes: 480,
        timezone: 'Europe/Berlin',
        mode: 'allow',
      },
      verification: {
        metrics: [
          {
            name: 'error-rate',
            provider: { type: 'http', url: 'https://metrics.test/q', method: 'GET', headers: {} },
            intervalSeconds: 60,
            count: 5,
            failureLimit: 1,
            initialDelaySeconds: 0,
            successCondition: 'result.json.errorRate < 0.01',
          },
          {
            name: 'alarms',
            provider: { type: 'cloudwatch-alarms', alarmNamePrefix: 'api-' },
            intervalSeconds: 60,
            count: 1,
            successCondition: 'result.inAlarm == 0',
          },
        ],
      },
      rollback: { onJobFailure: true, onVerificationFailure: true, scope: 'target' },
      concurrency: { maxParallel: 1 },
      halt: { maxFailures: 1 },
      trafficDrain: { seconds: 60 },
    },
  },
  version: {
    tag: 'v1.2.3',
    status: 'ready',
    metadata: { commit: 'abc123' },
    config: { replicas: 2, image: 'api:1.2.3', nested: { list: [1, 'two', null, true] } },
  },
  sync: {
    resources: [
      { id: 'fuzz-synced-1', kind: 'vm', name: 'one', metadata: { env: 'prod' } },
      { id: 'fuzz-synced-2', kind: 'vm', name: 'two', metadata: {} },
    ],
  },
};

async function fuzzRoute(method: string, path: string, valid: Json, numRuns: number) {
  await fc.assert(
    fc.asyncProperty(bodiesAround(valid), async (body) => {
      assertWellBehaved(await send(method, path, body), body);
    }),
    { numRuns, seed: SEED },
  );
  await assertUp();
}

describe('random bodies never produce a 5xx', () => {
  it('PUT /v1/resources/{id}', async () => {
    await fuzzRoute('PUT', '/v1/resources/fuzz-res', VALID.resource, 200);
  });

  it('PUT /v1/environments/{id}', async () => {
    await fuzzRoute('PUT', '/v1/environments/fuzz-env', VALID.environment, 200);
  });

  it('PUT /v1/deployments/{id}', async () => {
    await fuzzRoute('PUT', '/v1/deployments/fuzz-dep', VALID.deployment, 200);
  });

  it('PUT /v1/policies/{id}', async () => {
    await fuzzRoute('PUT', '/v1/policies/fuzz-pol', VALID.policy, 250);
  });

  it('POST /v1/resource-providers/{provider}/sync', async () => {
    await fuzzRoute('POST', '/v1/resource-providers/fuzz-prov/sync', VALID.sync, 200);
  });

  it('POST /v1/deployments/{id}/versions', async () => {
    await fuzzRoute('POST', '/v1/deployments/fuzz-api/versions', VALID.version, 250);
  });

  it('a version config of any JSON value is stored or refused, never a 5xx', async () => {
    let n = 0;
    await fc.assert(
      fc.asyncProperty(anyValue, async (value) => {
        const body = JSON.stringify({ tag: `cfg-${++n}`, status: 'building', config: { value } });
        assertWellBehaved(await send('POST', '/v1/deployments/fuzz-api/versions', body), body);
      }),
      { numRuns: 150, seed: SEED },
    );
    await assertUp();
  });
});

describe('random signature headers never produce a 5xx', () => {
  const headerText = fc.string({
    unit: fc
      .oneof(fc.integer({ min: 0x20, max: 0x7e }), fc.integer({ min: 0x80, max: 0xff }))
      .map((c) => String.fromCharCode(c)),
    maxLength: 80,
  });
  const hex = fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: 64, maxLength: 64 });

  it('PUT and GET with random X-Gantry-Key-Id, X-Gantry-Timestamp and X-Gantry-Signature', async () => {
    const path = '/v1/environments/fuzz-headers';
    const body = JSON.stringify({ resourceSelector: 'false' });
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('PUT', 'GET'),
        fc.option(fc.oneof(fc.constant(ADMIN.id), fc.constant('reader'), headerText)),
        fc.option(
          fc.oneof(
            fc.integer({ min: -400, max: 400 }).map((skew) => String(Math.floor(Date.now() / 1000) + skew)),
            fc.stringMatching(/^\d{1,15}$/),
            headerText,
          ),
        ),
        fc.option(
          fc.oneof(
            hex.map((h) => `v1=${h}`),
            fc.constant('good'),
            headerText,
          ),
        ),
        async (method, keyId, timestamp, signature) => {
          const headers: Record<string, string> = {};
          if (keyId !== null) headers['X-Gantry-Key-Id'] = keyId;
          if (timestamp !== null) headers['X-Gantry-Timestamp'] = timestamp;
          if (signature !== null)
            headers['X-Gantry-Signature'] =
              signature === 'good'
                ? signRequest(ADMIN.secret, timestamp ?? '', method, path, method === 'PUT' ? body : '')
                : signature;
          const reply = await rawRequest(server.url, method, path, {
            body: method === 'PUT' ? body : undefined,
            headers: { ...headers, 'content-type': 'application/json' },
          });
          assertWellBehaved(reply, JSON.stringify({ method, headers }));
          // Only a genuine admin signature with a fresh timestamp may get through.
          if (reply.status < 400) {
            expect(keyId).toBe(ADMIN.id);
            expect(signature).toBe('good');
          }
        },
      ),
      { numRuns: 300, seed: SEED },
    );
    await assertUp();
  });
});

describe('random CEL never produces a 5xx', () => {
  const token = fc.constantFrom(
    'resource',
    'environment',
    'deployment',
    '.',
    'metadata',
    'env',
    'id',
    'name',
    'kind',
    "'prod'",
    '"x"',
    "'",
    '"',
    '==',
    '!=',
    '<',
    '>=',
    '&&',
    '||',
    '!',
    '?',
    ':',
    '(',
    ')',
    '[',
    ']',
    '{',
    '}',
    ',',
    'in',
    'has',
    'size',
    'matches',
    'startsWith',
    'exists',
    'all',
    'map',
    'filter',
    'x',
    'int',
    'string',
    'true',
    'false',
    'null',
    '1',
    '-1',
    '0',
    '1.5',
    '9223372036854775807',
    '9223372036854775808',
    '1e999',
    'b"\\xff"',
    'r"\\d+"',
    '"\\u00"',
    '+',
    '-',
    '*',
    '/',
    '%',
    ' ',
  );
  const expression = fc.oneof(
    { weight: 3, arbitrary: fc.array(token, { minLength: 1, maxLength: 25 }).map((t) => t.join('')) },
    { weight: 3, arbitrary: fc.array(token, { minLength: 1, maxLength: 25 }).map((t) => t.join(' ')) },
    { weight: 1, arbitrary: fc.string({ minLength: 1, maxLength: 60 }) },
    { weight: 1, arbitrary: fc.string({ minLength: 1, maxLength: 30, unit: 'binary' }) },
    {
      weight: 1,
      arbitrary: fc
        .integer({ min: 1, max: 3000 })
        .chain((depth) =>
          fc.constantFrom(
            `${'('.repeat(depth)}true${')'.repeat(depth)}`,
            `${'!'.repeat(depth)}true`,
            `${'['.repeat(depth)}`,
          ),
        ),
    },
  );

  it('PUT /v1/environments/{id} with a random resourceSelector', async () => {
    await fc.assert(
      fc.asyncProperty(expression, async (selector) => {
        const body = JSON.stringify({ resourceSelector: selector });
        const reply = await send('PUT', '/v1/environments/fuzz-cel', body);
        assertWellBehaved(reply, body);
        expect([200, 201, 400], body).toContain(reply.status);
        if (reply.status === 400 && selector.length <= 4096) {
          // The message names the expression (docs/api.md section 1).
          expect(errorOf(reply.json).message, body).toContain(selector);
        }
      }),
      { numRuns: 300, seed: SEED },
    );
    await assertUp();
    expect((await admin.put('/v1/environments/fuzz-cel', { resourceSelector: 'true' })).status).toBe(200);
  });
});
