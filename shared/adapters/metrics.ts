import { CloudWatchClient, DescribeAlarmsCommand, GetMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import type { z } from 'zod/mini';
import { evaluateCel } from '../core/cel';
import type { Measurement } from '../core/records';
import type { Metric as MetricSchema } from '../core/schemas/config';
import { type Outbound, OutboundError, outbound } from './outbound';

/**
 * One verification measurement: ask the metric's provider, then judge the answer with the metric's
 * CEL `successCondition` over `result`. Never throws: a provider that cannot answer (timeout,
 * connection refused, non-2xx, unparsable or empty answer) and a condition that errors or yields a
 * non-boolean are `inconclusive`, with a short reason that names no secret and no full URL.
 *
 * Provider results (what `result` is in the condition):
 * - http:              {status, json (parsed body or null), body (text, first 64 KB)}; any status is
 *                      a result (the condition judges it; a redirect is not followed), only a failed
 *                      request is inconclusive. A header may be a {secretRef}, read at each measurement.
 * - prometheus:        {value (first sample, number), vector: [{metric, value}]}; Prometheus'
 *                      instant query API, GET {url}/api/v1/query?query=.
 * - datadog:           {value (last non-null point of the first series)}; GET {apiUrl}/api/v1/query
 *                      over the last windowSeconds (default 300).
 * - cloudwatch:        {value (latest datapoint)}; GetMetricData over the last 5 periods.
 * - cloudwatch-alarms: {inAlarm, alarms (names in ALARM), total}; DescribeAlarms (metric and
 *                      composite alarms, paginated). No matching alarm at all is inconclusive: a
 *                      misspelt name must not pass as "no open alarms".
 * The measurement keeps only what `keptResult` picks (status, value, alarm counts and names), never
 * a response body: a read key must not read what a metric endpoint answered.
 */

export type Metric = z.infer<typeof MetricSchema>;
type Provider = Metric['provider'];
type Result = Record<string, unknown>;

export type { Measurement } from '../core/records';

export interface ProviderDeps {
  getSecret(name: string): Promise<string>;
  /** Default the guarded client of shared/adapters/outbound.ts; tests pass their own. */
  outbound?: Outbound;
  cloudwatch?: (region?: string) => CloudWatchClient;
  /** Per measurement, default 10 000; an http provider's own timeoutSeconds wins. */
  timeoutMs?: number;
}

export const DEFAULT_TIMEOUT_MS = 10_000;
export const HTTP_BODY_LIMIT = 64 * 1024;
export const VALUE_LIMIT = 2048;
const CLOUDWATCH_PERIODS = 5;
const MAX_ALARM_PAGES = 20;

/** A provider answered, but not with something a condition can judge. */
class Inconclusive extends Error {}

export async function measure(metric: Metric, deps: ProviderDeps, now = new Date()): Promise<Measurement> {
  const at = now.toISOString();
  const provider = metric.provider;
  const timeoutMs =
    provider.type === 'http' && provider.timeoutSeconds
      ? provider.timeoutSeconds * 1000
      : (deps.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  const secrets: string[] = [];
  let result: Result;
  try {
    result = await withTimeout(timeoutMs, (signal) =>
      query(provider, { ...deps, timeoutMs }, signal, now, secrets),
    );
  } catch (error) {
    return { outcome: 'inconclusive', error: `${provider.type}: ${describe(error, secrets)}`, at };
  }
  const value = trimValue(keptResult(result));
  const condition = evaluateCel(metric.successCondition, { result });
  if (!condition.ok) {
    return {
      outcome: 'inconclusive',
      value,
      error: `successCondition: ${clean(condition.error, secrets)}`,
      at,
    };
  }
  if (typeof condition.value !== 'boolean') {
    return { outcome: 'inconclusive', value, error: 'successCondition did not return a boolean', at };
  }
  return { outcome: condition.value ? 'success' : 'failure', value, at };
}

function query(
  provider: Provider,
  deps: ProviderDeps,
  signal: AbortSignal,
  now: Date,
  secrets: string[],
): Promise<Result> {
  switch (provider.type) {
    case 'http':
      return http(provider, deps, signal, secrets);
    case 'prometheus':
      return prometheus(provider, deps, signal);
    case 'datadog':
      return datadog(provider, deps, signal, now, secrets);
    case 'cloudwatch':
      return cloudwatch(provider, (deps.cloudwatch ?? defaultCloudWatch)(provider.region), signal, now);
    case 'cloudwatch-alarms':
      return alarms(provider, (deps.cloudwatch ?? defaultCloudWatch)(provider.region), signal);
  }
}

// ---- HTTP-based providers ---------------------------------------------------------------------

/** The fields of a result a measurement keeps: never `body`, `json` or Prometheus' `vector`. */
const KEPT_FIELDS = ['status', 'value', 'inAlarm', 'total', 'alarms'];

export function keptResult(result: unknown): Result {
  if (typeof result !== 'object' || result === null) return {};
  return Object.fromEntries(Object.entries(result).filter(([key]) => KEPT_FIELDS.includes(key)));
}

async function http(
  p: Extract<Provider, { type: 'http' }>,
  deps: ProviderDeps,
  signal: AbortSignal,
  secrets: string[],
) {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(p.headers ?? {})) {
    if (typeof value === 'string') headers[name] = value;
    else {
      const secret = await deps.getSecret(value.secretRef);
      secrets.push(secret);
      headers[name] = secret;
    }
  }
  const response = await (deps.outbound ?? outbound)({
    url: p.url,
    method: p.method,
    headers,
    body: p.body,
    timeoutMs: deps.timeoutMs,
    signal,
  });
  return {
    status: response.status,
    json: parseJson(response.body) ?? null,
    body: Buffer.from(response.body).subarray(0, HTTP_BODY_LIMIT).toString('utf8'),
  };
}

async function prometheus(
  p: Extract<Provider, { type: 'prometheus' }>,
  deps: ProviderDeps,
  signal: AbortSignal,
) {
  const url = `${p.url.replace(/\/+$/, '')}/api/v1/query?${new URLSearchParams({ query: p.query })}`;
  const answer = await getJson(deps, url, {}, signal);
  const data = field(answer, 'data');
  if (field(answer, 'status') !== 'success') throw new Inconclusive('query did not succeed');
  const type = field(data, 'resultType');
  const raw = field(data, 'result');
  const vector: { metric: unknown; value: number }[] = [];
  if (type === 'scalar' && Array.isArray(raw)) {
    vector.push({ metric: {}, value: sampleValue(raw) });
  } else if (type === 'vector' && Array.isArray(raw)) {
    for (const sample of raw)
      vector.push({ metric: field(sample, 'metric') ?? {}, value: sampleValue(field(sample, 'value')) });
  } else {
    throw new Inconclusive(`unsupported result type ${String(type).slice(0, 20)}`);
  }
  const first = vector[0];
  if (!first) throw new Inconclusive('empty result vector');
  if (Number.isNaN(first.value)) throw new Inconclusive('first sample is NaN');
  return { value: first.value, vector };
}

/** A Prometheus sample is [unixSeconds, "string value"]; "+Inf", "-Inf" and "NaN" are valid values. */
function sampleValue(sample: unknown): number {
  const text = Array.isArray(sample) ? sample[1] : undefined;
  if (typeof text !== 'string') throw new Inconclusive('malformed sample');
  if (text === '+Inf') return Number.POSITIVE_INFINITY;
  if (text === '-Inf') return Number.NEGATIVE_INFINITY;
  return text.trim() === '' ? Number.NaN : Number(text);
}

async function datadog(
  p: Extract<Provider, { type: 'datadog' }>,
  deps: ProviderDeps,
  signal: AbortSignal,
  now: Date,
  secrets: string[],
) {
  const [apiKey, appKey] = await Promise.all([
    deps.getSecret(p.apiKeySecretRef),
    deps.getSecret(p.appKeySecretRef),
  ]);
  secrets.push(apiKey, appKey);
  const to = Math.floor(now.getTime() / 1000);
  const from = to - (p.windowSeconds ?? 300);
  const base = (p.apiUrl ?? 'https://api.datadoghq.com').replace(/\/+$/, '');
  const url = `${base}/api/v1/query?${new URLSearchParams({ from: String(from), to: String(to), query: p.query })}`;
  const headers = { 'DD-API-KEY': apiKey, 'DD-APPLICATION-KEY': appKey, accept: 'application/json' };
  const answer = await getJson(deps, url, headers, signal);
  if (field(answer, 'status') === 'error') {
    throw new Inconclusive(`query error: ${String(field(answer, 'error') ?? 'unknown').slice(0, 200)}`);
  }
  const series = field(answer, 'series');
  const points = Array.isArray(series) ? field(series[0], 'pointlist') : undefined;
  if (!Array.isArray(points)) throw new Inconclusive('no series');
  for (let i = points.length - 1; i >= 0; i--) {
    const value: unknown = Array.isArray(points[i]) ? points[i][1] : undefined;
    if (typeof value === 'number') return { value };
  }
  throw new Inconclusive('no points');
}

async function getJson(
  deps: ProviderDeps,
  url: string,
  headers: Record<string, string>,
  signal: AbortSignal,
) {
  const response = await (deps.outbound ?? outbound)({ url, headers, timeoutMs: deps.timeoutMs, signal });
  if (response.status < 200 || response.status > 299)
    throw new Inconclusive(`answered HTTP ${response.status}`);
  const json = parseJson(response.body);
  if (json === undefined) throw new Inconclusive('answer is not JSON');
  return json;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function field(value: unknown, key: string): unknown {
  return typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[key] : undefined;
}

// ---- CloudWatch ---------------------------------------------------------------------------------

const clients = new Map<string, CloudWatchClient>();
function defaultCloudWatch(region?: string): CloudWatchClient {
  let client = clients.get(region ?? '');
  if (!client) {
    client = new CloudWatchClient(region ? { region } : {});
    clients.set(region ?? '', client);
  }
  return client;
}

async function cloudwatch(
  p: Extract<Provider, { type: 'cloudwatch' }>,
  client: CloudWatchClient,
  abortSignal: AbortSignal,
  now: Date,
) {
  const out = await client.send(
    new GetMetricDataCommand({
      MetricDataQueries: [
        {
          Id: 'm',
          ReturnData: true,
          MetricStat: {
            Metric: {
              Namespace: p.namespace,
              MetricName: p.metricName,
              Dimensions: Object.entries(p.dimensions ?? {}).map(([Name, Value]) => ({ Name, Value })),
            },
            Period: p.periodSeconds,
            Stat: p.stat,
          },
        },
      ],
      StartTime: new Date(now.getTime() - CLOUDWATCH_PERIODS * p.periodSeconds * 1000),
      EndTime: now,
      ScanBy: 'TimestampDescending',
    }),
    { abortSignal },
  );
  const series = out.MetricDataResults?.[0];
  let latest: { time: number; value: number } | undefined;
  (series?.Timestamps ?? []).forEach((timestamp, i) => {
    const value = series?.Values?.[i];
    const time = timestamp.getTime();
    if (typeof value === 'number' && (!latest || time > latest.time)) latest = { time, value };
  });
  if (!latest) throw new Inconclusive('no datapoint');
  return { value: latest.value };
}

async function alarms(
  p: Extract<Provider, { type: 'cloudwatch-alarms' }>,
  client: CloudWatchClient,
  abortSignal: AbortSignal,
) {
  if (!p.alarmNames && !p.alarmNamePrefix) throw new Inconclusive('needs alarmNames or alarmNamePrefix');
  const inAlarm: string[] = [];
  let total = 0;
  let NextToken: string | undefined;
  for (let page = 0; page < MAX_ALARM_PAGES; page++) {
    const out = await client.send(
      new DescribeAlarmsCommand({
        ...(p.alarmNames ? { AlarmNames: p.alarmNames } : { AlarmNamePrefix: p.alarmNamePrefix }),
        AlarmTypes: ['MetricAlarm', 'CompositeAlarm'],
        MaxRecords: 100,
        NextToken,
      }),
      { abortSignal },
    );
    for (const alarm of [...(out.MetricAlarms ?? []), ...(out.CompositeAlarms ?? [])]) {
      total++;
      if (alarm.StateValue === 'ALARM') inAlarm.push(alarm.AlarmName ?? '');
    }
    NextToken = out.NextToken;
    if (!NextToken) break;
  }
  if (NextToken) throw new Inconclusive(`more than ${MAX_ALARM_PAGES} pages of alarms`);
  if (total === 0) throw new Inconclusive('no alarm matched');
  return { inAlarm: inAlarm.length, alarms: inAlarm, total };
}

// ---- Timeouts, errors, trimming -----------------------------------------------------------------

class Timeout extends Error {}

/** Runs with an abort signal and gives up after `ms` even if the work ignores the signal. */
export async function withTimeout<T>(ms: number, run: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const error = new Timeout(`timed out after ${ms} ms`);
      controller.abort(error);
      reject(error);
    }, ms);
  });
  try {
    return await Promise.race([run(controller.signal), expired]);
  } finally {
    clearTimeout(timer);
  }
}

/** A short reason: our own messages as they are, others by name and cause, secrets and URLs removed. */
function describe(error: unknown, secrets: string[]): string {
  if (error instanceof Timeout || error instanceof Inconclusive) return error.message;
  if (error instanceof OutboundError) {
    if (error.reason !== 'connection') return error.message;
    return error.code ? `request failed (${error.code})` : 'request failed';
  }
  if (!(error instanceof Error)) return clean(String(error), secrets);
  return clean(`${error.name}: ${error.message}`, secrets);
}

function clean(text: string, secrets: string[]): string {
  let out = text.split('\n')[0] ?? '';
  for (const secret of secrets) if (secret) out = out.split(secret).join('***');
  return out.replace(/\b[a-z][a-z0-9+.-]*:\/\/\S+/gi, '<url>').slice(0, 200);
}

/** The result as stored with the measurement: long strings and lists cut until the JSON fits `limit` bytes. */
export function trimValue(value: unknown, limit = VALUE_LIMIT): unknown {
  for (const [text, items] of [
    [Number.POSITIVE_INFINITY, Number.POSITIVE_INFINITY],
    [512, 20],
    [64, 5],
    [16, 2],
  ] as const) {
    const shrunk = shrink(value, text, items, 0);
    if (bytes(shrunk) <= limit) return shrunk;
  }
  let preview = JSON.stringify(value) ?? '';
  while (bytes({ truncated: true, preview }) > limit)
    preview = preview.slice(0, Math.floor(preview.length * 0.8));
  return { truncated: true, preview };
}

function shrink(value: unknown, text: number, items: number, depth: number): unknown {
  if (typeof value === 'string') return value.length > text ? `${value.slice(0, text)}…` : value;
  if (typeof value !== 'object' || value === null) return value;
  if (depth >= 8) return '…';
  if (Array.isArray(value)) {
    const kept = value.slice(0, items).map((item) => shrink(item, text, items, depth + 1));
    return value.length > items ? [...kept, `… ${value.length - items} more`] : kept;
  }
  const entries = Object.entries(value);
  const kept = entries.slice(0, items).map(([key, item]) => [key, shrink(item, text, items, depth + 1)]);
  return Object.fromEntries(
    entries.length > items ? [...kept, ['…', `${entries.length - items} more`]] : kept,
  );
}

function bytes(value: unknown): number {
  return Buffer.byteLength(JSON.stringify(value) ?? '');
}
