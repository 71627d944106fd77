import type { AuditRecord } from '../shared/adapters/events';
import type { ReleaseStatus } from '../shared/core/status';

/** The shapes of the answers the CLI reads (docs/api.md sections 4-8); only the fields it uses. */

export type { ReleaseStatus } from '../shared/core/status';
export {
  IN_FLIGHT_RELEASE as IN_FLIGHT,
  TERMINAL_RELEASE as TERMINAL,
} from '../shared/core/status';

export interface Release {
  environment: string;
  resource: string;
  status: ReleaseStatus;
  waitingFor: string | null;
  jobId: string | null;
  startedAt?: string | null;
  finishedAt?: string | null;
  rolledBackTo: string | null;
  message: string | null;
  verification?: { status: string } | null;
}

export interface VersionView {
  version: { deployment: string; tag: string; status: string };
  /** Releases counted per status, all of them. */
  summary: Partial<Record<ReleaseStatus, number>>;
  /** One page (at most 1,000); `nextToken` reads on. */
  releases: Release[];
  nextToken?: string;
}

export interface CreatedVersion {
  version: { deployment: string; tag: string; status: string };
  /** The first 1,000 release targets; `releaseTargetCount` counts them all. */
  releaseTargets: { environment: string; resource: string }[];
  releaseTargetCount?: number;
}

export interface ReleaseTargetItem {
  deployment: string;
  environment: string;
  resource: string;
  currentVersion: string | null;
  desiredVersion: string | null;
  status: string | null;
  waitingFor: string | null;
  jobId: string | null;
}

export interface Plan {
  version: { deployment: string; tag: string; status: string };
  targetCount: number;
  nextToken?: string;
  targets: {
    environment: string;
    resource: string;
    status: string;
    waitingFor: string | null;
    gates: { gate: string; policies: string[] }[];
    position: number | null;
    estimatedStart: string | null;
  }[];
  warnings: { expression: string; resource: string; environment?: string; message: string }[];
  warningCount: number;
}

export interface Approval {
  approvalId: string;
  deployment: string;
  version: string;
  environment: string;
  status: string;
  minApprovals: number;
  decisions: unknown[];
  expiresAt?: string | null;
}

/** An audit record as GET /v1/events answers it (shared/adapters/events.ts). */
export type AuditEvent = AuditRecord;

export interface Page<T> {
  items: T[];
  nextToken?: string;
}
