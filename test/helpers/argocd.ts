import { type Loopback, serveLoopback } from './loopback';

/**
 * The part of Argo CD's REST API the argocd agent uses, on loopback: PATCH an Application (merge
 * patch), POST .../sync, GET the Application with its operation state and health. A sync runs for
 * `syncMs`, then ends as the Application's `outcome` says.
 */
export type Outcome = 'Healthy' | 'Degraded' | 'SyncFailed';

interface App {
  targetRevision: string;
  /** The revision the live state matches. */
  synced: string;
  outcome: Outcome;
  /** Automated sync: a change of targetRevision starts a sync at once (of the resolved commit). */
  autoSync: boolean;
  health: string;
  /** The commit the live state was compared to (status.sync.revision), once synced from git. */
  revision?: string;
  operationState?: {
    phase: string;
    message?: string;
    operation: { sync: { revision: string } };
    syncResult: { source: { targetRevision: string } };
  };
}

export interface ArgoRequest {
  method: string;
  path: string;
  body: unknown;
  authorized: boolean;
}

export class FakeArgoCd {
  readonly apps = new Map<string, App>();
  readonly requests: ArgoRequest[] = [];
  syncMs = 300;
  private server?: Loopback;
  url = '';

  constructor(readonly token: string) {}

  app(name: string, outcome: Outcome = 'Healthy', autoSync = false): void {
    this.apps.set(name, { targetRevision: 'main', synced: 'main', outcome, autoSync, health: 'Healthy' });
  }

  /** A sync of another revision that runs for `ms` more (someone else's, still going). */
  busy(name: string, ms: number): void {
    const app = this.apps.get(name);
    if (!app) throw new Error(`no app ${name}`);
    const operation = { sync: { revision: 'other' } };
    const syncResult = { source: { targetRevision: 'other' } };
    app.operationState = { phase: 'Running', operation, syncResult };
    setTimeout(() => {
      app.operationState = { phase: 'Succeeded', message: 'successfully synced', operation, syncResult };
    }, ms);
  }

  /** The Application synced, by itself, to commit `sha` of the branch it tracks (a gitops change landed). */
  gitSync(name: string, sha: string, health = 'Healthy'): void {
    const app = this.apps.get(name);
    if (!app) throw new Error(`no app ${name}`);
    const operation = { sync: { revision: sha } };
    const syncResult = { source: { targetRevision: app.targetRevision } };
    app.operationState = { phase: 'Succeeded', message: 'successfully synced', operation, syncResult };
    Object.assign(app, { revision: sha, synced: app.targetRevision, health });
  }

  async start(): Promise<this> {
    this.server = await serveLoopback((req, res, raw) => {
      const url = new URL(req.url ?? '/', 'http://localhost');
      const body = raw ? (JSON.parse(raw) as Record<string, unknown>) : undefined;
      const authorized = req.headers.authorization === `Bearer ${this.token}`;
      this.requests.push({ method: req.method ?? '', path: url.pathname, body, authorized });
      const reply = (status: number, value: unknown) =>
        res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(value));
      if (!authorized)
        return reply(401, {
          error: 'invalid session',
          code: 16,
          message: 'invalid session: token is invalid',
        });
      const match = /^\/api\/v1\/applications\/([^/]+)(\/sync)?$/.exec(url.pathname);
      const name = decodeURIComponent(match?.[1] ?? '');
      const app = this.apps.get(name);
      if (!match || !app) {
        const message = `applications.argoproj.io "${name}" not found`;
        return reply(404, { error: message, code: 5, message });
      }
      if (req.method === 'PATCH' && !match[2]) {
        const patch = JSON.parse(String(body?.patch)) as { spec: { source: { targetRevision: string } } };
        app.targetRevision = patch.spec.source.targetRevision;
        if (app.autoSync) this.startSync(app, `sha-${app.targetRevision}`);
        return reply(200, this.render(name, app));
      }
      if (req.method === 'POST' && match[2]) {
        if (app.operationState?.phase === 'Running') {
          const message = 'another operation is already in progress';
          return reply(400, { error: message, code: 9, message });
        }
        this.startSync(app, String(body?.revision));
        return reply(200, this.render(name, app));
      }
      if (req.method === 'GET' && !match[2]) return reply(200, this.render(name, app));
      return reply(405, { error: 'method not allowed', code: 12, message: 'method not allowed' });
    });
    this.url = this.server.origin;
    return this;
  }

  private startSync(app: App, revision: string): void {
    const operation = { sync: { revision } };
    const syncResult = { source: { targetRevision: app.targetRevision } };
    app.operationState = { phase: 'Running', operation, syncResult };
    app.health = 'Progressing';
    setTimeout(() => {
      if (app.outcome === 'SyncFailed') {
        const message = 'one or more objects failed to apply: Deployment.apps "web" is invalid';
        app.operationState = { phase: 'Failed', message, operation, syncResult };
        return;
      }
      app.operationState = { phase: 'Succeeded', message: 'successfully synced', operation, syncResult };
      app.synced = syncResult.source.targetRevision;
      app.health = app.outcome;
    }, this.syncMs);
  }

  private render(name: string, app: App) {
    return {
      metadata: { name, namespace: 'argocd' },
      spec: { source: { repoURL: 'https://git.example.com/deploy.git', targetRevision: app.targetRevision } },
      status: {
        health: { status: app.health },
        sync: {
          status: app.synced === app.targetRevision ? 'Synced' : 'OutOfSync',
          revision: app.revision,
          comparedTo: { source: { targetRevision: app.targetRevision } },
        },
        operationState: app.operationState,
      },
    };
  }

  async stop(): Promise<void> {
    await this.server?.close();
  }
}
