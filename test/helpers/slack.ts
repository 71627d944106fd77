import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A Slack incoming webhook on loopback that keeps every message it was sent. */
export class FakeSlack {
  readonly messages: { text: string; blocks: unknown[] }[] = [];
  private server?: Server;
  url = '';

  async start(): Promise<this> {
    this.server = createServer(async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      this.messages.push(JSON.parse(Buffer.concat(chunks).toString('utf8')));
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    });
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/hook`;
    return this;
  }

  /** The review link of a message (`<public base>/approvals/<id>?t=<token>`). */
  static link(message: { text: string }): string {
    const match = /(https?:\/\/[^\s|>]+\/approvals\/[a-z0-9]+\?t=[A-Za-z0-9_-]+)/.exec(message.text);
    if (!match?.[1]) throw new Error(`no link in ${message.text}`);
    return match[1];
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.server?.close(() => resolve()));
  }
}
