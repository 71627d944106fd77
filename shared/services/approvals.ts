import { createHash, randomBytes } from 'node:crypto';
import { GetCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { type Actor, DETAIL_TYPES, publish, SYSTEM } from '../adapters/events';
import { log } from '../adapters/log';
import { ENV, type Runtime, runsLocally } from '../adapters/runtime';
import { envOrSecret, secretsById } from '../adapters/secrets';
import { approvalMessage, postToSlack } from '../adapters/slack';
import { ConditionFailed } from '../adapters/store/client';
import { decodeToken, encodeToken, type Page } from '../adapters/store/config';
import { keys } from '../adapters/store/keys';
import { putIfAbsent, type ReleaseKey, updateItem } from '../adapters/store/rollouts';
import { signals, wake } from '../adapters/workflow';
import { isoNow, nowMs } from '../core/clock';
import { conflict, forbidden, notFound } from '../core/errors';
import type { Answer } from '../core/schemas/answers';
import { constantTimeEqual } from '../core/signature';
import { cancelReleases } from './rollouts/versions';

/**
 * Approvals (docs/api.md section 7): one per (deployment, version, environment), however many targets
 * wait on it. The review link carries the approval id and an opaque token stored only as a hash.
 */
export type ApprovalStatus = 'pending' | 'approved' | 'rejected' | 'expired';

export interface Decision {
  approver: string;
  decision: 'approve' | 'reject';
  at: string;
  /** How it was made: `link`, `signin` (the review page, signed in), `slack`, or `api:<key id>`. */
  via: string;
  reason?: string;
  /** The name typed into the review form (a claim, not an identity). */
  claim?: string;
}

export interface ApprovalRecord {
  approvalId: string;
  deployment: string;
  deploymentName: string;
  tag: string;
  environment: string;
  environmentName: string;
  status: ApprovalStatus;
  minApprovals: number;
  approvers?: string[];
  policies: string[];
  targets: string[];
  /** More targets waited than `targets` names (it names the first APPROVAL_TARGETS). */
  moreTargets?: boolean;
  decisions: Decision[];
  expiresAt: string;
  createdAt: string;
  decidedAt: string | null;
  notifiedAt: string | null;
  rev: number;
  tokenHash?: string;
}

export const APPROVAL_ID_PATTERN = /^a[0-9a-f]{32}$/;
const DEFAULT_EXPIRY_SECONDS = 7 * 24 * 3600;

export const approvalIdOf = (deployment: string, tag: string, environment: string) =>
  `a${createHash('sha256').update(`${deployment}\n${tag}\n${environment}`).digest('hex').slice(0, 32)}`;

const approvalKey = keys.approval;

/** An approval names at most this many of its waiting targets (one Query page; Slack shows fewer). */
export const APPROVAL_TARGETS = 1_000;
const hash = (token: string) => createHash('sha256').update(token).digest('hex');

export function renderApproval(a: ApprovalRecord): Answer<'Approval'> {
  return {
    approvalId: a.approvalId,
    deployment: a.deployment,
    version: a.tag,
    environment: a.environment,
    status: a.status,
    minApprovals: a.minApprovals,
    approvers: a.approvers ?? null,
    policies: a.policies,
    targets: a.targets,
    decisions: a.decisions,
    expiresAt: a.expiresAt,
    createdAt: a.createdAt,
    decidedAt: a.decidedAt,
  };
}

export async function getApproval(rt: Runtime, approvalId: string): Promise<ApprovalRecord | undefined> {
  const out = await rt.doc.send(
    new GetCommand({ TableName: rt.tableName, Key: approvalKey(approvalId), ConsistentRead: true }),
  );
  if (!out.Item) return undefined;
  const { pk: _pk, sk: _sk, gsi1pk: _a, gsi1sk: _b, ...rest } = out.Item;
  return rest as ApprovalRecord;
}

export async function requireApproval(rt: Runtime, approvalId: string): Promise<ApprovalRecord> {
  const found = APPROVAL_ID_PATTERN.test(approvalId) ? await getApproval(rt, approvalId) : undefined;
  if (!found) throw notFound(`The approval "${approvalId}"`);
  return found;
}

export function tokenMatches(approval: ApprovalRecord, token: string | undefined): boolean {
  return Boolean(token && approval.tokenHash && constantTimeEqual(hash(token), approval.tokenHash));
}

export const isExpired = (a: ApprovalRecord, now = nowMs()) =>
  a.status === 'pending' && Date.parse(a.expiresAt) <= now;

// ---- Slack configuration: an env variable locally, a secret in AWS ------------------------------

export const slackWebhookUrl = () => envOrSecret(ENV.slackWebhookUrl, ENV.slackWebhookSecretId, secretsById);
export const slackSigningSecret = () =>
  envOrSecret(ENV.slackSigningSecret, ENV.slackSigningSecretId, secretsById);

/**
 * Opens the approval of a release's environment (once) and announces it. A re-run that finds an
 * approval never announced (a crash, Slack down) rotates the token and announces it then.
 */
export async function openApproval(
  rt: Runtime,
  release: ReleaseKey,
  rule: { minApprovals: number; approvers?: string[]; expiresAfterSeconds?: number; policies: string[] },
  context: { deploymentName: string; environmentName: string; targets: string[]; moreTargets?: boolean },
): Promise<ApprovalRecord> {
  const approvalId = approvalIdOf(release.deployment, release.tag, release.environment);
  const now = nowMs();
  const { item } = await putIfAbsent<ApprovalRecord>(
    rt,
    approvalKey(approvalId),
    {
      approvalId,
      deployment: release.deployment,
      deploymentName: context.deploymentName,
      tag: release.tag,
      environment: release.environment,
      environmentName: context.environmentName,
      status: 'pending',
      minApprovals: rule.minApprovals,
      ...(rule.approvers ? { approvers: rule.approvers } : {}),
      policies: rule.policies,
      targets: context.targets,
      ...(context.moreTargets ? { moreTargets: true } : {}),
      decisions: [],
      expiresAt: new Date(now + (rule.expiresAfterSeconds ?? DEFAULT_EXPIRY_SECONDS) * 1000).toISOString(),
      createdAt: isoNow(now),
      decidedAt: null,
      notifiedAt: null,
      rev: 0,
    },
    { gsi1pk: keys.approvals, gsi1sk: `${isoNow(now)}#${approvalId}` },
  );
  if (item.notifiedAt) return item;
  const token = randomBytes(24).toString('base64url');
  let approval: ApprovalRecord;
  try {
    approval = await updateItem<ApprovalRecord>(
      rt,
      approvalKey(approvalId),
      { set: { tokenHash: hash(token), notifiedAt: isoNow() } },
      { expression: 'notifiedAt = :null', values: { ':null': null } },
    );
  } catch (error) {
    if (error instanceof ConditionFailed) return (await getApproval(rt, approvalId)) as ApprovalRecord;
    throw error;
  }
  const reviewUrl = `${rt.publicUrl}/approvals/${approvalId}?t=${token}`;
  const message = approvalMessage({
    approvalId,
    deployment: { id: release.deployment, name: context.deploymentName },
    version: release.tag,
    environment: { id: release.environment, name: context.environmentName },
    targets: approval.targets,
    ...(approval.moreTargets ? { moreTargets: true } : {}),
    minApprovals: approval.minApprovals,
    approvers: approval.approvers,
    expiresAt: approval.expiresAt,
    reviewUrl,
  });
  const webhook = await slackWebhookUrl();
  try {
    if (webhook) await postToSlack(webhook, message);
    // Without Slack the message is printed: the local user's way to the link (docs/api.md section 9). In
    // AWS the logs are read by more people than the approvers, so the live link stays out of them.
    else if (runsLocally()) console.log(`[approval] ${message.text}`);
    else
      log.warn('approval requested, but Slack is not configured: decide with `gantry approve`', {
        approvalId,
      });
  } catch (error) {
    // Let a later re-run announce it again with a fresh token.
    await updateItem(rt, approvalKey(approvalId), { set: { notifiedAt: null } });
    throw error;
  }
  await publish(rt, [
    {
      detailType: DETAIL_TYPES.approvalRequested,
      deployment: release.deployment,
      version: release.tag,
      environment: release.environment,
      actor: SYSTEM,
      data: {
        approvalId,
        targets: approval.targets,
        minApprovals: approval.minApprovals,
        policies: approval.policies,
      },
    },
  ]);
  log.info('approval requested', { approvalId, deployment: release.deployment, version: release.tag });
  return approval;
}

/**
 * Records a decision. Distinct approvers count towards minApprovals; a rejection decides at once.
 * A conditional write on `rev` makes two simultaneous clicks safe: each is applied once, in turn.
 */
/**
 * A review link proves only that its holder has the link (docs/api.md section 7): every decision through
 * one link is this one approver, and the name typed into the form is a claim for the audit trail.
 */
export const LINK_APPROVER = 'link';
export const linkMayApprove = (a: Pick<ApprovalRecord, 'approvers' | 'minApprovals'>) =>
  !(a.approvers && a.approvers.length > 0) && a.minApprovals <= 1;
export const LINK_CANNOT_APPROVE =
  'A review link cannot approve this: it needs a known approver. Sign in on the review page where a sign-in is configured, or approve with the Slack button or with `gantry approve` and an API key; a link can still reject.';

export async function decide(
  rt: Runtime,
  approvalId: string,
  input: {
    decision: 'approve' | 'reject';
    /** The identity that counts: a Slack user, a key's approver, a signed-in identity, or LINK_APPROVER. */
    approver: string;
    via: string;
    reason?: string;
    /** A name typed into the review form: kept for the audit trail, never counted. */
    claim?: string;
  },
  actor: Actor,
): Promise<ApprovalRecord> {
  for (let attempt = 0; attempt < 10; attempt++) {
    const approval = await requireApproval(rt, approvalId);
    if (isExpired(approval)) {
      await expire(rt, approval);
      throw conflict('This approval has expired.');
    }
    if (approval.status !== 'pending') throw conflict(`This approval is already ${approval.status}.`);
    const byLink = input.approver === LINK_APPROVER;
    if (byLink && input.decision === 'approve' && !linkMayApprove(approval))
      throw forbidden(LINK_CANNOT_APPROVE);
    if (!byLink && approval.approvers && !approval.approvers.includes(input.approver)) {
      throw forbidden(`"${input.approver}" is not one of the approvers of this environment.`);
    }
    // The same decision again (a double click, a retry) changes nothing and says nothing twice.
    const previous = approval.decisions.find((d) => d.approver === input.approver);
    if (previous?.decision === input.decision) return approval;
    const decisions = [
      ...approval.decisions.filter((d) => d.approver !== input.approver),
      {
        approver: input.approver,
        decision: input.decision,
        at: isoNow(),
        via: input.via,
        ...(input.reason ? { reason: input.reason } : {}),
        ...(input.claim ? { claim: input.claim } : {}),
      },
    ];
    const approvals = decisions.filter((d) => d.decision === 'approve').length;
    const status: ApprovalStatus =
      input.decision === 'reject' ? 'rejected' : approvals >= approval.minApprovals ? 'approved' : 'pending';
    let updated: ApprovalRecord;
    try {
      updated = await updateItem<ApprovalRecord>(
        rt,
        approvalKey(approvalId),
        {
          set: {
            decisions,
            status,
            rev: approval.rev + 1,
            ...(status !== 'pending' ? { decidedAt: isoNow() } : {}),
          },
        },
        {
          expression: 'rev = :rev AND #s = :pending',
          names: { '#s': 'status' },
          values: { ':rev': approval.rev, ':pending': 'pending' },
        },
      );
    } catch (error) {
      if (error instanceof ConditionFailed) continue;
      throw error;
    }
    await publish(rt, [
      {
        detailType: DETAIL_TYPES.approvalDecided,
        deployment: updated.deployment,
        version: updated.tag,
        environment: updated.environment,
        actor: { ...actor, approver: input.approver },
        data: {
          approvalId,
          decision: input.decision,
          approver: input.approver,
          via: input.via,
          status,
          reason: input.reason ?? null,
          ...(input.claim ? { claim: input.claim } : {}),
        },
      },
    ]);
    if (status === 'approved') await wake(rt, signals.approval(approvalId));
    if (status === 'rejected') {
      await cancelReleases(rt, updated.deployment, updated.tag, {
        onlyUndispatched: true,
        environment: updated.environment,
        message: `Rejected by ${input.approver}${input.reason ? `: ${input.reason}` : '.'}`,
        actor: { ...actor, approver: input.approver },
      });
    }
    return updated;
  }
  throw conflict('The approval changed too often while deciding; try again.');
}

/** An approval past its expiry: marked expired, its waiting releases cancelled. */
export async function expire(rt: Runtime, approval: ApprovalRecord): Promise<void> {
  try {
    await updateItem(
      rt,
      approvalKey(approval.approvalId),
      { set: { status: 'expired', decidedAt: isoNow(), rev: approval.rev + 1 } },
      { expression: '#s = :pending', names: { '#s': 'status' }, values: { ':pending': 'pending' } },
    );
  } catch (error) {
    if (error instanceof ConditionFailed) return;
    throw error;
  }
  await cancelReleases(rt, approval.deployment, approval.tag, {
    onlyUndispatched: true,
    environment: approval.environment,
    message: 'The approval expired.',
    actor: SYSTEM,
  });
}

/** A page of approvals, newest first: one Query page, filtered by status (so possibly short). */
export async function listApprovals(
  rt: Runtime,
  status?: ApprovalStatus,
  page: { limit?: number; nextToken?: string } = {},
): Promise<Page<ApprovalRecord>> {
  const out = await rt.doc.send(
    new QueryCommand({
      TableName: rt.tableName,
      IndexName: 'gsi1',
      KeyConditionExpression: 'gsi1pk = :pk',
      ExpressionAttributeValues: { ':pk': keys.approvals, ...(status ? { ':s': status } : {}) },
      ...(status ? { FilterExpression: '#s = :s', ExpressionAttributeNames: { '#s': 'status' } } : {}),
      ScanIndexForward: false,
      Limit: page.limit ?? 100,
      ExclusiveStartKey: decodeToken(page.nextToken, { name: 'gsi1pk', value: keys.approvals }),
    }),
  );
  return {
    items: (out.Items ?? []).map(
      ({ pk: _pk, sk: _sk, gsi1pk: _a, gsi1sk: _b, tokenHash: _t, ...rest }) => rest as ApprovalRecord,
    ),
    nextToken: encodeToken(out.LastEvaluatedKey),
  };
}
