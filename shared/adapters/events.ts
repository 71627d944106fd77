import { PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { monotonicFactory } from 'ulid';
import { isoNow, nowMs } from '../core/clock';
import type { Runtime } from './runtime';
import { batchWrite } from './store/batch';
import { decodeToken, encodeToken, type Page } from './store/config';
import { keys } from './store/keys';

/** Event source and detail types (docs/api.md section 8): used by publishers and by the bus rules. */
export const EVENT_SOURCE = 'gantry';

export const DETAIL_TYPES = {
  versionCreated: 'Version Created',
  /** A version became ready: its releases exist and their executions are to be started. */
  versionReady: 'Version Ready',
  releaseStarted: 'Release Started',
  releaseWaiting: 'Release Waiting',
  releaseSucceeded: 'Release Succeeded',
  releaseFailed: 'Release Failed',
  releaseRolledBack: 'Release Rolled Back',
  releaseCancelled: 'Release Cancelled',
  releaseSuperseded: 'Release Superseded',
  approvalRequested: 'Approval Requested',
  approvalDecided: 'Approval Decided',
  jobDispatched: 'Job Dispatched',
  jobUpdated: 'Job Updated',
  overrideApplied: 'Override Applied',
  configurationChanged: 'Configuration Changed',
  /** A freeze (docs/api.md section 10) began to hold releases, or stopped: one each per period. */
  freezeStarted: 'Freeze Started',
  freezeEnded: 'Freeze Ended',
  /** The plan of a version could not be posted as a check run on its commit (shared/services/github-plan.ts). */
  githubCheckFailed: 'GitHub Check Failed',
  /** A subscription keeps failing (docs/subscriptions.md); never delivered to subscriptions themselves. */
  subscriptionFailing: 'Subscription Failing',
  /** Internal, not audited: work a write caused is queued or goes on with its next chunk. */
  workRequested: 'Work Requested',
  /** Internal, not audited: what a deployment others depend on runs in an environment changed. */
  dependencyChanged: 'Dependency Changed',
  /** Internal, not audited: a calendar freeze was written, its feed is to be read now. */
  freezeRefreshRequested: 'Freeze Refresh Requested',
} as const;
export type DetailType = (typeof DETAIL_TYPES)[keyof typeof DETAIL_TYPES];
/** Events Gantry sends to itself: on the bus, but not in the audit trail nor in events.jsonl. */
export const INTERNAL_DETAIL_TYPES: ReadonlySet<string> = new Set([
  DETAIL_TYPES.workRequested,
  DETAIL_TYPES.dependencyChanged,
  DETAIL_TYPES.freezeRefreshRequested,
]);
/**
 * What a subscription may receive: every audited detail type but `Subscription Failing`, which would
 * report a failing subscriber to itself, and again.
 */
export const SUBSCRIBABLE_DETAIL_TYPES = Object.values(DETAIL_TYPES).filter(
  (type) => !INTERNAL_DETAIL_TYPES.has(type) && type !== DETAIL_TYPES.subscriptionFailing,
) as [DetailType, ...DetailType[]];

export interface Actor {
  keyId?: string;
  approver?: string;
  /** `gantry` for changes the service makes on its own (a workflow step). */
  system?: string;
}

export interface GantryEvent {
  detailType: DetailType;
  /** Absent only for inventory changes that concern no single deployment. */
  deployment?: string;
  version?: string;
  environment?: string;
  resource?: string;
  actor: Actor;
  /** Anything else the event carries; never a token or a secret. */
  data?: Record<string, unknown>;
}

export interface AuditRecord extends GantryEvent {
  id: string;
  time: string;
}

export const SYSTEM: Actor = { system: 'gantry' };

/** An event about one release (or one of its jobs): it names the deployment, version, environment and resource. */
export function releaseEvent(
  release: { deployment: string; tag: string; environment: string; resource: string },
  detailType: DetailType,
  data?: Record<string, unknown>,
  actor: Actor = SYSTEM,
): GantryEvent {
  return {
    detailType,
    deployment: release.deployment,
    version: release.tag,
    environment: release.environment,
    resource: release.resource,
    actor,
    data,
  };
}

const PUT_EVENTS_BATCH = 10;
/** Ids that sort in publishing order, also within one millisecond. */
const ulid = monotonicFactory();

/** The audit records of these events: each with its id and time, fixed before it is published. */
export function auditRecords(events: GantryEvent[], now = nowMs()): AuditRecord[] {
  const time = isoNow(now);
  return events.map((event) => ({ ...event, id: ulid(now), time }));
}

/** Publishes on the bus and keeps the same events as the audit trail. */
export async function publish(rt: Runtime, events: GantryEvent[], now = nowMs()): Promise<void> {
  await publishRecords(rt, auditRecords(events, now));
}

/**
 * Writes the audit records, then puts them on the bus. Publishing a record again (the outbox's sweep,
 * shared/services/rollouts/outbox.ts) rewrites the same audit item and sends the same event id.
 */
export async function publishRecords(rt: Runtime, records: AuditRecord[]): Promise<void> {
  if (records.length === 0) return;
  await batchWrite(
    rt,
    records.map((record) => ({
      put: {
        pk: keys.events,
        sk: `${record.time}#${record.id}`,
        ...(record.deployment
          ? { gsi1pk: keys.eventsOfDeployment(record.deployment), gsi1sk: `${record.time}#${record.id}` }
          : {}),
        ...record,
      },
    })),
  );
  await putOnBus(rt, records);
}

/**
 * PutEvents, 10 entries a request. EventBridge can fail single entries of an accepted request
 * (FailedEntryCount): those are sent again with backoff, and an entry that keeps failing throws.
 */
export async function putOnBus(
  rt: Runtime,
  records: { detailType: DetailType; time: string; data?: Record<string, unknown> }[],
): Promise<void> {
  for (let i = 0; i < records.length; i += PUT_EVENTS_BATCH) {
    let pending = records.slice(i, i + PUT_EVENTS_BATCH).map((record) => ({
      EventBusName: rt.busName,
      Source: EVENT_SOURCE,
      DetailType: record.detailType,
      Time: new Date(record.time),
      Detail: JSON.stringify(record),
    }));
    for (let attempt = 1; pending.length > 0; attempt++) {
      const out = await rt.events.send(new PutEventsCommand({ Entries: pending }));
      if (!out.FailedEntryCount) break;
      const failed = pending.filter((_, n) => out.Entries?.[n]?.ErrorCode);
      if (attempt === 5) {
        const codes = [...new Set(out.Entries?.map((e) => e.ErrorCode).filter(Boolean))].join(', ');
        throw new Error(`EventBridge failed ${failed.length} entries: ${codes}`);
      }
      pending = failed;
      await new Promise((r) => setTimeout(r, Math.random() * 100 * 2 ** attempt));
    }
  }
}

export async function listEvents(
  rt: Runtime,
  query: { deployment?: string; since?: string; limit?: number; nextToken?: string },
): Promise<Page<AuditRecord>> {
  const byDeployment = query.deployment !== undefined;
  const out = await rt.doc.send(
    new QueryCommand({
      TableName: rt.tableName,
      IndexName: byDeployment ? 'gsi1' : undefined,
      KeyConditionExpression: query.since ? '#pk = :pk AND #sk >= :since' : '#pk = :pk',
      ExpressionAttributeNames: {
        '#pk': byDeployment ? 'gsi1pk' : 'pk',
        ...(query.since ? { '#sk': byDeployment ? 'gsi1sk' : 'sk' } : {}),
      },
      ExpressionAttributeValues: {
        ':pk': byDeployment ? keys.eventsOfDeployment(query.deployment ?? '') : keys.events,
        ...(query.since ? { ':since': new Date(query.since).toISOString() } : {}),
      },
      Limit: query.limit ?? 100,
      ExclusiveStartKey: decodeToken(
        query.nextToken,
        byDeployment
          ? { name: 'gsi1pk', value: keys.eventsOfDeployment(query.deployment ?? '') }
          : { name: 'pk', value: keys.events },
      ),
    }),
  );
  const items = (out.Items ?? []).map(
    ({ pk: _pk, sk: _sk, gsi1pk: _a, gsi1sk: _b, ...rest }) => rest as AuditRecord,
  );
  return { items, nextToken: encodeToken(out.LastEvaluatedKey) };
}
