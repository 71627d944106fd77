import { nowMs } from '../../core/clock';
import {
  commitMessage,
  type GitopsEntry,
  newestEntry,
  parseFile,
  pullRequestBranch,
  renderFile,
  unwritten,
  writeEntries,
} from '../../core/gitops';
import type { StoreContext } from '../store/client';
import {
  type GitopsEntryRecord,
  getGitopsEntry,
  gitopsLeaseKey,
  markGitopsEntry,
  queuedGitopsEntries,
} from '../store/gitops';
import { newHolder, releaseLease, takeLease } from '../store/lease';
import { getVersion } from '../store/rollouts';
import { applicationUrl, readApplication } from './argocd';
import { githubHeaders, githubMessage } from './github';
import { httpFailure, JobDispatchError, resolveSecret, sendWithRetry } from './http';
import type { AgentDeps, GitopsPoll, PollAnswer } from './types';

/**
 * The gitops agent's poll (docs/configuration.md, "gitops"), one look per round:
 * 1. While the job's entry is queued: once the file's oldest queued entry is BATCH_WINDOW_MS old, the
 *    first job to take the file's lease writes every queued entry in one commit (commit mode) or onto
 *    the version's pull request branch, and marks them landed (or proposed); entries the branch
 *    already shows land at its head with no commit (a retry writes nothing).
 * 2. Proposed: the pull request is followed (merged: landed; closed unmerged: failed), and merged by
 *    Gantry with `autoMerge` once GitHub calls it clean.
 * 3. Landed: successful, or with `argocd` once the Application is synced to that commit (or a later
 *    one holding it) and Healthy.
 * Every GitHub call goes through the guarded outbound client; the token is sent only to `apiUrl`.
 */

/** How long the first entry of a file waits for the others of its environment (domain time). */
export const BATCH_WINDOW_MS = 2000;
/** A holder that died gives the lease up after this (domain time). */
const LEASE_SECONDS = 120;
/** Writes of the file that may meet another writer's change before the round gives up. */
const WRITE_ATTEMPTS = 4;
/** mergeable_state values in which GitHub would merge with every check passed. */
const MERGEABLE = new Set(['clean', 'has_hooks']);

interface GitHub {
  poll: GitopsPoll;
  deps: AgentDeps;
  store: StoreContext;
  token: string;
}

interface Answer<T> {
  status: number;
  body: T;
}

/** One GitHub API call under the repository; statuses in `accept` are answers too, any other non-2xx fails. */
function call<T>(
  gh: GitHub,
  what: string,
  method: 'GET' | 'POST' | 'PATCH' | 'PUT',
  path: string,
  body?: unknown,
  accept: number[] = [],
): Promise<Answer<T>> {
  const { owner, repo, apiUrl } = gh.poll;
  const described = `GitHub ${what} in ${owner}/${repo}`;
  const headers = () => githubHeaders(gh.token);
  const url = `${apiUrl}/repos/${encodeURIComponent(owner)}/${encodeURIComponent(repo)}${path}`;
  const request = { method, url, headers, body: body === undefined ? undefined : JSON.stringify(body) };
  return sendWithRetry(described, request, gh.deps, (res) => {
    if ((res.status < 200 || res.status > 299) && !accept.includes(res.status))
      throw httpFailure(described, res.status, githubMessage(res.body, gh.token));
    try {
      return { status: res.status, body: (res.body ? JSON.parse(res.body) : {}) as T };
    } catch {
      throw new JobDispatchError(`${described} answered with a body that is not JSON`, true);
    }
  });
}

const ref = (branch: string) => branch.split('/').map(encodeURIComponent).join('/');

async function headOf(gh: GitHub, branch: string): Promise<string | undefined> {
  const answer = await call<{ object?: { sha?: string } }>(
    gh,
    `read of branch ${branch}`,
    'GET',
    `/git/ref/heads/${ref(branch)}`,
    undefined,
    [404],
  );
  return answer.status === 404 ? undefined : answer.body.object?.sha;
}

async function readFile(gh: GitHub, branch: string): Promise<{ text?: string; sha?: string }> {
  const { path } = gh.poll;
  const answer = await call<{ content?: string; sha?: string }>(
    gh,
    `read of ${path} on ${branch}`,
    'GET',
    `/contents/${ref(path)}?ref=${encodeURIComponent(branch)}`,
    undefined,
    [404],
  );
  if (answer.status === 404) return {};
  return { text: Buffer.from(answer.body.content ?? '', 'base64').toString('utf8'), sha: answer.body.sha };
}

function parsed(gh: GitHub, text: string | undefined) {
  const result = parseFile(text, gh.poll.deployment, gh.poll.environment);
  if ('problem' in result)
    throw new JobDispatchError(
      `${gh.poll.path} in ${gh.poll.owner}/${gh.poll.repo} ${result.problem}`,
      false,
    );
  return result.file;
}

/**
 * Writes the entries the branch's file does not show yet, in one commit; answers its sha, or undefined
 * when nothing was left to write. The file's blob sha is the lock: a change in between (409, 422) is
 * read again and merged, a bounded number of times.
 */
async function commitEntries(
  gh: GitHub,
  branch: string,
  entries: GitopsEntry[],
): Promise<string | undefined> {
  const { path, deployment, environment } = gh.poll;
  for (let attempt = 1; attempt <= WRITE_ATTEMPTS; attempt++) {
    const found = await readFile(gh, branch);
    const todo = unwritten(parsed(gh, found.text), entries);
    const newest = newestEntry(todo);
    if (!newest) return undefined;
    const version = await getVersion(gh.store, deployment, newest.tag);
    if (!version) throw new JobDispatchError(`the version ${newest.tag} is gone`, false);
    const content = renderFile(writeEntries(parsed(gh, found.text), todo, version));
    const answer = await call<{ commit?: { sha?: string } }>(
      gh,
      `write of ${path} on ${branch}`,
      'PUT',
      `/contents/${ref(path)}`,
      {
        message: commitMessage(deployment, environment, todo),
        content: Buffer.from(content, 'utf8').toString('base64'),
        branch,
        ...(found.sha ? { sha: found.sha } : {}),
      },
      [409, 422],
    );
    if (answer.status < 300 && answer.body.commit?.sha) return answer.body.commit.sha;
    await (gh.deps.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms))))(
      250 * attempt * (0.5 + Math.random()),
    );
  }
  throw new JobDispatchError(`${path} kept changing while it was written (${WRITE_ATTEMPTS} attempts)`, true);
}

interface PullRequest {
  number: number;
  state: string;
  merged?: boolean;
  merge_commit_sha?: string | null;
  mergeable_state?: string;
  head?: { sha?: string };
}

/** The version's pull request: its branch (re)started from the base unless a pull request is open on it, the entries committed there. */
async function proposeEntries(gh: GitHub, entries: GitopsEntry[], branch: string): Promise<number> {
  const { owner, branch: base, deployment, environment } = gh.poll;
  const openPull = async () =>
    (
      await call<PullRequest[]>(
        gh,
        `pull requests of ${branch}`,
        'GET',
        `/pulls?state=open&head=${encodeURIComponent(`${owner}:${branch}`)}&base=${encodeURIComponent(base)}`,
      )
    ).body[0];
  let pull = await openPull();
  if (!pull) {
    const baseHead = await headOf(gh, base);
    if (!baseHead) throw new JobDispatchError(`the branch ${base} does not exist`, false);
    const created = await call(
      gh,
      `creation of branch ${branch}`,
      'POST',
      '/git/refs',
      {
        ref: `refs/heads/${branch}`,
        sha: baseHead,
      },
      [422],
    );
    // The branch of an earlier pull request (merged or closed) starts again from the base.
    if (created.status === 422)
      await call(gh, `reset of branch ${branch}`, 'PATCH', `/git/refs/heads/${ref(branch)}`, {
        sha: baseHead,
        force: true,
      });
  }
  await commitEntries(gh, branch, entries);
  if (!pull) {
    const created = await call<PullRequest>(
      gh,
      `pull request from ${branch}`,
      'POST',
      '/pulls',
      {
        title: commitMessage(deployment, environment, entries),
        head: branch,
        base,
        body: 'Opened by Gantry: the release targets listed in the title wait for this pull request to be merged.',
      },
      [422],
    );
    pull = created.status === 422 ? await openPull() : created.body;
    if (!pull) throw new JobDispatchError(`no pull request could be opened from ${branch}`, true);
  }
  return pull.number;
}

/** Writes what is queued for the file, once its window passed and this job holds the file's lease. */
async function writeQueued(gh: GitHub): Promise<void> {
  const { store, poll } = gh;
  const waiting = await queuedGitopsEntries(store, poll.queue);
  const oldest = Math.min(...waiting.map((entry) => Date.parse(entry.queuedAt)));
  if (waiting.length === 0 || nowMs() - oldest < BATCH_WINDOW_MS) return;
  const lease = gitopsLeaseKey(poll.queue);
  const holder = newHolder();
  if (!(await takeLease(store, lease, holder, LEASE_SECONDS * 1000))) return;
  let batch: GitopsEntryRecord[] = [];
  try {
    batch = await queuedGitopsEntries(store, poll.queue);
    if (batch.length > 0) await writeBatch(gh, batch);
  } catch (error) {
    if (!(error instanceof JobDispatchError) || error.retryable) throw error;
    const message = `The change could not be written to GitHub: ${error.message}`;
    await Promise.all(
      batch.map((e) => markGitopsEntry(store, poll.queue, e, 'queued', { state: 'failed', message })),
    );
  } finally {
    await releaseLease(store, lease, holder);
  }
}

async function writeBatch(gh: GitHub, batch: GitopsEntryRecord[]): Promise<void> {
  const { store, poll } = gh;
  const mark = (entries: GitopsEntryRecord[], set: Parameters<typeof markGitopsEntry>[4]) =>
    Promise.all(entries.map((entry) => markGitopsEntry(store, poll.queue, entry, 'queued', set)));
  const todo = unwritten(parsed(gh, (await readFile(gh, poll.branch)).text), batch) as GitopsEntryRecord[];
  const written = batch.filter((entry) => !todo.includes(entry));
  if (written.length > 0) await mark(written, { state: 'landed', commit: await headOf(gh, poll.branch) });
  if (todo.length === 0) return;
  if (poll.mode === 'commit') {
    const commit = (await commitEntries(gh, poll.branch, todo)) ?? (await headOf(gh, poll.branch));
    await mark(todo, { state: 'landed', commit });
    return;
  }
  // A pull request per version: this round proposes the entries of the oldest one's tag.
  const tag = [...todo].sort((a, b) => a.queuedAt.localeCompare(b.queuedAt))[0]?.tag ?? '';
  const ofTag = todo.filter((entry) => entry.tag === tag);
  const branch = pullRequestBranch(poll.deployment, poll.environment, tag);
  const pullRequest = await proposeEntries(gh, ofTag, branch);
  await mark(ofTag, { state: 'proposed', pullRequest, branch });
}

/** A proposed entry's pull request: merged (landed), closed (failed), or merged now when `autoMerge` may. */
async function followPullRequest(gh: GitHub, entry: GitopsEntryRecord): Promise<GitopsEntryRecord> {
  const { store, poll } = gh;
  const number = entry.pullRequest ?? 0;
  const pull = (await call<PullRequest>(gh, `read of pull request #${number}`, 'GET', `/pulls/${number}`))
    .body;
  let landed = pull.merged ? (pull.merge_commit_sha ?? undefined) : undefined;
  if (!pull.merged && pull.state === 'closed') {
    const message = `The pull request #${number} of ${poll.owner}/${poll.repo} was closed without being merged.`;
    await markGitopsEntry(store, poll.queue, entry, 'proposed', { state: 'failed', message });
    return { ...entry, state: 'failed', message };
  }
  if (!pull.merged && poll.autoMerge && MERGEABLE.has(pull.mergeable_state ?? '')) {
    // With the head read, so only what GitHub checked is merged; refused (405, 409, 422): next round.
    const merged = await call<{ merged?: boolean; sha?: string }>(
      gh,
      `merge of pull request #${number}`,
      'PUT',
      `/pulls/${number}/merge`,
      { sha: pull.head?.sha },
      [405, 409, 422],
    );
    if (merged.status === 200 && merged.body.merged) landed = merged.body.sha;
  }
  if (landed === undefined) return entry;
  await markGitopsEntry(store, poll.queue, entry, 'proposed', { state: 'landed', commit: landed });
  return { ...entry, state: 'landed', commit: landed };
}

/** Whether `revision` is `commit` or comes after it on the repository's history. */
async function holds(gh: GitHub, revision: string, commit: string): Promise<boolean> {
  if (revision === commit) return true;
  const answer = await call<{ status?: string }>(
    gh,
    `comparison of ${commit.slice(0, 12)} with ${revision.slice(0, 12)}`,
    'GET',
    `/compare/${encodeURIComponent(commit)}...${encodeURIComponent(revision)}`,
    undefined,
    [404],
  );
  return answer.status === 200 && (answer.body.status === 'ahead' || answer.body.status === 'identical');
}

/** Landed at `commit`: with Argo CD, successful once the Application is synced to it (or later) and Healthy. */
async function judgeLanded(gh: GitHub, commit: string | undefined): Promise<PollAnswer> {
  const { poll, deps } = gh;
  const short = commit?.slice(0, 12) ?? 'the branch head';
  const where = `${poll.path} in ${poll.owner}/${poll.repo}@${poll.branch}`;
  if (!poll.argocd) return { status: 'successful', message: `${where} holds the version at commit ${short}` };
  const { serverUrl, application, appNamespace, tokenSecretRef } = poll.argocd;
  if (!commit) return { status: 'pending' };
  const url = applicationUrl(serverUrl, application, appNamespace);
  const app = await readApplication(url, await resolveSecret(tokenSecretRef, deps), deps);
  const { sync, health, operationState: operation } = app.status ?? {};
  if (operation?.operation?.sync?.revision === commit && ['Failed', 'Error'].includes(operation.phase ?? ''))
    return {
      status: 'failed',
      message: `Argo CD sync of ${short} ${operation.phase}: ${(operation.message ?? '').slice(0, 500)}`,
    };
  if (operation?.phase === 'Running' || sync?.status !== 'Synced' || !sync.revision)
    return { status: 'pending' };
  if (!(await holds(gh, sync.revision, commit))) return { status: 'pending' };
  const synced = `Argo CD synced ${application} to ${sync.revision.slice(0, 12)}`;
  if (health?.status === 'Healthy') return { status: 'successful', message: `${synced}; Healthy` };
  if (health?.status === 'Degraded' || health?.status === 'Missing')
    return { status: 'failed', message: `${synced} but it is ${health.status}` };
  return { status: 'pending' };
}

export async function pollGitops(_statusUrl: string, poll: GitopsPoll, deps: AgentDeps): Promise<PollAnswer> {
  const store = deps.store;
  if (!store) throw new JobDispatchError('the gitops agent has no table to read its queue from', false);
  const gh: GitHub = { poll, deps, store, token: await resolveSecret(poll.tokenSecretRef, deps) };
  try {
    let entry = await getGitopsEntry(store, poll.queue, poll.resource);
    if (entry?.state === 'queued' && entry.jobId === poll.jobId) {
      await writeQueued(gh);
      entry = await getGitopsEntry(store, poll.queue, poll.resource);
    }
    if (!entry || entry.jobId !== poll.jobId)
      return { status: 'failed', message: 'A newer job of this release target took its place in the file.' };
    if (entry.state === 'proposed') entry = await followPullRequest(gh, entry);
    if (entry.state === 'failed') return { status: 'failed', message: entry.message };
    if (entry.state !== 'landed') return { status: 'pending' };
    return await judgeLanded(gh, entry.commit);
  } catch (error) {
    // Refused for good (a token GitHub or Argo CD refuses, a repository that is not there): the job fails.
    if (error instanceof JobDispatchError && !error.retryable)
      return { status: 'failed', message: error.message };
    throw error;
  }
}
