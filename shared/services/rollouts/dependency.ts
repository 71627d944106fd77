import { randomUUID } from 'node:crypto';
import { type AuditRecord, DETAIL_TYPES, putOnBus, SYSTEM } from '../../adapters/events';
import type { Runtime } from '../../adapters/runtime';
import { getInventoryRevision } from '../../adapters/store/config';
import {
  currentVersions,
  type RunningRecord,
  readRunning,
  revisionStamp,
  storeRunning,
  takeTicket,
} from '../../adapters/store/dependency';
import { inventorySnapshot } from '../../adapters/store/inventory';
import { signals, wake } from '../../adapters/workflow';
import { currentDate, isoNow } from '../../core/clock';
import type { GateWait } from '../../core/lifecycle';
import { dependencyVerdict, type Running, wakesDependants } from '../../core/policy/dependency';
import type { MergedRules } from '../../core/policy/merge';
import { factsFor, runningIn } from './dependency-state';

/**
 * The deployment dependency gate (rule deploymentDependency, docs/policies.md) and what wakes it. A
 * waiting release reads one summary item per dependency (store/dependency.ts); the summary is
 * refreshed when the dependency's current version changes in the environment (a success or a rollback
 * announces it), and the refresh wakes the waiting releases only when the change can satisfy them.
 */

/** A summary older than this, or read under another inventory revision, is refreshed before it is used. */
const FRESH_MS = 3600_000;
/** A gate that finds a stale summary refreshes it unless another refresh began this recently... */
const EXCLUSIVE_SECONDS = 10;
/** ...and then reads it again this often, this many times, for that refresh's result. */
const AWAIT_MS = 100;
const AWAIT_READS = 30;

/**
 * Reads what the deployment runs in the environment and stores it over any older reading; when that
 * can satisfy releases the reading before could not, wakes them. `exclusive`: not while another
 * refresh is under way (undefined then).
 */
export async function refreshRunning(
  rt: Runtime,
  deployment: string,
  environment: string,
  exclusive = false,
): Promise<RunningRecord | undefined> {
  const now = currentDate();
  const since = exclusive ? new Date(now.getTime() - EXCLUSIVE_SECONDS * 1000).toISOString() : undefined;
  // The ticket before the targets are read; the revision before the inventory, so a reading is never
  // marked newer than the inventory it was computed from.
  const [ticket, revision] = await Promise.all([
    takeTicket(rt, deployment, environment, now.toISOString(), since),
    getInventoryRevision(rt),
  ]);
  if (ticket === undefined) return undefined;
  const [inventory, current] = await Promise.all([
    inventorySnapshot(rt, revision),
    currentVersions(rt, deployment, environment),
  ]);
  const running = await runningIn(rt, inventory, deployment, environment, current);
  const record: RunningRecord = {
    deployment,
    environment,
    ...running,
    revision: revisionStamp(revision),
    ticket,
    computedAt: isoNow(),
  };
  const { stored, previous } = await storeRunning(rt, record);
  if (stored && wakesDependants(previous, running))
    await wake(rt, signals.dependency(deployment, environment));
  return record;
}

/** A release of a deployment others depend on changed what runs on its target: its dependants re-check. */
export async function announceDependencyChange(
  rt: Runtime,
  release: { deployment: string; environment: string },
): Promise<void> {
  // Shaped as an audit record (the consumers take those), but internal: never in the audit trail.
  const record: AuditRecord = {
    id: randomUUID(),
    time: isoNow(),
    detailType: DETAIL_TYPES.dependencyChanged,
    deployment: release.deployment,
    environment: release.environment,
    actor: SYSTEM,
  };
  await putOnBus(rt, [record]);
}

/** The reading of a refresh under way (one newer than ticket `after`), read again for a few seconds. */
async function refreshed(
  rt: Runtime,
  deployment: string,
  environment: string,
  after: number,
): Promise<RunningRecord | undefined> {
  for (let i = 0; i < AWAIT_READS; i++) {
    await new Promise((resolve) => setTimeout(resolve, AWAIT_MS));
    const { revision, running } = await readRunning(rt, [deployment], environment);
    const record = running.get(deployment);
    if (record && record.ticket > after && record.revision === revision) return record;
  }
  return undefined;
}

/**
 * The first dependency of the rule that the release's environment does not satisfy, as a wait on the
 * signal its refresh wakes; undefined when all are satisfied. One BatchGetItem (the inventory revision
 * and a summary per dependency), and one more for the versions when a rule has a versionCondition.
 */
export async function dependencyGate(
  rt: Runtime,
  release: { environment: string },
  rule: NonNullable<MergedRules['deploymentDependency']>,
  now: Date,
): Promise<GateWait | undefined> {
  const { environment } = release;
  const deployments = [...new Set(rule.dependsOn.map((d) => d.deployment))];
  const { revision, running } = await readRunning(rt, deployments, environment);
  const current = new Map<string, Running>();
  for (const deployment of deployments) {
    let known = running.get(deployment);
    const fresh = known?.revision === revision && now.getTime() - Date.parse(known.computedAt) < FRESH_MS;
    if (!fresh) {
      known =
        (await refreshRunning(rt, deployment, environment, true)) ??
        (await refreshed(rt, deployment, environment, known?.ticket ?? 0));
      if (!known) {
        return {
          gate: 'deployment_dependency',
          signal: signals.dependency(deployment, environment),
          timeoutSeconds: EXCLUSIVE_SECONDS,
          message: `Waiting for what ${deployment} runs in ${environment} to be read.`,
        };
      }
    }
    current.set(deployment, known as Running);
  }
  const facts = await factsFor(rt, rule.dependsOn, current);
  for (const d of rule.dependsOn) {
    const running = current.get(d.deployment) as Running;
    const verdict = dependencyVerdict(d, environment, running, facts.get(d.deployment) ?? new Map());
    if (!verdict.satisfied) {
      return {
        gate: 'deployment_dependency',
        signal: signals.dependency(d.deployment, environment),
        message: `${verdict.message.slice(0, -1)} (policy ${d.policy}).`,
      };
    }
  }
  return undefined;
}
