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
  // Downstream environments re-check their progression; the next target of a make-before-break
  // rollout in this environment re-checks its turn.
  await Promise.all([
    wake(rt, signals.progression(deployment, version, environment)),
    wake(rt, signals.verified(deployment, version, environment)),
  ]);
});
