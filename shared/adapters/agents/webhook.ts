import type { JobAgent } from '../../core/schemas/config';
import { signRequest } from '../../core/signature';
import { httpFailure, JobDispatchError, resolveSecret, sendWithRetry } from './http';
import type { AgentDeps, DispatchOutcome, JobPayload, JobStatus } from './types';

type WebhookAgent = Extract<JobAgent, { type: 'webhook' }>;

const DEFAULT_POLL_INTERVAL_SECONDS = 30;

/** docs/api.md section 6: POST the job as JSON, signed as in section 2 (without a key id) when the agent has a secret. */
export async function dispatchWebhook(
  agent: WebhookAgent,
  job: JobPayload,
  deps: AgentDeps,
): Promise<DispatchOutcome> {
  const url = new URL(agent.url);
  const body = JSON.stringify(job);
  const secret = agent.secretRef === undefined ? undefined : await resolveSecret(agent.secretRef, deps);
  const what = `webhook POST to ${url.host}`;

  const headers = () => {
    const base: Record<string, string> = { 'Content-Type': 'application/json' };
    if (secret === undefined) return base;
    const timestamp = String(Math.floor(Date.now() / 1000));
    return {
      ...base,
      'X-Gantry-Timestamp': timestamp,
      'X-Gantry-Signature': signRequest(secret, timestamp, 'POST', url.pathname + url.search, body),
    };
  };

  // A redirect is an answer (never followed): the body carries the callback token.
  return sendWithRetry(what, { method: 'POST', url: url.href, headers, body }, deps, (res) => {
    // docs/api.md section 6: any non-2xx answer is retried with backoff, then the job fails.
    if (res.status < 200 || res.status > 299)
      throw new JobDispatchError(`${what} answered HTTP ${res.status}`, true, res.status);
    const statusUrl = res.status === 202 ? statusUrlOf(res.body, url, what) : undefined;
    if (statusUrl === undefined) return { type: 'accepted' };
    return {
      type: 'polling',
      statusUrl,
      pollIntervalSeconds: agent.pollIntervalSeconds ?? DEFAULT_POLL_INTERVAL_SECONDS,
    };
  });
}

/** The `statusUrl` of a 202 answer, resolved against the agent URL; undefined when the agent will call back. */
function statusUrlOf(body: string, base: URL, what: string): string | undefined {
  const value = parseJson(body);
  if (typeof value !== 'object' || value === null || !('statusUrl' in value)) return undefined;
  const { statusUrl } = value;
  if (typeof statusUrl === 'string' && URL.canParse(statusUrl, base.href)) {
    const resolved = new URL(statusUrl, base);
    // docs/api.md section 6: only the agent's own origin is polled, so an answer cannot point the server
    // at another host (its metadata endpoint, the Lambda Runtime API, an internal service).
    if (resolved.origin !== base.origin && (resolved.protocol === 'https:' || resolved.protocol === 'http:'))
      throw new JobDispatchError(
        `${what} answered 202 with a statusUrl of another origin (${resolved.origin}); only ${base.origin} is polled`,
        false,
        202,
      );
    if (resolved.protocol === 'https:' || resolved.protocol === 'http:') return resolved.href;
  }
  throw new JobDispatchError(`${what} answered 202 with a statusUrl that is not an http(s) URL`, false, 202);
}

/** GET the status URL of a polled job: `{"status": "successful" | "failed"}`, anything else is still pending. */
export async function pollJobStatus(statusUrl: string, deps: AgentDeps): Promise<JobStatus> {
  const what = `job status GET from ${URL.canParse(statusUrl) ? new URL(statusUrl).host : 'an invalid URL'}`;
  // Redirects are never followed (docs/api.md section 6): a 3xx is an answer like any other non-2xx.
  const request = { method: 'GET' as const, url: statusUrl, headers: () => ({ Accept: 'application/json' }) };
  return sendWithRetry(what, request, deps, (res) => {
    if (res.status < 200 || res.status > 299) throw httpFailure(what, res.status);
    const value = parseJson(res.body);
    if (value === undefined)
      throw new JobDispatchError(`${what} answered with a body that is not JSON`, true);
    const status =
      typeof value === 'object' && value !== null && 'status' in value ? value.status : undefined;
    return status === 'successful' || status === 'failed' ? status : 'pending';
  });
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}
