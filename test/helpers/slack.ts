import { type Loopback, serveLoopback } from './loopback';

/** A Slack incoming webhook on loopback that keeps every message it was sent. */
export class FakeSlack {
  readonly messages: { text: string; blocks: unknown[] }[] = [];
  private server?: Loopback;
  url = '';

  async start(): Promise<this> {
    this.server = await serveLoopback((_req, res, body) => {
      this.messages.push(JSON.parse(body));
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    });
    this.url = `${this.server.origin}/hook`;
    return this;
  }

  /** The review link of a message (`<public base>/approvals/<id>?t=<token>`). */
  static link(message: { text: string }): string {
    const match = /(https?:\/\/[^\s|>]+\/approvals\/[a-z0-9]+\?t=[A-Za-z0-9_-]+)/.exec(message.text);
    if (!match?.[1]) throw new Error(`no link in ${message.text}`);
    return match[1];
  }

  async stop(): Promise<void> {
    await this.server?.close();
  }
}
