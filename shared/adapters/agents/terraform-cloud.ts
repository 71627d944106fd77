import type { JobAgent } from '../../core/schemas/config';
import {
  bearerHeaders,
  httpFailure,
  JobDispatchError,
  refuseTrafficJobs,
  resolveSecret,
  sendWithRetry,
} from './http';
import { renderTemplate } from './template';
import type { AgentDeps, DispatchOutcome, JobPayload, PollAnswer, TerraformCloudPoll } from './types';

type TerraformCloudAgent = Extract<JobAgent, { type: 'terraform-cloud' }>;

const DEFAULT_API_URL = 'https://app.terraform.io';
const DEFAULT_POLL_INTERVAL_SECONDS = 30;
const DEFAULT_VARIABLES = { gantry_version: '{{version.tag}}' };
// Workspace names: letters, numbers, `-` and `_`, at most 90 characters.
const WORKSPACE_NAME = /^[A-Za-z0-9_-]{1,90}$/;

/** A run variable's value is HCL: a quoted string, with interpolation sequences escaped. */
export const hclString = (value: string) =>
  JSON.stringify(value)
    .replace(/\$\{/g, () => '$${')
    .replace(/%\{/g, () => '%%{');

const headers = (token: string) => bearerHeaders(token, 'application/vnd.api+json');

/**
 * Terraform Cloud (docs/api.md section 3, "further types"): finds the target's workspace, starts a run
 * with `auto-apply` and the rendered run variables (once per job: a run naming the job is reused),
 * and hands the job to the poll loop, which reads the run's status until it is applied (or finished
 * with nothing to apply), errored or discarded.
 */
export async function dispatchTerraformCloud(
  agent: TerraformCloudAgent,
  job: JobPayload,
  deps: AgentDeps,
): Promise<DispatchOutcome> {
  refuseTrafficJobs('terraform-cloud', job.kind);
  const workspace = renderTemplate(agent.workspace, job);
  if (!WORKSPACE_NAME.test(workspace))
    throw new JobDispatchError(`"${workspace}" is not a Terraform Cloud workspace name`, false);
  const variables = Object.entries(agent.variables ?? DEFAULT_VARIABLES).map(([key, template]) => ({
    key,
    value: hclString(renderTemplate(template, job)),
  }));
  const token = await resolveSecret(agent.tokenSecretRef, deps);
  const api = `${(agent.apiUrl ?? DEFAULT_API_URL).replace(/\/+$/, '')}/api/v2`;
  const host = new URL(api).host;
  const request = <T>(
    what: string,
    method: 'GET' | 'POST',
    url: string,
    body?: unknown,
    options: AgentDeps = deps,
  ) =>
    sendWithRetry(
      `Terraform Cloud ${what} on ${host}`,
      {
        method,
        url,
        headers: headers(token),
        body: body === undefined ? undefined : JSON.stringify(body),
      },
      options,
      (res) => {
        if (res.status < 200 || res.status > 299)
          throw httpFailure(`Terraform Cloud ${what} on ${host}`, res.status, apiErrors(res.body));
        try {
          return JSON.parse(res.body) as T;
        } catch {
          throw new JobDispatchError(
            `Terraform Cloud ${what} on ${host} answered with a body that is not JSON`,
            true,
          );
        }
      },
    );

  const found = await request<{ data: { id: string } }>(
    `workspace ${agent.organization}/${workspace}`,
    'GET',
    `${api}/organizations/${encodeURIComponent(agent.organization)}/workspaces/${encodeURIComponent(workspace)}`,
  );
  // A dispatch that crashed after creating the run is sent again with the same job id: find that
  // run instead of starting a second one (its message names the job).
  const marker = `(job ${job.jobId})`;
  const runOfJob = async () =>
    (
      await request<{ data: { id: string; attributes?: { message?: string } }[] }>(
        `runs of ${workspace}`,
        'GET',
        `${api}/workspaces/${encodeURIComponent(found.data.id)}/runs?page%5Bsize%5D=20`,
      )
    ).data.find((run) => run.attributes?.message?.endsWith(marker));
  const create = () =>
    request<{ data: { id: string } }>(
      `run of ${workspace}`,
      'POST',
      `${api}/runs`,
      {
        data: {
          type: 'runs',
          attributes: {
            message: `Gantry: ${job.kind} ${job.deployment.id} ${job.version.tag} to ${job.environment.id}/${job.resource.id} ${marker}`,
            'auto-apply': true,
            variables,
          },
          relationships: { workspace: { data: { type: 'workspaces', id: found.data.id } } },
        },
      },
      // Creating a run is not idempotent: one attempt, then a look whether it was created after all.
      { ...deps, maxAttempts: 1 },
    );
  let run = await runOfJob();
  if (!run) {
    try {
      run = (await create()).data;
    } catch (error) {
      run = error instanceof JobDispatchError && error.retryable ? await runOfJob() : undefined;
      if (!run) throw error;
    }
  }
  const poll: TerraformCloudPoll = { type: 'terraform-cloud', tokenSecretRef: agent.tokenSecretRef };
  return {
    type: 'polling',
    statusUrl: `${api}/runs/${encodeURIComponent(run.id)}`,
    pollIntervalSeconds: agent.pollIntervalSeconds ?? DEFAULT_POLL_INTERVAL_SECONDS,
    poll,
  };
}

const APPLIED = new Set(['applied', 'planned_and_finished']);
const ENDED_UNAPPLIED = new Set(['errored', 'discarded', 'canceled', 'force_canceled']);

/**
 * A run is successful once applied, or finished with nothing to apply; errored, discarded and
 * cancelled runs fail; every other status (queued, planning, policy checks, applying, a soft policy
 * failure waiting for an override) is pending.
 */
export function judgeRun(run: { data?: { id?: string; attributes?: { status?: string } } }): PollAnswer {
  const status = run.data?.attributes?.status ?? '';
  const id = run.data?.id ?? 'the run';
  if (APPLIED.has(status)) return { status: 'successful', message: `Terraform Cloud run ${id} ${status}` };
  if (ENDED_UNAPPLIED.has(status))
    return { status: 'failed', message: `Terraform Cloud run ${id} ${status}` };
  return { status: 'pending' };
}

export async function pollTerraformCloud(
  statusUrl: string,
  poll: TerraformCloudPoll,
  deps: AgentDeps,
): Promise<PollAnswer> {
  const token = await resolveSecret(poll.tokenSecretRef, deps);
  const what = `Terraform Cloud run GET from ${URL.canParse(statusUrl) ? new URL(statusUrl).host : 'an invalid URL'}`;
  return sendWithRetry(what, { method: 'GET', url: statusUrl, headers: headers(token) }, deps, (res) => {
    if (res.status < 200 || res.status > 299) throw httpFailure(what, res.status, apiErrors(res.body));
    try {
      return judgeRun(JSON.parse(res.body) as Parameters<typeof judgeRun>[0]);
    } catch {
      throw new JobDispatchError(`${what} answered with a body that is not JSON`, true);
    }
  });
}

/** JSON:API errors, `{"errors": [{"status", "title", "detail"}]}`: their titles and details, never a credential. */
function apiErrors(body: string): string | undefined {
  try {
    const errors = (JSON.parse(body) as { errors?: { title?: string; detail?: string }[] }).errors ?? [];
    const text = errors.map((e) => [e.title, e.detail].filter(Boolean).join(': ')).join('; ');
    return text ? text.slice(0, 300) : undefined;
  } catch {
    return undefined;
  }
}
