import {
  ExecutionAlreadyExists,
  SendTaskSuccessCommand,
  SFNClient,
  StartExecutionCommand,
  StopExecutionCommand,
} from '@aws-sdk/client-sfn';
import { executionArnOf, executionNameOf } from '../core/ids';
import { log } from './log';
import type { Runtime } from './runtime';
import {
  deleteWaiter,
  listWaiters,
  listWaitersAfter,
  type ReleaseKey,
  releaseKeyString,
  type Waiter,
} from './store/rollouts';

/**
 * The Step Functions client of a runtime, built at first use: only the functions that start, stop or
 * resume executions bundle it (a new runtime, after resetRuntime(), gets a new client).
 */
const clients = new WeakMap<Runtime, SFNClient>();
export function sfnOf(rt: Runtime): SFNClient {
  let client = clients.get(rt);
  if (!client) {
    client = new SFNClient({});
    clients.set(rt, client);
  }
  return client;
}

/** The execution input: the release's identity only; every step reads the rest from the table. */
export interface ExecutionInput {
  release: ReleaseKey;
}

const IGNORABLE_TASK_ERRORS = new Set(['TaskDoesNotExist', 'TaskTimedOut', 'InvalidToken']);

/**
 * StartExecution is a token bucket per account and region: 1,300 burst and 300 per second refill in
 * the largest regions (800 and 150 elsewhere). Executions are started at most this many at a time,
 * and a throttled start waits with exponential backoff and full jitter before it is tried again.
 */
const STARTS_IN_FLIGHT = 16;
const START_ATTEMPTS = 8;

const isThrottled = (error: unknown) =>
  ['ThrottlingException', 'TooManyRequestsException', 'Throttling'].includes((error as Error)?.name);

/** Starts many executions with bounded parallelism, backing off while Step Functions throttles. */
export async function startRollouts(
  rt: Runtime,
  releases: (ReleaseKey & { generation?: number })[],
): Promise<void> {
  const queue = [...releases];
  await Promise.all(
    Array.from({ length: Math.min(STARTS_IN_FLIGHT, queue.length) }, async () => {
      for (let release = queue.shift(); release; release = queue.shift()) {
        for (let attempt = 1; ; attempt++) {
          try {
            await startRollout(rt, release);
            break;
          } catch (error) {
            if (!isThrottled(error) || attempt === START_ATTEMPTS) throw error;
            await new Promise((r) => setTimeout(r, Math.random() * Math.min(10_000, 100 * 2 ** attempt)));
          }
        }
      }
    }),
  );
}

/** Starts the release's execution; starting it again with the same input is a no-op. */
export async function startRollout(
  rt: Runtime,
  release: ReleaseKey & { generation?: number },
): Promise<void> {
  const input: ExecutionInput = {
    release: {
      deployment: release.deployment,
      tag: release.tag,
      environment: release.environment,
      resource: release.resource,
    },
  };
  try {
    await sfnOf(rt).send(
      new StartExecutionCommand({
        stateMachineArn: rt.stateMachineArn,
        name: executionNameOf(release),
        input: JSON.stringify(input),
      }),
    );
  } catch (error) {
    // The name is taken by a finished execution of this release: nothing to start (AWS keeps names 90 days).
    if (!(error instanceof ExecutionAlreadyExists || (error as Error).name === 'ExecutionAlreadyExists'))
      throw error;
  }
}

export async function stopRollout(
  rt: Runtime,
  release: ReleaseKey & { generation?: number },
  cause: string,
): Promise<void> {
  try {
    await sfnOf(rt).send(
      new StopExecutionCommand({
        executionArn: executionArnOf(rt.stateMachineArn, executionNameOf(release)),
        error: 'Gantry.Stopped',
        cause,
      }),
    );
  } catch (error) {
    if ((error as Error).name !== 'ExecutionDoesNotExist') throw error;
  }
}

/** Resumes a parked task; false when the task is gone (the execution restarted or ended). */
export async function resumeTask(rt: Runtime, taskToken: string, output: unknown): Promise<boolean> {
  try {
    await sfnOf(rt).send(new SendTaskSuccessCommand({ taskToken, output: JSON.stringify(output) }));
    return true;
  } catch (error) {
    if (IGNORABLE_TASK_ERRORS.has((error as Error).name)) return false;
    throw error;
  }
}

/** Wakes every execution parked on a signal; each goes back to Evaluate and re-checks its gates. */
export async function wake(rt: Runtime, signal: string): Promise<number> {
  const waiters = await listWaiters(rt, signal);
  let woken = 0;
  await Promise.all(
    waiters.map(async (waiter: Waiter) => {
      if (!(await deleteWaiter(rt, waiter))) return;
      if (await resumeTask(rt, waiter.taskToken, { woken: signal })) woken++;
    }),
  );
  if (woken > 0) log.debug('woke waiters', { signal, woken });
  return woken;
}

/**
 * Wakes at most `limit` executions parked on a signal, after the release key `after` and parked at or
 * before `before` (one that parked later has already seen what woke the others). Answers the last key
 * looked at, from which the next call goes on; undefined when none is left.
 */
export async function wakeSome(
  rt: Runtime,
  signal: string,
  page: { after?: string; before: string; limit: number },
): Promise<string | undefined> {
  const waiters = await listWaitersAfter(rt, signal, page.after, page.limit);
  await Promise.all(
    waiters
      .filter((waiter) => waiter.since <= page.before)
      .map(async (waiter) => {
        if (await deleteWaiter(rt, waiter)) await resumeTask(rt, waiter.taskToken, { woken: signal });
      }),
  );
  const last = waiters.at(-1);
  return waiters.length === page.limit && last ? releaseKeyString(last.release) : undefined;
}

/** The signal names, where the modules that wake executions look for them. */
export { signals } from '../core/signals';
