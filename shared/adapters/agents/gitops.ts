import { createHash } from 'node:crypto';
import { repoPathProblem } from '../../core/gitops';
import type { JobAgent } from '../../core/schemas/config';
import { queueGitopsEntry } from '../store/gitops';
import { githubApiBase } from './github';
import { JobDispatchError, refuseTrafficJobs } from './http';
import { renderTemplate } from './template';
import type { AgentDeps, DispatchOutcome, GitopsPoll, JobPayload } from './types';

type GitopsAgent = Extract<JobAgent, { type: 'gitops' }>;

const DEFAULT_POLL_INTERVAL_SECONDS = 10;

/**
 * GitOps (docs/configuration.md, "gitops"): queues the target's entry (the version's tag and the
 * job's non-secret variables) for its environment's file, and hands the job to the poll loop, which
 * writes every entry queued for that file in one commit or pull request (./gitops-poll.ts) and
 * follows it until it landed and, with `argocd`, until Argo CD synced it. Nothing is sent to GitHub
 * here: the step that sends jobs stays small.
 */
export async function dispatchGitops(
  agent: GitopsAgent,
  job: JobPayload,
  deps: AgentDeps,
): Promise<DispatchOutcome> {
  refuseTrafficJobs('gitops', job.kind);
  const path = renderTemplate(agent.path, job);
  const problem = repoPathProblem(path);
  if (problem) throw new JobDispatchError(`the file path "${path}" ${problem}`, false);
  if (!deps.store) throw new JobDispatchError('the gitops agent has no table to queue in', false);
  const apiUrl = githubApiBase(agent.apiUrl);
  const branch = agent.branch ?? 'main';
  const where = [apiUrl, agent.owner, agent.repo, branch, path, job.deployment.id, job.environment.id];
  const queue = createHash('sha256').update(JSON.stringify(where)).digest('hex').slice(0, 40);
  // Unknown which variables hold secrets: none are written.
  const secret = new Set(deps.secretVariables ?? Object.keys(job.variables));
  await queueGitopsEntry(deps.store, queue, {
    jobId: job.jobId,
    resource: job.resource.id,
    tag: job.version.tag,
    variables: Object.fromEntries(Object.entries(job.variables).filter(([name]) => !secret.has(name))),
  });
  const poll: GitopsPoll = {
    type: 'gitops',
    apiUrl,
    owner: agent.owner,
    repo: agent.repo,
    branch,
    path,
    tokenSecretRef: agent.tokenSecretRef,
    mode: agent.mode ?? 'commit',
    autoMerge: agent.autoMerge ?? false,
    queue,
    jobId: job.jobId,
    deployment: job.deployment.id,
    environment: job.environment.id,
    resource: job.resource.id,
    ...(agent.argocd
      ? { argocd: { ...agent.argocd, application: renderTemplate(agent.argocd.application, job) } }
      : {}),
  };
  const file = path.split('/').map(encodeURIComponent).join('/');
  return {
    type: 'polling',
    statusUrl: `${apiUrl}/repos/${agent.owner}/${agent.repo}/contents/${file}?ref=${encodeURIComponent(branch)}`,
    pollIntervalSeconds: agent.pollIntervalSeconds ?? DEFAULT_POLL_INTERVAL_SECONDS,
    poll,
  };
}
