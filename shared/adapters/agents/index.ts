import type { LambdaClient } from '@aws-sdk/client-lambda';
import type { JobAgent } from '../../core/schemas/config';
import type { Outbound } from '../outbound';
import { type ArgoCdPoll, dispatchArgoCd, pollArgoCd } from './argocd';
import { dispatchGithub } from './github';
import { dispatchLambda } from './lambda';
import { dispatchTerraformCloud, pollTerraformCloud, type TerraformCloudPoll } from './terraform-cloud';
import { dispatchWebhook, pollJobStatus } from './webhook';

export { JobDispatchError } from './http';
export { pollJobStatus };

/** The job a job agent receives (docs/api.md section 6); the webhook agent gets exactly this as its body. */
export interface JobPayload {
  jobId: string;
  kind: 'deploy' | 'rollback' | 'drain' | 'undrain';
  deployment: { id: string; name: string };
  environment: { id: string; name: string };
  resource: { id: string; kind: string; name: string; metadata: Record<string, string> };
  version: { tag: string; config: Record<string, unknown>; metadata: Record<string, string> };
  variables: Record<string, string>;
  callback: { url: string; token: string };
}

/** How to read a polled job's statusUrl when it is not the webhook format of docs/api.md section 6. */
export type AgentPoll = ArgoCdPoll | TerraformCloudPoll;

export type DispatchOutcome =
  | { type: 'accepted' }
  | { type: 'polling'; statusUrl: string; pollIntervalSeconds: number; poll?: AgentPoll };

export type JobStatus = 'successful' | 'failed' | 'pending';

export interface PollAnswer {
  status: JobStatus;
  message?: string;
}

export interface AgentDeps {
  /** Resolves a secretRef / tokenSecretRef. */
  getSecret: (name: string) => Promise<string>;
  /** Default the guarded client of shared/adapters/outbound.ts; tests pass their own. */
  outbound?: Outbound;
  /** Backoff sleeps; tests pass a fast one. */
  sleep?: (ms: number) => Promise<void>;
  /** Per HTTP attempt, default 10_000. */
  attemptTimeoutMs?: number;
  /** Default 4: 1 + 3 retries after 1 s, 2 s, 4 s with jitter. */
  maxAttempts?: number;
  /** The lambda agent's client; default one built from the environment. */
  lambdaClient?: LambdaClient;
  /** The lambda agent invokes only functions whose name starts with this (the stack's IAM scope). */
  lambdaFunctionPrefix?: string;
}

/** Hands a job to its agent; throws JobDispatchError once the agent refused it or retries are used up. */
export function dispatchJob(agent: JobAgent, job: JobPayload, deps: AgentDeps): Promise<DispatchOutcome> {
  switch (agent.type) {
    case 'webhook':
      return dispatchWebhook(agent, job, deps);
    case 'github':
      return dispatchGithub(agent, job, deps);
    case 'lambda':
      return dispatchLambda(agent, job, deps);
    case 'argocd':
      return dispatchArgoCd(agent, job, deps);
    case 'terraform-cloud':
      return dispatchTerraformCloud(agent, job, deps);
  }
}

/** One look at a polled job: its agent's own status format (`poll`), else the webhook one. */
export async function pollAgentJob(
  statusUrl: string,
  poll: AgentPoll | undefined,
  deps: AgentDeps,
): Promise<PollAnswer> {
  if (poll?.type === 'argocd') return pollArgoCd(statusUrl, poll, deps);
  if (poll?.type === 'terraform-cloud') return pollTerraformCloud(statusUrl, poll, deps);
  return { status: await pollJobStatus(statusUrl, deps) };
}
