import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { DeploymentBody } from '../core/schemas/config';
import type { ReleaseStatus } from '../core/status';
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

const api = (settings: Settings) => (settings.apiUrl ?? 'https://api.github.com').replace(/\/+$/, '');
const repoPath = (s: Settings) => `/repos/${encodeURIComponent(s.owner)}/${encodeURIComponent(s.repo)}`;

async function call(settings: Settings, path: string, body: unknown): Promise<Record<string, unknown>> {
  const token = await secrets().get(settings.tokenSecretRef);
  return sendWithRetry(
    'GitHub',
    {
      method: 'POST',
      url: `${api(settings)}${path}`,
      headers: () => ({
        Authorization: `Bearer ${token}`,
        Accept: 'application/vnd.github+json',
        'X-GitHub-Api-Version': '2022-11-28',
        'Content-Type': 'application/json',
        'User-Agent': 'gantry',
      }),
      body: JSON.stringify(body),
    },
    { getSecret: (name) => secrets().get(name), maxAttempts: 3 },
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
 * Brings the GitHub Deployment of (deployment, version, environment) up to date with its releases.
 * Events arrive at once and in any order, so one consumer at a time holds a lease on the mirror and
 * works until no event came in meanwhile: each event first counts itself in `pending`, and the
 * holder lets go only when `pending` is back to the count it has handled.
 */
export async function mirrorEnvironment(
  rt: Runtime,
  deployment: { id: string; data: DeploymentBody },
  tag: string,
  environment: string,
): Promise<GithubState | undefined> {
  const settings = deployment.data.github;
  if (!settings) return undefined;
  const key = keys.githubDeployment(deployment.id, tag, environment);
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
    if (isConditionFailed(error)) return undefined; // the holder handles this event too
    throw error;
  }
  let state: GithubState | undefined;
  for (;;) {
    const seen = await readMirror(rt, key);
    try {
      state = await mirrorOnce(rt, settings, deployment.id, tag, environment, seen);
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
      return state;
    } catch (error) {
      if (!isConditionFailed(error)) throw error;
    }
  }
}

interface Mirror {
  githubId?: number;
  state?: GithubState;
  pending?: number;
}

async function readMirror(rt: Runtime, key: { pk: string; sk: string }): Promise<Mirror> {
  const out = await rt.doc.send(new GetCommand({ TableName: rt.tableName, Key: key, ConsistentRead: true }));
  return (out.Item ?? {}) as Mirror;
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
      ref: version?.metadata.commit ?? version?.metadata.sha ?? tag,
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
