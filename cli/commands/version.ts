import {
  type CreatedVersion,
  IN_FLIGHT,
  type Plan,
  type ReleaseStatus,
  TERMINAL,
  type VersionView,
} from '../api';
import { EXIT, seg, TransientError } from '../client';
import { type Context, print, sleep } from '../context';
import { readJsonObject } from '../options';
import { dash, elapsed, LiveView, TARGET_HEADERS, table, targetCells, targetRow } from '../render';

/** `gantry version create|ready|reject|get`, and the live view that follows a rollout. */

type Target = { environment: string; resource: string };
const keyOf = (t: Target) => `${t.environment}/${t.resource}`;
const versionPath = (deployment: string, tag: string) =>
  `/v1/deployments/${seg(deployment)}/versions/${seg(tag)}`;

export interface CreateOptions {
  deployment: string;
  tag: string;
  building?: boolean;
  metadata?: Record<string, string>;
  configFile?: string;
  wait?: boolean;
  timeout: number;
}

export async function createVersion(ctx: Context, o: CreateOptions): Promise<number> {
  const body = {
    tag: o.tag,
    ...(o.building ? { status: 'building' } : {}),
    ...(o.metadata ? { metadata: o.metadata } : {}),
    ...(o.configFile ? { config: readJsonObject(o.configFile) } : {}),
  };
  // The same tag and body again answers 200 with the same version, so a retry is safe.
  const created = await ctx.client.request<CreatedVersion>(
    'POST',
    `/v1/deployments/${seg(o.deployment)}/versions`,
    body,
    { idempotent: true },
  );
  const { deployment, tag, status } = created.version;
  if (!o.wait) {
    print(
      ctx,
      created,
      () =>
        `version ${deployment} ${tag} is ${status}, with ${created.releaseTargetCount ?? created.releaseTargets.length} release target(s)\n`,
    );
    return EXIT.ok;
  }
  return follow(
    ctx,
    deployment,
    tag,
    created.releaseTargets,
    created.releaseTargetCount ?? created.releaseTargets.length,
    o.timeout,
  );
}

export async function setVersionStatus(
  ctx: Context,
  o: { deployment: string; tag: string; wait?: boolean; timeout: number },
  status: 'ready' | 'rejected',
): Promise<number> {
  const view = await ctx.client.request<VersionView>(
    'PATCH',
    versionPath(o.deployment, o.tag),
    { status },
    { idempotent: true },
  );
  if (!o.wait || status === 'rejected') {
    print(ctx, view, () => `version ${o.deployment} ${o.tag} is ${view.version.status}\n`);
    return EXIT.ok;
  }
  // Releases are written as the rollouts start; the plan counts every target up front.
  const plan = await ctx.client.get<Plan>(`${versionPath(o.deployment, o.tag)}/plan`);
  return follow(ctx, o.deployment, o.tag, plan.targets, plan.targetCount, o.timeout);
}

export async function getVersion(ctx: Context, o: { deployment: string; tag: string }): Promise<number> {
  const view = await ctx.client.get<VersionView>(versionPath(o.deployment, o.tag));
  print(ctx, view, () => {
    const rows = view.releases.map((r) => targetCells(targetRow(r, r)).map(dash));
    const title = `version ${view.version.deployment} ${view.version.tag} is ${view.version.status}`;
    const total = releasesIn(view.summary);
    const more =
      total > view.releases.length
        ? `showing ${view.releases.length} of ${total} releases: ${summaryText(view.summary)}\n`
        : '';
    return `${title}\n${table(TARGET_HEADERS, rows)}${more}`;
  });
  return EXIT.ok;
}

interface Outcome {
  done: boolean;
  code: number;
  summary: string;
}

const releasesIn = (summary: VersionView['summary']) =>
  Object.values(summary).reduce((sum, n) => sum + (n ?? 0), 0);
const summaryText = (summary: VersionView['summary']) =>
  Object.entries(summary)
    .filter(([, n]) => n)
    .map(([status, n]) => `${n} ${status}`)
    .join(', ');

/**
 * Where a rollout stands, from the version's summary (releases counted per status) and the number of
 * release targets: targets without a release yet count as pending.
 */
function outcomeOf(view: VersionView, targetCount: number): Outcome {
  const counts = new Map(Object.entries(view.summary).filter(([, n]) => n) as [ReleaseStatus, number][]);
  const unwritten = targetCount - releasesIn(view.summary);
  if (unwritten > 0) counts.set('pending', (counts.get('pending') ?? 0) + unwritten);
  const summary = [...counts].map(([status, n]) => `${n} ${status}`).join(', ');
  const statuses = [...counts.keys()];
  if (view.version.status === 'rejected' && !statuses.some((s) => IN_FLIGHT.has(s))) {
    return { done: true, code: EXIT.failed, summary: `rejected; ${summary}` };
  }
  if (statuses.every((s) => s === 'successful')) return { done: true, code: EXIT.ok, summary };
  const lost = statuses.some((s) => TERMINAL.has(s) && s !== 'successful');
  // Once one target is lost the rollout has failed; wait only for the targets being changed right now.
  if (lost && !statuses.some((s) => IN_FLIGHT.has(s))) return { done: true, code: EXIT.failed, summary };
  return { done: false, code: EXIT.ok, summary };
}

export async function follow(
  ctx: Context,
  deployment: string,
  tag: string,
  initialTargets: Target[],
  targetCount: number,
  timeoutMs: number,
): Promise<number> {
  const started = Date.now();
  const deadline = started + timeoutMs;
  // With --output json the live view goes to stderr and the final state, as JSON, to stdout.
  const screen = ctx.json ? ctx.err : ctx.out;
  const view = new LiveView(screen);
  // The rows drawn: the targets the first answer names (at most 1,000); the outcome counts them all.
  const targets = [...initialTargets];
  if (!screen.isTTY) {
    screen.write(
      `following ${deployment} ${tag} on ${targetCount} release target(s) (timeout ${elapsed(timeoutMs)})\n`,
    );
  }
  let last: VersionView | undefined;
  let outcome: Outcome | undefined;
  let contactLost = false;
  for (;;) {
    try {
      last = await ctx.client.get<VersionView>(versionPath(deployment, tag));
      contactLost = false;
    } catch (error) {
      // A blip (a restart, a 503) must not fail a pipeline that follows a long rollout.
      if (!(error instanceof TransientError)) throw error;
      if (!contactLost) ctx.err.write(`${error.message}; still trying\n`);
      contactLost = true;
    }
    if (last) {
      const releases = new Map(last.releases.map((r) => [keyOf(r), r]));
      const known = new Set(targets.map(keyOf));
      for (const r of last.releases) if (!known.has(keyOf(r))) targets.push(r);
      // A target that joined later adds a release beyond the count first given.
      outcome = outcomeOf(last, Math.max(targetCount, releasesIn(last.summary)));
      const rows = targets.map((t) => targetRow(t, releases.get(keyOf(t))));
      view.update(rows, `${deployment} ${tag}: ${outcome.summary || 'no release targets'}`);
      if (outcome.done) break;
    }
    const left = deadline - Date.now();
    if (left <= 0) break;
    await sleep(Math.min(ctx.pollMs, left));
  }
  view.finish();
  if (ctx.json && last) ctx.out.write(`${JSON.stringify(last, null, 2)}\n`);
  const took = elapsed(Date.now() - started);
  if (!outcome?.done) {
    ctx.err.write(
      `timed out after ${elapsed(timeoutMs)}: ${deployment} ${tag}: ${outcome?.summary ?? 'no answer from Gantry'}\n`,
    );
    return EXIT.timeout;
  }
  if (targetCount === 0 && targets.length === 0)
    ctx.err.write(`${deployment} ${tag} has no release targets\n`);
  if (outcome.code === EXIT.ok)
    screen.write(`${deployment} ${tag} rolled out in ${took}: ${outcome.summary}\n`);
  else ctx.err.write(`${deployment} ${tag} did not roll out (${took}): ${outcome.summary}\n`);
  return outcome.code;
}
