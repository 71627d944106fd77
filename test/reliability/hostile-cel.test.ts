import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalServer } from '../../infra/local/server';
import type { Client, Reply } from '../helpers/client';
import { startTestServer } from '../helpers/local';
import { auditSelector, CATASTROPHIC_SELECTOR, catastrophicName } from '../support/hostile-cel';

/**
 * Issue 17, hostile CEL through the local server (docs/api.md section 3, "Evaluation is bounded"): a
 * catastrophic pattern costs no more than any other, and an expression RE2 cannot run or over the
 * limits is a 400 that stores nothing.
 */
let server: LocalServer;
let admin: Client;

type ErrorBody = { error: { code: string; message: string; details: { path: string }[] } };
type Plan = { targets: { environment: string; resource: string }[] };

/** Runs `act` and answers its reply with the milliseconds it took. */
async function timed<T>(act: () => Promise<T>): Promise<{ reply: T; ms: number }> {
  const start = performance.now();
  const reply = await act();
  return { reply, ms: performance.now() - start };
}

function expectRefused(reply: Reply, detailPath: string): ErrorBody['error'] {
  expect(reply.status, reply.text.slice(0, 300)).toBe(400);
  const { error } = reply.body as unknown as ErrorBody;
  expect(error.code).toBe('invalid_request');
  expect(error.details.map((d) => d.path)).toContain(detailPath);
  return error;
}

beforeAll(async () => {
  ({ server, admin } = await startTestServer());
  // The first name sends a backtracking engine into 2^31 steps; the second one matches.
  await admin.put('/v1/resources/victim', { kind: 'vm', name: catastrophicName(31), metadata: {} });
  await admin.put('/v1/resources/match', { kind: 'vm', name: 'aaaa', metadata: {} });
  await admin.put('/v1/deployments/api', {
    environments: ['hostile'],
    jobAgent: { type: 'webhook', url: 'http://127.0.0.1:9/' },
  });
});

afterAll(async () => {
  await server?.close();
});

describe('a catastrophic pattern', () => {
  it('is stored at once, and a version and its plan over it stay fast and right', async () => {
    const start = performance.now();
    const put = await timed(() =>
      admin.put('/v1/environments/hostile', { resourceSelector: CATASTROPHIC_SELECTOR }),
    );
    // The server works out the release targets after the PUT: a blocked event loop delays what follows.
    const version = await timed(() =>
      admin.post('/v1/deployments/api/versions', { tag: 'v1', status: 'building' }),
    );
    const plan = await timed(() => admin.get<Plan>('/v1/deployments/api/versions/v1/plan'));
    const total = performance.now() - start;

    expect(put.reply.status, put.reply.text).toBe(201);
    expect(version.reply.status, version.reply.text).toBe(201);
    expect(plan.reply.status, plan.reply.text).toBe(200);
    expect(plan.reply.body.targets.map((t) => t.resource)).toEqual(['match']);
    expect(put.ms).toBeLessThan(1000);
    expect(version.ms).toBeLessThan(1000);
    expect(plan.ms).toBeLessThan(2000);
    expect(total).toBeLessThan(3000);
  });
});

describe('expressions that are refused with 400 and store nothing', () => {
  it('the audit selector: 3.3 KB of nested all()', async () => {
    const selector = auditSelector();

    const put = await timed(() => admin.put('/v1/environments/nested', { resourceSelector: selector }));

    expect(selector.length).toBeGreaterThan(3200);
    const error = expectRefused(put.reply, 'resourceSelector');
    expect(error.message).toContain('is over the limits');
    expect(put.ms).toBeLessThan(1000);
    expect((await admin.get('/v1/environments/nested')).status).toBe(404);
  });

  it('a backreference in an environment selector', async () => {
    const reply = await admin.put('/v1/environments/backref', {
      resourceSelector: "resource.name.matches('^(a+)\\\\1$')",
    });

    const error = expectRefused(reply, 'resourceSelector');
    expect(error.message).toContain('pattern "^(a+)\\1$"');
    expect(error.message).toContain('RE2');
    expect((await admin.get('/v1/environments/backref')).status).toBe(404);
  });

  it('a lookahead in a policy target', async () => {
    const reply = await admin.put('/v1/policies/lookahead', {
      targets: "matches(resource.name, '^(?!prod)')",
      rules: { approval: { minApprovals: 1 } },
    });

    const error = expectRefused(reply, 'targets');
    expect(error.message).toContain('pattern "^(?!prod)"');
    expect((await admin.get('/v1/policies/lookahead')).status).toBe(404);
  });
});
