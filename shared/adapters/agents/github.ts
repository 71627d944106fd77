import type { JobAgent } from '../../core/schemas/config';
import { httpFailure, resolveSecret, sendWithRetry } from './http';
import type { AgentDeps, DispatchOutcome, JobPayload } from './types';

type GithubAgent = Extract<JobAgent, { type: 'github' }>;

/** The headers of every GitHub REST call Gantry makes (the token's, the API version it speaks). */
export const githubHeaders = (token: string) => ({
  Authorization: `Bearer ${token}`,
  Accept: 'application/vnd.github+json',
  'X-GitHub-Api-Version': '2022-11-28',
  'User-Agent': 'gantry',
  'Content-Type': 'application/json',
});

/** The GitHub REST API's base (`apiUrl` for GitHub Enterprise Server), without a trailing slash. */
export const githubApiBase = (apiUrl?: string) => (apiUrl ?? 'https://api.github.com').replace(/\/+$/, '');
const MAX_MESSAGE_LENGTH = 300;

/** docs/api.md section 6: a workflow_dispatch with inputs `job_id` and `callback_url`. */
export async function dispatchGithub(
  agent: GithubAgent,
  job: JobPayload,
  deps: AgentDeps,
): Promise<DispatchOutcome> {
  const token = await resolveSecret(agent.tokenSecretRef, deps);
  const url = dispatchUrl(agent);
  const body = JSON.stringify({
    ref: agent.ref,
    inputs: { job_id: job.jobId, callback_url: job.callback.url },
  });
  const what = `GitHub workflow dispatch of ${agent.owner}/${agent.repo} ${agent.workflow}`;
  const headers = () => githubHeaders(token);

  return sendWithRetry(what, { method: 'POST', url, headers, body }, deps, (res) => {
    if (res.status < 200 || res.status > 299)
      throw httpFailure(what, res.status, githubMessage(res.body, token));
    return { type: 'accepted' };
  });
}

/** Keeps a base path such as https://ghe.example.com/api/v3 for GitHub Enterprise Server. */
function dispatchUrl(agent: GithubAgent): string {
  const url = new URL(githubApiBase(agent.apiUrl));
  const segments = ['repos', agent.owner, agent.repo, 'actions', 'workflows', agent.workflow, 'dispatches'];
  url.pathname = `${url.pathname.replace(/\/+$/, '')}/${segments.map(encodeURIComponent).join('/')}`;
  url.search = '';
  url.hash = '';
  return url.href;
}

/** GitHub's `message` field, shortened and with the token blanked out should it ever be echoed. */
export function githubMessage(body: string, token: string): string | undefined {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null || !('message' in value)) return undefined;
  if (typeof value.message !== 'string' || value.message === '') return undefined;
  const message = token === '' ? value.message : value.message.replaceAll(token, '***');
  return message.length > MAX_MESSAGE_LENGTH ? `${message.slice(0, MAX_MESSAGE_LENGTH)}...` : message;
}
