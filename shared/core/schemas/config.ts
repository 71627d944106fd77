import * as z from 'zod/mini';
import { repoPathProblem } from '../gitops';
import { RRule } from '../rrule';
import { Cel } from './cel';
import { Id, Int, MapKey, ResourceId, SecretName, StringMap, Text, Url, withinStoredSize } from './common';

export { Cel } from './cel';

/** The configuration objects of docs/api.md section 3 (inventory, deployments, policies). */

export const TimeZone = Text(64).check(
  z.refine((zone) => {
    try {
      new Intl.DateTimeFormat('en-US', { timeZone: zone });
      return true;
    } catch {
      return false;
    }
  }, 'must be an IANA time zone such as Europe/Berlin'),
);

export const RRuleText = Text(1024).check(
  z.superRefine((text, ctx) => {
    try {
      const options = RRule.parseString(text.replace(/^RRULE:/, ''));
      if (options.freq === undefined) throw new Error('FREQ is required');
      // MINUTELY and SECONDLY rules cost minutes of CPU to expand (docs/api.md section 3).
      if (options.freq > RRule.HOURLY) throw new Error('FREQ finer than HOURLY is not allowed');
      checkRRuleRanges(options as unknown as Record<string, unknown>);
      new RRule(options);
    } catch (error) {
      ctx.addIssue({
        code: 'custom',
        message: `rrule "${text}" does not parse: ${error instanceof Error ? error.message : String(error)}`,
      });
    }
  }),
);

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

// ---- Inventory -------------------------------------------------------------------------------

export const ResourceBody = z.strictObject({
  kind: Text(128),
  name: Text(255),
  metadata: z._default(StringMap, {}),
});
export type ResourceBody = z.infer<typeof ResourceBody>;

export const SyncBody = z.strictObject({
  resources: z.array(z.extend(ResourceBody, { id: ResourceId })).check(z.maxLength(10_000)),
  /** A set over one body syncs in pages of one client-chosen session (docs/api.md section 3). */
  page: z.optional(z.strictObject({ session: ResourceId, final: z.boolean() })),
});
export type SyncBody = z.infer<typeof SyncBody>;

export const EnvironmentBody = z.strictObject({
  name: z.optional(Text(255)),
  resourceSelector: Cel,
});
export type EnvironmentBody = z.infer<typeof EnvironmentBody>;

// ---- Deployments and job agents ----------------------------------------------------------------

export const WebhookAgent = z.strictObject({
  type: z.literal('webhook'),
  url: Url,
  secretRef: z.optional(SecretName),
  pollIntervalSeconds: z.optional(Int(1, 3600)),
});
export const GithubAgent = z.strictObject({
  type: z.literal('github'),
  owner: Text(100),
  repo: Text(100),
  workflow: Text(255),
  ref: Text(255),
  tokenSecretRef: SecretName,
  apiUrl: z.optional(Url),
});
/** A function by name or ARN; an alias or version goes in `qualifier`. */
export const LambdaAgent = z.strictObject({
  type: z.literal('lambda'),
  functionName: z
    .string()
    .check(
      z.regex(
        /^(arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:)?[A-Za-z0-9_-]{1,64}$/,
        'must be a function name or a function ARN (put an alias or version in qualifier)',
      ),
    ),
  qualifier: z.optional(
    z
      .string()
      .check(z.regex(/^(\$LATEST|[A-Za-z0-9_-]{1,128})$/, 'must be an alias name or a version number')),
  ),
});
/** `{{deployment.id}}`, `{{environment.id}}`, `{{resource.id|name}}`, `{{resource.metadata.KEY}}`, `{{version.tag}}`, `{{version.metadata.KEY}}`. */
export const TEMPLATE_FIELD =
  /^(deployment\.id|environment\.id|resource\.(id|name)|version\.tag|(resource|version)\.metadata\.[A-Za-z0-9_./-]{1,128})$/;
export const Template = (max: number) =>
  Text(max).check(
    z.superRefine((template, ctx) => {
      for (const [, field] of template.matchAll(/\{\{\s*([^}]*?)\s*\}\}/g)) {
        if (!TEMPLATE_FIELD.test(field ?? ''))
          ctx.addIssue({ code: 'custom', message: `{{${field}}} is not a field a template may use` });
      }
    }),
  );
/** Points an existing Argo CD Application at the version's revision, syncs it, and polls it until it is healthy. */
export const ArgoCdAgent = z.strictObject({
  type: z.literal('argocd'),
  serverUrl: Url,
  /** The Application per release target, e.g. `web-{{environment.id}}`. */
  application: Template(253),
  appNamespace: z.optional(Text(63)),
  /** The git revision (tag, branch or commit); default `{{version.tag}}`. */
  revision: z.optional(Template(255)),
  tokenSecretRef: SecretName,
  pollIntervalSeconds: z.optional(Int(1, 3600)),
});
/** Starts a run of a Terraform Cloud (or Enterprise) workspace with the version as run variables, and polls it. */
export const TerraformCloudAgent = z.strictObject({
  type: z.literal('terraform-cloud'),
  organization: Text(128),
  /** The workspace per release target, e.g. `web-{{environment.id}}`. */
  workspace: Template(90),
  tokenSecretRef: SecretName,
  apiUrl: z.optional(Url),
  /** Run variables (HCL strings) from templates; default `{"gantry_version": "{{version.tag}}"}`. */
  variables: z.optional(
    z
      .record(z.string().check(z.regex(/^[A-Za-z_][A-Za-z0-9_-]{0,127}$/)), Template(1024))
      .check(z.refine((map) => Object.keys(map).length <= 50, 'at most 50 variables')),
  ),
  pollIntervalSeconds: z.optional(Int(1, 3600)),
});
/** A git ref name as GitHub takes it: no `..`, `//`, `@{`, trailing `/`, `.` or `.lock`. */
const BranchName = z
  .string()
  .check(
    z.regex(
      /^(?!.*(\.\.|\/\/|@\{|\/\.|\.lock\/))[A-Za-z0-9][A-Za-z0-9._/+-]{0,199}(?<![./]|\.lock)$/,
      'must be a branch name',
    ),
  );
/**
 * Writes the version into a file of a configuration repository on GitHub, per environment, as a
 * commit or a pull request, and polls until it landed (and, with `argocd`, until Argo CD synced it).
 */
export const GitopsAgent = z
  .strictObject({
    type: z.literal('gitops'),
    owner: z
      .string()
      .check(z.regex(/^[A-Za-z0-9][A-Za-z0-9-]{0,38}$/, 'must be a GitHub user or organization')),
    repo: z.string().check(z.regex(/^(?!\.\.?$)[A-Za-z0-9._-]{1,100}$/, 'must be a GitHub repository name')),
    /** Default `main`. */
    branch: z.optional(BranchName),
    /** The file, one per environment: e.g. `envs/{{environment.id}}/{{deployment.id}}.json`. */
    path: Template(1024).check(
      z.superRefine((path, ctx) => {
        const problem = repoPathProblem(path);
        if (problem) ctx.addIssue({ code: 'custom', message: `the path ${problem}` });
        if (!/\{\{\s*environment\.id\s*\}\}/.test(path))
          ctx.addIssue({
            code: 'custom',
            message: 'the path must hold {{environment.id}}: one file per environment',
          });
      }),
    ),
    tokenSecretRef: SecretName,
    apiUrl: z.optional(Url),
    /** Default `commit` (on `branch`); `pull-request` opens one from `gantry/<deployment>/<environment>/<tag>`. */
    mode: z.optional(z.enum(['commit', 'pull-request'])),
    autoMerge: z.optional(z.boolean()),
    /** The Application that deploys the file: the job succeeds once it is synced to the commit and healthy. */
    argocd: z.optional(
      z.strictObject({
        serverUrl: Url,
        application: Template(253),
        appNamespace: z.optional(Text(63)),
        tokenSecretRef: SecretName,
      }),
    ),
    pollIntervalSeconds: z.optional(Int(1, 3600)),
  })
  .check(
    z.refine((agent) => !agent.autoMerge || agent.mode === 'pull-request', {
      message: 'autoMerge needs "mode": "pull-request"',
      path: ['autoMerge'],
    }),
  );
export const JobAgent = z.discriminatedUnion('type', [
  WebhookAgent,
  GithubAgent,
  LambdaAgent,
  ArgoCdAgent,
  TerraformCloudAgent,
  GitopsAgent,
]);
export type JobAgent = z.infer<typeof JobAgent>;

const VariableValue = z.string().check(z.maxLength(4096));
export const Variable = z.union([
  z.strictObject({ secretRef: SecretName }),
  z.strictObject({
    default: z.optional(VariableValue),
    overrides: z.optional(
      z.array(z.strictObject({ selector: Cel, value: VariableValue })).check(z.maxLength(50)),
    ),
  }),
]);
export const DeploymentBody = z
  .strictObject({
    name: z.optional(Text(255)),
    resourceSelector: z._default(Cel, 'true'),
    environments: z.optional(z.array(Id).check(z.maxLength(50))),
    jobAgent: JobAgent,
    jobTimeoutSeconds: z._default(Int(1, 7 * 24 * 3600), 3600),
    variables: z.optional(
      z
        .record(z.string().check(z.regex(/^[A-Za-z_][A-Za-z0-9_]{0,63}$/)), Variable)
        .check(z.refine((map) => Object.keys(map).length <= 100, 'at most 100 variables')),
    ),
    github: z.optional(
      z.strictObject({
        owner: Text(100),
        repo: Text(100),
        tokenSecretRef: SecretName,
        apiUrl: z.optional(Url),
      }),
    ),
  })
  .check(withinStoredSize);
export type DeploymentBody = z.infer<typeof DeploymentBody>;

// ---- Policies ---------------------------------------------------------------------------------

const Seconds = Int(0, 365 * 24 * 3600);

/** What GET shows for a plaintext header value of a verification metric (shared/core/policy/redact.ts). */
export const REDACTED = '[redacted]';

/** A verification request header: a plain value, or `{"secretRef"}` read at each measurement. */
const HeaderValue = z.union([
  z.string().check(
    z.maxLength(1024),
    z.refine(
      (value) => value !== REDACTED,
      `"${REDACTED}" is what a read shows for a header value: send the value itself again`,
    ),
  ),
  z.strictObject({ secretRef: SecretName }),
]);
const Headers = z
  .record(
    MapKey(128).check(z.regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, 'must be an HTTP header name')),
    HeaderValue,
  )
  .check(z.refine((map) => Object.keys(map).length <= 100, 'at most 100 entries'));

const MetricProvider = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('http'),
    url: Url,
    method: z._default(z.enum(['GET', 'POST']), 'GET'),
    headers: z.optional(Headers),
    body: z.optional(z.string().check(z.maxLength(65_536))),
    timeoutSeconds: z.optional(Int(1, 60)),
  }),
  z.strictObject({ type: z.literal('prometheus'), url: Url, query: Text(4096) }),
  z.strictObject({
    type: z.literal('datadog'),
    query: Text(4096),
    apiUrl: z.optional(Url),
    apiKeySecretRef: SecretName,
    appKeySecretRef: SecretName,
    windowSeconds: z.optional(Int(1, 86_400)),
  }),
  z.strictObject({
    type: z.literal('cloudwatch'),
    namespace: Text(255),
    metricName: Text(255),
    dimensions: z.optional(StringMap),
    stat: z._default(Text(64), 'Average'),
    periodSeconds: z._default(Int(1, 86_400), 60),
    region: z.optional(Text(32)),
  }),
  z.strictObject({
    type: z.literal('cloudwatch-alarms'),
    alarmNames: z.optional(z.array(Text(255)).check(z.minLength(1), z.maxLength(100))),
    alarmNamePrefix: z.optional(Text(255)),
    region: z.optional(Text(32)),
  }),
]);

export const Metric = z.strictObject({
  name: Text(128),
  provider: MetricProvider,
  intervalSeconds: Int(1, 86_400),
  count: Int(1, 1000),
  failureLimit: z._default(Int(0, 1000), 0),
  inconclusiveLimit: z.optional(Int(0, 1000)),
  consecutiveSuccessLimit: z.optional(Int(1, 1000)),
  initialDelaySeconds: z._default(Seconds, 0),
  successCondition: Cel,
});

export const Rules = z.strictObject({
  approval: z.optional(
    z.strictObject({
      minApprovals: z._default(Int(1, 20), 1),
      approvers: z.optional(z.array(Text(128)).check(z.maxLength(200))),
      expiresAfterSeconds: z.optional(Int(60, 90 * 24 * 3600)),
    }),
  ),
  environmentProgression: z.optional(
    z.strictObject({
      dependsOnEnvironments: z.array(Id).check(z.minLength(1), z.maxLength(20)),
      minSoakSeconds: z.optional(Seconds),
      minSuccessPercentage: z.optional(z.number().check(z.minimum(0), z.maximum(100))),
    }),
  ),
  gradualRollout: z.optional(
    z.strictObject({ intervalSeconds: Int(0, 86_400), waitForVerified: z.optional(z.boolean()) }),
  ),
  deploymentWindow: z.optional(
    z.strictObject({
      rrule: RRuleText,
      durationMinutes: Int(1, 7 * 24 * 60),
      timezone: z._default(TimeZone, 'UTC'),
      mode: z._default(z.enum(['allow', 'deny']), 'allow'),
    }),
  ),
  verification: z.optional(
    z.strictObject({ metrics: z.array(Metric).check(z.minLength(1), z.maxLength(20)) }),
  ),
  rollback: z.optional(
    z.strictObject({
      onJobFailure: z._default(z.boolean(), false),
      onVerificationFailure: z._default(z.boolean(), false),
      scope: z._default(z.enum(['target', 'environment']), 'target'),
    }),
  ),
  concurrency: z.optional(z.strictObject({ maxParallel: Int(1, 10_000) })),
  halt: z.optional(z.strictObject({ maxFailures: Int(1, 10_000) })),
  trafficDrain: z.optional(z.strictObject({ seconds: Int(0, 86_400) })),
  /** Deploy A before B (docs/api.md section 10); the condition is CEL over `version` and `dependency`. */
  deploymentDependency: z.optional(
    z.strictObject({
      dependsOn: z
        .array(z.strictObject({ deployment: Id, versionCondition: z.optional(Cel) }))
        .check(z.minLength(1), z.maxLength(20)),
    }),
  ),
});
export type Rules = z.infer<typeof Rules>;

export const PolicyBody = z
  .strictObject({
    name: z.optional(Text(255)),
    targets: Cel,
    priority: z._default(Int(-1000, 1000), 0),
    rules: Rules,
  })
  .check(withinStoredSize);
export type PolicyBody = z.infer<typeof PolicyBody>;
