import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stateMachineArn } from '../../infra/local/arns';
import type { LocalServer } from '../../infra/local/server';
import { FakeAgent } from '../helpers/agent';
import type { Client } from '../helpers/client';
import { startTestServer } from '../helpers/local';

/**
 * Issue 15: what one plain rollout (no policy, an agent that calls back at once) costs. Begin decides
 * as Evaluate does, so such a rollout is Begin, Route, Dispatch, JobAnswered, Complete, AfterJob,
 * Done; each step reads its release with what it needs in one request. Before: 9 transitions, 33
 * history events, 45 DynamoDB requests.
 */
const ROLLOUT_ARN = stateMachineArn('rollout');
/**
 * The budget: 34 today (the event consumers' included; the four writes that empty the release's and
 * the job's outboxes once their events are published, and the read of the job before its callback
 * is written with its event: shared/services/rollouts/outbox.ts), with a little room.
 */
const MAX_REQUESTS = 36;

let server: LocalServer;
let admin: Client;
const agent = new FakeAgent();

beforeAll(async () => {
  await agent.start();
  ({ server, admin } = await startTestServer());
});

afterAll(async () => {
  await server?.close();
  await agent.stop();
});

describe('a plain rollout', () => {
  it('takes 7 state transitions and at most 36 DynamoDB requests, steps, callback and consumers', async () => {
    await admin.put('/v1/resources/cost-1', { kind: 'vm', name: 'cost-1', metadata: { env: 'cost' } });
    await admin.put('/v1/environments/cost', { resourceSelector: "resource.metadata.env == 'cost'" });
    await admin.put('/v1/deployments/cost', {
      environments: ['cost'],
      jobAgent: { type: 'webhook', url: agent.url },
    });
    await server.bus.flush();
    await server.engine.idle();

    await admin.post('/v1/deployments/cost/versions', { tag: 'v1' });
    const mine = () =>
      server.engine
        .listExecutions({ stateMachineArn: ROLLOUT_ARN })
        .find((e) => e.input.includes('"deployment":"cost"'));
    let execution = mine();
    for (let i = 0; !execution && i < 2000; i++) {
      await new Promise((r) => setTimeout(r, 5));
      execution = mine();
    }
    if (!execution) throw new Error('the rollout did not start');
    const before = await server.dynamoRequests();
    const done = await server.engine.waitForExecution(execution.executionArn);
    await server.bus.flush();
    await server.engine.idle();
    const requests = (await server.dynamoRequests()) - before;

    const view = await admin.get<{ releases: { status: string }[] }>('/v1/deployments/cost/versions/v1');
    expect(view.body.releases.map((r) => r.status)).toEqual(['successful']);
    expect(done.status).toBe('SUCCEEDED');
    expect(done.stateTransitions).toBe(7);
    expect(done.historyEventCount).toBe(26);
    expect(requests).toBeLessThanOrEqual(MAX_REQUESTS);
  });
});
