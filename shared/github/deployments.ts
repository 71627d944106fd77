import { GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { httpFailure, sendWithRetry } from '../agents/http';
import { isoNow } from '../clock';
import type { Runtime } from '../runtime';
import type { DeploymentBody } from '../schemas';
import { secrets } from '../secrets';
import type { ReleaseStatus } from '../status';
import { isConditionFailed } from '../store/client';
import { keys } from '../store/keys';
import { getVersion, listReleases } from '../store/rollouts';

/**
 * GitHub Deployments (API.md section 3, `github`): each version x environment becomes one GitHub
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

interface Mirror {
  githubId?: number;
  state?: GithubState;
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
      return (response.body ? JSON.parse(response.body) : {}) as Record<string, unknown>;
    },
  );
}

/**
 * Brings the GitHub Deployment of (deployment, version, environment) up to date with its releases.
 * It looks again after posting, so a release that finished meanwhile (its own event lost the race
 * to create the GitHub Deployment) is not left out.
 */
export async function mirrorEnvironment(
  rt: Runtime,
  deployment: { id: string; data: DeploymentBody },
  tag: string,
  environment: string,
): Promise<GithubState | undefined> {
  let posted: GithubState | undefined;
  for (let pass = 0; pass < 3; pass++) {
    const state = await mirrorOnce(rt, deployment, tag, environment);
    if (state === posted) return state;
    posted = state;
  }
  return posted;
}

async function mirrorOnce(
  rt: Runtime,
  deployment: { id: string; data: DeploymentBody },
  tag: string,
  environment: string,
): Promise<GithubState | undefined> {
  const settings = deployment.data.github;
  if (!settings) return undefined;
  const state = environmentState(
    (await listReleases(rt, deployment.id, tag, environment)).map((r) => r.status),
  );
  if (!state) return undefined;
  const key = keys.githubDeployment(deployment.id, tag, environment);
  const out = await rt.doc.send(new GetCommand({ TableName: rt.tableName, Key: key, ConsistentRead: true }));
  const mirror = (out.Item ?? {}) as Mirror;
  if (mirror.state === state) return state;
  let githubId = mirror.githubId;
  // A version superseded before it deployed never had a GitHub Deployment; nothing to mark.
  if (githubId === undefined && state === 'inactive') return undefined;
  if (githubId === undefined) {
    // One GitHub Deployment per version x environment: the first writer creates it.
    try {
      await rt.doc.send(
        new PutCommand({
          TableName: rt.tableName,
          Item: { ...key, creating: isoNow() },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
    } catch (error) {
      if (isConditionFailed(error)) return undefined; // another consumer is creating it; its update follows
      throw error;
    }
    const version = await getVersion(rt, deployment.id, tag);
    const created = await call(settings, `${repoPath(settings)}/deployments`, {
      ref: version?.metadata.commit ?? version?.metadata.sha ?? tag,
      environment,
      description: `Gantry: ${deployment.id} ${tag}`,
      auto_merge: false,
      required_contexts: [],
      payload: { gantry: { deployment: deployment.id, version: tag } },
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
