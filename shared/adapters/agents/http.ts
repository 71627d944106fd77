import { OutboundError, outbound } from '../outbound';
import type { AgentDeps } from './types';

/** A job could not be handed to its agent. The message names the agent and the status, never a secret. */
export class JobDispatchError extends Error {
  override readonly name = 'JobDispatchError';
  constructor(
    message: string,
    readonly retryable: boolean,
    readonly status?: number,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

export interface HttpRequest {
  method: 'GET' | 'POST' | 'PATCH' | 'PUT';
  url: string;
  /** Called for every attempt, so a signature carries a fresh timestamp. */
  headers: () => Record<string, string>;
  body?: string;
}

export interface HttpResponse {
  status: number;
  body: string;
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** 408 and 429 are worth another try; any other 4xx (and an unfollowed 3xx) will not change. */
export function isRetryableStatus(status: number): boolean {
  return status >= 500 || status === 408 || status === 429;
}

export function httpFailure(what: string, status: number, detail?: string): JobDispatchError {
  const suffix = detail ? `: ${detail}` : '';
  return new JobDispatchError(`${what} answered HTTP ${status}${suffix}`, isRetryableStatus(status), status);
}

export async function resolveSecret(name: string, deps: AgentDeps): Promise<string> {
  try {
    return await deps.getSecret(name);
  } catch (error) {
    throw new JobDispatchError(`could not read secret ${name}`, true, undefined, { cause: error });
  }
}

/**
 * Sends `request` through the guarded outbound client (never following a redirect) until `handle`
 * returns. `handle` throws a JobDispatchError for an answer it does not want; retryable ones, timeouts
 * and connection errors are tried again after 1 s, 2 s, 4 s, ... (±20 % jitter) until `maxAttempts` is
 * used up. A refused address or an answer over the size cap fails at once.
 */
export async function sendWithRetry<T>(
  what: string,
  request: HttpRequest,
  deps: AgentDeps,
  handle: (response: HttpResponse) => T,
): Promise<T> {
  const send = deps.outbound ?? outbound;
  const sleep = deps.sleep ?? defaultSleep;
  const timeoutMs = deps.attemptTimeoutMs ?? 10_000;
  const maxAttempts = Math.max(1, deps.maxAttempts ?? 4);

  for (let attempt = 1; ; attempt++) {
    let failure: JobDispatchError;
    try {
      const answer = await send({
        url: request.url,
        method: request.method,
        headers: request.headers(),
        body: request.body,
        timeoutMs,
      });
      try {
        return handle(answer);
      } catch (error) {
        if (!(error instanceof JobDispatchError)) throw error;
        failure = error;
      }
    } catch (error) {
      if (error instanceof JobDispatchError) throw error;
      failure = new JobDispatchError(
        `${what} failed: ${describeNetworkError(error)}`,
        retryable(error),
        undefined,
        {
          cause: error,
        },
      );
    }
    if (!failure.retryable) throw failure;
    if (attempt >= maxAttempts) {
      throw new JobDispatchError(
        `${failure.message} (gave up after ${attempt} attempts)`,
        true,
        failure.status,
        {
          cause: failure.cause,
        },
      );
    }
    await sleep(1000 * 2 ** (attempt - 1) * (0.8 + Math.random() * 0.4));
  }
}

// The outbound client's messages name no URL; anything else (an injected client's error) only by name.
function describeNetworkError(error: unknown): string {
  if (error instanceof OutboundError) return error.message;
  return error instanceof Error ? `connection failed (${error.name})` : 'connection failed';
}

const retryable = (error: unknown) =>
  !(error instanceof OutboundError) || error.reason === 'timeout' || error.reason === 'connection';

/** Request headers of an API that takes a bearer token: built per attempt, the token never logged. */
export const bearerHeaders = (token: string, mediaType: string) => () => ({
  Authorization: `Bearer ${token}`,
  'Content-Type': mediaType,
  Accept: mediaType,
});

/** Agents that deploy through another system have no traffic to drain: their drain jobs fail, saying so. */
export function refuseTrafficJobs(agentType: string, kind: string): void {
  if (kind === 'drain' || kind === 'undrain') {
    throw new JobDispatchError(
      `the ${agentType} agent cannot ${kind} traffic (trafficDrain needs a webhook or lambda agent)`,
      false,
    );
  }
}
