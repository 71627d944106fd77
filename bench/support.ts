import { mkdtempSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type LocalServer, startLocalServer } from '../infra/local/server';
import { Client } from '../test/helpers/client';

/** What every benchmark needs: the local server in-process with one admin key, and an instant agent. */
export const BENCH_KEY = { id: 'bench', secret: 'bench-secret-0123456789abcdef' };

export async function startBenchServer(name: string): Promise<{ server: LocalServer; client: Client }> {
  const server = await startLocalServer({
    port: 0,
    dataDir: mkdtempSync(join(tmpdir(), `gantry-bench-${name}-`)),
    apiKeys: JSON.stringify([{ ...BENCH_KEY, scopes: ['admin'] }]),
    inMemory: true,
  });
  return { server, client: new Client(server.url, BENCH_KEY) };
}

/** A webhook agent that answers at once and calls back `successful` (retrying a refused callback). */
export function instantAgent(): Promise<{ url: string; server: Server; callbacks: () => number }> {
  let callbacks = 0;
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const job = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
      callback: { url: string; token: string };
    };
    res.writeHead(200).end('{}');
    for (let attempt = 0; attempt < 5; attempt++) {
      const reply = await fetch(job.callback.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${job.callback.token}` },
        body: JSON.stringify({ status: 'successful' }),
      }).catch(() => undefined);
      if (reply) await reply.arrayBuffer();
      if (reply?.status === 200) {
        callbacks++;
        return;
      }
      await new Promise((r) => setTimeout(r, 100 * (attempt + 1)));
    }
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({
        url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
        server,
        callbacks: () => callbacks,
      }),
    ),
  );
}
