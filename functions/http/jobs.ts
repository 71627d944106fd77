import { renderJob, reportJobStatus } from '../../shared/rollouts/jobs';
import { runtime } from '../../shared/runtime';
import type { JobStatusBody } from '../../shared/schemas';
import { httpHandler, json } from './kernel';

/** Job callbacks (API.md section 6): bearer job token or a jobs:write key. */
export const handler = httpHandler('api-jobs', {
  reportJobStatus: async (request) => {
    const job = await reportJobStatus(
      runtime(),
      request.params.jobId as string,
      request.body as JobStatusBody,
      {
        bearerToken: request.bearerToken,
        keyId: request.caller?.keyId,
      },
    );
    return json(200, renderJob(job));
  },
});
