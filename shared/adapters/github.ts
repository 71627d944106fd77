import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { commitOf } from '../core/commit';
import type { DeploymentBody } from '../core/schemas/config';
import type { ReleaseStatus } from '../core/status';
import { githubApiBase, githubHeaders } from './agents/github';
import { httpFailure, JobDispatchError, sendWithRetry } from './agents/http';
import type { Runtime } from './runtime';
import { secrets } from './secrets';
import { isConditionFailed } from './store/client';
import { keys } from './store/keys';
import { getVersion, listReleases } from './store/rollouts';

/**
 * GitHub Deployments (docs/api.md section 3, `github`): each version x environment becomes one GitHub
 * Deployment whose status follows its releases, so the repository shows what runs where.
 */
export type GithubState = 'in_progress' | 'success' | 'failure' | 'inactive';
type Settings = NonNullable<DeploymentBody['github']>;

/** The environment's state from its releases of the version; undefined while nothing started. */
export function environmentState(statuses: ReleaseStatus[]): GithubState | undefined {
  if (statuses.length === 0) return undefined;
  if (statuses.some((s) => s === 'failed' || s === 'rolled_back' || s === 'rolling_back')) return 'failure';
  if (statuses.every((s) => s === 'successful')) return 'success';
  if (statuses.every((s) => s === 'superseded' || s === 'cancelled')) return 'inactive';
  if (statuses.every((s) => s === 'pending' || s === 'waiting')) return undefined;
  return 'in_progress';
}

const api = (settings: Settings) => githubApiBase(settings.apiUrl);
const repoPath = (s: Settings) => `/repos/${encodeURIComponent(s.owner)}/${encodeURIComponent(s.repo)}`;

async function call(
  settings: Settings,
  path: string,
  body: unknown,
  method: 'GET' | 'POST' | 'PATCH' = 'POST',
  maxAttempts = 3,
): Promise<Record<string, unknown>> {
  const token = await secrets().get(settings.tokenSecretRef);
  return sendWithRetry(
    'GitHub',
    {
      method,
      url: `${api(settings)}${path}`,
      headers: () => githubHeaders(token),
      body: method === 'GET' ? undefined : JSON.stringify(body),
    },
    { getSecret: (name) => secrets().get(name), maxAttempts },
    (response) => {
      if (response.status < 200 || response.status > 299) throw httpFailure('GitHub', response.status);
      // Not retried: the write was accepted, and a second POST would create a second deployment.
      try {
        return (response.body ? JSON.parse(response.body) : {}) as Record<string, unknown>;
      } catch {
        throw new JobDispatchError('GitHub answered with a body that is not JSON', false, response.status);
      }
    },
  );
}

const LEASE_MS = 60_000;

/**
 * Runs `pass` over the item at `key`, one consumer at a time. Events arrive at once and in any order,
 * so one consumer holds a lease on the item and runs passes until no event came in meanwhile: each
 * event first counts itself in `pending`, and the holder lets go only when `pending` is back to the
 * count it has handled. Undefined when another consumer holds the lease (it handles this event too).
 */
export async function underLease<T extends { pending?: number }, R>(
  rt: Runtime,
  key: { pk: string; sk: string },
  pass: (item: T) => Promise<R>,
): Promise<R | undefined> {
  const update = (input: Omit<ConstructorParameters<typeof UpdateCommand>[0], 'TableName' | 'Key'>) =>
    rt.doc.send(new UpdateCommand({ TableName: rt.tableName, Key: key, ...input }));
  await update({ UpdateExpression: 'ADD pending :one', ExpressionAttributeValues: { ':one': 1 } });
  const now = Date.now();
  try {
    await update({
      UpdateExpression: 'SET lease = :until',
      ConditionExpression: 'attribute_not_exists(lease) OR lease < :now',
      ExpressionAttributeValues: { ':until': now + LEASE_MS, ':now': now },
    });
  } catch (error) {
    if (isConditionFailed(error)) return undefined;
    throw error;
  }
  for (;;) {
    const out = await rt.doc.send(
      new GetCommand({ TableName: rt.tableName, Key: key, ConsistentRead: true }),
    );
    const seen = (out.Item ?? {}) as T;
    let result: R;
    try {
      result = await pass(seen);
    } catch (error) {
      await update({ UpdateExpression: 'REMOVE lease' });
      throw error;
    }
    try {
      // Let go only if no event came in while this pass ran.
      await update({
        UpdateExpression: 'SET pending = :zero REMOVE lease',
        ConditionExpression: 'pending = :seen',
        ExpressionAttributeValues: { ':zero': 0, ':seen': seen.pending ?? 0 },
      });
      return result;
    } catch (error) {
      if (!isConditionFailed(error)) throw error;
    }
  }
}

/** Brings the GitHub Deployment of (deployment, version, environment) up to date with its releases. */
export async function mirrorEnvironment(
  rt: Runtime,
  deployment: { id: string; data: DeploymentBody },
  tag: string,
  environment: string,
): Promise<GithubState | undefined> {
  const settings = deployment.data.github;
  if (!settings) return undefined;
  return underLease<Mirror, GithubState | undefined>(
    rt,
    keys.githubDeployment(deployment.id, tag, environment),
    (seen) => mirrorOnce(rt, settings, deployment.id, tag, environment, seen),
  );
}

interface Mirror {
  githubId?: number;
  state?: GithubState;
  pending?: number;
}

/** One pass, by the lease holder: create the GitHub Deployment if needed, post the state if it changed. */
async function mirrorOnce(
  rt: Runtime,
  settings: Settings,
  deploymentId: string,
  tag: string,
  environment: string,
  mirror: Mirror,
): Promise<GithubState | undefined> {
  const state = environmentState(
    (await listReleases(rt, deploymentId, tag, environment)).map((r) => r.status),
  );
  if (!state || mirror.state === state) return state;
  // A version superseded before it deployed never had a GitHub Deployment; nothing to mark.
  if (mirror.githubId === undefined && state === 'inactive') return undefined;
  const key = keys.githubDeployment(deploymentId, tag, environment);
  let githubId = mirror.githubId;
  if (githubId === undefined) {
    const version = await getVersion(rt, deploymentId, tag);
    const created = await call(settings, `${repoPath(settings)}/deployments`, {
      ref: (version && commitOf(version.metadata)) ?? tag,
      environment,
      description: `Gantry: ${deploymentId} ${tag}`,
      auto_merge: false,
      required_contexts: [],
      payload: { gantry: { deployment: deploymentId, version: tag } },
    });
    githubId = Number(created.id);
    await rt.doc.send(
      new UpdateCommand({
        TableName: rt.tableName,
        Key: key,
        UpdateExpression: 'SET githubId = :id',
        ExpressionAttributeValues: { ':id': githubId },
      }),
    );
  }
  await call(settings, `${repoPath(settings)}/deployments/${githubId}/statuses`, {
    state,
    description: `${tag} is ${state.replace('_', ' ')} in ${environment}`,
    environment,
    auto_inactive: state === 'success',
  });
  await rt.doc.send(
    new UpdateCommand({
      TableName: rt.tableName,
      Key: key,
      UpdateExpression: 'SET #s = :s',
      ExpressionAttributeNames: { '#s': 'state' },
      ExpressionAttributeValues: { ':s': state },
    }),
  );
  return state;
}

/**
 * Check runs (GitHub's Checks API, a GitHub App's token with checks:write): the plan of a version on
 * the commit it names. `external_id` names the version, so a check run whose creation answer was lost
 * can be found again instead of created twice.
 */
export interface CheckRunBody {
  name?: string;
  head_sha?: string;
  external_id?: string;
  status: 'in_progress' | 'completed';
  conclusion?: 'success' | 'neutral' | 'cancelled';
  completed_at?: string;
  output: { title: string; summary: string };
}

/** Creates a check run; one attempt, since a POST tried again could create a second one. */
export async function createCheckRun(settings: Settings, body: CheckRunBody): Promise<number> {
  const created = await call(settings, `${repoPath(settings)}/check-runs`, body, 'POST', 1);
  return Number(created.id);
}

export async function updateCheckRun(settings: Settings, id: number, body: CheckRunBody): Promise<void> {
  await call(settings, `${repoPath(settings)}/check-runs/${id}`, body, 'PATCH');
}

/** The id of the check run named `name` with this external id on the commit, if there is one. */
export async function findCheckRun(
  settings: Settings,
  sha: string,
  name: string,
  externalId: string,
): Promise<number | undefined> {
  const query = `check_name=${encodeURIComponent(name)}&filter=all&per_page=100`;
  const found = await call(
    settings,
    `${repoPath(settings)}/commits/${encodeURIComponent(sha)}/check-runs?${query}`,
    undefined,
    'GET',
  );
  const runs = (found.check_runs ?? []) as { id: number; external_id?: string }[];
  return runs.find((run) => run.external_id === externalId)?.id;
}
