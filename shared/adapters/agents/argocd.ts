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
import type { AgentDeps, ArgoCdPoll, DispatchOutcome, JobPayload, PollAnswer } from './types';

type ArgoCdAgent = Extract<JobAgent, { type: 'argocd' }>;

const DEFAULT_POLL_INTERVAL_SECONDS = 10;
// Kubernetes object names (DNS-1123 subdomain), which Application names are.
const APPLICATION_NAME = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;
const REVISION = /^[A-Za-z0-9][A-Za-z0-9._/+-]{0,254}$/;

const bearer = (token: string) => bearerHeaders(token, 'application/json');

/**
 * Argo CD (docs/api.md section 3, "further types"): sets the target's Application to the version's
 * revision (a merge patch of spec.source.targetRevision), starts a sync of that revision (unless an
 * automated sync already did), and hands the job to the poll loop, which watches the sync and the
 * Application's health.
 */
export async function dispatchArgoCd(
  agent: ArgoCdAgent,
  job: JobPayload,
  deps: AgentDeps,
): Promise<DispatchOutcome> {
  refuseTrafficJobs('argocd', job.kind);
  const application = renderTemplate(agent.application, job);
  const revision = renderTemplate(agent.revision ?? '{{version.tag}}', job);
  if (!APPLICATION_NAME.test(application))
    throw new JobDispatchError(`"${application}" is not an Argo CD Application name`, false);
  if (!REVISION.test(revision)) throw new JobDispatchError(`"${revision}" is not a git revision`, false);
  const token = await resolveSecret(agent.tokenSecretRef, deps);
  const namespace = agent.appNamespace ? { appNamespace: agent.appNamespace } : {};
  const url = applicationUrl(agent.serverUrl, application, agent.appNamespace);

  await argoCall(`update of ${application}`, 'PATCH', url, token, deps, {
    name: application,
    ...namespace,
    patchType: 'merge',
    patch: JSON.stringify({ spec: { source: { targetRevision: revision } } }),
  });
  await syncRevision(url, application, agent.appNamespace, revision, token, deps);

  const poll: ArgoCdPoll = {
    type: 'argocd',
    tokenSecretRef: agent.tokenSecretRef,
    revision,
    application,
    ...namespace,
  };
  return {
    type: 'polling',
    statusUrl: url,
    pollIntervalSeconds: agent.pollIntervalSeconds ?? DEFAULT_POLL_INTERVAL_SECONDS,
    poll,
  };
}

/** One call to Argo CD's API; `what` names it in a failure (with Argo CD's own message, never the token). */
function argoCall(
  what: string,
  method: 'PATCH' | 'POST',
  url: string,
  token: string,
  deps: AgentDeps,
  body: unknown,
): Promise<void> {
  const described = `Argo CD ${what} on ${new URL(url).host}`;
  return sendWithRetry(
    described,
    { method, url, headers: bearer(token), body: JSON.stringify(body) },
    deps,
    (res) => {
      if (res.status < 200 || res.status > 299)
        throw httpFailure(described, res.status, argoMessage(res.body));
    },
  );
}

/**
 * Starts a sync of `revision`. Another sync already running is not an error: an automated one is
 * the sync of this revision, and otherwise the poll loop starts ours once it has ended.
 */
async function syncRevision(
  appUrl: string,
  application: string,
  appNamespace: string | undefined,
  revision: string,
  token: string,
  deps: AgentDeps,
): Promise<void> {
  const url = new URL(appUrl);
  url.pathname += '/sync';
  url.search = '';
  try {
    await argoCall(`sync of ${application}`, 'POST', url.href, token, deps, {
      name: application,
      ...(appNamespace ? { appNamespace } : {}),
      revision,
    });
  } catch (error) {
    const inProgress =
      error instanceof JobDispatchError &&
      error.status === 400 &&
      /operation is already in progress/.test(error.message);
    if (!inProgress) throw error;
  }
}

/** The part of an Argo CD Application the agents read. */
interface Application {
  status?: {
    health?: { status?: string; message?: string };
    /** `revision`: the commit the live state was compared to (resolved from targetRevision). */
    sync?: { status?: string; revision?: string; comparedTo?: { source?: { targetRevision?: string } } };
    operationState?: {
      phase?: string;
      message?: string;
      operation?: { sync?: { revision?: string } };
      syncResult?: { source?: { targetRevision?: string } };
    };
  };
}

/**
 * One look at the Application. Successful: no sync running, the Application Synced to the job's
 * revision (status.sync.comparedTo) and Healthy. Failed: a sync of that revision (ours, or an
 * automated one, which names the resolved commit but records our targetRevision) Failed or Errored,
 * or the Application is Synced to it but Degraded or Missing. Anything else is pending.
 */
export function judgeApplication(app: Application, revision: string): PollAnswer {
  const operation = app.status?.operationState;
  const detail = (text: string | undefined) => (text ? `: ${text.slice(0, 500)}` : '');
  const ours =
    operation?.operation?.sync?.revision === revision ||
    operation?.syncResult?.source?.targetRevision === revision;
  if (ours && (operation?.phase === 'Failed' || operation?.phase === 'Error')) {
    return {
      status: 'failed',
      message: `Argo CD sync of ${revision} ${operation.phase}${detail(operation.message)}`,
    };
  }
  if (operation?.phase === 'Running' || operation?.phase === 'Terminating') return { status: 'pending' };
  const sync = app.status?.sync;
  if (sync?.status !== 'Synced' || sync.comparedTo?.source?.targetRevision !== revision)
    return { status: 'pending' };
  const health = app.status?.health?.status;
  if (health === 'Healthy') return { status: 'successful', message: `Argo CD synced ${revision}; Healthy` };
  if (health === 'Degraded' || health === 'Missing') {
    return {
      status: 'failed',
      message: `Argo CD synced ${revision} but the application is ${health}${detail(app.status?.health?.message)}`,
    };
  }
  return { status: 'pending' };
}

export async function pollArgoCd(statusUrl: string, poll: ArgoCdPoll, deps: AgentDeps): Promise<PollAnswer> {
  const token = await resolveSecret(poll.tokenSecretRef, deps);
  const app = await readApplication(statusUrl, token, deps);
  const answer = judgeApplication(app, poll.revision);
  if (answer.status === 'pending' && awaitsSync(app, poll.revision)) {
    await syncRevision(statusUrl, poll.application, poll.appNamespace, poll.revision, token, deps);
  }
  return answer;
}

/** An Application's URL in the Argo CD API: `<serverUrl>/api/v1/applications/<name>[?appNamespace=]`. */
export function applicationUrl(serverUrl: string, application: string, appNamespace?: string): string {
  const query = appNamespace ? `?appNamespace=${encodeURIComponent(appNamespace)}` : '';
  return `${serverUrl.replace(/\/+$/, '')}/api/v1/applications/${encodeURIComponent(application)}${query}`;
}

/** The Application at `appUrl` (`<serverUrl>/api/v1/applications/<name>[?appNamespace=]`), read with the token. */
export function readApplication(appUrl: string, token: string, deps: AgentDeps): Promise<Application> {
  const what = `Argo CD application GET from ${URL.canParse(appUrl) ? new URL(appUrl).host : 'an invalid URL'}`;
  return sendWithRetry<Application>(
    what,
    { method: 'GET', url: appUrl, headers: bearer(token) },
    deps,
    (res) => {
      if (res.status < 200 || res.status > 299) throw httpFailure(what, res.status, argoMessage(res.body));
      try {
        return JSON.parse(res.body) as Application;
      } catch {
        throw new JobDispatchError(`${what} answered with a body that is not JSON`, true);
      }
    },
  );
}

/**
 * Points at the revision, out of sync, and no sync of it ran or runs: the sync at dispatch met
 * another one still running (and automated sync is off), so the poll loop starts it now.
 */
export function awaitsSync(app: Application, revision: string): boolean {
  const operation = app.status?.operationState;
  if (operation?.phase === 'Running' || operation?.phase === 'Terminating') return false;
  const ours =
    operation?.operation?.sync?.revision === revision ||
    operation?.syncResult?.source?.targetRevision === revision;
  const sync = app.status?.sync;
  return !ours && sync?.status !== 'Synced' && sync?.comparedTo?.source?.targetRevision === revision;
}

/** Argo CD's error body is `{"error", "code", "message"}`; its message names the object, never a credential. */
function argoMessage(body: string): string | undefined {
  try {
    const message = (JSON.parse(body) as { message?: unknown }).message;
    return typeof message === 'string' ? message.slice(0, 300) : undefined;
  } catch {
    return undefined;
  }
}
