/** Records every part of Gantry speaks of, whatever stores them (shared/adapters/store). */

/** Resources, environments, deployments and policies: idempotent upserts by id (docs/api.md section 3). */
export interface Stored<T> {
  id: string;
  data: T;
  createdAt: string;
  updatedAt: string;
  provider?: string;
}

export interface Page<T> {
  items: T[];
  nextToken?: string;
}

/** A release: one version on one release target (deployment x environment x resource). */
export interface ReleaseKey {
  deployment: string;
  tag: string;
  environment: string;
  resource: string;
}

/** One verification measurement, as kept with the release (never a response body). */
export type Measurement = {
  outcome: 'success' | 'failure' | 'inconclusive';
  /** What the provider's result keeps: status, value, alarm counts and names. */
  value?: unknown;
  /** Why the measurement is inconclusive. */
  error?: string;
  at: string;
};
