import { DETAIL_TYPES } from '../../shared/adapters/events';
import { mirrorEnvironment } from '../../shared/adapters/github';
import { runtime } from '../../shared/adapters/runtime';
import { getConfig } from '../../shared/adapters/store/config';
import type { DeploymentBody } from '../../shared/core/schemas/config';
import { postPlanCheck } from '../../shared/services/github-plan';
import { inputHandler } from '../task-input';
import { AuditEvent } from './input';

const VERSION_EVENTS: ReadonlySet<string> = new Set([DETAIL_TYPES.versionCreated, DETAIL_TYPES.versionReady]);

/**
 * Version events -> the version's plan as a check run on its commit; release events -> the GitHub
 * Deployment of that version and environment follows them.
 */
export const handler = inputHandler(AuditEvent, 'The version or release event', async (event) => {
  const { deployment, version, environment } = event.detail;
  const forVersion = VERSION_EVENTS.has(event['detail-type']);
  if (!deployment || !version || (!forVersion && !environment)) return;
  // A version naming no commit has no check run: no read of its deployment.
  if (forVersion && !event.detail.data?.commit) return;
  const rt = runtime();
  const stored = await getConfig<DeploymentBody>(rt, 'deployment', deployment);
  if (!stored?.data.github) return;
  if (forVersion) await postPlanCheck(rt, stored, version);
  else if (environment) await mirrorEnvironment(rt, stored, version, environment);
});
