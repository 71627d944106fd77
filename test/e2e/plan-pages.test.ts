import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalServer } from '../../infra/local/server';
import type { Client } from '../helpers/client';
import { startTestServer } from '../helpers/local';

/**
 * A plan page ends at 1,000 targets or at a byte budget, whichever comes first: rules come from
 * policies of up to 300 KiB, so 1,000 targets of one could otherwise pass Lambda's 6 MB.
 */
let server: LocalServer;
let admin: Client;

const COUNT = 300;
const APPROVERS = Array.from({ length: 200 }, (_, i) => `${String(i).padStart(3, '0')}-${'a'.repeat(120)}`);

type Plan = { targetCount: number; targets: { resource: string }[]; nextToken?: string };

beforeAll(async () => {
  ({ server, admin } = await startTestServer());
  const resources = Array.from({ length: COUNT }, (_, i) => ({
    id: `node-${String(i).padStart(3, '0')}`,
    kind: 'vm',
    name: `node-${i}`,
    metadata: {},
  }));
  expect((await admin.post('/v1/resource-providers/fleet/sync', { resources })).status).toBe(200);
  await admin.put('/v1/environments/prod', { resourceSelector: 'true' });
  await admin.put('/v1/deployments/wide', { jobAgent: { type: 'webhook', url: 'http://127.0.0.1:9/' } });
  // About 26 KB of gate detail per target.
  await admin.put('/v1/policies/many-approvers', {
    targets: 'true',
    rules: { approval: { minApprovals: 2, approvers: APPROVERS } },
  });
  expect((await admin.post('/v1/deployments/wide/versions', { tag: 'v1', status: 'building' })).status).toBe(
    201,
  );
}, 60_000);

afterAll(async () => {
  await server?.close();
});

describe('plan pages of large targets', () => {
  it('end at the byte budget and read on with nextToken', async () => {
    const first = await admin.get<Plan>('/v1/deployments/wide/versions/v1/plan?limit=1000');
    const all = await admin.getAll<Plan>('/v1/deployments/wide/versions/v1/plan?limit=1000', 'targets');

    expect(first.status, first.text.slice(0, 300)).toBe(200);
    expect(first.body.targetCount).toBe(COUNT);
    expect(first.body.targets.length).toBeGreaterThan(0);
    expect(first.body.targets.length).toBeLessThan(COUNT);
    expect(first.body.nextToken).toEqual(expect.any(String));
    expect(Buffer.byteLength(first.text)).toBeLessThan(4 * 1024 * 1024);
    expect(all.body.targets.map((t) => t.resource)).toEqual(
      Array.from({ length: COUNT }, (_, i) => `node-${String(i).padStart(3, '0')}`),
    );
  });
});
