import { createHash, randomBytes } from 'node:crypto';
import { dispatchJob, JobDispatchError, type JobPayload, pollAgentJob } from '../../adapters/agents';
import { type Actor, auditRecords, DETAIL_TYPES, publish, releaseEvent, SYSTEM } from '../../adapters/events';
import { ENV, type Runtime } from '../../adapters/runtime';
import { secrets } from '../../adapters/secrets';
import { ConditionFailed } from '../../adapters/store/client';
import type { ReleaseReads } from '../../adapters/store/release-reads';
import {
  getJob,
  getVersion,
  type JobRecord,
  jobOutbox,
  putJobIfAbsent,
  type ReleaseRecord,
  updateJob,
} from '../../adapters/store/rollouts';
import { resumeTask } from '../../adapters/workflow';
import { isoNow, nowMs } from '../../core/clock';
import { conflict, forbidden, notFound, unauthenticated } from '../../core/errors';
import { jobIdOf } from '../../core/ids';
import type { Answer } from '../../core/schemas/answers';
import type { DeploymentBody, EnvironmentBody, ResourceBody } from '../../core/schemas/config';
import type { JobStatusBody } from '../../core/schemas/rollouts';
import { constantTimeEqual } from '../../core/signature';
import { type JobKind, TERMINAL_JOB } from '../../core/status';
import { celDeployment, celEnvironment, celResource } from '../../core/targets';
import { resolveVariables } from '../../core/variables';
import { requireConfig } from '../inventory';
import { publishOutboxes } from './outbox';

/** What a finished job tells the workflow (the task output): never a token. */
export interface JobOutcome {
  jobId: string;
  status: 'successful' | 'failed';
  message: string | null;
}

/** A job of a polling agent (202 with statusUrl): the workflow polls it in a bounded Wait loop. */
export interface PollingOutcome {
  jobId: string;
  status: 'polling';
  pollIntervalSeconds: number;
}

export const MIN_POLL_SECONDS = 1;
/**
 * A poll round adds 9 history events; at most 1,500 rounds per job (13,500 events) keep an execution
 * far below Step Functions' 25,000, so the poll interval is stretched to fit the job timeout.
 */
export const MAX_POLLS_PER_JOB = 1500;

export const pollInterval = (requested: number, jobTimeoutSeconds: number) =>
  Math.max(MIN_POLL_SECONDS, requested, Math.ceil(jobTimeoutSeconds / MAX_POLLS_PER_JOB));

export const hashToken = (token: string) => createHash('sha256').update(token).digest('hex');

export function renderJob(job: JobRecord): Answer<'Job'> {
  return {
    jobId: job.jobId,
    kind: job.kind,
    status: job.status,
    deployment: job.deployment,
    version: job.tag,
    environment: job.environment,
    resource: job.resource,
    message: job.message,
    links: job.links,
    createdAt: job.createdAt,
    updatedAt: job.updatedAt,
  };
}

/** What the dispatch step read with the release; whatever is missing (or of another tag) is read here. */
export type PayloadReads = Pick<ReleaseReads, 'deployment' | 'environment' | 'resource' | 'version'>;

async function buildPayload(
  rt: Runtime,
  job: JobRecord,
  token: string,
  reads: PayloadReads,
): Promise<{ payload: JobPayload; deployment: DeploymentBody }> {
  const [deployment, environment, resource, version] = await Promise.all([
    reads.deployment ?? requireConfig<DeploymentBody>(rt, 'deployment', job.deployment),
    reads.environment ?? requireConfig<EnvironmentBody>(rt, 'environment', job.environment),
    reads.resource ?? requireConfig<ResourceBody>(rt, 'resource', job.resource),
    // A rollback job deploys another version than the release's.
    reads.version?.tag === job.tag ? reads.version : getVersion(rt, job.deployment, job.tag),
  ]);
  if (!version) throw notFound(`The version "${job.tag}"`);
  const scope = {
    deployment: celDeployment(deployment),
    environment: celEnvironment(environment),
    resource: celResource(resource),
  };
  return {
    deployment: deployment.data,
    payload: {
      jobId: job.jobId,
      kind: job.kind,
      ...scope,
      version: { tag: version.tag, config: version.config, metadata: version.metadata },
      variables: await resolveVariables(deployment.data, scope, secrets()),
      callback: { url: `${rt.publicUrl}/v1/jobs/${job.jobId}/status`, token },
    },
  };
}

const pollingOutcome = (job: JobRecord): PollingOutcome => ({
  jobId: job.jobId,
  status: 'polling',
  pollIntervalSeconds: job.pollIntervalSeconds ?? 30,
});

/**
 * Poll: one look at a polling agent's statusUrl. A terminal answer (or a callback that came anyway)
 * finishes the job; past the job timeout it fails; otherwise the workflow waits and polls again.
 */
export async function pollJob(
  rt: Runtime,
  jobId: string,
  timeoutSeconds: number,
): Promise<JobOutcome | PollingOutcome> {
  const job = await getJob(rt, jobId);
  if (!job) throw notFound(`The job "${jobId}"`);
  if (TERMINAL_JOB.has(job.status)) return outcomeOf(job);
  if (job.sentAt && nowMs() - Date.parse(job.sentAt) > timeoutSeconds * 1000) {
    const { job: failed } = await recordJobStatus(
      rt,
      jobId,
      { status: 'failed', message: 'The job timed out.' },
      SYSTEM,
      { known: job },
    );
    return outcomeOf(failed);
  }
  let answer: Awaited<ReturnType<typeof pollAgentJob>>;
  try {
    answer = await pollAgentJob(job.statusUrl ?? '', job.poll, {
      getSecret: (name) => secrets().get(name),
      maxAttempts: 2,
      store: rt,
    });
  } catch {
    // A status endpoint that fails now may answer later; the job timeout bounds the wait.
    return pollingOutcome(job);
  }
  const { status, message } = answer;
  if (status === 'pending') return pollingOutcome(job);
  try {
    return outcomeOf(
      (
        await recordJobStatus(
          rt,
          jobId,
          { status, message: message ?? `The agent reported ${status}.` },
          SYSTEM,
          { known: job },
        )
      ).job,
    );
  } catch {
    const current = await getJob(rt, jobId);
    return current && TERMINAL_JOB.has(current.status) ? outcomeOf(current) : pollingOutcome(job);
  }
}

function outcomeOf(job: JobRecord): JobOutcome {
  return {
    jobId: job.jobId,
    status: job.status === 'successful' ? 'successful' : 'failed',
    message: job.message,
  };
}

/** What the Dispatch task answered the workflow: the job's outcome, or its timeout (JobTimedOut). */
export type TaskOutcome = JobOutcome | { status: 'timed_out' };

/** The outcome of a release's job from the workflow's point of view, a timeout included. */
export async function jobResult(rt: Runtime, jobId: string, outcome: TaskOutcome): Promise<JobOutcome> {
  if (outcome.status !== 'timed_out') return outcome;
  const job = await getJob(rt, jobId);
  const recorded = job
    ? await recordJobStatus(rt, jobId, { status: 'failed', message: 'The job timed out.' }, SYSTEM, {
        known: job,
      }).catch(() => undefined)
    : undefined;
  const final = recorded?.job ?? (await getJob(rt, jobId));
  return {
    jobId,
    status: final?.status === 'successful' ? 'successful' : 'failed',
    message: final?.message ?? 'The job timed out.',
  };
}

/** A job a rollout step sends for its release (the state change that goes with it is made). */
export interface JobToSend {
  release: ReleaseRecord;
  kind: JobKind;
  /** The version the job deploys: a rollback job deploys another version than the release's. */
  forTag?: string;
  /**
   * The job's place in the release, which names it: an on-demand rollback's own job is of kind
   * `rollback` but is the release's `deploy` job, so an automatic rollback of that release gets a
   * job of its own instead of finding that one.
   */
  role?: JobKind;
}

/**
 * The Dispatch step: one job per (release, kind, attempt). A re-run finds the job it created before:
 * a finished job resumes the workflow at once, a sent one only gets the fresh task token, and one
 * that was never sent (a crash in between) is sent with the same job id.
 */
export async function dispatchReleaseJob(
  rt: Runtime,
  {
    release,
    kind,
    forTag = release.tag,
    role = kind,
    taskToken,
    reads,
  }: JobToSend & { taskToken: string; reads: PayloadReads },
): Promise<JobRecord> {
  const now = isoNow();
  const jobId = jobIdOf(release.releaseId, role, release.attempt);
  // A new job is created with its task token and the hash of the agent's token in the same write.
  const token = randomBytes(32).toString('base64url');
  const { created, item: existing } = await putJobIfAbsent(rt, {
    deployment: release.deployment,
    tag: forTag,
    environment: release.environment,
    resource: release.resource,
    jobId,
    kind,
    attempt: release.attempt,
    status: 'pending',
    message: null,
    links: {},
    sentAt: null,
    createdAt: now,
    updatedAt: now,
    taskToken,
    tokenHash: hashToken(token),
  });
  let job = existing;
  if (!created) {
    if (TERMINAL_JOB.has(existing.status)) {
      await resumeTask(rt, taskToken, outcomeOf(existing));
      return existing;
    }
    job = await updateJob(rt, jobId, { set: { taskToken, updatedAt: now } });
    // A callback may have finished the job between our read and the token write.
    if (TERMINAL_JOB.has(job.status)) {
      await resumeTask(rt, taskToken, outcomeOf(job));
      return job;
    }
    if (job.sentAt) {
      if (job.statusUrl) await resumeTask(rt, taskToken, pollingOutcome(job));
      return job;
    }
    // Never sent (a crash before it was): sent now, with a token of its own.
    job = await updateJob(rt, jobId, { set: { tokenHash: hashToken(token) } });
  }
  try {
    const { payload, deployment } = await buildPayload(rt, job, token, reads);
    const accepted = await dispatchJob(deployment.jobAgent, payload, {
      getSecret: (name) => secrets().get(name),
      lambdaFunctionPrefix: process.env[ENV.agentFunctionPrefix],
      store: rt,
      secretVariables: Object.entries(deployment.variables ?? {}).flatMap(([name, variable]) =>
        'secretRef' in variable ? [name] : [],
      ),
    });
    const polling =
      accepted.type === 'polling'
        ? {
            statusUrl: accepted.statusUrl,
            pollIntervalSeconds: pollInterval(
              accepted.pollIntervalSeconds,
              deployment.jobTimeoutSeconds ?? 3600,
            ),
            ...(accepted.poll ? { poll: accepted.poll } : {}),
          }
        : {};
    const sent = job;
    const dispatched = (polls: boolean) =>
      releaseEvent(sent, DETAIL_TYPES.jobDispatched, {
        jobId,
        kind,
        agent: deployment.jobAgent.type,
        polling: polls,
      });
    const records = auditRecords([dispatched(accepted.type === 'polling')]);
    try {
      job = await updateJob(
        rt,
        jobId,
        { set: { sentAt: isoNow(), status: 'dispatched', updatedAt: isoNow(), ...polling } },
        { expression: '#s = :pending', names: { '#s': 'status' }, values: { ':pending': 'pending' } },
        records,
      );
      await publishOutboxes(rt, [jobOutbox(jobId, records)]);
    } catch (error) {
      if (!(error instanceof ConditionFailed)) throw error;
      job = error.current as unknown as JobRecord; // a callback came first
      await publish(rt, [dispatched(Boolean(job.statusUrl))]);
    }
    // A polling agent will not call back: the workflow leaves the callback task and polls instead.
    if (job.statusUrl && !TERMINAL_JOB.has(job.status)) await resumeTask(rt, taskToken, pollingOutcome(job));
    return job;
  } catch (error) {
    const message =
      error instanceof JobDispatchError || error instanceof Error
        ? error.message
        : 'The job could not be sent.';
    const failed = await recordJobStatus(
      rt,
      jobId,
      { status: 'failed', message: `The job could not be sent: ${message}` },
      SYSTEM,
    );
    return failed.job;
  }
}

/**
 * Records a job's status (a callback, a timeout, a dispatch failure). The same terminal status again
 * is accepted; a different one after it is a conflict. A terminal status resumes the workflow.
 */
export async function recordJobStatus(
  rt: Runtime,
  jobId: string,
  report: JobStatusBody,
  actor: Actor,
  /**
   * `bearerToken`: a callback's, checked in the conditional write. `known`: the job as the caller
   * just read it, which saves the first read (a stale one only costs a read again).
   */
  { bearerToken, known }: { bearerToken?: string; known?: JobRecord } = {},
): Promise<{ job: JobRecord; changed: boolean }> {
  const tokenHash = bearerToken === undefined ? undefined : hashToken(bearerToken);
  let job: JobRecord | undefined;
  // The job is read first so that its event can be written with the update (the job's outbox); the
  // update holds only while the job is as read, else it is read again.
  for (let attempt = 1; !job; attempt++) {
    const seen = attempt === 1 && known ? known : await getJob(rt, jobId);
    if (!seen) {
      throw tokenHash === undefined
        ? notFound(`The job "${jobId}"`)
        : unauthenticated('The job token is not valid for this job.');
    }
    const message = report.message !== undefined ? report.message : seen.message;
    const links = report.links ?? seen.links;
    const updated = releaseEvent(
      seen,
      DETAIL_TYPES.jobUpdated,
      { jobId, kind: seen.kind, status: report.status, message, links },
      actor,
    );
    const now = isoNow();
    const records = auditRecords([updated], Date.parse(now));
    try {
      const written = await updateJob(
        rt,
        jobId,
        {
          set: {
            status: report.status,
            updatedAt: now,
            ...(report.message !== undefined ? { message: report.message } : {}),
            ...(report.links ? { links: report.links } : {}),
          },
        },
        {
          expression: `${tokenHash === undefined ? 'attribute_exists(pk)' : 'tokenHash = :hash'} AND NOT (#s IN (:ok, :failed)) AND #u = :seen`,
          names: { '#s': 'status', '#u': 'updatedAt' },
          values: {
            ':ok': 'successful',
            ':failed': 'failed',
            ':seen': seen.updatedAt,
            ...(tokenHash === undefined ? {} : { ':hash': tokenHash }),
          },
        },
        records,
      );
      await publishOutboxes(rt, [jobOutbox(jobId, records)]);
      job = written;
    } catch (error) {
      if (!(error instanceof ConditionFailed)) throw error;
      const current = error.current as unknown as JobRecord | undefined;
      if (
        tokenHash !== undefined &&
        !(current?.tokenHash && constantTimeEqual(tokenHash, current.tokenHash))
      ) {
        throw unauthenticated('The job token is not valid for this job.');
      }
      if (!current) throw notFound(`The job "${jobId}"`);
      if (TERMINAL_JOB.has(current.status)) {
        if (current.status === report.status) return { job: current, changed: false };
        throw conflict(`The job "${jobId}" already finished as ${current.status}.`);
      }
      // Another report changed the job since it was read: read it again.
      if (attempt === 5) throw conflict(`The job "${jobId}" keeps changing; try again.`);
    }
  }
  if (TERMINAL_JOB.has(job.status) && job.taskToken) await resumeTask(rt, job.taskToken, outcomeOf(job));
  return { job, changed: true };
}

/** A job callback authenticated by the job's own bearer token, or by a jobs:write key (already checked). */
export async function reportJobStatus(
  rt: Runtime,
  jobId: string,
  report: JobStatusBody,
  auth: { bearerToken?: string; keyId?: string; deployments?: string[] },
): Promise<JobRecord> {
  // A key limited to some deployments completes only their jobs (docs/api.md section 2, `jobs:write`).
  if (auth.deployments && !auth.bearerToken) {
    const job = await getJob(rt, jobId);
    if (job && !auth.deployments.includes(job.deployment))
      throw forbidden(`This key may not report jobs of deployment "${job.deployment}".`);
  }
  // No read first: the token, the job's existence and its status are the update's condition, and
  // a lost condition tells which (recordJobStatus). `in_progress` after the end is a conflict there too.
  const actor: Actor = auth.keyId ? { keyId: auth.keyId } : { system: 'job-agent' };
  return (await recordJobStatus(rt, jobId, report, actor, { bearerToken: auth.bearerToken })).job;
}
