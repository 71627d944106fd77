import type { EventBridgeEvent } from 'aws-lambda';
import type { AuditRecord } from '../../shared/events';
import { log } from '../../shared/log';
import { startReleases } from '../../shared/rollouts/versions';
import { runtime } from '../../shared/runtime';

/** `Version Ready` -> one execution per unfinished release of the version (idempotent). */
export const handler = async (event: EventBridgeEvent<'Version Ready', AuditRecord>) => {
  const { deployment, version } = event.detail;
  if (!deployment || !version) return;
  const started = await startReleases(runtime(), deployment, version);
  log.info('fan-out', { deployment, version, started });
};
