import type { ReleaseStatus, WaitingFor } from './status';

/**
 * The first view of the status page at any fleet size: per environment, how far a version got
 * (releases counted per status, successful of all) and which versions its targets run now. Pure:
 * it folds the few attributes the store projected, so a page of 5,000 targets is a few counters.
 */

export interface ReleaseTally {
  environment: string;
  status: ReleaseStatus;
  waitingFor?: WaitingFor | null;
}

export interface TargetTally {
  environment: string;
  currentVersion?: string | null;
}

export interface EnvironmentSummary {
  id: string;
  name: string;
  /** Releases of the version in this environment, and how many of them are successful. */
  total: number;
  successful: number;
  counts: Partial<Record<ReleaseStatus, number>>;
  /** The gates the waiting releases wait for. */
  waitingFor: Partial<Record<WaitingFor, number>>;
  /** Versions the environment's targets run now, most targets first (null: never deployed). */
  current: { version: string | null; count: number }[];
  /** Targets running any version not named in `current`. */
  others?: number;
}

/** Versions named one by one in `current`; the rest are counted together as `others`. */
const CURRENT_SHOWN = 3;

const bump = <K extends string>(counts: Partial<Record<K, number>>, key: K) => {
  counts[key] = (counts[key] ?? 0) + 1;
};

export function summarize(
  environments: { id: string; name: string }[],
  releases: ReleaseTally[],
  targets: TargetTally[],
): { environments: EnvironmentSummary[]; total: number; successful: number } {
  const byId = new Map<string, EnvironmentSummary & { running: Map<string | null, number> }>();
  const of = (id: string, name = id) => {
    let summary = byId.get(id);
    if (!summary) {
      summary = {
        id,
        name,
        total: 0,
        successful: 0,
        counts: {},
        waitingFor: {},
        current: [],
        running: new Map(),
      };
      byId.set(id, summary);
    }
    return summary;
  };
  for (const e of environments) of(e.id, e.name);
  for (const r of releases) {
    const summary = of(r.environment);
    summary.total++;
    if (r.status === 'successful') summary.successful++;
    bump(summary.counts, r.status);
    if (r.status === 'waiting' && r.waitingFor) bump(summary.waitingFor, r.waitingFor);
  }
  for (const t of targets) {
    const running = of(t.environment).running;
    const version = t.currentVersion ?? null;
    running.set(version, (running.get(version) ?? 0) + 1);
  }
  const out = [...byId.values()].map(({ running, ...summary }) => {
    const ranked = [...running].sort(
      (a, b) => b[1] - a[1] || String(a[0] ?? '').localeCompare(String(b[0] ?? '')),
    );
    const others = ranked.slice(CURRENT_SHOWN).reduce((n, [, count]) => n + count, 0);
    const current = ranked.slice(0, CURRENT_SHOWN).map(([version, count]) => ({ version, count }));
    return { ...summary, current, ...(others ? { others } : {}) };
  });
  return {
    environments: out,
    total: out.reduce((n, e) => n + e.total, 0),
    successful: out.reduce((n, e) => n + e.successful, 0),
  };
}
