import { createHash } from 'node:crypto';
import { type Loopback, serveLoopback } from './loopback';

/**
 * The part of GitHub's REST API Gantry uses, on loopback under `/api/v3` (GitHub Enterprise's prefix):
 * Deployments and their statuses, and check runs (create, update, list on a commit); and, for the
 * gitops agent, one git repository (`gitRepo`) with branches, the contents API (a file's blob sha as
 * its lock), git refs, pull requests (open, list, read, merge) and commit comparison. Every request
 * is recorded; `answer` makes one fail with a status of its choosing.
 */
export interface Commit {
  sha: string;
  parent?: string;
  message: string;
  files: Map<string, string>;
}

export interface PullRequest {
  number: number;
  title: string;
  head: string;
  base: string;
  state: 'open' | 'closed';
  merged: boolean;
  merge_commit_sha: string | null;
}
export interface GithubCall {
  method: string;
  path: string;
  body: Record<string, unknown>;
  authorization?: string;
}

export interface CheckRun {
  id: number;
  name: string;
  head_sha: string;
  external_id?: string;
  status: string;
  conclusion?: string;
  output: { title: string; summary: string };
}

export class FakeGitHub {
  readonly calls: GithubCall[] = [];
  readonly checkRuns = new Map<number, CheckRun>();
  /** A status to answer instead (undefined: answer as GitHub would); `keep` still applies the write. */
  answer?: (call: GithubCall) => { status: number; keep?: boolean } | undefined;
  /** The repository of the git routes (`owner/repo`); any other answers 404. */
  gitRepo = 'acme/config';
  readonly commits = new Map<string, Commit>();
  readonly branches = new Map<string, string>();
  readonly pulls = new Map<number, PullRequest>();
  /** The token the git routes take (`Authorization: Bearer <token>`); unset: any. */
  gitToken?: string;
  /** What a pull request's `mergeable_state` says (the merge endpoint refuses unless `clean`). */
  mergeableState = 'clean';
  private readonly forkedFrom = new Map<string, string>();
  private nextDeployment = 100;
  private nextCheckRun = 9000;
  private nextPull = 1;
  private nextCommit = 1;
  private server?: Loopback;
  apiUrl = '';

  async start(): Promise<this> {
    this.server = await serveLoopback((req, res, raw) => {
      const url = new URL(req.url ?? '/', 'http://localhost');
      const call: GithubCall = {
        method: req.method ?? '',
        path: req.url ?? '',
        body: raw ? (JSON.parse(raw) as Record<string, unknown>) : {},
        authorization: req.headers.authorization,
      };
      this.calls.push(call);
      const reply = (status: number, value: unknown) =>
        res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(value));
      const override = this.answer?.(call);
      const badToken =
        this.gitToken !== undefined &&
        url.pathname.startsWith(`/api/v3/repos/${this.gitRepo}/`) &&
        call.authorization !== `Bearer ${this.gitToken}`;
      if (badToken) return reply(401, { message: 'Bad credentials' });
      const answered = this.route(
        call.method,
        url,
        call.body,
        override === undefined || override.keep === true,
      );
      if (override) return reply(override.status, { message: 'Resource not accessible by integration' });
      return reply(answered.status, answered.body);
    });
    this.apiUrl = `${this.server.origin}/api/v3`;
    return this;
  }

  async stop(): Promise<void> {
    await this.server?.close();
  }

  /** Check-run requests (create, update, list), in order. */
  checkRunCalls(): GithubCall[] {
    return this.calls.filter((c) => c.path.includes('/check-runs'));
  }

  private route(method: string, url: URL, body: Record<string, unknown>, apply: boolean) {
    const path = url.pathname.replace(/^\/api\/v3/, '');
    if (method === 'POST' && /^\/repos\/[^/]+\/[^/]+\/deployments$/.test(path))
      return { status: 201, body: { id: apply ? this.nextDeployment++ : 0 } };
    if (method === 'POST' && /^\/repos\/[^/]+\/[^/]+\/deployments\/\d+\/statuses$/.test(path))
      return { status: 201, body: { id: 1 } };
    if (method === 'POST' && /^\/repos\/[^/]+\/[^/]+\/check-runs$/.test(path)) {
      if (typeof body.head_sha !== 'string' || typeof body.name !== 'string')
        return { status: 422, body: { message: 'Invalid request' } };
      const run = { ...(body as unknown as CheckRun), id: this.nextCheckRun++ };
      if (apply) this.checkRuns.set(run.id, run);
      return { status: 201, body: run };
    }
    const update = /^\/repos\/[^/]+\/[^/]+\/check-runs\/(\d+)$/.exec(path);
    if (method === 'PATCH' && update) {
      const run = this.checkRuns.get(Number(update[1]));
      if (!run) return { status: 404, body: { message: 'Not Found' } };
      if (apply) Object.assign(run, body);
      return { status: 200, body: run };
    }
    const list = /^\/repos\/[^/]+\/[^/]+\/commits\/([^/]+)\/check-runs$/.exec(path);
    if (method === 'GET' && list) {
      const name = url.searchParams.get('check_name');
      const runs = [...this.checkRuns.values()].filter(
        (r) => r.head_sha === list[1] && (name === null || r.name === name),
      );
      return { status: 200, body: { total_count: runs.length, check_runs: runs } };
    }
    const git = new RegExp(`^/repos/${this.gitRepo}(/.*)$`).exec(path);
    if (git?.[1]) return this.gitRoute(method, git[1], url, body, apply) ?? notFound;
    return notFound;
  }

  // ---- the git repository --------------------------------------------------------------------

  /** A branch with one commit holding `files` (default a README). */
  seedBranch(branch = 'main', files: Record<string, string> = { 'README.md': '# config\n' }): string {
    const sha = this.commit(undefined, 'initial', new Map(Object.entries(files)));
    this.branches.set(branch, sha);
    return sha;
  }

  /** Someone else's commit of `path` on the branch. */
  commitFile(path: string, content: string, branch = 'main'): string {
    const head = this.commits.get(this.branches.get(branch) ?? '') as Commit;
    const sha = this.commit(head.sha, `edit ${path}`, new Map(head.files).set(path, content));
    this.branches.set(branch, sha);
    return sha;
  }

  head(branch = 'main'): string | undefined {
    return this.branches.get(branch);
  }

  file(path: string, branch = 'main'): string | undefined {
    return this.commits.get(this.branches.get(branch) ?? '')?.files.get(path);
  }

  /** Every commit of a branch, newest first. */
  log(branch = 'main'): Commit[] {
    return this.ancestors(this.branches.get(branch) ?? '').map((sha) => this.commits.get(sha) as Commit);
  }

  /** The commits of a branch that changed `path`, newest first. */
  commitsTouching(path: string, branch = 'main'): Commit[] {
    const touching: Commit[] = [];
    for (let c = this.commits.get(this.branches.get(branch) ?? ''); c; c = this.commits.get(c.parent ?? '')) {
      if (c.files.get(path) !== this.commits.get(c.parent ?? '')?.files.get(path)) touching.push(c);
    }
    return touching;
  }

  /** Merges a pull request as the button does: its branch's changes since it forked, on top of the base. */
  merge(number: number): string {
    const pull = this.pulls.get(number);
    if (pull?.state !== 'open') throw new Error(`no open pull request #${number}`);
    const head = this.commits.get(this.branches.get(pull.head) ?? '') as Commit;
    const fork = this.commits.get(this.forkedFrom.get(pull.head) ?? '');
    const files = new Map(this.commits.get(this.branches.get(pull.base) ?? '')?.files);
    for (const [name, content] of head.files) if (fork?.files.get(name) !== content) files.set(name, content);
    const sha = this.commit(this.branches.get(pull.base), `Merge pull request #${number}`, files);
    this.branches.set(pull.base, sha);
    Object.assign(pull, { state: 'closed', merged: true, merge_commit_sha: sha });
    return sha;
  }

  close(number: number): void {
    const pull = this.pulls.get(number);
    if (pull) pull.state = 'closed';
  }

  private commit(parent: string | undefined, message: string, files: Map<string, string>): string {
    const sha = createHash('sha1')
      .update(`commit ${this.nextCommit++} ${message}`)
      .digest('hex');
    this.commits.set(sha, { sha, parent, message, files });
    return sha;
  }

  private ancestors(sha: string): string[] {
    const seen: string[] = [];
    for (let c = this.commits.get(sha); c; c = this.commits.get(c.parent ?? '')) seen.push(c.sha);
    return seen;
  }

  private renderPull(pull: PullRequest) {
    return {
      ...pull,
      head: { ref: pull.head, sha: this.branches.get(pull.head) },
      base: { ref: pull.base },
      mergeable_state: pull.state === 'open' ? this.mergeableState : 'unknown',
    };
  }

  private gitRoute(method: string, path: string, url: URL, body: Record<string, unknown>, apply: boolean) {
    const blobSha = (content: string) => createHash('sha1').update(`blob ${content}`).digest('hex');
    const ref = /^\/git\/refs?\/heads\/(.+)$/.exec(path);
    if (method === 'GET' && ref?.[1]) {
      const sha = this.branches.get(decodeURIComponent(ref[1]));
      return sha
        ? { status: 200, body: { ref: `refs/heads/${ref[1]}`, object: { sha, type: 'commit' } } }
        : notFound;
    }
    if (method === 'POST' && path === '/git/refs') {
      const name = String(body.ref).replace(/^refs\/heads\//, '');
      if (this.branches.has(name)) return { status: 422, body: { message: 'Reference already exists' } };
      if (!this.commits.has(String(body.sha)))
        return { status: 422, body: { message: 'Object does not exist' } };
      if (apply) {
        this.branches.set(name, String(body.sha));
        this.forkedFrom.set(name, String(body.sha));
      }
      return { status: 201, body: { ref: body.ref, object: { sha: body.sha } } };
    }
    if (method === 'PATCH' && ref?.[1]) {
      const name = decodeURIComponent(ref[1]);
      if (!this.branches.has(name)) return { status: 422, body: { message: 'Reference does not exist' } };
      if (apply) {
        this.branches.set(name, String(body.sha));
        this.forkedFrom.set(name, String(body.sha));
      }
      return { status: 200, body: { ref: `refs/heads/${name}`, object: { sha: body.sha } } };
    }
    const contents = /^\/contents\/(.+)$/.exec(path);
    if (contents?.[1]) {
      const file = contents[1].split('/').map(decodeURIComponent).join('/');
      const branch =
        method === 'GET' ? (url.searchParams.get('ref') ?? 'main') : String(body.branch ?? 'main');
      const head = this.commits.get(this.branches.get(branch) ?? '');
      if (!head) return { status: 404, body: { message: `No commit found for the ref ${branch}` } };
      const current = head.files.get(file);
      if (method === 'GET') {
        if (current === undefined) return notFound;
        const content = Buffer.from(current).toString('base64');
        return {
          status: 200,
          body: { type: 'file', path: file, sha: blobSha(current), encoding: 'base64', content },
        };
      }
      if (method !== 'PUT') return notFound;
      if (current !== undefined && body.sha === undefined)
        return { status: 422, body: { message: 'Invalid request.\n\n"sha" wasn\'t supplied.' } };
      if (current !== undefined && body.sha !== blobSha(current))
        return { status: 409, body: { message: `${file} does not match ${String(body.sha)}` } };
      const next = Buffer.from(String(body.content), 'base64').toString('utf8');
      const sha = this.commit(head.sha, String(body.message), new Map(head.files).set(file, next));
      if (apply) this.branches.set(branch, sha);
      else this.commits.delete(sha);
      return {
        status: current === undefined ? 201 : 200,
        body: { content: { path: file, sha: blobSha(next) }, commit: { sha, message: body.message } },
      };
    }
    if (method === 'GET' && path === '/pulls') {
      const [, headBranch] = (url.searchParams.get('head') ?? ':').split(':');
      const state = url.searchParams.get('state') ?? 'open';
      const found = [...this.pulls.values()].filter(
        (p) => (state === 'all' || p.state === state) && (!headBranch || p.head === headBranch),
      );
      return { status: 200, body: found.map((p) => this.renderPull(p)) };
    }
    if (method === 'POST' && path === '/pulls') {
      const head = String(body.head);
      const base = String(body.base);
      if ([...this.pulls.values()].some((p) => p.state === 'open' && p.head === head))
        return { status: 422, body: { message: `A pull request already exists for ${head}.` } };
      if (this.branches.get(head) === this.branches.get(base))
        return { status: 422, body: { message: `No commits between ${base} and ${head}` } };
      const pull: PullRequest = {
        number: this.nextPull++,
        title: String(body.title),
        head,
        base,
        state: 'open',
        merged: false,
        merge_commit_sha: null,
      };
      if (apply) this.pulls.set(pull.number, pull);
      return { status: 201, body: this.renderPull(pull) };
    }
    const pull = /^\/pulls\/(\d+)(\/merge)?$/.exec(path);
    const found = this.pulls.get(Number(pull?.[1]));
    if (pull && !found) return notFound;
    if (method === 'GET' && found && !pull?.[2]) return { status: 200, body: this.renderPull(found) };
    if (method === 'PUT' && found && pull?.[2]) {
      if (found.state !== 'open' || this.mergeableState !== 'clean')
        return { status: 405, body: { message: 'Pull Request is not mergeable' } };
      if (body.sha !== this.branches.get(found.head))
        return {
          status: 409,
          body: { message: 'Head branch was modified. Review and try the merge again.' },
        };
      const sha = apply ? this.merge(found.number) : '';
      return { status: 200, body: { merged: true, sha, message: 'Pull Request successfully merged' } };
    }
    const compare = /^\/compare\/([0-9a-f]+)\.\.\.([0-9a-f]+)$/.exec(path);
    if (method === 'GET' && compare?.[1] && compare[2]) {
      const [, base, head] = compare;
      if (!this.commits.has(base) || !this.commits.has(head)) return notFound;
      const status =
        base === head
          ? 'identical'
          : this.ancestors(head).includes(base)
            ? 'ahead'
            : this.ancestors(base).includes(head)
              ? 'behind'
              : 'diverged';
      return { status: 200, body: { status } };
    }
    return undefined;
  }
}

const notFound = { status: 404, body: { message: 'Not Found' } };
