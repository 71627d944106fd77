import type { EventBridgeEvent } from 'aws-lambda';
import type { AuditRecord } from '../../shared/events';
import { mirrorEnvironment } from '../../shared/github/deployments';
import { runtime } from '../../shared/runtime';
import type { DeploymentBody } from '../../shared/schemas/config';
import { getConfig } from '../../shared/store/config';

/** Release events -> the GitHub Deployment of that version and environment follows them. */
export const handler = async (event: EventBridgeEvent<string, AuditRecord>) => {
  const { deployment, version, environment } = event.detail;
  if (!deployment || !version || !environment) return;
  const rt = runtime();
  const stored = await getConfig<DeploymentBody>(rt, 'deployment', deployment);
  if (!stored?.data.github) return;
  await mirrorEnvironment(rt, stored, version, environment);
};
