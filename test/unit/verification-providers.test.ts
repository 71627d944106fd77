import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { afterAll, describe, expect, it } from 'vitest';
import { type Measurement, measure, type ProviderDeps } from '../../shared/adapters/metrics';
import { Metric as MetricSchema } from '../../shared/core/schemas/config';

/** Real loopback servers speaking each provider's wire format. */

type Handler = (req: IncomingMessage, body: string, res: ServerResponse) => void;
type Seen = { method: string; url: URL; headers: IncomingMessage['headers']; body: string };

const NOW = new Date('2030-01-01T12:00:00.000Z');
const SECRETS: Record<string, string> = { 'dd-api': 'api-key-s3cr3t', 'dd-app': 'app-key-s3cr3t' };
const seen: Seen[] = [];
const routes = new Map<string, Handler>();
let base = '';

const server = createServer((req, res) => {
  let body = '';
  req.on('data', (chunk) => {
    body += chunk;
  });
  req.on('end', () => {
    const url = new URL(req.url ?? '/', base);
    seen.push({ method: req.method ?? '', url, headers: req.headers, body });
    const route = routes.get(url.pathname.split('/')[1] ?? '');
    if (route) route(req, body, res);
    else res.writeHead(404).end();
  });
});

// Listening before the describe blocks run, so their route URLs carry the port.
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

function json(res: ServerResponse, status: number, value: unknown, type = 'application/json') {
  res.writeHead(status, { 'content-type': type }).end(JSON.stringify(value));
}

/** A scenario lives under its own first path segment, so tests never share a handler. */
let next = 0;
function route(handler: Handler): string {
  const name = `r${next++}`;
  routes.set(name, handler);
  return `${base}/${name}`;
}

function lastSeen(prefix: string): Seen {
  const hit = seen.findLast((s) => s.url.href.startsWith(prefix));
  if (!hit) throw new Error(`no request to ${prefix}`);
  return hit;
}

const deps: ProviderDeps = {
  getSecret: async (name) => {
    const value = SECRETS[name];
    if (value === undefined) throw new Error(`Secret "${name}" is not configured.`);
    return value;
  },
  timeoutMs: 2_000,
  cloudwatch: (region) =>
    new CloudWatchClient({
      region: region ?? 'us-east-1',
      endpoint: `${base}/cloudwatch`,
      credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'test-secret' },
      maxAttempts: 1,
    }),
};

function check(provider: Record<string, unknown>, successCondition: string, extra: ProviderDeps = deps) {
  const metric = MetricSchema.parse({ name: 'm', provider, intervalSeconds: 60, count: 5, successCondition });
  return measure(metric, extra, NOW);
}

function inconclusive(m: Measurement, error: RegExp) {
  expect(m.outcome).toBe('inconclusive');
  expect(m.error).toMatch(error);
  expect(m.at).toBe(NOW.toISOString());
}

const hang: Handler = () => {};

describe('http provider', () => {
  const health = route((req, body, res) => {
    if (req.method === 'POST')
      json(res, 201, { echo: JSON.parse(body), auth: req.headers.authorization ?? null });
    else json(res, 200, { errorRate: 0.002 });
  });

  it('passes status, json and body to the condition, and keeps only the status', async () => {
    const m = await check(
      { type: 'http', url: health },
      'result.status == 200 && result.json.errorRate < 0.01 && result.body == \'{"errorRate":0.002}\'',
    );
    // Issue 17 item 3: the measurement never keeps the body (nor its parsed JSON).
    expect(m).toEqual({ outcome: 'success', value: { status: 200 }, at: NOW.toISOString() });
  });

  it('sends method, headers and body', async () => {
    const m = await check(
      {
        type: 'http',
        url: health,
        method: 'POST',
        headers: { authorization: 'Bearer t' },
        body: '{"probe":1}',
      },
      "result.status == 201 && result.json.echo.probe == 1 && result.json.auth == 'Bearer t'",
    );
    expect(m.outcome).toBe('success');
    expect(lastSeen(health).method).toBe('POST');
  });

  it('is a failure when the condition is false, whatever the status', async () => {
    const down = route((_, __, res) => json(res, 503, { errorRate: 0.5 }));
    const m = await check({ type: 'http', url: down }, 'result.status == 200');
    expect(m).toEqual({ outcome: 'failure', value: { status: 503 }, at: NOW.toISOString() });
  });

  it('gives json null for a non-JSON body and truncates the body at 64 KB', async () => {
    const big = route((_, __, res) =>
      res.writeHead(200, { 'content-type': 'text/plain' }).end('y'.repeat(100_000)),
    );
    const m = await check({ type: 'http', url: big }, 'result.json == null && size(result.body) == 65536');
    expect(m.outcome).toBe('success');
    expect(Buffer.byteLength(JSON.stringify(m.value))).toBeLessThanOrEqual(2048);
  });

  it('is inconclusive when the condition errors or is not a boolean', async () => {
    inconclusive(
      await check({ type: 'http', url: health }, 'result.json.missing < 1'),
      /^successCondition: No such key/,
    );
    inconclusive(await check({ type: 'http', url: health }, 'result.status'), /not return a boolean/);
  });

  it('is inconclusive on a refused connection and on a hang', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    inconclusive(
      await check({ type: 'http', url: `http://127.0.0.1:${port}/health` }, 'true'),
      /^http: request failed \(ECONNREFUSED\)$/,
    );
    const started = Date.now();
    inconclusive(
      await check({ type: 'http', url: route(hang) }, 'true', { ...deps, timeoutMs: 100 }),
      /timed out after 100 ms/,
    );
    expect(Date.now() - started).toBeLessThan(1_000);
  });
});

describe('prometheus provider', () => {
  const vector = (values: string[]) => ({
    status: 'success',
    data: {
      resultType: 'vector',
      result: values.map((value, i) => ({ metric: { pod: `api-${i}` }, value: [1893499200.123, value] })),
    },
  });

  it('asks the instant query API and gives the first sample as a number', async () => {
    const prom = route((_, __, res) => json(res, 200, vector(['0.004', '0.2'])));
    const query = 'sum(rate(http_errors_total[5m])) / sum(rate(http_requests_total[5m]))';
    const m = await check({ type: 'prometheus', url: `${prom}/`, query }, 'result.value < 0.01');
    // The vector (labels and all) is there for the condition; the measurement keeps the value only.
    expect(m).toEqual({ outcome: 'success', value: { value: 0.004 }, at: NOW.toISOString() });
    expect(
      (await check({ type: 'prometheus', url: prom, query }, "result.vector[1].metric.pod == 'api-1'"))
        .outcome,
    ).toBe('success');
    const request = lastSeen(prom);
    expect(request.url.pathname).toMatch(/\/api\/v1\/query$/);
    expect(request.url.searchParams.get('query')).toBe(query);
    expect((await check({ type: 'prometheus', url: prom, query: 'up' }, 'result.value > 0.1')).outcome).toBe(
      'failure',
    );
  });

  it('reads a scalar result', async () => {
    const prom = route((_, __, res) =>
      json(res, 200, { status: 'success', data: { resultType: 'scalar', result: [1893499200, '3'] } }),
    );
    expect(
      await check({ type: 'prometheus', url: prom, query: 'scalar(up)' }, 'result.value == 3.0'),
    ).toMatchObject({
      outcome: 'success',
      value: { value: 3 },
    });
  });

  it.each([
    [
      'an empty vector',
      (res: ServerResponse) => json(res, 200, vector([])),
      /^prometheus: empty result vector$/,
    ],
    ['a NaN sample', (res: ServerResponse) => json(res, 200, vector(['NaN'])), /NaN/],
    [
      'status error',
      (res: ServerResponse) =>
        json(res, 400, { status: 'error', errorType: 'bad_data', error: 'parse error' }),
      /^prometheus: answered HTTP 400$/,
    ],
    ['a 500', (res: ServerResponse) => res.writeHead(500).end('oops'), /^prometheus: answered HTTP 500$/],
    [
      'bad JSON',
      (res: ServerResponse) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":'),
      /^prometheus: answer is not JSON$/,
    ],
    [
      'a matrix',
      (res: ServerResponse) =>
        json(res, 200, { status: 'success', data: { resultType: 'matrix', result: [] } }),
      /unsupported/,
    ],
  ])('is inconclusive on %s', async (_, answer, error) => {
    const prom = route((_, __, res) => answer(res));
    inconclusive(await check({ type: 'prometheus', url: prom, query: 'up' }, 'true'), error);
  });

  it('is inconclusive when Prometheus hangs', async () => {
    const m = await check({ type: 'prometheus', url: route(hang), query: 'up' }, 'true', {
      ...deps,
      timeoutMs: 100,
    });
    inconclusive(m, /^prometheus: timed out after 100 ms$/);
  });
});

describe('datadog provider', () => {
  const answer = (pointlist: [number, number | null][]) => ({
    status: 'ok',
    res_type: 'time_series',
    series: [
      { metric: 'trace.http.request.errors', scope: 'service:api', pointlist, length: pointlist.length },
    ],
    from_date: 1893499200000,
    to_date: 1893499500000,
    query: 'avg:trace.http.request.errors{service:api}',
  });

  it('sends the keys and the window and reads the last point of the first series', async () => {
    const dd = route((_, __, res) =>
      json(
        res,
        200,
        answer([
          [1893499200000, 0.5],
          [1893499260000, 0.01],
          [1893499320000, null],
        ]),
      ),
    );
    const provider = {
      type: 'datadog',
      apiUrl: dd,
      query: 'avg:trace.http.request.errors{service:api}',
      apiKeySecretRef: 'dd-api',
      appKeySecretRef: 'dd-app',
      windowSeconds: 600,
    };
    expect(await check(provider, 'result.value < 0.05')).toEqual({
      outcome: 'success',
      value: { value: 0.01 },
      at: NOW.toISOString(),
    });
    const request = lastSeen(dd);
    expect(request.url.pathname).toMatch(/\/api\/v1\/query$/);
    expect(request.headers['dd-api-key']).toBe('api-key-s3cr3t');
    expect(request.headers['dd-application-key']).toBe('app-key-s3cr3t');
    const to = NOW.getTime() / 1000;
    expect(Object.fromEntries(request.url.searchParams)).toEqual({
      from: String(to - 600),
      to: String(to),
      query: 'avg:trace.http.request.errors{service:api}',
    });
  });

  it.each([
    [
      'no series',
      (res: ServerResponse) => json(res, 200, { ...answer([]), series: [] }),
      /^datadog: no series$/,
    ],
    [
      'only null points',
      (res: ServerResponse) => json(res, 200, answer([[1893499200000, null]])),
      /^datadog: no points$/,
    ],
    [
      'a query error',
      (res: ServerResponse) => json(res, 200, { status: 'error', error: 'bad query' }),
      /query error: bad query/,
    ],
    [
      'a 403',
      (res: ServerResponse) => json(res, 403, { errors: ['Forbidden'] }),
      /^datadog: answered HTTP 403$/,
    ],
  ])('is inconclusive on %s', async (_, reply, error) => {
    const dd = route((_, __, res) => reply(res));
    const provider = {
      type: 'datadog',
      apiUrl: dd,
      query: 'q',
      apiKeySecretRef: 'dd-api',
      appKeySecretRef: 'dd-app',
    };
    inconclusive(await check(provider, 'true'), error);
  });

  it('never reports a key or the URL, and fails without its secret', async () => {
    const leaky: ProviderDeps = {
      ...deps,
      outbound: async (request) => {
        throw new Error(`cannot reach ${request.url} with api-key-s3cr3t`);
      },
    };
    const provider = {
      type: 'datadog',
      apiUrl: `${base}/never`,
      query: 'q',
      apiKeySecretRef: 'dd-api',
      appKeySecretRef: 'dd-app',
    };
    const m = await check(provider, 'true', leaky);
    inconclusive(m, /^datadog: Error: cannot reach <url> with \*\*\*$/);
    const missing = await check({ ...provider, apiKeySecretRef: 'nope' }, 'true');
    inconclusive(missing, /not configured/);
  });
});

describe('cloudwatch providers (AWS JSON 1.0 protocol)', () => {
  const AMZ_JSON = 'application/x-amz-json-1.0';
  type Call = { target: string; input: Record<string, unknown> };
  const calls: Call[] = [];
  let answer: (call: Call, res: ServerResponse) => void = () => {};

  routes.set('cloudwatch', (req, body, res) => {
    const target = String(req.headers['x-amz-target'] ?? '');
    if (
      req.method !== 'POST' ||
      req.headers['content-type'] !== AMZ_JSON ||
      !target.startsWith('GraniteServiceVersion20100801.')
    ) {
      json(res, 400, { __type: 'UnknownOperationException' }, AMZ_JSON);
      return;
    }
    const call = { target: target.split('.')[1] ?? '', input: JSON.parse(body) };
    calls.push(call);
    answer(call, res);
  });

  const metric = {
    type: 'cloudwatch',
    namespace: 'AWS/ApplicationELB',
    metricName: 'HTTPCode_Target_5XX_Count',
    dimensions: { LoadBalancer: 'app/api/123' },
    stat: 'Sum',
    periodSeconds: 60,
    region: 'eu-west-1',
  };

  it('asks GetMetricData over the last periods and gives the latest datapoint', async () => {
    answer = (_, res) =>
      json(
        res,
        200,
        {
          MetricDataResults: [
            {
              Id: 'm',
              Label: 'x',
              Timestamps: [1893499140, 1893499080, 1893499020],
              Values: [2, 40, 9],
              StatusCode: 'Complete',
            },
          ],
          Messages: [],
        },
        AMZ_JSON,
      );
    expect(await check(metric, 'result.value < 5.0')).toEqual({
      outcome: 'success',
      value: { value: 2 },
      at: NOW.toISOString(),
    });
    const call = calls.at(-1);
    const end = NOW.getTime() / 1000;
    expect(call).toEqual({
      target: 'GetMetricData',
      input: {
        MetricDataQueries: [
          {
            Id: 'm',
            ReturnData: true,
            MetricStat: {
              Metric: {
                Namespace: 'AWS/ApplicationELB',
                MetricName: 'HTTPCode_Target_5XX_Count',
                Dimensions: [{ Name: 'LoadBalancer', Value: 'app/api/123' }],
              },
              Period: 60,
              Stat: 'Sum',
            },
          },
        ],
        StartTime: end - 300,
        EndTime: end,
        ScanBy: 'TimestampDescending',
      },
    });
  });

  it('is inconclusive without a datapoint or on a service error', async () => {
    answer = (_, res) =>
      json(
        res,
        200,
        { MetricDataResults: [{ Id: 'm', Timestamps: [], Values: [], StatusCode: 'Complete' }] },
        AMZ_JSON,
      );
    inconclusive(await check(metric, 'true'), /^cloudwatch: no datapoint$/);
    answer = (_, res) =>
      json(
        res,
        400,
        {
          __type: 'com.amazonaws.cloudwatch#InvalidParameterValueException',
          message: 'The parameter Stat is invalid.',
        },
        AMZ_JSON,
      );
    inconclusive(
      await check(metric, 'true'),
      /^cloudwatch: InvalidParameterValue.*: The parameter Stat is invalid\.$/,
    );
    answer = (_, res) => res.writeHead(500, { 'content-type': AMZ_JSON }).end('not json');
    inconclusive(await check(metric, 'true'), /^cloudwatch: /);
  });

  it('is inconclusive when CloudWatch hangs', async () => {
    answer = () => {};
    inconclusive(
      await check(metric, 'true', { ...deps, timeoutMs: 100 }),
      /^cloudwatch: timed out after 100 ms$/,
    );
  });

  it('counts alarms in ALARM over every page of DescribeAlarms', async () => {
    answer = (call, res) => {
      const first = call.input.NextToken === undefined;
      json(
        res,
        200,
        first
          ? {
              MetricAlarms: [
                { AlarmName: 'api-5xx', StateValue: 'OK' },
                { AlarmName: 'api-latency', StateValue: 'ALARM' },
              ],
              NextToken: 'page-2',
            }
          : {
              MetricAlarms: [{ AlarmName: 'api-saturation', StateValue: 'INSUFFICIENT_DATA' }],
              CompositeAlarms: [{ AlarmName: 'api-health', StateValue: 'ALARM' }],
            },
        AMZ_JSON,
      );
    };
    calls.length = 0;
    const m = await check({ type: 'cloudwatch-alarms', alarmNamePrefix: 'api-' }, 'result.inAlarm == 0');
    expect(m).toEqual({
      outcome: 'failure',
      value: { inAlarm: 2, alarms: ['api-latency', 'api-health'], total: 4 },
      at: NOW.toISOString(),
    });
    expect(calls).toEqual([
      {
        target: 'DescribeAlarms',
        input: { AlarmNamePrefix: 'api-', AlarmTypes: ['MetricAlarm', 'CompositeAlarm'], MaxRecords: 100 },
      },
      {
        target: 'DescribeAlarms',
        input: {
          AlarmNamePrefix: 'api-',
          AlarmTypes: ['MetricAlarm', 'CompositeAlarm'],
          MaxRecords: 100,
          NextToken: 'page-2',
        },
      },
    ]);
  });

  it('asks by names, passes with none in ALARM, and is inconclusive when nothing matched', async () => {
    answer = (call, res) =>
      json(
        res,
        200,
        {
          MetricAlarms: (call.input.AlarmNames as string[])
            .filter((n) => n !== 'typo')
            .map((AlarmName) => ({ AlarmName, StateValue: 'OK' })),
        },
        AMZ_JSON,
      );
    const m = await check(
      { type: 'cloudwatch-alarms', alarmNames: ['api-5xx', 'api-latency'] },
      'result.inAlarm == 0',
    );
    expect(m).toMatchObject({ outcome: 'success', value: { inAlarm: 0, alarms: [], total: 2 } });
    expect(calls.at(-1)?.input.AlarmNames).toEqual(['api-5xx', 'api-latency']);
    inconclusive(
      await check({ type: 'cloudwatch-alarms', alarmNames: ['typo'] }, 'result.inAlarm == 0'),
      /no alarm matched/,
    );
    inconclusive(
      await check({ type: 'cloudwatch-alarms' }, 'result.inAlarm == 0'),
      /needs alarmNames or alarmNamePrefix/,
    );
  });
});
