import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { join, resolve } from 'node:path';
import { CreateTableCommand, DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { STALLED_MS } from '../../functions/events/work';
import { MAX_BODY_BYTES } from '../../functions/http/kernel';
import { ROUTES, type RouteSpec, routeKey } from '../../functions/http/routes';
import { FUNCTIONS } from '../../functions/registry';
import { parseApiKeys, resetKeySource } from '../../shared/adapters/keys';
import { parseOutboundAllow } from '../../shared/adapters/outbound';
import { ENV, resetRuntime, runtime } from '../../shared/adapters/runtime';
import { resetSecretSources } from '../../shared/adapters/secrets';
import { scanUnfinishedReleases } from '../../shared/adapters/store/rollouts';
import { createTableInput } from '../../shared/adapters/store/table';
import { startRollouts } from '../../shared/adapters/workflow';
import { nowMs, setTimeScale } from '../../shared/core/clock';
import { errorBody } from '../../shared/core/errors';
import type { ApiKey } from '../../shared/core/schemas/common';
import { publishStalledOutboxes } from '../../shared/services/rollouts/outbox';
import { resumeStalledWork } from '../../shared/services/rollouts/work';
import { queueWork } from '../../shared/services/rollouts/work-queue';
import { LOCAL_ACCOUNT, LOCAL_REGION, stateMachineArn } from './arns';
import { LOCAL_ACCESS_KEY_ID, newLocalSecret, refuseAwsRequest } from './aws-auth';
import { startDynamo } from './dynamodb';
import { LocalEventBus } from './eventbus';
import { invokeLocal, lambdaContext, loadHandler, localDefinitions } from './functions';
import { hostGuard } from './hosts';
import { enforceIam, runAs } from './iam';
import { listen } from './net';
import { LocalStepFunctions } from './stepfunctions';

/**
 * The embedded runtime behind `npm start` (docs/api.md section 9, docs/architecture.md): an HTTP server
 * that turns requests into API Gateway HTTP API (v2) events for the same handlers, dynalite as
 * DynamoDB, and the local Step Functions engine and event bus, reached by the handlers through the
 * real AWS SDK clients at local endpoints.
 */
export interface LocalServerOptions {
  port?: number;
  dataDir?: string;
  apiKeys?: string;
  publicUrl?: string;
  secrets?: string;
  timeScale?: number;
  /**
   * GANTRY_OUTBOUND_ALLOW (shared/adapters/outbound.ts); default the variable, else LOCAL_OUTBOUND_ALLOW. An
   * empty string is the AWS default: no loopback, private or link-local address.
   */
  outboundAllow?: string;
  /** Keep DynamoDB in memory (tests). */
  inMemory?: boolean;
  /**
   * Run dynalite in a process of its own (./dynamodb.ts); default: when on disk, as `npm start` does.
   * In memory it runs in this process unless asked (the fleet benches ask).
   */
  dynamoProcess?: boolean;
  /** Import every handler at start (default: when on disk, as `npm start` does). */
  preloadHandlers?: boolean;
  /** Use this DynamoDB endpoint (e.g. DynamoDB Local) instead of starting dynalite; requests are then not counted. */
  dynamoEndpoint?: string;
  /**
   * StartExecution's token bucket, as in AWS (default: 1,300 burst, 300 per second refill, the
   * quota of the largest regions); an empty bucket answers ThrottlingException.
   */
  startExecutionRate?: { burst: number; perSecond: number };
}

export interface LocalServer {
  url: string;
  port: number;
  dataDir: string;
  /** The generated admin key when GANTRY_API_KEYS was not given. */
  generatedKey?: ApiKey;
  engine: LocalStepFunctions;
  bus: LocalEventBus;
  /** StartExecution calls refused with ThrottlingException so far. */
  throttledStarts(): number;
  /** Requests DynamoDB has served so far (the benchmark counts them per rollout); NaN with dynamoEndpoint. */
  dynamoRequests(): Promise<number>;
  /** The same, per operation (the X-Amz-Target after the dot); empty with dynamoEndpoint. */
  dynamoOperations(): Promise<Record<string, number>>;
  /** The DynamoDB process's id when it runs in its own (its memory is not this process's). */
  dynamoPid?: number;
  close(): Promise<void>;
}

const TABLE_NAME = 'gantry';
/** The local runtime's fakes and agents listen on loopback; AWS allows nothing but public addresses by default. */
export const LOCAL_OUTBOUND_ALLOW = 'loopback';
/** Lambda's limit on a synchronous invocation's response payload. */
const LAMBDA_RESPONSE_LIMIT = 6 * 1024 * 1024;
const SFN_PATH = '/__local/sfn';
const EVENTS_PATH = '/__local/events';

interface CompiledRoute {
  route: RouteSpec;
  pattern: RegExp;
  names: string[];
}

const compiled: CompiledRoute[] = ROUTES.map((route) => {
  const names: string[] = [];
  const source = route.path.replace(/[.]/g, '\\.').replace(/\{([A-Za-z]+)\}/g, (_m, name: string) => {
    names.push(name);
    return '([^/]+)';
  });
  return { route, pattern: new RegExp(`^${source}$`), names };
});

function send(res: ServerResponse, status: number, body: string, contentType = 'application/json') {
  res.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

/**
 * Reads the body up to the limit. Past it, the rest is read and dropped (never buffered) so the
 * client can finish sending and read the 413 instead of a connection reset.
 */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer | 'too_large'> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        chunks.length = 0;
        resolve('too_large');
      } else {
        chunks.push(chunk);
      }
    });
    req.on('end', () => resolve(size > limit ? 'too_large' : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function toEvent(
  req: IncomingMessage,
  match: CompiledRoute,
  values: string[],
  body: Buffer,
): APIGatewayProxyEventV2 {
  const url = new URL(req.url ?? '/', 'http://local');
  // API Gateway hands rawPath over percent-decoded (the signature's canonical path covers both forms).
  const rawPath = decodeURIComponent((req.url ?? '/').split('?')[0] ?? '/');
  const rawQueryString = (req.url ?? '').includes('?')
    ? (req.url ?? '').slice((req.url ?? '').indexOf('?') + 1)
    : '';
  // As API Gateway: names lower-cased, a repeated header's values joined with commas (Node's own
  // req.headers would keep only the first of some, such as Authorization).
  const headers: Record<string, string> = {};
  for (const [name, values] of Object.entries(req.headersDistinct)) {
    if (values !== undefined) headers[name.toLowerCase()] = values.join(',');
  }
  // As API Gateway (payload v2): the cookies come apart from the headers, one `name=value` each.
  const cookies = (req.headersDistinct.cookie ?? []).flatMap((value) =>
    value.split(';').flatMap((cookie) => (cookie.trim() ? [cookie.trim()] : [])),
  );
  delete headers.cookie;
  const query: Record<string, string> = {};
  for (const [name, value] of url.searchParams)
    query[name] = query[name] === undefined ? value : `${query[name]},${value}`;
  const pathParameters: Record<string, string> = {};
  match.names.forEach((name, i) => {
    pathParameters[name] = decodeURIComponent(values[i] ?? '');
  });
  const requestId = randomUUID();
  return {
    version: '2.0',
    routeKey: routeKey(match.route),
    rawPath,
    rawQueryString,
    headers,
    ...(cookies.length ? { cookies } : {}),
    queryStringParameters: Object.keys(query).length ? query : undefined,
    pathParameters: match.names.length ? pathParameters : undefined,
    body: body.length ? body.toString('utf8') : undefined,
    isBase64Encoded: false,
    requestContext: {
      accountId: 'local',
      apiId: 'local',
      domainName: '127.0.0.1',
      domainPrefix: 'local',
      requestId,
      routeKey: routeKey(match.route),
      stage: '$default',
      time: new Date().toISOString(),
      timeEpoch: Date.now(),
      http: {
        method: req.method ?? 'GET',
        path: rawPath,
        protocol: 'HTTP/1.1',
        sourceIp: req.socket.remoteAddress ?? '127.0.0.1',
        userAgent: req.headers['user-agent'] ?? '',
      },
    },
  };
}

function matchRoute(method: string, path: string): { match: CompiledRoute; values: string[] } | undefined {
  for (const candidate of compiled) {
    if (candidate.route.method !== method) continue;
    const found = candidate.pattern.exec(path);
    if (found) return { match: candidate, values: found.slice(1) };
  }
  return undefined;
}

/** A token bucket in real time (AWS's API quotas are not scaled by GANTRY_TIME_SCALE). */
function tokenBucket(rate: { burst: number; perSecond: number }) {
  let tokens = rate.burst;
  let at = Date.now();
  return {
    take(): boolean {
      const now = Date.now();
      tokens = Math.min(rate.burst, tokens + ((now - at) / 1000) * rate.perSecond);
      at = now;
      if (tokens < 1) return false;
      tokens -= 1;
      return true;
    },
  };
}

async function ensureTable(endpoint: string): Promise<void> {
  const client = new DynamoDBClient({
    endpoint,
    region: LOCAL_REGION,
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  try {
    await client.send(new DescribeTableCommand({ TableName: TABLE_NAME }));
  } catch {
    await client.send(new CreateTableCommand(createTableInput(TABLE_NAME)));
  }
  // dynalite answers CREATING for a moment; nothing may read the table before it is ACTIVE.
  for (let i = 0; i < 200; i++) {
    const { Table } = await client.send(new DescribeTableCommand({ TableName: TABLE_NAME }));
    const indexesActive = (Table?.GlobalSecondaryIndexes ?? []).every(
      (index) => index.IndexStatus === 'ACTIVE',
    );
    if (Table?.TableStatus === 'ACTIVE' && indexesActive) break;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  client.destroy();
}

/**
 * A scaled clock starts at a moment kept in the data dir, so after a restart it goes on from where
 * it was instead of jumping back to the real time (a newer version would look older). Changing the
 * scale on an existing data dir starts a new clock.
 */
function clockOrigin(dataDir: string, scale: number): number {
  const file = join(dataDir, 'clock.json');
  try {
    const saved = JSON.parse(readFileSync(file, 'utf8')) as { origin?: number; scale?: number };
    if (saved.scale === scale && typeof saved.origin === 'number') return saved.origin;
  } catch {
    // no clock yet
  }
  const origin = Date.now();
  writeFileSync(file, JSON.stringify({ origin, scale }));
  return origin;
}

/** The keys: GANTRY_API_KEYS, or a generated admin key kept in <data dir>/api-keys.json. */
function resolveKeys(dataDir: string, given?: string): { json: string; generated?: ApiKey } {
  if (given) {
    parseApiKeys(given);
    return { json: given };
  }
  const file = join(dataDir, 'api-keys.json');
  if (existsSync(file)) {
    const json = readFileSync(file, 'utf8');
    return { json, generated: parseApiKeys(json)[0] };
  }
  const key: ApiKey = { id: 'local-admin', secret: randomBytes(32).toString('hex'), scopes: ['admin'] };
  const json = JSON.stringify([key], null, 2);
  writeFileSync(file, json, { mode: 0o600 });
  return { json, generated: key };
}

export async function startLocalServer(options: LocalServerOptions = {}): Promise<LocalServer> {
  const dataDir = resolve(options.dataDir ?? '.gantry');
  mkdirSync(dataDir, { recursive: true });
  const keys = resolveKeys(dataDir, options.apiKeys);
  const outboundAllow = options.outboundAllow ?? process.env[ENV.outboundAllow] ?? LOCAL_OUTBOUND_ALLOW;
  parseOutboundAllow(outboundAllow); // a value that does not parse stops the start, naming the entry

  const db = options.dynamoEndpoint
    ? undefined
    : await startDynamo({
        path: options.inMemory ? undefined : join(dataDir, 'dynamodb'),
        ownProcess: options.dynamoProcess ?? !options.inMemory,
      });
  const dbEndpoint = db ? db.endpoint : (options.dynamoEndpoint as string);
  // A Lambda's bundle is built ahead; here each handler's TypeScript compiles on its first import, so
  // `npm start` imports them all at start rather than in a user's first request of each route.
  const preloaded = (options.preloadHandlers ?? !options.inMemory) ? preloadHandlers() : Promise.resolve();
  await ensureTable(dbEndpoint);
  await preloaded;
  // Every AWS call a handler makes is then checked against its function's IAM policy, as in AWS.
  enforceIam();

  setTimeScale(options.timeScale ?? 1, clockOrigin(dataDir, options.timeScale ?? 1));
  // The engine waits for timestamps of the scaled domain clock, dividing the rest by the same factor.
  const engine = new LocalStepFunctions({
    invokeFunction: invokeLocal,
    timeScale: options.timeScale ?? 1,
    now: nowMs,
  });
  for (const { arn, definition } of localDefinitions()) engine.createStateMachine(arn, definition);
  const bus = new LocalEventBus(join(dataDir, 'events.jsonl'));
  // The bus rules of the AWS stack: each consumer gets the EventBridge event of its detail types.
  for (const spec of FUNCTIONS.filter((f) => f.kind === 'event')) {
    bus.subscribe(spec.subscribes ?? [], async (event) => {
      const handler = await loadHandler(spec);
      await runAs(spec, () =>
        handler(
          { version: '0', account: LOCAL_ACCOUNT, region: LOCAL_REGION, resources: [], ...event },
          lambdaContext(spec, randomUUID()),
        ),
      );
    });
  }

  // Made at each start: only the handlers in this process can sign for the local AWS endpoints.
  const awsSecret = newLocalSecret();
  const hostAllowed = hostGuard(options.publicUrl);
  const server = createServer((req, res) => {
    handle(req, res).catch(() =>
      send(res, 500, JSON.stringify(errorBody('internal', 'The local server failed.'))),
    );
  });
  const port = await listen(server, options.port ?? 3000);
  const url = `http://127.0.0.1:${port}`;

  // The handlers read their configuration from the environment, as in Lambda.
  Object.assign(process.env, {
    AWS_REGION: LOCAL_REGION,
    AWS_ACCESS_KEY_ID: LOCAL_ACCESS_KEY_ID,
    AWS_SECRET_ACCESS_KEY: awsSecret,
    AWS_ENDPOINT_URL_DYNAMODB: dbEndpoint,
    AWS_ENDPOINT_URL_SFN: `${url}${SFN_PATH}`,
    AWS_ENDPOINT_URL_EVENTBRIDGE: `${url}${EVENTS_PATH}`,
    [ENV.table]: TABLE_NAME,
    [ENV.bus]: 'gantry',
    [ENV.stateMachineArn]: stateMachineArn('rollout'),
    [ENV.publicUrl]: options.publicUrl ?? `http://127.0.0.1:${port}`,
    [ENV.apiKeys]: keys.json,
    [ENV.outboundAllow]: outboundAllow,
    [ENV.secrets]: options.secrets ?? process.env[ENV.secrets] ?? '{}',
    [ENV.localRuntime]: '1',
  });
  resetRuntime();
  resetSecretSources();
  resetKeySource();

  const startBucket = tokenBucket(options.startExecutionRate ?? { burst: 1300, perSecond: 300 });
  let throttled = 0;

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const method = req.method ?? 'GET';
    if (!hostAllowed(req.headers.host)) {
      const message = 'The Host header does not name this server (127.0.0.1 or localhost).';
      send(res, 403, JSON.stringify(errorBody('forbidden', message)));
      return;
    }
    const awsPath = path.replace(/\/$/, '');
    if (method === 'POST' && (awsPath === SFN_PATH || awsPath === EVENTS_PATH)) {
      const raw = await readBody(req, 10 * MAX_BODY_BYTES);
      if (raw === 'too_large') {
        const refusal = { __type: 'ValidationException', message: 'The request body is too large.' };
        send(res, 413, JSON.stringify(refusal), 'application/x-amz-json-1.0');
        return;
      }
      const service = awsPath === SFN_PATH ? 'states' : 'events';
      const signed = { method, url: req.url ?? '/', headers: req.headers, body: raw };
      const refusal = await refuseAwsRequest(signed, { secret: awsSecret, region: LOCAL_REGION, service });
      if (refusal) {
        send(res, 403, JSON.stringify(refusal), 'application/x-amz-json-1.0');
        return;
      }
      const body = JSON.parse(raw.toString('utf8') || '{}') as unknown;
      const target = String(req.headers['x-amz-target'] ?? '');
      if (target === 'AWSStepFunctions.StartExecution' && !startBucket.take()) {
        throttled++;
        const refusal = { __type: 'ThrottlingException', message: 'Rate exceeded' };
        send(res, 400, JSON.stringify(refusal), 'application/x-amz-json-1.0');
        return;
      }
      const out =
        awsPath === SFN_PATH ? engine.handleJsonProtocol(target, body) : bus.handleJsonProtocol(target, body);
      send(res, out.status, JSON.stringify(out.body), 'application/x-amz-json-1.0');
      return;
    }
    const found = matchRoute(method === 'HEAD' ? 'GET' : method, path);
    if (!found) {
      send(res, 404, JSON.stringify(errorBody('not_found', 'No such route.')));
      return;
    }
    const body = await readBody(req, MAX_BODY_BYTES);
    if (body === 'too_large') {
      send(
        res,
        413,
        JSON.stringify(errorBody('payload_too_large', 'The request body is larger than 1 MiB.')),
      );
      req.destroy();
      return;
    }
    let event: APIGatewayProxyEventV2;
    try {
      event = toEvent(req, found.match, found.values, body);
    } catch {
      send(res, 400, JSON.stringify(errorBody('invalid_request', 'The request path is not valid.')));
      return;
    }
    const spec = FUNCTIONS.find((f) => f.id === found.match.route.fn);
    if (!spec) throw new Error(`No function ${found.match.route.fn}`);
    const handler = await loadHandler(spec);
    const result = (await runAs(spec, () =>
      handler(event, lambdaContext(spec, event.requestContext.requestId)),
    )) as APIGatewayProxyStructuredResultV2;
    if (Buffer.byteLength(result.body ?? '') > LAMBDA_RESPONSE_LIMIT) {
      // Lambda refuses a response over 6 MB and API Gateway answers 500.
      send(res, 500, JSON.stringify(errorBody('internal', 'The response was larger than Lambda allows.')));
      return;
    }
    const headers: Record<string, string | string[]> = { ...(result.headers as Record<string, string>) };
    // API Gateway makes each of the result's cookies a set-cookie header.
    if (result.cookies?.length) headers['set-cookie'] = result.cookies;
    res.writeHead(result.statusCode ?? 200, headers);
    res.end(method === 'HEAD' ? undefined : (result.body ?? undefined));
  }

  // Events a kill left in releases' outboxes (written with their transitions, not yet published).
  await publishStalledOutboxes(runtime(), 0);
  // Executions live in memory: re-run every unfinished release; each step resumes where it was.
  const unfinished = await scanUnfinishedReleases(runtime());
  await startRollouts(runtime(), unfinished);
  // Work a write caused that a kill cut short goes on from its last chunk. A crash between writing a
  // version and queueing its release is healed by reconciling everything (chunked, off the start).
  await resumeStalledWork(runtime(), 0);
  await queueWork(runtime(), [{ type: 'reconcile', scope: { all: true } }]);
  let closed = false;
  // The schedule of the AWS stack's sweep: a chain of work whose event was lost is asked for again.
  const sweeper = FUNCTIONS.find((f) => f.id === 'event-work') as (typeof FUNCTIONS)[number];
  const sweep = setInterval(() => {
    runAs(sweeper, async () => {
      await resumeStalledWork(runtime(), STALLED_MS);
      await publishStalledOutboxes(runtime(), STALLED_MS);
    }).catch(() => undefined);
  }, 60_000);
  sweep.unref();
  // The other schedules (the freeze sweep) invoke their handler as EventBridge does: at start, then
  // every period divided by GANTRY_TIME_SCALE (at least a second), one run at a time.
  const schedules = FUNCTIONS.filter((f) => f.schedule && f !== sweeper).map((spec) => {
    let running = false;
    const tick = () => {
      if (running || closed) return;
      running = true;
      void loadHandler(spec)
        .then((handler) => runAs(spec, () => handler(scheduledEvent(), lambdaContext(spec, randomUUID()))))
        .catch(() => undefined)
        .finally(() => {
          running = false;
        });
    };
    tick();
    const timer = setInterval(
      tick,
      Math.max(1000, ratePeriodMs(spec.schedule ?? '') / (options.timeScale ?? 1)),
    );
    timer.unref();
    return timer;
  });

  return {
    url,
    port,
    dataDir,
    generatedKey: options.apiKeys ? undefined : keys.generated,
    engine,
    bus,
    throttledStarts: () => throttled,
    dynamoRequests: async () => (db ? (await db.counters()).requests : Number.NaN),
    dynamoOperations: async () => (db ? (await db.counters()).operations : {}),
    dynamoPid: db?.pid,
    async close() {
      if (closed) return;
      closed = true;
      clearInterval(sweep);
      for (const timer of schedules) clearInterval(timer);
      engine.close();
      await new Promise<void>((done) => server.close(() => done()));
      server.closeAllConnections?.();
      await bus.flush();
      await db?.close();
    },
  };
}

const preloadHandlers = () => Promise.all(FUNCTIONS.map((spec) => loadHandler(spec))).then(() => undefined);

/** An EventBridge schedule's event, as its rule delivers it. */
const scheduledEvent = () => ({
  version: '0',
  id: randomUUID(),
  'detail-type': 'Scheduled Event',
  source: 'aws.events',
  account: LOCAL_ACCOUNT,
  region: LOCAL_REGION,
  time: new Date().toISOString(),
  resources: [],
  detail: {},
});

/** The period of an EventBridge `rate(N unit)` expression. */
function ratePeriodMs(expression: string): number {
  const match = /^rate\((\d+) (minute|hour|day)s?\)$/.exec(expression);
  if (!match) throw new Error(`Not a rate expression: ${expression}`);
  const unit = { minute: 60_000, hour: 3_600_000, day: 86_400_000 }[match[2] as 'minute' | 'hour' | 'day'];
  return Number(match[1]) * unit;
}
