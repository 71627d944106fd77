import { type Loopback, serveLoopback } from './loopback';

/**
 * The part of GitHub's REST API Gantry uses, on loopback under `/api/v3` (GitHub Enterprise's prefix):
 * Deployments and their statuses, and check runs (create, update, list on a commit). Every request is
 * recorded; `answer` makes one fail with a status of its choosing.
 */
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
  private nextDeployment = 100;
  private nextCheckRun = 9000;
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
    return { status: 404, body: { message: 'Not Found' } };
  }
}
