import type { LambdaClient } from '@aws-sdk/client-lambda';
import type { Outbound } from '../outbound';
import type { StoreContext } from '../store/client';

/** The job a job agent receives (docs/api.md section 6); the webhook agent gets exactly this as its body. */
export interface JobPayload {
  jobId: string;
  kind: 'deploy' | 'rollback' | 'drain' | 'undrain';
  deployment: { id: string; name: string };
  environment: { id: string; name: string };
  resource: { id: string; kind: string; name: string; metadata: Record<string, string> };
  version: { tag: string; config: Record<string, unknown>; metadata: Record<string, string> };
  variables: Record<string, string>;
  callback: { url: string; token: string };
}

/** What a poll of an Argo CD job needs besides the Application's URL: stored with the job at dispatch. */
export interface ArgoCdPoll {
  type: 'argocd';
  tokenSecretRef: string;
  revision: string;
  application: string;
  appNamespace?: string;
}

/** What a poll of a Terraform Cloud run needs besides the run's URL: stored with the job at dispatch. */
export interface TerraformCloudPoll {
  type: 'terraform-cloud';
  tokenSecretRef: string;
}

/**
 * What a poll of a gitops job needs: the file (repository, branch, rendered path), its queue in the
 * table and the job's entry there, how the change lands (commit or pull request), and the rendered
 * Argo CD Application that deploys it. Secrets by name only.
 */
export interface GitopsPoll {
  type: 'gitops';
  apiUrl: string;
  owner: string;
  repo: string;
  branch: string;
  path: string;
  tokenSecretRef: string;
  mode: 'commit' | 'pull-request';
  autoMerge: boolean;
  /** The file's queue of target entries (shared/adapters/store/gitops.ts). */
  queue: string;
  jobId: string;
  deployment: string;
  environment: string;
  resource: string;
  argocd?: { serverUrl: string; application: string; appNamespace?: string; tokenSecretRef: string };
}

/** How to read a polled job's statusUrl when it is not the webhook format of docs/api.md section 6. */
export type AgentPoll = ArgoCdPoll | TerraformCloudPoll | GitopsPoll;

export type DispatchOutcome =
  | { type: 'accepted' }
  | { type: 'polling'; statusUrl: string; pollIntervalSeconds: number; poll?: AgentPoll };

export type JobStatus = 'successful' | 'failed' | 'pending';

export interface PollAnswer {
  status: JobStatus;
  message?: string;
}

export interface AgentDeps {
  /** Resolves a secretRef / tokenSecretRef. */
  getSecret: (name: string) => Promise<string>;
  /** Default the guarded client of shared/adapters/outbound.ts; tests pass their own. */
  outbound?: Outbound;
  /** Backoff sleeps; tests pass a fast one. */
  sleep?: (ms: number) => Promise<void>;
  /** Per HTTP attempt, default 10_000. */
  attemptTimeoutMs?: number;
  /** Default 4: 1 + 3 retries after 1 s, 2 s, 4 s with jitter. */
  maxAttempts?: number;
  /** The lambda agent's client; default one built from the environment. */
  lambdaClient?: LambdaClient;
  /** The lambda agent invokes only functions whose name starts with this (the stack's IAM scope). */
  lambdaFunctionPrefix?: string;
  /** The table: the gitops agent queues each target's entry of a file there, to write them in one commit. */
  store?: StoreContext;
  /** The job's variables that hold a secret (`secretRef`): the gitops agent never writes them (none: it writes no variables). */
  secretVariables?: readonly string[];
}
