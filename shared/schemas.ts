import { z } from 'zod';
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
const StringMap = z.record(z.string().min(1).max(128), z.string().max(1024));

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
      new RRule(options);
    } catch (error) {
      ctx.addIssue({
        code: 'custom',
        message: `rrule "${text}" does not parse: ${error instanceof Error ? error.message : String(error)}`,
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
export const DeploymentBody = z.strictObject({
  name: Text(255).optional(),
  resourceSelector: Cel.default('true'),
  environments: z.array(Id).max(50).optional(),
  jobAgent: JobAgent,
  jobTimeoutSeconds: z
    .int()
    .min(1)
    .max(7 * 24 * 3600)
    .default(3600),
  variables: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,63}$/), Variable).optional(),
  github: z
    .strictObject({ owner: Text(100), repo: Text(100), tokenSecretRef: SecretName, apiUrl: Url.optional() })
    .optional(),
});
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

export const PolicyBody = z.strictObject({
  name: Text(255).optional(),
  targets: Cel,
  priority: z.int().min(-1000).max(1000).default(0),
  rules: Rules,
});
export type PolicyBody = z.infer<typeof PolicyBody>;

// ---- Versions, jobs, overrides ----------------------------------------------------------------

export const VersionBody = z.strictObject({
  tag: Tag,
  status: z.enum(['ready', 'building']).default('ready'),
  metadata: StringMap.default({}),
  config: z.record(z.string(), z.unknown()).default({}),
});
export type VersionBody = z.infer<typeof VersionBody>;

export const VersionPatch = z.strictObject({ status: z.enum(['ready', 'rejected']) });

export const JobStatusBody = z.strictObject({
  status: z.enum(['in_progress', 'successful', 'failed']),
  message: z.string().max(2048).optional(),
  links: z.record(z.string().min(1).max(64), Url).optional(),
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
