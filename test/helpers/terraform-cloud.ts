import { type Loopback, serveLoopback } from './loopback';

/**
 * The part of Terraform Cloud's API (JSON:API) the terraform-cloud agent uses, on loopback: read a
 * workspace by organization and name, create a run, read a run. A run walks pending -> planning ->
 * applying -> applied (or errors, for a workspace set to fail) over `stepMs` per status.
 */
export interface Run {
  id: string;
  workspace: string;
  status: string;
  message: string;
  autoApply: boolean;
  variables: { key: string; value: string }[];
}

export class FakeTerraformCloud {
  readonly workspaces = new Map<string, 'applies' | 'errors'>();
  readonly runs: Run[] = [];
  stepMs = 100;
  /** Create this many runs but answer 502 (a lost answer): the client cannot tell it was created. */
  loseCreateAnswers = 0;
  contentTypes = new Set<string>();
  private server?: Loopback;
  url = '';

  constructor(
    readonly organization: string,
    readonly token: string,
  ) {}

  async start(): Promise<this> {
    this.server = await serveLoopback((req, res, raw) => {
      const path = new URL(req.url ?? '/', 'http://localhost').pathname;
      const reply = (status: number, value: unknown) =>
        res.writeHead(status, { 'content-type': 'application/vnd.api+json' }).end(JSON.stringify(value));
      const notFound = () => reply(404, { errors: [{ status: '404', title: 'not found' }] });
      if (req.headers.authorization !== `Bearer ${this.token}`)
        return reply(401, { errors: [{ status: '401', title: 'unauthorized' }] });
      this.contentTypes.add(String(req.headers['content-type'] ?? ''));
      const workspace = /^\/api\/v2\/organizations\/([^/]+)\/workspaces\/([^/]+)$/.exec(path);
      if (req.method === 'GET' && workspace) {
        const name = decodeURIComponent(workspace[2] as string);
        if (decodeURIComponent(workspace[1] as string) !== this.organization || !this.workspaces.has(name))
          return notFound();
        return reply(200, { data: { id: `ws-${name}`, type: 'workspaces', attributes: { name } } });
      }
      if (req.method === 'POST' && path === '/api/v2/runs') {
        const { data } = JSON.parse(raw) as {
          data: {
            attributes: { message: string; 'auto-apply': boolean; variables: Run['variables'] };
            relationships: { workspace: { data: { id: string } } };
          };
        };
        const name = data.relationships.workspace.data.id.replace(/^ws-/, '');
        const run: Run = {
          id: `run-${this.runs.length + 1}`,
          workspace: name,
          status: 'pending',
          message: data.attributes.message,
          autoApply: data.attributes['auto-apply'],
          variables: data.attributes.variables,
        };
        this.runs.push(run);
        const path =
          this.workspaces.get(name) === 'errors'
            ? ['planning', 'errored']
            : ['planning', 'applying', 'applied'];
        path.forEach((status, i) => {
          setTimeout(
            () => {
              run.status = status;
            },
            this.stepMs * (i + 1),
          );
        });
        if (this.loseCreateAnswers > 0) {
          this.loseCreateAnswers--;
          return reply(502, { errors: [{ status: '502', title: 'bad gateway' }] });
        }
        return reply(201, { data: { id: run.id, type: 'runs', attributes: { status: run.status } } });
      }
      const listPath = /^\/api\/v2\/workspaces\/ws-([^/]+)\/runs$/.exec(path);
      if (req.method === 'GET' && listPath) {
        const newestFirst = this.runs
          .filter((r) => r.workspace === decodeURIComponent(listPath[1] as string))
          .reverse();
        return reply(200, {
          data: newestFirst
            .slice(0, 20)
            .map((r) => ({ id: r.id, type: 'runs', attributes: { status: r.status, message: r.message } })),
        });
      }
      const runPath = /^\/api\/v2\/runs\/([^/]+)$/.exec(path);
      const run = this.runs.find((r) => r.id === decodeURIComponent(runPath?.[1] ?? ''));
      if (req.method === 'GET' && run)
        return reply(200, { data: { id: run.id, type: 'runs', attributes: { status: run.status } } });
      return notFound();
    });
    this.url = this.server.origin;
    return this;
  }

  async stop(): Promise<void> {
    await this.server?.close();
  }
}
