/** Release and job status vocabularies (docs/api.md sections 4 and 6), with their groups. */
export const RELEASE_STATUSES = [
  'pending',
  'waiting',
  'deploying',
  'verifying',
  'successful',
  'failed',
  'rolling_back',
  'rolled_back',
  'superseded',
  'cancelled',
] as const;
export type ReleaseStatus = (typeof RELEASE_STATUSES)[number];

export const TERMINAL_RELEASE: ReadonlySet<ReleaseStatus> = new Set([
  'successful',
  'failed',
  'rolled_back',
  'superseded',
  'cancelled',
]);
/** Not yet dispatched: may still be superseded, rejected or cancelled without touching an agent. */
/** A target in one of these is being changed right now. */
export const IN_FLIGHT_RELEASE: ReadonlySet<ReleaseStatus> = new Set([
  'deploying',
  'verifying',
  'rolling_back',
]);
export const UNDISPATCHED_RELEASE: ReadonlySet<ReleaseStatus> = new Set(['pending', 'waiting']);
export const FAILED_RELEASE: ReadonlySet<ReleaseStatus> = new Set(['failed', 'rolled_back']);

export const WAITING_FOR = [
  'approval',
  'environment_progression',
  'deployment_window',
  'gradual_rollout',
  'concurrency',
  'paused',
  /** Another deployment has not succeeded in the environment yet (rule deploymentDependency). */
  'deployment_dependency',
  /** A freeze (docs/api.md section 10) selects the deployment and environment. */
  'freeze',
] as const;
export type WaitingFor = (typeof WAITING_FOR)[number];

export const JOB_KINDS = ['deploy', 'rollback', 'drain', 'undrain'] as const;
export type JobKind = (typeof JOB_KINDS)[number];

export const JOB_STATUSES = ['pending', 'dispatched', 'in_progress', 'successful', 'failed'] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];
export const TERMINAL_JOB: ReadonlySet<JobStatus> = new Set(['successful', 'failed']);

export const isTerminalRelease = (status: ReleaseStatus) => TERMINAL_RELEASE.has(status);
