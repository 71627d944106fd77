import { randomUUID } from 'node:crypto';
import { type AuditRecord, DETAIL_TYPES, putOnBus, SYSTEM } from '../../adapters/events';
import type { Runtime } from '../../adapters/runtime';
import { getInventoryRevision, revisionStamp } from '../../adapters/store/config';
import {
  currentVersions,
  markRefreshAsked,
  type RunningRecord,
  readRunning,
  storeRunning,
  takeTicket,
} from '../../adapters/store/dependency';
import { inventorySnapshot } from '../../adapters/store/inventory';
import { signals, wake } from '../../adapters/workflow';
import { isoNow } from '../../core/clock';
import type { GateWait } from '../../core/lifecycle';
import { dependencyVerdict, type Running, wakesDependants } from '../../core/policy/dependency';
import type { MergedRules } from '../../core/policy/merge';
import { factsFor, runningIn } from './dependency-state';

/**
 * The deployment dependency gate (rule deploymentDependency, docs/policies.md) and what wakes it. A
 * waiting release reads one summary item per dependency (store/dependency.ts). The summary is
 * refreshed by event-progression on `Dependency Changed`: published when a success or a rollback
 * changes what a depended-on deployment runs (the refresh then wakes the waiting releases only when
 * the change can satisfy them), or by a gate that found the summary stale (the refresh then wakes
 * them all, to read it again).
 */

/** A summary older than this, or read under another inventory revision, is refreshed before it is used. */
const FRESH_MS = 3600_000;
/** A stale summary is asked to be refreshed once in this long, however many releases find it... */
const ASK_SECONDS = 10;
/** ...and read again this often, this many times, for the new reading (else the release waits for it). */
const REREAD_MS = 100;
const REREADS = 20;

/**
 * Reads what the deployment runs in the environment and stores it over any older reading; wakes the
 * releases waiting on it when that can satisfy them where the reading before could not (`asked`:
 * always, as they asked for it).
 */
export async function refreshRunning(
  rt: Runtime,
  deployment: string,
  environment: string,
  asked = false,
): Promise<void> {
  // The ticket before the targets are read; the revision before the inventory, so a reading is never
  // marked newer than the inventory it was computed from.
  const [ticket, revision] = await Promise.all([
    takeTicket(rt, deployment, environment),
    getInventoryRevision(rt),
  ]);
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
  if (stored && (asked || wakesDependants(previous, running)))
    await wake(rt, signals.dependency(deployment, environment));
}

/**
 * What a deployment runs in an environment is to be read again: it changed (a release of a deployment
 * others depend on succeeded or rolled back), or a gate found the reading stale (`asked`).
 */
export async function announceDependencyChange(
  rt: Runtime,
  release: { deployment: string; environment: string },
  asked = false,
): Promise<void> {
  // Shaped as an audit record (the consumers take those), but internal: never in the audit trail.
  const record: AuditRecord = {
    id: randomUUID(),
    time: isoNow(),
    detailType: DETAIL_TYPES.dependencyChanged,
    deployment: release.deployment,
    environment: release.environment,
    actor: SYSTEM,
    ...(asked ? { data: { asked: true } } : {}),
  };
  await putOnBus(rt, [record]);
}

/** A reading newer than ticket `after`, read again for a moment (the refresh asked for takes that long). */
async function newerReading(
  rt: Runtime,
  deployment: string,
  environment: string,
  after: number,
): Promise<RunningRecord | undefined> {
  for (let i = 0; i < REREADS; i++) {
    await new Promise((resolve) => setTimeout(resolve, REREAD_MS));
    const found = (await readRunning(rt, [deployment], environment)).running.get(deployment);
    if (found && found.ticket > after) return found;
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
    if (known?.revision !== revision || now.getTime() - Date.parse(known.computedAt) >= FRESH_MS) {
      // Stale or never read: the first release to find it so asks event-progression to read it; each
      // reads the summary again for a moment, then waits to be woken (or asks again after ASK_SECONDS).
      const since = new Date(now.getTime() - ASK_SECONDS * 1000).toISOString();
      if (await markRefreshAsked(rt, deployment, environment, now.toISOString(), since))
        await announceDependencyChange(rt, { deployment, environment }, true);
      known = await newerReading(rt, deployment, environment, known?.ticket ?? 0);
      if (!known) {
        return {
          gate: 'deployment_dependency',
          signal: signals.dependency(deployment, environment),
          timeoutSeconds: ASK_SECONDS,
          message: `Reading what ${deployment} runs in ${environment}.`,
        };
      }
    }
    current.set(deployment, known);
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
