import { mkdtempSync, readFileSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { type LocalServer, startLocalServer } from '../infra/local/server';
import { Client } from '../test/helpers/client';
import { startDynamoDbLocal } from '../test/support/dynamodb';
import { BENCH_KEY, healthProbe, rssSampler } from './support';

/** What the scale bench needs beyond bench/support.ts: a choice of DynamoDB and probes of the server. */
export type Store = 'dynalite' | 'dynamodb-local';

const READS = new Set(['GetItem', 'BatchGetItem', 'Query', 'Scan']);
const WRITES = new Set(['PutItem', 'UpdateItem', 'DeleteItem', 'BatchWriteItem']);

export interface DynamoCounts {
  /** Requests per operation. */
  operations: Record<string, number>;
  /** Capacity units DynamoDB reported consumed (only through the counting proxy). */
  readUnits: number;
  writeUnits: number;
}

export function splitRequests(operations: Record<string, number>): { reads: number; writes: number } {
  let reads = 0;
  let writes = 0;
  for (const [op, n] of Object.entries(operations)) {
    if (READS.has(op)) reads += n;
    else if (WRITES.has(op)) writes += n;
  }
  return { reads, writes };
}

export function difference(after: DynamoCounts, before: DynamoCounts): DynamoCounts {
  const operations: Record<string, number> = {};
  for (const [op, n] of Object.entries(after.operations)) {
    const d = n - (before.operations[op] ?? 0);
    if (d) operations[op] = d;
  }
  return {
    operations,
    readUnits: after.readUnits - before.readUnits,
    writeUnits: after.writeUnits - before.writeUnits,
  };
}

/**
 * A loopback proxy in front of DynamoDB Local that counts requests per operation and, by asking
 * each data operation for ReturnConsumedCapacity TOTAL, the read and write units DynamoDB charges.
 */
async function countingProxy(
  target: string,
): Promise<{ endpoint: string; server: Server; counts: DynamoCounts }> {
  const counts: DynamoCounts = { operations: {}, readUnits: 0, writeUnits: 0 };
  const upstream = new URL(target);
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const operation = String(req.headers['x-amz-target'] ?? '').split('.')[1] ?? '';
    counts.operations[operation] = (counts.operations[operation] ?? 0) + 1;
    let body = Buffer.concat(chunks);
    const metered = READS.has(operation) || WRITES.has(operation);
    if (metered) {
      // The request is re-signed by nobody: DynamoDB Local does not verify signatures.
      const parsed = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
      parsed.ReturnConsumedCapacity = 'TOTAL';
      body = Buffer.from(JSON.stringify(parsed));
    }
    const headers = { ...req.headers, host: upstream.host, 'content-length': String(body.length) };
    const forward = request(
      { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers },
      async (answer) => {
        const parts: Buffer[] = [];
        for await (const part of answer) parts.push(part as Buffer);
        const raw = Buffer.concat(parts);
        if (metered && answer.statusCode === 200) {
          const consumed = (JSON.parse(raw.toString('utf8')) as { ConsumedCapacity?: unknown })
            .ConsumedCapacity;
          const units = (Array.isArray(consumed) ? consumed : consumed ? [consumed] : []) as {
            CapacityUnits?: number;
          }[];
          const sum = units.reduce((s, u) => s + (u.CapacityUnits ?? 0), 0);
          if (READS.has(operation)) counts.readUnits += sum;
          else counts.writeUnits += sum;
        }
        const out = { ...answer.headers };
        delete out['content-length'];
        delete out['transfer-encoding'];
        res.writeHead(answer.statusCode ?? 500, { ...out, 'content-length': String(raw.length) }).end(raw);
      },
    );
    forward.on('error', () => res.writeHead(502).end());
    forward.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server, counts };
}

export interface ScaleServer {
  server: LocalServer;
  client: Client;
  /** DynamoDB requests so far (units only where the proxy counts them). */
  dynamo(): Promise<DynamoCounts>;
  close(): Promise<void>;
}

/**
 * The local server in-process on the chosen DynamoDB: dynalite on disk in its own process, as `npm start`
 * runs it, or DynamoDB Local behind the counting proxy.
 */
export async function startScaleServer(store: Store): Promise<ScaleServer> {
  const options = {
    port: 0,
    dataDir: mkdtempSync(join(tmpdir(), `gantry-bench-scale-${store}-`)),
    apiKeys: JSON.stringify([{ ...BENCH_KEY, scopes: ['admin'] }]),
  };
  if (store === 'dynalite') {
    const server = await startLocalServer({ ...options, dynamoProcess: true });
    return {
      server,
      client: new Client(server.url, BENCH_KEY),
      dynamo: async () => ({
        operations: await server.dynamoOperations(),
        readUnits: Number.NaN,
        writeUnits: Number.NaN,
      }),
      close: () => server.close(),
    };
  }
  const backend = await startDynamoDbLocal();
  const proxy = await countingProxy(backend.endpoint);
  const server = await startLocalServer({ ...options, inMemory: true, dynamoEndpoint: proxy.endpoint });
  return {
    server,
    client: new Client(server.url, BENCH_KEY),
    dynamo: async () => ({ ...proxy.counts, operations: { ...proxy.counts.operations } }),
    async close() {
      await server.close();
      proxy.server.closeAllConnections();
      await new Promise<void>((resolve) => proxy.server.close(() => resolve()));
      await backend.stop();
    },
  };
}

/** The resident set of another process (Linux), in bytes; 0 where it cannot be read. */
function rssOf(pid: number): number {
  try {
    const kib = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return Number(kib ?? 0) * 1024;
  } catch {
    return 0;
  }
}

/**
 * Samples the process's RSS (the server runs in the bench's process), the DynamoDB process's when it
 * has one, and the latency of `GET /healthz` every 250 ms from another process until stopped; reports the peaks and the
 * worst latency.
 */
export function probe(
  url: string,
  storePid?: number,
): {
  stop(): Promise<{
    peakRssMiB: number;
    peakStoreRssMiB: number;
    worstHealthzMs: number;
    worstLoopDelayMs: number;
  }>;
} {
  // The server shares this process's event loop: its longest stall tells a blocked loop from a slow answer.
  const loop = monitorEventLoopDelay({ resolution: 20 });
  loop.enable();
  const server = rssSampler();
  const store = storePid ? rssSampler(250, () => rssOf(storePid)) : undefined;
  // From another process, as a client sees it: this one is busy with the server, its agent and the bench.
  const health = healthProbe(url);
  return {
    async stop() {
      const { worstMs } = await health.stop();
      loop.disable();
      return {
        peakRssMiB: server.stop().peakMiB,
        peakStoreRssMiB: store?.stop().peakMiB ?? 0,
        worstHealthzMs: worstMs,
        worstLoopDelayMs: loop.max / 1e6,
      };
    },
  };
}
