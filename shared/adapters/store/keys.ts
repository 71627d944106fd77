/** Every key of the table, in one place (the access patterns are listed in ./table.ts). */
export type ConfigKind = 'resource' | 'environment' | 'deployment' | 'policy';

export const keys = {
  config: (kind: ConfigKind, id: string) => ({ pk: kind.toUpperCase(), sk: id }),
  configPartition: (kind: ConfigKind) => kind.toUpperCase(),
  provider: (provider: string) => `PROVIDER#${provider}`,
  /** Counters every config write bumps: what the inventory cache revalidates against. */
  inventoryRevision: { pk: 'INVENTORY', sk: 'REVISION' },
  version: (deployment: string, tag: string) => ({ pk: `VERSION#${deployment}`, sk: tag }),
  versionsByCreation: (deployment: string) => `VERSIONS#${deployment}`,
  releasesOfVersion: (deployment: string, tag: string) => `RELEASES#${deployment}#${tag}`,
  release: (deployment: string, tag: string, environment: string, resource: string) => ({
    pk: `RELEASES#${deployment}#${tag}`,
    sk: `${environment}#${resource}`,
  }),
  targetsOfDeployment: (deployment: string) => `TARGET#${deployment}`,
  target: (deployment: string, environment: string, resource: string) => ({
    pk: `TARGET#${deployment}`,
    sk: `${environment}#${resource}`,
  }),
  /**
   * Held by whoever creates releases of a deployment (shared/adapters/store/lease.ts): a chunk reads
   * which exist and batch-writes the rest under it, so no other creator writes in between.
   */
  releasesLease: (deployment: string) => ({ pk: `LEASE#RELEASES#${deployment}`, sk: 'LEASE' }),
  job: (jobId: string) => ({ pk: `JOB#${jobId}`, sk: 'JOB' }),
  waiters: (signal: string) => `WAIT#${signal}`,
  waiter: (signal: string, releaseKey: string) => ({ pk: `WAIT#${signal}`, sk: releaseKey }),
  /** When a debounced signal was last woken (shared/adapters/debounced-wake.ts); with TTL. */
  wakeMarker: (signal: string) => ({ pk: `WAKE#${signal}`, sk: 'WAKE' }),
  nonce: (signature: string) => ({ pk: `NONCE#${signature}`, sk: 'NONCE' }),
  events: 'EVENTS',
  /** gsi1 of releases and jobs whose events are not yet published (store/rollouts.ts, the outbox). */
  outbox: 'OUTBOX',
  eventsOfDeployment: (deployment: string) => `EVENTS#${deployment}`,
  approval: (approvalId: string) => ({ pk: `APPROVAL#${approvalId}`, sk: 'APPROVAL' }),
  approvals: 'APPROVALS',
  /** A sign-in on the review page under way (OpenID Connect), by the hash of its state; with TTL. */
  signIn: (stateHash: string) => ({ pk: `SIGNIN#${stateHash}`, sk: 'SIGNIN' }),
  /** A signed-in review page session, by the hash of its cookie; with TTL. */
  session: (cookieHash: string) => ({ pk: `SESSION#${cookieHash}`, sk: 'SESSION' }),
  /** When a version's rollout in an environment started its gradual rollout (its anchor). */
  rolloutAnchor: (deployment: string, tag: string, environment: string) => ({
    pk: `ANCHOR#${deployment}#${tag}`,
    sk: environment,
  }),
  /** A version stopped in an environment: halted (too many failures) or rolled back all-or-nothing. */
  abort: (deployment: string, tag: string, environment: string) => ({
    pk: `ABORT#${deployment}#${tag}`,
    sk: environment,
  }),
  /** The GitHub Deployment mirroring a version in an environment. */
  githubDeployment: (deployment: string, tag: string, environment: string) => ({
    pk: `GITHUB#${deployment}#${tag}`,
    sk: environment,
  }),
  /** The GitHub check run that shows a version's plan on its commit. */
  githubCheckRun: (deployment: string, tag: string) => ({
    pk: `CHECKRUN#${deployment}#${tag}`,
    sk: 'CHECKRUN',
  }),
  /** The releases holding a concurrency slot of a deployment in an environment. */
  concurrency: (deployment: string, environment: string) => ({
    pk: `CONCURRENCY#${deployment}`,
    sk: environment,
  }),
  deploymentState: (deployment: string) => ({ pk: 'DEPLOYMENT_STATE', sk: deployment }),
  /** What a deployment runs in an environment, for the releases that depend on it (store/dependency.ts). */
  running: (deployment: string, environment: string) => ({ pk: `RUNNING#${deployment}`, sk: environment }),
  /** Freezes, all in one partition: few, read whole by each gate evaluation, plan and sweep. */
  freeze: (freezeId: string) => ({ pk: 'FREEZE', sk: freezeId }),
  freezes: 'FREEZE',
  /** Work a write caused (reconciliation, a version's fan-out), advanced chunk by chunk. */
  work: (id: string) => ({ pk: 'WORK', sk: id }),
  /** A paged provider sync: its head (counts) and the ids each page named. */
  syncSession: (provider: string, session: string) => `SYNC#${provider}#${session}`,
  /** Subscriptions (docs/subscriptions.md), all in one partition: few, read whole by the consumer. */
  subscription: (id: string) => ({ pk: 'SUBSCRIPTION', sk: id }),
  subscriptions: 'SUBSCRIPTION',
  /**
   * A subscription's deliveries, by event id; keyed by its generation (a new one per create), so a
   * deleted subscription's deliveries are never shown again, and expire by TTL.
   */
  subscriptionDeliveries: (generation: string) => `SUBDELIVERY#${generation}`,
  subscriptionDelivery: (generation: string, eventId: string) => ({
    pk: `SUBDELIVERY#${generation}`,
    sk: eventId,
  }),
  /** A lane's outbox: its head item (`#LANE`: lease, due time on gsi1) and its entries (`E#<event id>`). */
  subscriptionLane: (generation: string, lane: string) => `SUBLANE#${generation}#${lane}`,
  /** gsi1 partition of the lanes with undelivered entries, by due time. */
  subscriptionLanesDue: 'SUBLANES',
  /** Delivery metrics per UTC day (YYYY-MM-DD) of a deployment, or of all (`*`): shared/core/delivery.ts. */
  deliveryDays: (deployment: string | null) => `DELIVERY#${deployment ?? '*'}`,
  deliveryDay: (deployment: string | null, day: string) => ({
    pk: `DELIVERY#${deployment ?? '*'}`,
    sk: day,
  }),
  /** gsi1: every deployment's aggregate of a day (the rollup of all deployments reads them). */
  deliveryDaysOfAll: (day: string) => `DELIVERY-DAY#${day}`,
  /** A release outcome the delivery metrics counted, by its audit record id; with TTL. */
  deliveryCounted: (eventId: string) => ({ pk: `DELIVERY-COUNTED#${eventId}`, sk: 'COUNTED' }),
  /** A gitops file's queue (by a hash of repository, branch, path, deployment, environment): its lease and target entries. */
  gitopsQueue: (queue: string) => `GITOPS#${queue}`,
} as const;
