import * as z from 'zod';
import { CelCompileError, compileCel } from './cel';
import { RRule } from './rrule';

/** Every object of API.md section 3-7, validated at the edge and turned into the OpenAPI document. */

export const ID_PATTERN = /^[a-z0-9][a-z0-9-]{0,62}$/;
export const RESOURCE_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:@-]{0,254}$/;
export const TAG_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$/;

export const Id = z.string().regex(ID_PATTERN, 'must match ^[a-z0-9][a-z0-9-]{0,62}$');
export const ResourceId = z
  .string()
  .regex(RESOURCE_ID_PATTERN, 'must match ^[A-Za-z0-9][A-Za-z0-9._:@-]{0,254}$');
export const Tag = z.string().regex(TAG_PATTERN, 'must match ^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$');
export const SecretName = z
  .string()
  .regex(/^[A-Za-z0-9/_+=.@-]{1,512}$/, 'must be a secret name (letters, digits and /_+=.@-)');
const Url = z.url({ protocol: /^https?$/ }).max(2048);
const Text = (max: number) => z.string().min(1).max(max);
/** A map key; `__proto__` would become an object's prototype instead of a key. */
const MapKey = (max: number) =>
  z
    .string()
    .min(1)
    .max(max)
    .refine((key) => key !== '__proto__', 'may not be "__proto__"');
const StringMap = z
  .record(MapKey(128), z.string().max(1024))
  .refine((map) => Object.keys(map).length <= 100, 'at most 100 entries');

/** A CEL expression, compiled when written so a bad one is a 400 that names it. */
export const Cel = z
  .string()
  .min(1)
  .max(4096)
  .superRefine((expression, ctx) => {
    try {
      compileCel(expression);
    } catch (error) {
      ctx.addIssue({
        code: 'custom',
        message: error instanceof CelCompileError ? error.message : 'invalid CEL',
      });
    }
  });

export const TimeZone = z
  .string()
  .min(1)
  .max(64)
  .refine((zone) => {
    try {
      new Intl.DateTimeFormat('en-US', { timeZone: zone });
      return true;
    } catch {
      return false;
    }
  }, 'must be an IANA time zone such as Europe/Berlin');

export const RRuleText = z
  .string()
  .min(1)
  .max(1024)
  .superRefine((text, ctx) => {
    try {
      const options = RRule.parseString(text.replace(/^RRULE:/, ''));
      if (options.freq === undefined) throw new Error('FREQ is required');
      checkRRuleRanges(options as unknown as Record<string, unknown>);
      new RRule(options);
    } catch (error) {
      ctx.addIssue({
        code: 'custom',
        message: `rrule "${text}" does not parse: ${error instanceof Error ? error.message : String(error)}`,
      });
    }
  });

const RRULE_RANGES: Record<string, [number, number, boolean?]> = {
  interval: [1, 1000],
  count: [1, 100_000],
  byhour: [0, 23],
  byminute: [0, 59],
  bysecond: [0, 59],
  bymonth: [1, 12],
  bymonthday: [-31, 31, true],
  byyearday: [-366, 366, true],
  byweekno: [-53, 53, true],
  bysetpos: [-366, 366, true],
};

/** The rrule package accepts out-of-range parts (BYHOUR=25 rolls over; INTERVAL=-1 never ends). */
function checkRRuleRanges(options: Record<string, unknown>): void {
  for (const [part, [min, max, nonZero]] of Object.entries(RRULE_RANGES)) {
    const value = options[part];
    if (value === undefined || value === null) continue;
    for (const n of Array.isArray(value) ? value : [value]) {
      if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max || (nonZero && n === 0)) {
        throw new Error(`${part.toUpperCase()}=${String(n)} is out of range`);
      }
    }
  }
}

/**
 * Arbitrary JSON (version `config`) must fit DynamoDB: numbers finite, integers exact, magnitudes
 * within DynamoDB's range; the stored object well under its 400 KB item limit.
 */
const MAX_STORED_BYTES = 300 * 1024;
function storableNumber(n: number): boolean {
  if (!Number.isFinite(n)) return false;
  if (Number.isInteger(n)) return Number.isSafeInteger(n);
  const magnitude = Math.abs(n);
  return magnitude >= 1e-130 && magnitude < 9.9e125;
}
function findUnstorable(value: unknown, path: string[] = []): string[] | undefined {
  if (typeof value === 'number') return storableNumber(value) ? undefined : path;
  if (value && typeof value === 'object') {
    for (const [key, child] of Object.entries(value)) {
      if (key === '__proto__') return [...path, key];
      const found = findUnstorable(child, [...path, key]);
      if (found) return found;
    }
  }
  return undefined;
}
const withinStoredSize = (value: unknown) =>
  Buffer.byteLength(JSON.stringify(value) ?? '') <= MAX_STORED_BYTES;
const STORED_SIZE_MESSAGE = 'the object is larger than the 300 KiB Gantry stores';

const JsonConfig = z
  .record(
    z
      .string()
      .max(256)
      .refine((key) => key !== '__proto__', 'may not be "__proto__"'),
    z.unknown(),
  )
  .superRefine((value, ctx) => {
    const path = findUnstorable(value);
    if (path) {
      ctx.addIssue({
        code: 'custom',
        path,
        message:
          'numbers must be finite, integers within ±2^53, magnitudes between 1e-130 and 9.9e125; no "__proto__" keys',
      });
    }
  });

// ---- Inventory -------------------------------------------------------------------------------

export const ResourceBody = z.strictObject({
  kind: Text(128),
  name: Text(255),
  metadata: StringMap.default({}),
});
export type ResourceBody = z.infer<typeof ResourceBody>;

export const SyncBody = z.strictObject({
  resources: z.array(ResourceBody.extend({ id: ResourceId })).max(10_000),
});

export const EnvironmentBody = z.strictObject({
  name: Text(255).optional(),
  resourceSelector: Cel,
});
export type EnvironmentBody = z.infer<typeof EnvironmentBody>;

// ---- Deployments and job agents ----------------------------------------------------------------

export const WebhookAgent = z.strictObject({
  type: z.literal('webhook'),
  url: Url,
  secretRef: SecretName.optional(),
  pollIntervalSeconds: z.int().min(1).max(3600).optional(),
});
export const GithubAgent = z.strictObject({
  type: z.literal('github'),
  owner: Text(100),
  repo: Text(100),
  workflow: Text(255),
  ref: Text(255),
  tokenSecretRef: SecretName,
  apiUrl: Url.optional(),
});
export const JobAgent = z.discriminatedUnion('type', [WebhookAgent, GithubAgent]);
export type JobAgent = z.infer<typeof JobAgent>;

export const Variable = z.union([
  z.strictObject({ secretRef: SecretName }),
  z.strictObject({
    default: z.string().max(4096).optional(),
    overrides: z
      .array(z.strictObject({ selector: Cel, value: z.string().max(4096) }))
      .max(50)
      .optional(),
  }),
]);
export const DeploymentBody = z
  .strictObject({
    name: Text(255).optional(),
    resourceSelector: Cel.default('true'),
    environments: z.array(Id).max(50).optional(),
    jobAgent: JobAgent,
    jobTimeoutSeconds: z
      .int()
      .min(1)
      .max(7 * 24 * 3600)
      .default(3600),
    variables: z
      .record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,63}$/), Variable)
      .refine((map) => Object.keys(map).length <= 100, 'at most 100 variables')
      .optional(),
    github: z
      .strictObject({ owner: Text(100), repo: Text(100), tokenSecretRef: SecretName, apiUrl: Url.optional() })
      .optional(),
  })
  .refine(withinStoredSize, STORED_SIZE_MESSAGE);
export type DeploymentBody = z.infer<typeof DeploymentBody>;

// ---- Policies ---------------------------------------------------------------------------------

const Seconds = z
  .int()
  .min(0)
  .max(365 * 24 * 3600);

const MetricProvider = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('http'),
    url: Url,
    method: z.enum(['GET', 'POST']).default('GET'),
    headers: StringMap.optional(),
    body: z.string().max(65_536).optional(),
    timeoutSeconds: z.int().min(1).max(60).optional(),
  }),
  z.strictObject({ type: z.literal('prometheus'), url: Url, query: Text(4096) }),
  z.strictObject({
    type: z.literal('datadog'),
    query: Text(4096),
    apiUrl: Url.optional(),
    apiKeySecretRef: SecretName,
    appKeySecretRef: SecretName,
    windowSeconds: z.int().min(1).max(86_400).optional(),
  }),
  z.strictObject({
    type: z.literal('cloudwatch'),
    namespace: Text(255),
    metricName: Text(255),
    dimensions: StringMap.optional(),
    stat: Text(64).default('Average'),
    periodSeconds: z.int().min(1).max(86_400).default(60),
    region: Text(32).optional(),
  }),
  z.strictObject({
    type: z.literal('cloudwatch-alarms'),
    alarmNames: z.array(Text(255)).min(1).max(100).optional(),
    alarmNamePrefix: Text(255).optional(),
    region: Text(32).optional(),
  }),
]);

export const Metric = z.strictObject({
  name: Text(128),
  provider: MetricProvider,
  intervalSeconds: z.int().min(1).max(86_400),
  count: z.int().min(1).max(1000),
  failureLimit: z.int().min(0).max(1000).default(0),
  inconclusiveLimit: z.int().min(0).max(1000).optional(),
  consecutiveSuccessLimit: z.int().min(1).max(1000).optional(),
  initialDelaySeconds: Seconds.default(0),
  successCondition: Cel,
});

export const Rules = z.strictObject({
  approval: z
    .strictObject({
      minApprovals: z.int().min(1).max(20).default(1),
      approvers: z.array(Text(128)).max(200).optional(),
      expiresAfterSeconds: z
        .int()
        .min(60)
        .max(90 * 24 * 3600)
        .optional(),
    })
    .optional(),
  environmentProgression: z
    .strictObject({
      dependsOnEnvironments: z.array(Id).min(1).max(20),
      minSoakSeconds: Seconds.optional(),
      minSuccessPercentage: z.number().min(0).max(100).optional(),
    })
    .optional(),
  gradualRollout: z
    .strictObject({ intervalSeconds: z.int().min(0).max(86_400), waitForVerified: z.boolean().optional() })
    .optional(),
  deploymentWindow: z
    .strictObject({
      rrule: RRuleText,
      durationMinutes: z
        .int()
        .min(1)
        .max(7 * 24 * 60),
      timezone: TimeZone.default('UTC'),
      mode: z.enum(['allow', 'deny']).default('allow'),
    })
    .optional(),
  verification: z.strictObject({ metrics: z.array(Metric).min(1).max(20) }).optional(),
  rollback: z
    .strictObject({
      onJobFailure: z.boolean().default(false),
      onVerificationFailure: z.boolean().default(false),
      scope: z.enum(['target', 'environment']).default('target'),
    })
    .optional(),
  concurrency: z.strictObject({ maxParallel: z.int().min(1).max(10_000) }).optional(),
  halt: z.strictObject({ maxFailures: z.int().min(1).max(10_000) }).optional(),
  trafficDrain: z.strictObject({ seconds: z.int().min(0).max(86_400) }).optional(),
});
export type Rules = z.infer<typeof Rules>;

export const PolicyBody = z
  .strictObject({
    name: Text(255).optional(),
    targets: Cel,
    priority: z.int().min(-1000).max(1000).default(0),
    rules: Rules,
  })
  .refine(withinStoredSize, STORED_SIZE_MESSAGE);
export type PolicyBody = z.infer<typeof PolicyBody>;

// ---- Versions, jobs, overrides ----------------------------------------------------------------

export const VersionBody = z
  .strictObject({
    tag: Tag,
    status: z.enum(['ready', 'building']).default('ready'),
    metadata: StringMap.default({}),
    config: JsonConfig.default({}),
  })
  .refine(withinStoredSize, STORED_SIZE_MESSAGE);
export type VersionBody = z.infer<typeof VersionBody>;

export const VersionPatch = z.strictObject({ status: z.enum(['ready', 'rejected']) });

export const JobStatusBody = z.strictObject({
  status: z.enum(['in_progress', 'successful', 'failed']),
  message: z.string().max(2048).optional(),
  links: z.record(MapKey(64), Url).optional(),
});
export type JobStatusBody = z.infer<typeof JobStatusBody>;

export const TargetRef = z.strictObject({ deployment: Id, environment: Id, resource: ResourceId });
export const RollbackBody = TargetRef.extend({
  toVersion: Tag.optional(),
  reason: z.string().max(1024).optional(),
});
export const ForceBody = TargetRef.extend({ tag: Tag, reason: Text(1024) });
export const ReasonBody = z.strictObject({ reason: z.string().max(1024).optional() });
export const ApprovalDecisionBody = z.strictObject({
  decision: z.enum(['approve', 'reject']),
  approver: Text(128),
  reason: z.string().max(1024).optional(),
});

// ---- API keys ---------------------------------------------------------------------------------

export const Scope = z.enum(['admin', 'read', 'versions:write', 'jobs:write', 'approvals:write']);
export type Scope = z.infer<typeof Scope>;
export const ApiKey = z.strictObject({
  id: z.string().regex(/^[A-Za-z0-9._-]{1,128}$/),
  secret: z.string().min(16).max(512),
  scopes: z.array(Scope).min(1),
  deployments: z.array(Id).optional(),
});
export type ApiKey = z.infer<typeof ApiKey>;
export const ApiKeys = z.array(ApiKey);
