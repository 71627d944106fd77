import { createHmac, timingSafeEqual } from 'node:crypto';
import { type Outbound, OutboundError, outbound } from './outbound';

/** What the Slack message about one approval shows (docs/api.md section 7). */
export interface ApprovalSummary {
  approvalId: string;
  deployment: { id: string; name: string };
  version: string;
  environment: { id: string; name: string };
  /** Ids of the resources waiting on the approval. */
  targets: string[];
  /** More targets wait than `targets` names: the counts show as at least its length (`1000+`). */
  moreTargets?: boolean;
  minApprovals: number;
  approvers?: string[];
  expiresAt: string;
  /** `<public base>/approvals/<id>?t=<token>` */
  reviewUrl: string;
}

export type SlackActionId = 'gantry_approve' | 'gantry_reject';

export interface SlackInteraction {
  userId: string;
  userName?: string;
  actionId: SlackActionId;
  approvalId: string;
  responseUrl?: string;
}

/** Posting to Slack failed. The message never contains the webhook URL: the URL is the credential. */
export class SlackError extends Error {
  override readonly name = 'SlackError';
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

const MAX_TARGETS = 20;
// Slack limits: header text 150, section text 3000, field 2000, button text 75 characters.
const HEADER_MAX = 150;
const SECTION_MAX = 3000;
const FIELD_MAX = 2000;

/** Escapes the three characters Slack treats as control characters in mrkdwn and `text`. */
export function escapeMrkdwn(value: string): string {
  return value.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function truncate(value: string, max: number): string {
  return value.length <= max ? value : `${value.slice(0, max - 1)}…`;
}

/** Inline code keeps `_` and `*` in ids from turning into formatting; a backtick would end it early. */
const code = (value: string) => `\`${escapeMrkdwn(value.replace(/`/g, "'"))}\``;

const named = (x: { id: string; name: string }) =>
  x.name && x.name !== x.id ? `${escapeMrkdwn(x.name)} (${code(x.id)})` : code(x.id);

function expiry(expiresAt: string): string {
  const ms = Date.parse(expiresAt);
  const fallback = escapeMrkdwn(expiresAt);
  // Slack renders the date in each reader's time zone and falls back to the text after `|`.
  return Number.isNaN(ms)
    ? fallback
    : `<!date^${Math.floor(ms / 1000)}^{date_short_pretty} {time}|${fallback}>`;
}

function targetList(targets: string[], more = false): string {
  const head = `*Waiting targets (${targets.length}${more ? '+' : ''}):*`;
  if (targets.length === 0) return `${head} none`;
  let shown = Math.min(targets.length, MAX_TARGETS);
  for (;;) {
    const lines = targets.slice(0, shown).map((t) => `• ${code(truncate(t, 120))}`);
    const rest = targets.length - shown;
    if (more) lines.push(rest > 0 ? `and ${rest}+ more` : 'and more');
    else if (rest > 0) lines.push(`and ${rest} more`);
    const text = `${head}\n${lines.join('\n')}`;
    if (text.length <= SECTION_MAX || shown === 1) return truncate(text, SECTION_MAX);
    shown--;
  }
}

/** The incoming-webhook body for an approval request: a fallback `text` with the review link and Block Kit blocks. */
export function approvalMessage(a: ApprovalSummary): { text: string; blocks: unknown[] } {
  const plural = a.targets.length === 1 ? 'target' : 'targets';
  const text =
    `Approval needed: ${escapeMrkdwn(a.deployment.name || a.deployment.id)} ${escapeMrkdwn(a.version)}` +
    ` to ${escapeMrkdwn(a.environment.name || a.environment.id)} (${a.targets.length}${a.moreTargets ? '+' : ''} ${plural}).` +
    ` Review: ${escapeMrkdwn(a.reviewUrl)}`;

  const fields = [
    `*Deployment:*\n${named(a.deployment)}`,
    `*Version:*\n${code(a.version)}`,
    `*Environment:*\n${named(a.environment)}`,
    `*Approvals needed:*\n${a.minApprovals}`,
    `*Expires:*\n${expiry(a.expiresAt)}`,
  ];
  if (a.approvers && a.approvers.length > 0) {
    fields.push(`*Approvers:*\n${a.approvers.map(escapeMrkdwn).join(', ')}`);
  }

  const button = (label: string, extra: Record<string, string>) => ({
    type: 'button',
    text: { type: 'plain_text', text: label },
    ...extra,
  });

  const blocks: unknown[] = [
    {
      type: 'header',
      // plain_text is shown verbatim, so it is not escaped.
      text: {
        type: 'plain_text',
        text: truncate(`Approval needed: ${a.deployment.name || a.deployment.id} ${a.version}`, HEADER_MAX),
      },
    },
    { type: 'section', fields: fields.map((f) => ({ type: 'mrkdwn', text: truncate(f, FIELD_MAX) })) },
    { type: 'section', text: { type: 'mrkdwn', text: targetList(a.targets, a.moreTargets) } },
    {
      type: 'actions',
      block_id: 'gantry_approval',
      elements: [
        button('Review', { action_id: 'gantry_review', url: a.reviewUrl, style: 'primary' }),
        button('Approve', { action_id: 'gantry_approve', value: a.approvalId }),
        button('Reject', { action_id: 'gantry_reject', value: a.approvalId, style: 'danger' }),
      ],
    },
  ];
  return { text, blocks };
}

export interface PostOptions {
  /** Per attempt, default 5000. */
  timeoutMs?: number;
  /** Delay before retry n (1-based) is `retryDelayMs * n`; default 500. */
  retryDelayMs?: number;
}

const RETRIES = 2;

/**
 * POSTs `body` as JSON to an incoming webhook through the guarded outbound client (a redirect is an
 * answer, not followed); retries twice on 5xx, timeouts and connection errors.
 */
export async function postToSlack(
  webhookUrl: string,
  body: unknown,
  send: Outbound = outbound,
  options: PostOptions = {},
): Promise<void> {
  const timeoutMs = options.timeoutMs ?? 5000;
  const retryDelayMs = options.retryDelayMs ?? 500;
  const payload = JSON.stringify(body);
  let failure = new SlackError('Slack webhook was not called');
  for (let attempt = 0; attempt <= RETRIES; attempt++) {
    if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, retryDelayMs * attempt));
    try {
      const response = await send({
        url: webhookUrl,
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: payload,
        timeoutMs,
        maxBytes: 64 * 1024,
      });
      if (response.status >= 200 && response.status <= 299) return;
      // Slack answers errors with a short code such as `invalid_payload`; anything else is not repeated.
      const answer = response.body.trim();
      const detail = /^[a-z_]{1,64}$/.test(answer) ? `: ${answer}` : '';
      failure = new SlackError(`Slack webhook answered HTTP ${response.status}${detail}`, response.status);
      if (response.status < 500) throw failure;
    } catch (error) {
      if (error instanceof SlackError) throw error;
      // The outbound client's messages name no URL; another error's own text might.
      if (error instanceof OutboundError && error.reason === 'timeout')
        failure = new SlackError(`Slack webhook timed out after ${timeoutMs} ms`);
      else if (error instanceof OutboundError && (error.reason === 'refused' || error.reason === 'too_large'))
        throw new SlackError(`Slack webhook failed: ${error.message}`);
      else failure = new SlackError('Slack webhook could not be reached');
    }
  }
  throw new SlackError(`${failure.message} (gave up after ${RETRIES + 1} attempts)`, failure.status);
}

const REPLAY_WINDOW_SECONDS = 300;

/** Slack's v0 request signature: v0=HMAC-SHA256(signingSecret, `v0:${timestamp}:${rawBody}`), constant-time compare, timestamp within 300 s of now (replay window). */
export function verifySlackSignature(input: {
  signingSecret: string;
  timestamp: string | undefined;
  signature: string | undefined;
  rawBody: string;
  nowSeconds: number;
}): boolean {
  const { signingSecret, timestamp, signature, rawBody, nowSeconds } = input;
  if (!signingSecret || !timestamp || !signature) return false;
  if (!/^\d{1,12}$/.test(timestamp)) return false;
  if (Math.abs(nowSeconds - Number(timestamp)) > REPLAY_WINDOW_SECONDS) return false;
  // Lower case only (docs/api.md section 7): an upper-cased copy is another string, which would slip past
  // the replay check that remembers the header as it was accepted.
  if (!/^v0=[0-9a-f]{64}$/.test(signature)) return false;
  const expected = createHmac('sha256', signingSecret).update(`v0:${timestamp}:${rawBody}`, 'utf8').digest();
  return timingSafeEqual(expected, Buffer.from(signature.slice(3), 'hex'));
}

const isRecord = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null;
const nonEmpty = (x: unknown): x is string => typeof x === 'string' && x.length > 0;

/** Parses the form-encoded interactivity payload (`payload=<url-encoded JSON>`); undefined if not a gantry button. */
export function parseInteraction(rawBody: string): SlackInteraction | undefined {
  const raw = new URLSearchParams(rawBody).get('payload');
  if (!raw) return undefined;
  let payload: unknown;
  try {
    payload = JSON.parse(raw);
  } catch {
    return undefined;
  }
  if (!isRecord(payload) || payload.type !== 'block_actions') return undefined;
  const { user, actions } = payload;
  if (!isRecord(user) || !nonEmpty(user.id) || !Array.isArray(actions)) return undefined;
  for (const action of actions) {
    if (!isRecord(action) || !nonEmpty(action.value)) continue;
    if (action.action_id !== 'gantry_approve' && action.action_id !== 'gantry_reject') continue;
    const userName = nonEmpty(user.username) ? user.username : nonEmpty(user.name) ? user.name : undefined;
    return {
      userId: user.id,
      ...(userName === undefined ? {} : { userName }),
      actionId: action.action_id,
      approvalId: action.value,
      ...(nonEmpty(payload.response_url) ? { responseUrl: payload.response_url } : {}),
    };
  }
  return undefined;
}
