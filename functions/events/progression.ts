import { wakeDebounced } from '../../shared/adapters/debounced-wake';
import { DETAIL_TYPES } from '../../shared/adapters/events';
import { runtime } from '../../shared/adapters/runtime';
import { signals, wake } from '../../shared/adapters/workflow';
import { refreshRunning } from '../../shared/services/rollouts/dependency';
import { inputHandler } from '../task-input';
import { AuditEvent } from './input';

/**
 * A release finished upstream -> the releases of that version waiting on this environment re-check.
 * A deployment others depend on changed what it runs in an environment (`Dependency Changed`) -> its
 * summary is read again, which wakes the dependants it can satisfy (rule deploymentDependency).
 */
export const handler = inputHandler(AuditEvent, 'The release event', async (event) => {
  const rt = runtime();
  const { deployment, version, environment } = event.detail;
  if (event['detail-type'] === DETAIL_TYPES.dependencyChanged) {
    if (deployment && environment)
      await refreshRunning(rt, deployment, environment, event.detail.data?.asked === true);
    return;
  }
  if (!deployment || !version || !environment) return;
  await Promise.all([
    // Downstream environments re-check their progression, at most once per PROGRESSION_WAKE_MS for
    // the whole upstream environment (not once per upstream release), and never later than that.
    wakeDebounced(rt, signals.progression(deployment, version, environment), PROGRESSION_WAKE_MS),
    // The next target of a make-before-break rollout re-checks its turn: only the one after this release.
    event.detail.resource
      ? wake(rt, signals.verified(deployment, version, environment, event.detail.resource))
      : 0,
    // Executions parked before waiters named their predecessor: one empty Query once none is left
    // (they re-check within MAX_SIGNAL_WAIT_SECONDS, 24 h, of parking); remove a day after deploying.
    wake(rt, signals.verified(deployment, version, environment)),
  ]);
});

/**
 * Why debounce rather than decide which downstream waiters' answer changed: that needs the upstream's
 * releases read per completion (the waiters' thresholds differ); the debounce costs a completion one
 * Query of one waiter, and a GetItem and a conditional write while some wait; each waiter re-checks
 * at most once per window.
 */
const PROGRESSION_WAKE_MS = 10_000;
