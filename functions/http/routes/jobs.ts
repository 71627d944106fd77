import * as z from 'zod/mini';
import { JobStatusBody } from '../../../shared/core/schemas/rollouts';
import { defineRoutes } from './spec';

/** The job agents' callback (docs/api.md section 6). */
export const JOB_ROUTES = defineRoutes([
  {
    operationId: 'reportJobStatus',
    method: 'POST',
    path: '/v1/jobs/{jobId}/status',
    fn: 'api-jobs',
    auth: { type: 'job' },
    summary: "A job agent reports a job's status (bearer job token or a jobs:write key)",
    params: { jobId: z.string().check(z.regex(/^[a-z0-9]{1,64}$/)) },
    body: JobStatusBody,
    responses: {
      200: 'The job',
      404: 'Unknown job',
      409: 'The job already finished with another status',
    },
    answer: 'Job',
  },
]);
