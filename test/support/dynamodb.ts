import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import dynalite from 'dynalite';
import { freePort } from '../helpers/process';

/**
 * The two DynamoDB servers the store is checked against (docs/decisions/0002-one-table.md): dynalite, the
 * embedded default, and AWS's own DynamoDB Local, the jar shipped inside the npm package
 * `amplify-dynamodb-simulator`, run with the machine's `java` on a loopback port.
 */
export interface DynamoBackend {
  name: string;
  endpoint: string;
  client: DynamoDBClient;
  stop(): Promise<void>;
}

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..');

export const DYNAMODB_LOCAL_DIR = join(ROOT, 'node_modules/amplify-dynamodb-simulator/emulator');
export const DYNAMODB_LOCAL_JAR = join(DYNAMODB_LOCAL_DIR, 'DynamoDBLocal.jar');

const clientFor = (endpoint: string, maxAttempts?: number) =>
  new DynamoDBClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
    ...(maxAttempts ? { maxAttempts } : {}),
  });

/** True when a `java` binary answers `java -version`. */
export function javaAvailable(): boolean {
  const probe = spawnSync('java', ['-version'], { stdio: 'ignore', timeout: 20_000 });
  return !probe.error && probe.status === 0;
}

/**
 * Whether the DynamoDB Local suite runs here: always under CI (a missing java then fails the suite,
 * since .ci/run installs a JRE), and on a developer machine only when java is on PATH.
 */
export function dynamoDbLocalPlan(): { run: true } | { run: false; reason: string } {
  if (process.env.CI) return { run: true };
  if (!javaAvailable()) {
    return {
      run: false,
      reason:
        'java is not on PATH: the store suite against DynamoDB Local is skipped (CI installs a JRE and runs it; `apt-get install default-jre-headless` to run it here).',
    };
  }
  return { run: true };
}

export async function startDynalite(): Promise<DynamoBackend> {
  const db: Server = dynalite({ createTableMs: 0 });
  await new Promise<void>((resolve, reject) => {
    db.once('error', reject);
    db.listen(0, '127.0.0.1', () => resolve());
  });
  const endpoint = `http://127.0.0.1:${(db.address() as AddressInfo).port}`;
  const client = clientFor(endpoint);
  return {
    name: 'dynalite',
    endpoint,
    client,
    async stop() {
      client.destroy();
      await new Promise<void>((resolve) => db.close(() => resolve()));
    },
  };
}

/** Starts DynamoDB Local in memory on a free port and resolves once it answers ListTables. */
export async function startDynamoDbLocal({ timeoutMs = 60_000 } = {}): Promise<DynamoBackend> {
  if (!existsSync(DYNAMODB_LOCAL_JAR)) {
    throw new Error(
      `DynamoDB Local is missing: ${DYNAMODB_LOCAL_JAR} (the devDependency amplify-dynamodb-simulator ships it; run npm ci).`,
    );
  }
  if (!javaAvailable()) {
    throw new Error(
      'java is not on PATH: DynamoDB Local needs a JRE (.ci/run installs default-jre-headless).',
    );
  }
  const port = await freePort();
  const child: ChildProcess = spawn(
    'java',
    [
      '-Djava.library.path=./DynamoDBLocal_lib',
      '-jar',
      'DynamoDBLocal.jar',
      '-inMemory',
      '-port',
      String(port),
    ],
    { cwd: DYNAMODB_LOCAL_DIR, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout?.on('data', (d: Buffer) => {
    output += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    output += d.toString();
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const endpoint = `http://127.0.0.1:${port}`;
  const client = clientFor(endpoint);
  const probe = clientFor(endpoint, 1);
  const stop = async () => {
    client.destroy();
    probe.destroy();
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    }
  };
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      await stop();
      throw new Error(`DynamoDB Local exited before answering: ${output.slice(-2000)}`);
    }
    try {
      await probe.send(new ListTablesCommand({}));
      break;
    } catch {
      // not up yet
    }
    if (Date.now() > until) {
      await stop();
      throw new Error(`DynamoDB Local did not answer within ${timeoutMs} ms: ${output.slice(-2000)}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { name: 'DynamoDB Local', endpoint, client, stop };
}
