import type { Approval, AuditEvent, Page, Plan, ReleaseTargetItem } from '../api';
import { EXIT, seg, TransientError, withQuery } from '../client';
import { type Context, print, sleep } from '../context';
import { dash, table } from '../render';

/** Reads (plan, status, approvals, events) and the operator's writes (decisions, overrides, job reports). */

const versionPath = (deployment: string, tag: string) =>
  `/v1/deployments/${seg(deployment)}/versions/${seg(tag)}`;

export async function plan(ctx: Context, o: { deployment: string; tag: string }): Promise<number> {
  const p = await ctx.client.getAll<Plan>(`${versionPath(o.deployment, o.tag)}/plan`, 'targets');
  print(ctx, p, () => {
    const rows = p.targets.map((t) => [
      t.environment,
      t.resource,
      t.waitingFor ? `${t.status} (${t.waitingFor})` : t.status,
      t.gates.map((g) => `${g.gate}[${g.policies.join(',')}]`).join(' > ') || '-',
      dash(t.position),
      dash(t.estimatedStart),
    ]);
    const warnings = p.warnings.map(
      (w) =>
        `warning: ${w.environment ? `${w.environment}/` : ''}${w.resource}: ${w.expression}: ${w.message}\n`,
    );
    if (p.warningCount > p.warnings.length)
      warnings.push(`... and ${p.warningCount - p.warnings.length} more warning(s)\n`);
    return (
      `plan of ${p.version.deployment} ${p.version.tag} (${p.version.status})\n` +
      table(['ENVIRONMENT', 'RESOURCE', 'STATUS', 'GATES [POLICIES]', 'POSITION', 'ESTIMATED START'], rows) +
      warnings.join('')
    );
  });
  return EXIT.ok;
}

export async function status(
  ctx: Context,
  o: { deployment?: string; environment?: string },
): Promise<number> {
  const page = await ctx.client.getAll<Page<ReleaseTargetItem>>(
    withQuery('/v1/release-targets', { deployment: o.deployment, environment: o.environment, limit: 1000 }),
    'items',
  );
  print(ctx, page, () =>
    table(
      ['DEPLOYMENT', 'ENVIRONMENT', 'RESOURCE', 'CURRENT', 'DESIRED', 'STATUS', 'WAITING FOR', 'JOB'],
      page.items.map((t) => [
        t.deployment,
        t.environment,
        t.resource,
        dash(t.currentVersion),
        dash(t.desiredVersion),
        dash(t.status),
        dash(t.waitingFor),
        dash(t.jobId),
      ]),
    ),
  );
  return EXIT.ok;
}

export async function approvals(ctx: Context, o: { status?: string }): Promise<number> {
  const page = await ctx.client.getAll<Page<Approval>>(
    withQuery('/v1/approvals', { status: o.status, limit: 1000 }),
    'items',
  );
  print(ctx, page, () =>
    table(
      ['APPROVAL', 'DEPLOYMENT', 'VERSION', 'ENVIRONMENT', 'STATUS', 'DECISIONS', 'EXPIRES'],
      page.items.map((a) => [
        a.approvalId,
        a.deployment,
        a.version,
        a.environment,
        a.status,
        `${a.decisions.length}/${a.minApprovals}`,
        dash(a.expiresAt),
      ]),
    ),
  );
  return EXIT.ok;
}

export async function decide(
  ctx: Context,
  approvalId: string,
  o: { approver?: string; reason?: string },
  decision: 'approve' | 'reject',
): Promise<number> {
  const body = {
    decision,
    ...(o.approver ? { approver: o.approver } : {}),
    ...(o.reason ? { reason: o.reason } : {}),
  };
  const a = await ctx.client.request<Approval>('POST', `/v1/approvals/${seg(approvalId)}/decision`, body);
  print(
    ctx,
    a,
    () =>
      `${decision === 'approve' ? 'approved' : 'rejected'} ${a.deployment} ${a.version} in ${a.environment}: ${a.status}\n`,
  );
  return EXIT.ok;
}

export async function pause(
  ctx: Context,
  o: { deployment: string; reason?: string },
  action: 'pause' | 'resume',
): Promise<number> {
  const body = o.reason ? { reason: o.reason } : undefined;
  const answer = await ctx.client.request<{ paused: boolean }>(
    'POST',
    `/v1/deployments/${seg(o.deployment)}/${action}`,
    body,
    { idempotent: true },
  );
  print(ctx, answer, () => `${o.deployment} is ${answer.paused ? 'paused' : 'running'}\n`);
  return EXIT.ok;
}

export async function rollback(
  ctx: Context,
  o: { deployment: string; environment: string; resource: string; to?: string; reason?: string },
): Promise<number> {
  const body = {
    deployment: o.deployment,
    environment: o.environment,
    resource: o.resource,
    ...(o.to ? { toVersion: o.to } : {}),
    ...(o.reason ? { reason: o.reason } : {}),
  };
  const answer = await ctx.client.request<{ jobId: string; toVersion: string }>(
    'POST',
    '/v1/release-targets/rollback',
    body,
  );
  print(
    ctx,
    answer,
    () =>
      `rolling ${o.deployment} back to ${answer.toVersion} on ${o.environment}/${o.resource} (job ${answer.jobId})\n`,
  );
  return EXIT.ok;
}

export async function force(
  ctx: Context,
  o: { deployment: string; environment: string; resource: string; tag: string; reason: string },
): Promise<number> {
  const body = {
    deployment: o.deployment,
    environment: o.environment,
    resource: o.resource,
    tag: o.tag,
    reason: o.reason,
  };
  const release = await ctx.client.request<{ status: string }>('POST', '/v1/release-targets/force', body, {
    idempotent: true,
  });
  print(
    ctx,
    release,
    () => `forced ${o.deployment} ${o.tag} on ${o.environment}/${o.resource}: ${release.status}\n`,
  );
  return EXIT.ok;
}

export async function cancel(
  ctx: Context,
  o: { deployment: string; tag: string; reason?: string },
): Promise<number> {
  const body = o.reason ? { reason: o.reason } : undefined;
  const view = await ctx.client.request<{ summary: Record<string, number> }>(
    'POST',
    `${versionPath(o.deployment, o.tag)}/cancel`,
    body,
    { idempotent: true },
  );
  const cancelled = view.summary.cancelled ?? 0;
  print(ctx, view, () => `cancelled ${o.deployment} ${o.tag}: ${cancelled} release(s) cancelled\n`);
  return EXIT.ok;
}

export async function jobReport(
  ctx: Context,
  jobId: string,
  o: { status: string; message?: string; link?: Record<string, string> },
): Promise<number> {
  const body = {
    status: o.status,
    ...(o.message ? { message: o.message } : {}),
    ...(o.link ? { links: o.link } : {}),
  };
  // The same terminal status twice answers 200, so a retry is safe.
  const job = await ctx.client.request<Record<string, unknown>>(
    'POST',
    `/v1/jobs/${seg(jobId)}/status`,
    body,
    {
      idempotent: true,
    },
  );
  print(ctx, job, () => `job ${jobId}: ${o.status}\n`);
  return EXIT.ok;
}

function eventLine(e: AuditEvent): string {
  const target = [e.environment, e.resource].filter(Boolean).join('/');
  const actor = e.actor?.approver ?? e.actor?.keyId ?? e.actor?.system;
  const message = typeof e.data?.message === 'string' ? e.data.message : '';
  return (
    [e.time, e.detailType.padEnd(21), e.deployment, e.version, target, actor ? `by ${actor}` : '', message]
      .filter(Boolean)
      .join('  ') + '\n'
  );
}

/** Pages through the audit trail; with `follow`, keeps polling for newer events until interrupted. */
export async function events(
  ctx: Context,
  o: { deployment?: string; since?: string; follow?: boolean },
): Promise<number> {
  const seen = new Set<string>();
  let since = o.since;
  let latest = o.since;
  let nextToken: string | undefined;
  const all: AuditEvent[] = [];
  for (;;) {
    let page: Page<AuditEvent>;
    try {
      page = await ctx.client.get<Page<AuditEvent>>(
        withQuery('/v1/events', { deployment: o.deployment, since, nextToken }),
      );
    } catch (error) {
      if (!o.follow || !(error instanceof TransientError)) throw error;
      ctx.err.write(`${error.message}; still trying\n`);
      await sleep(ctx.pollMs);
      continue;
    }
    for (const e of page.items) {
      // `since` is inclusive, so the last second's events come again: print each once.
      if (seen.has(e.id)) continue;
      seen.add(e.id);
      if (o.follow) ctx.out.write(ctx.json ? `${JSON.stringify(e)}\n` : eventLine(e));
      else all.push(e);
      latest = e.time;
    }
    nextToken = page.nextToken;
    if (nextToken) continue;
    if (!o.follow) break;
    since = latest;
    await sleep(ctx.pollMs);
  }
  print(ctx, { items: all }, () => all.map(eventLine).join(''));
  return EXIT.ok;
}
