import type { IncomingMessage } from 'node:http';
import { type Loopback, serveLoopback } from './loopback';

/** A webhook job agent on loopback that records every job and can call back on its own. */
export interface ReceivedJob {
  jobId: string;
  kind: string;
  deployment: { id: string };
  environment: { id: string };
  resource: { id: string };
  version: { tag: string };
  variables: Record<string, string>;
  callback: { url: string; token: string };
  headers: IncomingMessage['headers'];
  raw: string;
}

export type Behaviour = (job: ReceivedJob) => 'successful' | 'failed' | 'none' | { status: number };

export class FakeAgent {
  readonly jobs: ReceivedJob[] = [];
  behaviour: Behaviour = () => 'successful';
  private server?: Loopback;
  url = '';

  /** `host`: another loopback address (127.0.0.2) where a test allows only that one. */
  async start(host?: string): Promise<this> {
    this.server = await serveLoopback((req, res, raw) => {
      const job = { ...(JSON.parse(raw) as ReceivedJob), headers: req.headers, raw };
      this.jobs.push(job);
      const decision = this.behaviour(job);
      if (typeof decision === 'object') {
        res.writeHead(decision.status).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      if (decision !== 'none') setTimeout(() => void this.report(job, decision), 5);
    }, host);
    this.url = `${this.server.origin}/jobs`;
    return this;
  }

  async report(
    job: ReceivedJob,
    status: 'successful' | 'failed' | 'in_progress',
    token = job.callback.token,
  ) {
    const res = await fetch(job.callback.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ status, message: `agent says ${status}` }),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  }

  async stop(): Promise<void> {
    await this.server?.close();
  }
}
