/**
 * A version's plan in a few lines, for a GitHub check run on its commit (docs/configuration.md, GitHub):
 * target count, per environment the gates in order with the targets each holds, and the first and last
 * estimated start. It is built page by page (`addPlanPage`), so its size follows the environments and
 * gates, never the fleet.
 */

/** What the summary reads of one target of the plan (GET .../plan). */
export interface PlanTargetView {
  environment: string;
  gates: { gate: string; policies: string[]; detail: Record<string, unknown> }[];
  rolloutOffsetSeconds: number | null;
  nextWindowOpening: string | null;
  estimatedStart: string | null;
}

interface GateSummary {
  targets: number;
  policies: Set<string>;
  /** The strictest value of the gate's main setting, and what it depends on. */
  value?: number;
  after: Set<string>;
  nextOpening: string | null;
  lastOffsetSeconds: number;
}

interface EnvironmentSummary {
  targets: number;
  gates: Map<string, GateSummary>;
  /** `a\nb`: gate a came before gate b on some target (how the plan orders them). */
  before: Set<string>;
  firstStart: string | null;
  lastStart: string | null;
  unscheduled: number;
}

export interface PlanSummary {
  targetCount: number;
  environments: Map<string, EnvironmentSummary>;
  warnings: string[];
  warningCount: number;
}

export const newPlanSummary = (): PlanSummary => ({
  targetCount: 0,
  environments: new Map(),
  warnings: [],
  warningCount: 0,
});

const SHOWN_POLICIES = 5;
const SHOWN_ENVIRONMENTS = 50;
const SHOWN_WARNINGS = 5;
/** GitHub's limit on a check run's output.summary. */
const SUMMARY_LIMIT = 65_535;

const earlier = (a: string | null, b: string | null) => (a === null || (b !== null && b < a) ? b : a);
const later = (a: string | null, b: string | null) => (a === null || (b !== null && b > a) ? b : a);
const num = (value: unknown) => (typeof value === 'number' ? value : undefined);

/** Adds one page of the plan's targets (and, from the first page, its warnings). */
export function addPlanPage(
  summary: PlanSummary,
  page: { targets: PlanTargetView[]; warnings?: { message: string }[]; warningCount?: number },
): void {
  if (summary.warningCount === 0 && page.warningCount) {
    summary.warningCount = page.warningCount;
    summary.warnings = (page.warnings ?? []).slice(0, SHOWN_WARNINGS).map((w) => w.message);
  }
  for (const target of page.targets) {
    summary.targetCount++;
    let env = summary.environments.get(target.environment);
    if (!env) {
      env = {
        targets: 0,
        gates: new Map(),
        before: new Set(),
        firstStart: null,
        lastStart: null,
        unscheduled: 0,
      };
      summary.environments.set(target.environment, env);
    }
    env.targets++;
    if (target.estimatedStart === null) env.unscheduled++;
    env.firstStart = earlier(env.firstStart, target.estimatedStart);
    env.lastStart = later(env.lastStart, target.estimatedStart);
    const seen: string[] = [];
    for (const { gate, policies, detail } of target.gates) {
      for (const earlierGate of seen) env.before.add(`${earlierGate}\n${gate}`);
      seen.push(gate);
      let g = env.gates.get(gate);
      if (!g) {
        g = { targets: 0, policies: new Set(), after: new Set(), nextOpening: null, lastOffsetSeconds: 0 };
        env.gates.set(gate, g);
      }
      g.targets++;
      for (const p of policies) if (g.policies.size < SHOWN_POLICIES + 1) g.policies.add(p);
      mergeDetail(g, gate, detail, target);
    }
  }
}

function mergeDetail(g: GateSummary, gate: string, detail: Record<string, unknown>, target: PlanTargetView) {
  const max = (value: number | undefined) => {
    if (value !== undefined) g.value = Math.max(g.value ?? value, value);
  };
  if (gate === 'approval') max(num(detail.minApprovals));
  else if (gate === 'environment_progression') {
    max(num(detail.minSoakSeconds));
    for (const env of (detail.dependsOnEnvironments as string[] | undefined) ?? []) g.after.add(env);
  } else if (gate === 'gradual_rollout') {
    max(num(detail.intervalSeconds));
    g.lastOffsetSeconds = Math.max(g.lastOffsetSeconds, target.rolloutOffsetSeconds ?? 0);
  } else if (gate === 'concurrency') {
    const n = num(detail.maxParallel);
    if (n !== undefined) g.value = Math.min(g.value ?? n, n);
  } else if (gate === 'deployment_window') g.nextOpening = earlier(g.nextOpening, target.nextWindowOpening);
}

/** The gates in the order the plan puts them, which every target follows. */
function inOrder(env: EnvironmentSummary): [string, GateSummary][] {
  const left = [...env.gates];
  const out: [string, GateSummary][] = [];
  while (left.length) {
    const next = left.findIndex(([g]) => !left.some(([other]) => env.before.has(`${other}\n${g}`)));
    out.push(...left.splice(Math.max(next, 0), 1));
  }
  return out;
}

/** 90 -> "1 min 30 s", 7200 -> "2 h". */
export function duration(seconds: number): string {
  const parts: string[] = [];
  let rest = Math.round(seconds);
  for (const [unit, size] of [
    ['d', 86_400],
    ['h', 3_600],
    ['min', 60],
    ['s', 1],
  ] as const) {
    if (rest >= size) {
      parts.push(`${Math.floor(rest / size)} ${unit}`);
      rest %= size;
    }
  }
  return parts.slice(0, 2).join(' ') || '0 s';
}

/** "2026-01-05T09:00:00.000Z" -> "2026-01-05 09:00 UTC". */
export const when = (iso: string | null) =>
  iso === null ? 'none' : `${iso.slice(0, 16).replace('T', ' ')} UTC`;
/** An id or a message as Markdown text: code spans for ids, special characters escaped in prose. */
const code = (text: string) => `\`${text.replace(/`/g, "'")}\``;
const prose = (text: string) => text.replace(/\s+/g, ' ').replace(/([\\`*_[\]<>|#~])/g, '\\$1');
const count = (n: number) => n.toLocaleString('en-US');

const GATE_NAMES: Record<string, string> = {
  environment_progression: 'environment progression',
  approval: 'approval',
  deployment_window: 'deployment window',
  gradual_rollout: 'gradual rollout',
  concurrency: 'concurrency',
  deployment_dependency: 'deployment dependency',
  freeze: 'freeze',
};

function gateText(gate: string, g: GateSummary, envTargets: number): string {
  const notes: string[] = [];
  if (gate === 'approval' && g.value !== undefined)
    notes.push(`${g.value} approval${g.value === 1 ? '' : 's'}`);
  if (gate === 'environment_progression') {
    if (g.after.size) notes.push(`after ${[...g.after].map(code).join(', ')}`);
    if (g.value) notes.push(`soak ${duration(g.value)}`);
  }
  if (gate === 'deployment_window') notes.push(`next opening ${when(g.nextOpening)}`);
  if (gate === 'gradual_rollout') {
    if (g.value) notes.push(`every ${duration(g.value)}`);
    notes.push(`last offset +${duration(g.lastOffsetSeconds)}`);
  }
  if (gate === 'concurrency' && g.value !== undefined) notes.push(`at most ${g.value} at once`);
  if (g.targets < envTargets) notes.push(`${count(g.targets)} of ${count(envTargets)} targets`);
  const policies = [...g.policies];
  const named = policies.slice(0, SHOWN_POLICIES).map(code).join(', ');
  notes.push(`policy ${named}${policies.length > SHOWN_POLICIES ? ', ...' : ''}`);
  return `${GATE_NAMES[gate] ?? prose(gate)} (${notes.join('; ')})`;
}

export interface CheckRunText {
  title: string;
  summary: string;
}

/** The check run's output: a one-line title and the Markdown summary. */
export function renderPlanSummary(
  summary: PlanSummary,
  version: { deployment: string; tag: string; status: string },
  generatedAt: string,
): CheckRunText {
  // In the order they start (those that never do last), then by id.
  const envs = [...summary.environments].sort(
    ([a, x], [b, y]) => (x.firstStart ?? '~').localeCompare(y.firstStart ?? '~') || a.localeCompare(b),
  );
  const first = envs.reduce<string | null>((at, [, e]) => earlier(at, e.firstStart), null);
  const last = envs.reduce<string | null>((at, [, e]) => later(at, e.lastStart), null);
  const unscheduled = envs.reduce((n, [, e]) => n + e.unscheduled, 0);
  const targets = `${count(summary.targetCount)} release target${summary.targetCount === 1 ? '' : 's'}`;
  const title =
    version.status === 'rejected'
      ? `${version.tag} was rejected`
      : `${targets}, first start ${when(first)}, last ${when(last)}`;
  const lines = [
    `**${code(version.deployment)} ${code(version.tag)}** (${version.status}): ${targets} in ${envs.length} environment${envs.length === 1 ? '' : 's'}.`,
    '',
    `Estimated first start: ${when(first)}. Last start: ${when(last)}.` +
      (unscheduled ? ` No estimate for ${count(unscheduled)} (a missing or circular dependency).` : ''),
    '',
  ];
  if (envs.length) {
    lines.push(
      '| environment | targets | gates, in order | first start | last start |',
      '| --- | --: | --- | --- | --- |',
    );
    for (const [id, e] of envs.slice(0, SHOWN_ENVIRONMENTS)) {
      const gates =
        inOrder(e)
          .map(([gate, g]) => gateText(gate, g, e.targets))
          .join(' → ') || 'none';
      lines.push(
        `| ${code(id)} | ${count(e.targets)} | ${gates} | ${when(e.firstStart)} | ${when(e.lastStart)} |`,
      );
    }
    if (envs.length > SHOWN_ENVIRONMENTS)
      lines.push('', `... and ${envs.length - SHOWN_ENVIRONMENTS} more environments.`);
    lines.push('');
  }
  if (summary.warningCount) {
    lines.push(
      `Warnings (${count(summary.warningCount)}):`,
      ...summary.warnings.map((w) => `- ${prose(w)}`),
      '',
    );
  }
  lines.push(
    `Estimates assume jobs and verification finish at once and approvals are given when asked. Plan of ${when(generatedAt)}.`,
  );
  const text = lines.join('\n');
  return {
    title: title.slice(0, 255),
    summary: text.length > SUMMARY_LIMIT ? `${text.slice(0, SUMMARY_LIMIT - 3)}...` : text,
  };
}

/** Whether the plan has something to look at: warnings, or targets that never start. */
export const planNeedsAttention = (summary: PlanSummary) =>
  summary.warningCount > 0 ||
  summary.targetCount === 0 ||
  [...summary.environments.values()].some((e) => e.unscheduled > 0);
