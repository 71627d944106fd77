import { runtime } from '../../shared/adapters/runtime';
import { renderJob, reportJobStatus } from '../../shared/services/rollouts/jobs';
import { httpHandler, json } from './kernel';
import { JOB_ROUTES } from './routes/jobs';

/** Job callbacks (docs/api.md section 6): bearer job token or a jobs:write key. */
export const handler = httpHandler(JOB_ROUTES, {
  reportJobStatus: async (request) => {
    const job = await reportJobStatus(runtime(), request.params.jobId, request.body, {
      bearerToken: request.bearerToken,
      keyId: request.caller?.keyId,
      // Only a key limited to some deployments, and not an admin, is held to them.
      deployments: request.caller?.scopes.includes('admin') ? undefined : request.caller?.deployments,
    });
    return json(200, renderJob(job));
  },
});
