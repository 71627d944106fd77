import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type LocalServer, startLocalServer } from '../infra/local/server';
import type { Runtime } from '../shared/adapters/runtime';
import { sfnOf } from '../shared/adapters/workflow';
import { Client } from '../test/helpers/client';

/** What every benchmark needs: the local server in-process with one admin key, and an instant agent. */
export const BENCH_KEY = { id: 'bench', secret: 'bench-secret-0123456789abcdef' };

export async function startBenchServer(
  name: string,
  options: { onDisk?: boolean } = {},
): Promise<{ server: LocalServer; client: Client }> {
  const server = await startLocalServer({
    port: 0,
    dataDir: mkdtempSync(join(tmpdir(), `gantry-bench-${name}-`)),
    apiKeys: JSON.stringify([{ ...BENCH_KEY, scopes: ['admin'] }]),
    // `npm start` keeps DynamoDB (dynalite) on disk; in memory, every item also lives in this heap.
    inMemory: !options.onDisk,
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

/**
 * Samples `GET /healthz` every `everyMs` from a separate process, so the figure is what a client
 * sees even when the server's event loop (this process) is busy: the worst latency in ms.
 */
export function healthProbe(
  url: string,
  everyMs = 250,
): { stop: () => Promise<{ worstMs: number; samples: number }> } {
  const script = `
    let worst = 0, samples = 0, stopping = false;
    const tick = async () => {
      const started = performance.now();
      try { const r = await fetch(${JSON.stringify(`${url}/healthz`)}); await r.arrayBuffer(); } catch {}
      worst = Math.max(worst, performance.now() - started); samples++;
      if (!stopping) setTimeout(tick, Math.max(0, ${everyMs} - (performance.now() - started)));
    };
    tick();
    process.stdin.on('data', () => { stopping = true; process.stdout.write(JSON.stringify({ worst, samples })); process.exit(0); });
  `;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => {
    out += chunk.toString('utf8');
  });
  return {
    stop: () =>
      new Promise((resolve) => {
        child.once('exit', () => {
          const parsed = JSON.parse(out || '{"worst":NaN,"samples":0}') as { worst: number; samples: number };
          resolve({ worstMs: Math.round(parsed.worst), samples: parsed.samples });
        });
        child.stdin.write('stop\n');
      }),
  };
}

/**
 * The peak resident set size of this process (the bench runs the server in-process), or of what
 * `read` answers in bytes (another process), sampled.
 */
export function rssSampler(
  everyMs = 250,
  read: () => number = () => process.memoryUsage.rss(),
): { stop: () => { peakMiB: number } } {
  let peak = read();
  const timer = setInterval(() => {
    peak = Math.max(peak, read());
  }, everyMs);
  return {
    stop: () => {
      clearInterval(timer);
      peak = Math.max(peak, read());
      return { peakMiB: Math.round(peak / 2 ** 20) };
    },
  };
}

/**
 * Counts the AWS calls the in-process handlers make (DynamoDB, Step Functions, EventBridge) by the
 * handler that made them: the deepest functions/{steps,http,events} frame of the call's stack.
 * Costly (a stack per call): for one rollout at a time only.
 */
export function traceCalls(rt: Runtime): { stop: () => Record<string, number> } {
  const counts: Record<string, number> = {};
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 60;
  const restore: (() => void)[] = [() => (Error.stackTraceLimit = limit)];
  for (const sdkClient of [rt.doc, sfnOf(rt), rt.events]) {
    const client = sdkClient as unknown as { send: (command: object) => Promise<unknown> };
    const send = client.send;
    client.send = function (this: unknown, command: object) {
      const frames = (new Error().stack ?? '').split('\n');
      // The outermost frame of a handler module, else of the shared function the handler called
      // (a handler that returns its promise without awaiting it leaves no frame of its own).
      const outermost = (pattern: RegExp) =>
        frames
          .map((line) => pattern.exec(line))
          .filter((m) => m !== null)
          .pop();
      const handler = outermost(/functions\/((?:steps|http|events)\/[\w-]+)\.ts/);
      const shared = outermost(/at (?:async )?([\w.]+) \(.*shared\/services\/(rollouts\/[\w-]+)\.ts/);
      const caller = handler ? handler[1] : shared ? `${shared[2]} ${shared[1]}` : 'other';
      const key = `${caller} ${command.constructor.name.replace(/Command$/, '')}`;
      counts[key] = (counts[key] ?? 0) + 1;
      return send.call(this, command);
    };
    restore.push(() => {
      client.send = send;
    });
  }
  return {
    stop: () => {
      for (const undo of restore) undo();
      return counts;
    },
  };
}
