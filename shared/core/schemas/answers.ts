import * as z from 'zod/mini';
import { JOB_KINDS, JOB_STATUSES, RELEASE_STATUSES, WAITING_FOR } from '../status';
import { Id, ResourceId, StringMap, Tag } from './common';
import { DeploymentBody, EnvironmentBody, PolicyBody, ResourceBody } from './config';

/**
 * What every JSON route answers on success (docs/api.md), one schema per answer, named as the OpenAPI
 * document's components (functions/http/openapi.ts). Routes name theirs by `answer`; the handlers use
 * only the types (`Answer<'Job'>`), so no handler bundles these schemas.
 * test/integration/openapi-answers.test.ts checks live answers against them.
 */

const Timestamp = z.iso.datetime();
const Text = z.string();
const Count = z.int().check(z.minimum(0));
const Warnings = z.array(Text);
const ReleaseStatus = z.enum(RELEASE_STATUSES);
const WaitingFor = z.nullable(z.enum(WAITING_FOR));
const page = <T extends z.ZodMiniType>(item: T) =>
  z.object({ items: z.array(item), nextToken: z.optional(Text) });

// ---- Inventory and configuration (section 3) --------------------------------------------------

/** A stored object: its id, its body as stored (defaults filled in), when; `warnings` only on PUT. */
const stored = <S extends z.core.$ZodShape>(id: z.ZodMiniType, shape: S) =>
  z.object({
    id,
    ...shape,
    createdAt: Timestamp,
    updatedAt: Timestamp,
    warnings: z.optional(Warnings),
  });

/** A synced resource also names its provider. */
const Resource = stored(ResourceId, { ...ResourceBody.shape, provider: z.optional(Id) });
const Environment = stored(Id, EnvironmentBody.shape);
const Deployment = stored(Id, DeploymentBody.shape);
/** A plaintext header value of a verification metric reads as "[redacted]". */
const Policy = stored(Id, PolicyBody.shape);

const SyncCounts = z.object({ created: Count, updated: Count, deleted: Count, unchanged: Count });

// ---- Versions and releases (section 4) --------------------------------------------------------

const VersionItem = z.object({
  deployment: Id,
  tag: Tag,
  status: z.enum(['building', 'ready', 'rejected']),
  metadata: StringMap,
  createdAt: Timestamp,
  updatedAt: Timestamp,
});
const Version = z.extend(VersionItem, { config: z.record(z.string(), z.unknown()) });

const Verdict = z.enum(['running', 'passed', 'failed']);
const Measurement = z.object({
  outcome: z.enum(['success', 'failure', 'inconclusive']),
  value: z.optional(z.unknown()),
  error: z.optional(Text),
  at: Timestamp,
});
const Verification = z.object({
  status: Verdict,
  startedAt: Timestamp,
  finishedAt: z.nullable(Timestamp),
  metrics: z.array(
    z.object({
      name: Text,
      policy: Id,
      status: Verdict,
      measurements: Count,
      successes: Count,
      failures: Count,
      inconclusive: Count,
      last: z.nullable(Measurement),
    }),
  ),
});

const Release = z.object({
  environment: Id,
  resource: ResourceId,
  status: ReleaseStatus,
  /** Set while `waiting`. */
  waitingFor: WaitingFor,
  jobId: z.nullable(Text),
  startedAt: z.nullable(Timestamp),
  finishedAt: z.nullable(Timestamp),
  /** The version a `rolling_back` or `rolled_back` release goes back to. */
  rolledBackTo: z.nullable(Tag),
  message: z.nullable(Text),
  verification: z.nullable(Verification),
});

const VersionCreated = z.object({
  version: Version,
  /** The first 1,000 release targets; `releaseTargetCount` counts them all. */
  releaseTargets: z.array(z.object({ environment: Id, resource: ResourceId })),
  releaseTargetCount: Count,
  warnings: Warnings,
});

const VersionDetail = z.object({
  version: Version,
  /** Releases counted per status, all of them. */
  summary: z.partialRecord(ReleaseStatus, Count),
  /** One page of the releases. */
  releases: z.array(Release),
  nextToken: z.optional(Text),
});

const ReleaseTarget = z.object({
  deployment: Id,
  environment: Id,
  resource: ResourceId,
  /** The last successful version. */
  currentVersion: z.nullable(Tag),
  desiredVersion: z.nullable(Tag),
  /** The live status: the active release's, `successful` at rest, null before any release. */
  status: z.nullable(ReleaseStatus),
  waitingFor: WaitingFor,
  jobId: z.nullable(Text),
  lastSucceededAt: z.nullable(Timestamp),
});

const PlanTarget = z.object({
  environment: Id,
  resource: ResourceId,
  status: ReleaseStatus,
  waitingFor: WaitingFor,
  message: z.nullable(Text),
  policies: z.array(Id),
  /** In order; `detail` holds the merged rule. */
  gates: z.array(
    z.object({
      gate: z.enum([
        'environment_progression',
        'approval',
        'deployment_window',
        'gradual_rollout',
        'concurrency',
        'freeze',
        'deployment_dependency',
      ]),
      policies: z.array(Id),
      detail: z.record(z.string(), z.unknown()),
    }),
  ),
  position: z.nullable(Count),
  rolloutOffsetSeconds: z.nullable(z.number()),
  nextWindowOpening: z.nullable(Timestamp),
  estimatedStart: z.nullable(Timestamp),
  verification: z.array(z.object({ name: Text, policy: Id, count: Count, intervalSeconds: z.number() })),
  rollback: z.nullable(
    z.object({
      onJobFailure: z.boolean(),
      onVerificationFailure: z.boolean(),
      scope: z.enum(['target', 'environment']),
      policies: z.array(Id),
    }),
  ),
  /** Each variable's value and where it came from, or the secret it names (never its value). */
  variables: z.record(
    z.string(),
    z.union([
      z.object({
        value: Text,
        from: z.union([z.literal('default'), z.templateLiteral(['override ', z.int()])]),
      }),
      z.object({ secretRef: Text }),
    ]),
  ),
});

/** A CEL expression that errors on one resource. */
const PlanWarning = z.object({
  expression: Text,
  resource: ResourceId,
  environment: z.optional(Id),
  message: Text,
});

const Plan = z.object({
  version: Version,
  generatedAt: Timestamp,
  assumptions: z.array(Text),
  targetCount: Count,
  targets: z.array(PlanTarget),
  /** The first 100; `warningCount` counts them all. */
  warnings: z.array(PlanWarning),
  warningCount: Count,
  nextToken: z.optional(Text),
});

// ---- Overrides (section 5) and jobs (section 6) -----------------------------------------------

const PauseState = z.object({
  paused: z.boolean(),
  pausedBy: z.nullable(Text),
  reason: z.nullable(Text),
  updatedAt: Timestamp,
});

const RollbackStarted = z.object({ jobId: Text, toVersion: Tag });

const Job = z.object({
  jobId: Text,
  kind: z.enum(JOB_KINDS),
  status: z.enum(JOB_STATUSES),
  deployment: Id,
  version: Tag,
  environment: Id,
  resource: ResourceId,
  message: z.nullable(Text),
  links: z.record(z.string(), Text),
  createdAt: Timestamp,
  updatedAt: Timestamp,
});

// ---- Approvals (section 7) --------------------------------------------------------------------

const Approval = z.object({
  approvalId: Text,
  deployment: Id,
  version: Tag,
  environment: Id,
  status: z.enum(['pending', 'approved', 'rejected', 'expired']),
  minApprovals: Count,
  /** Who may approve; null: anyone. */
  approvers: z.nullable(z.array(Text)),
  policies: z.array(Id),
  targets: z.array(ResourceId),
  decisions: z.array(
    z.object({
      approver: Text,
      decision: z.enum(['approve', 'reject']),
      at: Timestamp,
      /** `link`, `signin`, `slack` or `api:<key id>`. */
      via: Text,
      reason: z.optional(Text),
      /** The name typed into the review form: a claim, not an identity. */
      claim: z.optional(Text),
    }),
  ),
  expiresAt: Timestamp,
  createdAt: Timestamp,
  decidedAt: z.nullable(Timestamp),
});

/** What Slack shows the one who clicked; `{}` for a click Gantry ignores. */
const SlackReply = z.object({
  response_type: z.optional(z.literal('ephemeral')),
  text: z.optional(Text),
});

// ---- Events (section 8) -----------------------------------------------------------------------

const Event = z.object({
  id: Text,
  time: Timestamp,
  /** One of the detail types of section 8. */
  detailType: Text,
  deployment: z.optional(Id),
  version: z.optional(Tag),
  environment: z.optional(Id),
  resource: z.optional(ResourceId),
  actor: z.object({ keyId: z.optional(Text), approver: z.optional(Text), system: z.optional(Text) }),
  data: z.optional(z.record(z.string(), z.unknown())),
});

// ---- Delivery metrics (section 10) ------------------------------------------------------------

/** Seconds read from log-scale buckets (within 9.1 %); null without samples. */
const Seconds = z.nullable(Count);
/** The four DORA measures over whole UTC days, and the counts they come from. */
const DeliveryMetrics = z.object({
  /** null: all deployments, all environments. */
  deployment: z.nullable(Id),
  environment: z.nullable(Id),
  /** The first day's start and the last day's end. */
  since: Timestamp,
  until: Timestamp,
  deploymentsPerDay: z.number().check(z.minimum(0)),
  leadTimeSeconds: z.object({ p50: Seconds, p90: Seconds }),
  /** Releases failed or rolled back over all that finished; null when none finished. */
  changeFailureRate: z.nullable(z.number().check(z.minimum(0), z.maximum(1))),
  timeToRestoreSeconds: z.object({ p50: Seconds }),
  counts: z.object({
    successful: Count,
    failed: Count,
    rolledBack: Count,
    finished: Count,
    restores: Count,
    leadTimes: Count,
    days: Count,
  }),
});

// ---- Freezes (section 10) ----------------------------------------------------------------------

const Occurrence = z.object({ start: Timestamp, end: Timestamp, summary: z.nullable(Text) });
const Freeze = z.object({
  id: Id,
  reason: Text,
  selector: Text,
  until: z.nullable(Timestamp),
  /** A calendar freeze: its feed's last good copy (the occurrences not yet over) and the last attempt. */
  calendar: z.optional(
    z.object({
      icsUrl: Text,
      refreshSeconds: Count,
      fetchedAt: z.nullable(Timestamp),
      attemptedAt: z.nullable(Timestamp),
      lastError: z.nullable(Text),
      occurrences: z.array(Occurrence),
      truncated: z.boolean(),
    }),
  ),
  active: z.boolean(),
  /** While active: when it stops holding releases (null: when deleted). */
  activeUntil: z.nullable(Timestamp),
  /** A calendar freeze not active now: its next occurrence's start. */
  nextStart: z.nullable(Timestamp),
  createdAt: Timestamp,
  updatedAt: Timestamp,
  updatedBy: z.nullable(Text),
});
/** The status page's banner: active freezes that hold the deployment, where, and until when (null: deleted). */
const UiFreezes = z.object({
  items: z.array(z.object({ id: Id, reason: Text, until: z.nullable(Timestamp), environments: z.array(Id) })),
});

// ---- Subscriptions (section 10) ----------------------------------------------------------------

const Subscription = z.object({
  id: Id,
  url: Text,
  /** The name of the secret deliveries are signed with, never its value. */
  secretRef: z.optional(Text),
  detailTypes: z.optional(z.array(Text)),
  selector: z.optional(Text),
  /** Events published from then on are delivered (every consumer sees a new subscription by then). */
  activeFrom: Timestamp,
  /** Deliveries keep failing: three failed attempts in a row, or one given up; until one goes through. */
  failing: z.boolean(),
  failingSince: z.nullable(Timestamp),
  consecutiveFailures: Count,
  lastError: z.nullable(Text),
  lastFailureAt: z.nullable(Timestamp),
  createdAt: Timestamp,
  updatedAt: Timestamp,
});
const SubscriptionDelivery = z.object({
  /** The X-Gantry-Delivery header of every attempt. */
  id: Text,
  eventId: Text,
  detailType: Text,
  deployment: z.optional(Id),
  version: z.optional(Tag),
  environment: z.optional(Id),
  resource: z.optional(ResourceId),
  status: z.enum(['pending', 'retrying', 'delivered', 'failed']),
  attempts: Count,
  /** The HTTP status of the last attempt; null when it got no answer. */
  lastStatus: z.nullable(z.int()),
  lastError: z.nullable(Text),
  nextAttemptAt: z.nullable(Timestamp),
  createdAt: Timestamp,
  updatedAt: Timestamp,
});
/** A subscription and its last deliveries, newest event first. */
const SubscriptionDetail = z.extend(Subscription, { deliveries: z.array(SubscriptionDelivery) });

// ---- Health, the document, the status page (sections 1 and 11) ---------------------------------

const Health = z.object({ ok: z.literal(true) });
const OpenApiDocument = z.looseObject({ openapi: Text, info: z.looseObject({}), paths: z.looseObject({}) });

const ViewLink = z.object({ url: Text, expiresAt: Timestamp, deployment: z.nullable(Id) });

const Segment = z.object({
  phase: z.enum(['waiting', 'deploying', 'verifying', 'rolling_back']),
  label: Text,
  start: Timestamp,
  end: z.nullable(Timestamp),
  until: z.nullable(Timestamp),
  planned: z.boolean(),
});
const Marker = z.object({
  time: Timestamp,
  kind: z.enum(['succeeded', 'failed', 'rolled_back', 'cancelled', 'superseded', 'approval', 'override']),
  label: Text,
});
/** The Gantt rows of the status page: one per release target. */
const Timeline = {
  now: Timestamp,
  start: Timestamp,
  end: Timestamp,
  rows: z.array(
    z.object({
      environment: Id,
      resource: ResourceId,
      status: ReleaseStatus,
      waitingFor: WaitingFor,
      message: z.nullable(Text),
      segments: z.array(Segment),
      markers: z.array(Marker),
    }),
  ),
};

const UiDeployments = z.object({
  items: z.array(z.object({ id: Id, name: Text })),
  /** When the view token expires. */
  expiresAt: Timestamp,
});
const UiSummary = z.object({
  now: Timestamp,
  deployment: z.object({ id: Id, name: Text, paused: z.boolean(), pausedReason: z.nullable(Text) }),
  /** The version shown; null when the deployment has none. */
  version: z.nullable(z.object({ tag: Tag, status: VersionItem.shape.status, createdAt: Timestamp })),
  environments: z.array(
    z.object({
      id: Id,
      name: Text,
      total: Count,
      successful: Count,
      counts: z.partialRecord(ReleaseStatus, Count),
      waitingFor: z.partialRecord(z.enum(WAITING_FOR), Count),
      /** Versions the targets run now, most targets first (null: never deployed). */
      current: z.array(z.object({ version: z.nullable(Tag), count: Count })),
      /** Targets running a version not named in `current`. */
      others: z.optional(Count),
    }),
  ),
  total: Count,
  successful: Count,
});
const UiTargets = page(
  z.object({
    environment: Id,
    resource: ResourceId,
    name: Text,
    status: ReleaseStatus,
    waitingFor: WaitingFor,
    message: z.nullable(Text),
    currentVersion: z.nullable(Tag),
    startedAt: z.nullable(Timestamp),
    finishedAt: z.nullable(Timestamp),
  }),
);
const UiVersions = z.object({
  items: z.array(z.object({ tag: Tag, status: VersionItem.shape.status, createdAt: Timestamp })),
});
const UiTimeline = z.object({ version: Version, ...Timeline, nextToken: z.optional(Text) });
const UiPlan = z.object({
  version: Version,
  assumptions: z.array(Text),
  warnings: Warnings,
  ...Timeline,
  /** How many targets the plan has; the page draws the first 100. */
  rowCount: Count,
});

/** The status page's chart: the measures of the last 30 days and the releases that finished each day. */
const UiDeliveryMetrics = z.extend(DeliveryMetrics, {
  daily: z.array(z.object({ day: z.iso.date(), successful: Count, failed: Count, rolledBack: Count })),
});

/** Every answer a route may name, by its name in the OpenAPI document. */
export const ANSWERS = {
  Health,
  OpenApiDocument,
  EventList: page(Event),
  Resource,
  ResourceList: page(Resource),
  Environment,
  EnvironmentList: page(Environment),
  Deployment,
  DeploymentList: page(Deployment),
  Policy,
  PolicyList: page(Policy),
  SyncCounts,
  VersionCreated,
  VersionList: page(VersionItem),
  VersionDetail,
  ReleaseTargetList: page(ReleaseTarget),
  Plan,
  PauseState,
  Release,
  RollbackStarted,
  Job,
  Approval,
  ApprovalList: page(Approval),
  SlackReply,
  ViewLink,
  Freeze,
  FreezeList: page(Freeze),
  UiFreezes,
  Subscription,
  SubscriptionList: page(Subscription),
  SubscriptionDetail,
  UiDeployments,
  UiSummary,
  UiTargets,
  UiVersions,
  UiTimeline,
  UiPlan,
  DeliveryMetrics,
  UiDeliveryMetrics,
};
export type AnswerName = keyof typeof ANSWERS;
/** An answer's body: what the implementation of a route naming it returns (functions/http/api.ts). */
export type Answer<N extends AnswerName> = z.output<(typeof ANSWERS)[N]>;

/** Parts that several answers share, named once in the document. */
const PARTS = { Timestamp, Event, Version, VersionItem, Release, Verification, PlanTarget, PlanWarning };

/** Every answer and shared part, registered by name, for z.toJSONSchema (one component each). */
export function answerRegistry() {
  const registry = z.registry<{ id: string }>();
  for (const [id, schema] of Object.entries({ ...PARTS, ...ANSWERS })) registry.add(schema, { id });
  return registry;
}
