import type { JobAgent } from '../../core/schemas/config';
import { dispatchArgoCd, pollArgoCd } from './argocd';
import { dispatchGithub } from './github';
import { dispatchGitops } from './gitops';
import { pollGitops } from './gitops-poll';
import { dispatchLambda } from './lambda';
import { dispatchTerraformCloud, pollTerraformCloud } from './terraform-cloud';
import type { AgentDeps, AgentPoll, DispatchOutcome, JobPayload, PollAnswer } from './types';
import { dispatchWebhook, pollJobStatus } from './webhook';

export { JobDispatchError } from './http';
export type * from './types';
export { pollJobStatus };

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
    case 'gitops':
      return dispatchGitops(agent, job, deps);
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
  if (poll?.type === 'gitops') return pollGitops(statusUrl, poll, deps);
  return { status: await pollJobStatus(statusUrl, deps) };
}
