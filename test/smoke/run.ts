import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { GantryClient, seg } from '../../cli/client';

/**
 * `npm run smoke -- --url <api url> [--agent-url <webhook agent>]`: a short signed scenario against a
 * running Gantry (a deployed stack or `npm start`), printing each step: inventory, a deployment with a
 * webhook agent and an approval policy, a version, its approval through the API, its rollout to
 * `successful`, and cleanup. Keys come from GANTRY_KEY_ID and GANTRY_KEY_SECRET (admin, or a key with
 * the scopes of each step). Without --agent-url the smoke serves its own agent on 127.0.0.1, which
 * only a local Gantry can reach; against AWS pass an agent the stack can reach (examples/agent.mjs).
 */
const { values } = parseArgs({
  options: {
    url: { type: 'string', default: process.env.GANTRY_URL },
    'agent-url': { type: 'string' },
    'timeout-seconds': { type: 'string', default: '120' },
  },
});
const url = values.url;
const keyId = process.env.GANTRY_KEY_ID;
const secret = process.env.GANTRY_KEY_SECRET;
if (!url || !keyId || !secret) {
  console.error(
    'usage: GANTRY_KEY_ID=... GANTRY_KEY_SECRET=... npm run smoke -- --url <api url> [--agent-url <url>]',
  );
  process.exit(2);
}
const client = new GantryClient({ url, key: { id: keyId, secret } });
const run = `smoke-${Date.now().toString(36)}`;
const deadline = Date.now() + Number(values['timeout-seconds']) * 1000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function step<T>(name: string, work: () => Promise<T>): Promise<T> {
  const started = Date.now();
  process.stdout.write(`- ${name} ... `);
  try {
    const out = await work();
    console.log(`ok (${Date.now() - started} ms)`);
    return out;
  } catch (error) {
    console.log('FAILED');
    throw error;
  }
}

async function until<T>(what: string, probe: () => Promise<T | undefined>): Promise<T> {
  for (;;) {
    const found = await probe();
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(500);
  }
}

/** The smoke's own agent: reports every job successful on its callback, with the job's token. */
async function ownAgent(): Promise<{ url: string; close: () => void }> {
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    const job = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
      callback: { url: string; token: string };
    };
    await fetch(job.callback.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${job.callback.token}` },
      body: JSON.stringify({ status: 'successful', message: 'smoke agent' }),
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, close: () => server.close() };
}

interface Release {
  status: string;
  waitingFor: string | null;
}
const releasesOf = async () =>
  (await client.get<{ releases: Release[] }>(`/v1/deployments/${run}/versions/v1`)).releases;

const agent = values['agent-url'] ? undefined : await ownAgent();
let failed = false;
console.log(`Gantry smoke test against ${url} (objects named ${run})`);
try {
  await step('health', () =>
    fetch(`${url.replace(/\/+$/, '')}/healthz`).then((r) =>
      r.ok ? r : Promise.reject(new Error(`healthz ${r.status}`)),
    ),
  );
  await step(`resource ${run}`, () =>
    client.request('PUT', `/v1/resources/${run}`, { kind: 'smoke', name: run, metadata: { smoke: run } }),
  );
  await step(`environment ${run}`, () =>
    client.request('PUT', `/v1/environments/${run}`, {
      resourceSelector: `resource.metadata.smoke == '${run}'`,
    }),
  );
  await step(`deployment ${run} (webhook agent ${values['agent-url'] ?? agent?.url})`, () =>
    client.request('PUT', `/v1/deployments/${run}`, {
      environments: [run],
      jobAgent: { type: 'webhook', url: values['agent-url'] ?? agent?.url },
    }),
  );
  await step('approval policy', () =>
    client.request('PUT', `/v1/policies/${run}`, {
      targets: `deployment.id == '${run}'`,
      rules: { approval: { minApprovals: 1 } },
    }),
  );
  await step('version v1', () => client.request('POST', `/v1/deployments/${run}/versions`, { tag: 'v1' }));
  await step('release waits for approval', () =>
    until('the approval gate', async () => {
      const releases = await releasesOf();
      return releases[0]?.waitingFor === 'approval' ? true : undefined;
    }),
  );
  const approvalId = await step('approval requested', () =>
    until('the approval', async () => {
      const page = await client.get<{ items: { approvalId: string; deployment: string }[] }>(
        '/v1/approvals?status=pending&limit=1000',
      );
      return page.items.find((a) => a.deployment === run)?.approvalId;
    }),
  );
  await step('approve through the API', () =>
    client.request('POST', `/v1/approvals/${seg(approvalId)}/decision`, {
      decision: 'approve',
      // The approver is the key (docs/api.md section 7); naming the key itself is accepted either way.
      approver: keyId,
      reason: 'smoke',
    }),
  );
  await step('rollout successful', () =>
    until('the rollout', async () => {
      const [release] = await releasesOf();
      if (release && ['failed', 'cancelled', 'rolled_back'].includes(release.status))
        throw new Error(`the release ended ${release.status}`);
      return release?.status === 'successful' ? true : undefined;
    }),
  );
} catch (error) {
  failed = true;
  console.error(`  ${(error as Error).message}`);
} finally {
  // Cleanup, whatever happened: a rollout still running is cancelled first (a DELETE answers 409
  // while a rollout uses the object); a DELETE that finds nothing is fine.
  await client
    .request(
      'POST',
      `/v1/deployments/${run}/versions/v1/cancel`,
      { reason: 'smoke cleanup' },
      { allow404: true },
    )
    .catch(() => undefined);
  for (const path of [
    `/v1/policies/${run}`,
    `/v1/deployments/${run}`,
    `/v1/environments/${run}`,
    `/v1/resources/${run}`,
  ]) {
    await step(`delete ${path}`, () => client.request('DELETE', path, undefined, { allow404: true })).catch(
      () => {
        failed = true;
      },
    );
  }
  agent?.close();
}
console.log(failed ? 'smoke test FAILED' : 'smoke test passed');
process.exit(failed ? 1 : 0);
