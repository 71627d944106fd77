import { fork } from 'node:child_process';
import type { IncomingMessage, Server } from 'node:http';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import dynalite from 'dynalite';
import { listen } from './net';

/** DynamoDB of the local runtime: dynalite, in this process (tests) or in a process of its own. */
export interface LocalDynamo {
  endpoint: string;
  /** Requests served so far. */
  counters(): Promise<RequestCounts>;
  /** The store process's id, when it has its own. */
  pid?: number;
  close(): Promise<void>;
}

/** Requests served, in all and per operation (PutItem, Query, ...). */
export interface RequestCounts {
  requests: number;
  operations: Record<string, number>;
}

/** What the server asks the store process (./dynamodb-process.ts), and what it answers. */
export type StoreMessage = { type: 'counters'; id: number } | { type: 'close' };
export type StoreReply =
  | { type: 'ready'; port: number }
  | { type: 'failed'; message: string }
  | ({ type: 'counters'; id: number } & RequestCounts);

const START_TIMEOUT_MS = 30_000;

/**
 * `own process`: the default of `npm start` and the benches. In AWS DynamoDB is not in the Lambda's
 * heap; in one process dynalite's heap and work made the server's RSS and /healthz grow with the
 * fleet (docs/performance.md). In memory (`path` undefined) it is kept in this process for tests.
 */
export async function startDynamo(options: { path?: string; ownProcess: boolean }): Promise<LocalDynamo> {
  return options.ownProcess ? startProcess(options.path) : startEmbedded(options.path);
}

/** Counts the requests a dynalite server serves, per operation (the X-Amz-Target after the dot). */
export function countRequests(server: Server): RequestCounts {
  const counts: RequestCounts = { requests: 0, operations: {} };
  server.on('request', (req: IncomingMessage) => {
    counts.requests++;
    const operation = String(req.headers['x-amz-target'] ?? '').split('.')[1] ?? '';
    counts.operations[operation] = (counts.operations[operation] ?? 0) + 1;
  });
  return counts;
}

/** dynalite on the LevelDB directory `path`, or in memory; tables ACTIVE at once. */
export const newDynalite = (path: string | undefined): Server =>
  dynalite({ ...(path ? { path } : {}), createTableMs: 0 });

async function startEmbedded(path: string | undefined): Promise<LocalDynamo> {
  const server = newDynalite(path);
  const counts = countRequests(server);
  const port = await listen(server, 0);
  return {
    endpoint: `http://127.0.0.1:${port}`,
    counters: async () => ({ requests: counts.requests, operations: { ...counts.operations } }),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

async function startProcess(path: string | undefined): Promise<LocalDynamo> {
  const child = fork(new URL('./dynamodb-process.ts', import.meta.url), path ? [path] : [], {
    // The store's code is TypeScript like the rest; tsx (a dependency) loads it, wherever the cwd is.
    execArgv: ['--import', pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let asked = 0;
  const waiting = new Map<number, (counts: RequestCounts) => void>();
  // One listener: the start's answer, then the counters asked for.
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error('The DynamoDB process did not start.')),
      START_TIMEOUT_MS,
    );
    child.once('exit', (code) => reject(new Error(`The DynamoDB process exited (${code}) while starting.`)));
    child.on('message', (message: StoreReply) => {
      if (message.type === 'counters') {
        waiting.get(message.id)?.(message);
        waiting.delete(message.id);
        return;
      }
      clearTimeout(timer);
      if (message.type === 'failed') reject(new Error(`DynamoDB did not start: ${message.message}`));
      else resolve(message.port);
    });
  });
  // The server may exit without closing it (an error, a signal): the child goes with it (disconnect).
  child.unref();
  child.channel?.unref();
  return {
    endpoint: `http://127.0.0.1:${port}`,
    pid: child.pid,
    counters: () =>
      new Promise((resolve) => {
        const id = ++asked;
        waiting.set(id, ({ requests, operations }) => resolve({ requests, operations }));
        child.send({ type: 'counters', id } satisfies StoreMessage);
      }),
    async close() {
      if (child.exitCode === null && child.connected) child.send({ type: 'close' } satisfies StoreMessage);
      await exited;
    },
  };
}
