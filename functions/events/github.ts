import type { EventBridgeEvent } from 'aws-lambda';
import type { AuditRecord } from '../../shared/adapters/events';
import { mirrorEnvironment } from '../../shared/adapters/github';
import { runtime } from '../../shared/adapters/runtime';
import { getConfig } from '../../shared/adapters/store/config';
import type { DeploymentBody } from '../../shared/core/schemas/config';

/** Release events -> the GitHub Deployment of that version and environment follows them. */
export const handler = async (event: EventBridgeEvent<string, AuditRecord>) => {
  const { deployment, version, environment } = event.detail;
  if (!deployment || !version || !environment) return;
  const rt = runtime();
  const stored = await getConfig<DeploymentBody>(rt, 'deployment', deployment);
  if (!stored?.data.github) return;
  await mirrorEnvironment(rt, stored, version, environment);
};
