import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalServer } from '../../infra/local/server';
import { ENV } from '../../shared/adapters/runtime';
import type { Client } from '../helpers/client';
import { FakeLambda } from '../helpers/lambda';
import { startTestServer } from '../helpers/local';
import { allEvents, waitSettled } from '../support/rollouts';

/**
 * The lambda job agent (docs/api.md section 3, "further types ... in the same shape"): the job goes to a
 * function as an asynchronous invocation through the real SDK, and the function reports with the
 * job's callback like any agent.
 */

interface Job {
  jobId: string;
  kind: string;
  version: { tag: string };
  variables: Record<string, string>;
  callback: { url: string; token: string };
}

let server: LocalServer;
let admin: Client;
const lambda = new FakeLambda();

/** A deploy function that reports `status` through the job's callback. */
const reportingFunction = (status: 'successful' | 'failed') => async (event: unknown) => {
  const job = event as Job;
  await fetch(job.callback.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${job.callback.token}` },
    body: JSON.stringify({ status, message: `deployed by lambda: ${status}` }),
  });
};

const deployWith = async (id: string, jobAgent: Record<string, unknown>) => {
  const reply = await admin.put(`/v1/deployments/${id}`, {
    jobAgent,
    variables: { replicas: { default: '3' } },
  });
  expect(reply.status, reply.text).toBe(201);
};

beforeAll(async () => {
  await lambda.start();
  process.env.AWS_ENDPOINT_URL_LAMBDA = lambda.url;
  process.env[ENV.agentFunctionPrefix] = 'gantry-agent-';
  ({ server, admin } = await startTestServer());
  await admin.put('/v1/resources/web-1', { kind: 'vm', name: 'web-1', metadata: {} });
  await admin.put('/v1/environments/prod', { resourceSelector: 'true' });
});

afterAll(async () => {
  await server?.close();
  await lambda.stop();
  delete process.env[ENV.agentFunctionPrefix];
});

describe('the lambda job agent', () => {
  it('invokes the function asynchronously with the job; its callback finishes the release', async () => {
    lambda.functions.set('gantry-agent-deploy', reportingFunction('successful'));
    await deployWith('site', { type: 'lambda', functionName: 'gantry-agent-deploy', qualifier: 'live' });

    await admin.post('/v1/deployments/site/versions', { tag: 'v1' });
    const view = await waitSettled(admin, 'site', 'v1', 1);

    expect(view.releases.map((r) => r.status)).toEqual(['successful']);
    const invocation = lambda.invocations.find((i) => (i.payload as Job).version.tag === 'v1');
    expect(invocation).toMatchObject({
      functionName: 'gantry-agent-deploy',
      qualifier: 'live',
      invocationType: 'Event',
      payload: { kind: 'deploy', version: { tag: 'v1' }, variables: { replicas: '3' } },
    });
    expect((invocation?.payload as Job | undefined)?.jobId).toBe(view.releases[0]?.jobId);
    const dispatched = (await allEvents(admin, 'site')).filter((e) => e.detailType === 'Job Dispatched');
    expect(dispatched.map((e) => e.data?.agent)).toEqual(['lambda']);
  });

  it('runs the example agent of examples/lambda-agent.mjs as it is', async () => {
    const file = new URL('../../examples/lambda-agent.mjs', import.meta.url).href;
    const example = (await import(file)) as { handler: (job: unknown) => Promise<void> };
    lambda.functions.set('gantry-agent-example', example.handler);
    await deployWith('example', { type: 'lambda', functionName: 'gantry-agent-example' });

    await admin.post('/v1/deployments/example/versions', { tag: 'v7' });
    const view = await waitSettled(admin, 'example', 'v7', 1);

    expect(view.releases.map((r) => r.status)).toEqual(['successful']);
  });

  it('reaches the function by ARN, through throttling the SDK retries', async () => {
    lambda.functions.set('gantry-agent-arn', reportingFunction('successful'));
    await deployWith('by-arn', {
      type: 'lambda',
      // The runtime's own account: the dispatch role may invoke only its account's agent functions.
      functionName: 'arn:aws:lambda:us-east-1:000000000000:function:gantry-agent-arn',
    });
    lambda.throttle = 2;

    await admin.post('/v1/deployments/by-arn/versions', { tag: 'v1' });
    const view = await waitSettled(admin, 'by-arn', 'v1', 1);

    expect(view.releases.map((r) => r.status)).toEqual(['successful']);
    expect(lambda.throttle).toBe(0);
  });

  it('fails the job, naming the error, when the function does not exist', async () => {
    await deployWith('missing', { type: 'lambda', functionName: 'gantry-agent-missing' });

    await admin.post('/v1/deployments/missing/versions', { tag: 'v1' });
    const view = await waitSettled(admin, 'missing', 'v1', 1);

    expect(view.releases[0]?.status).toBe('failed');
    expect(view.releases[0]?.message).toMatch(
      /Lambda invoke of gantry-agent-missing failed: ResourceNotFoundException \(HTTP 404\)/,
    );
  });

  it('never invokes a function outside the agent prefix the stack grants', async () => {
    lambda.functions.set('billing-prod', reportingFunction('successful'));
    await deployWith('outside', { type: 'lambda', functionName: 'billing-prod' });

    await admin.post('/v1/deployments/outside/versions', { tag: 'v1' });
    const view = await waitSettled(admin, 'outside', 'v1', 1);

    expect(view.releases[0]?.status).toBe('failed');
    expect(view.releases[0]?.message).toMatch(
      /may invoke only functions whose name starts with "gantry-agent-"/,
    );
    expect(lambda.invocations.filter((i) => i.functionName === 'billing-prod')).toEqual([]);
  });

  it.each([
    ['a name with spaces', { functionName: 'my function' }, 'jobAgent.functionName'],
    ['a name:alias (the alias goes in qualifier)', { functionName: 'deploy:live' }, 'jobAgent.functionName'],
    [
      'an ARN of another service',
      { functionName: 'arn:aws:sqs:us-east-1:123456789012:q' },
      'jobAgent.functionName',
    ],
    ['a bad qualifier', { functionName: 'gantry-agent-x', qualifier: 'a/b' }, 'jobAgent.qualifier'],
    ['an unknown field', { functionName: 'gantry-agent-x', payload: '{}' }, 'jobAgent'],
  ])('rejects %s with a 400 that names the field', async (_what, agent, path) => {
    const reply = await admin.put('/v1/deployments/bad-lambda', { jobAgent: { type: 'lambda', ...agent } });

    expect(reply.status).toBe(400);
    expect(
      (reply.body as { error: { details: { path: string }[] } }).error.details.map((d) => d.path),
    ).toContain(path);
    expect((await admin.get('/v1/deployments/bad-lambda')).status).toBe(404);
  });
});
