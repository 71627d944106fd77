import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import type { JobAgent } from '../../core/schemas/config';
import { isRetryableStatus, JobDispatchError } from './http';
import type { AgentDeps, DispatchOutcome, JobPayload } from './types';

type LambdaAgent = Extract<JobAgent, { type: 'lambda' }>;

let sharedClient: LambdaClient | undefined;
/** Built on first use; the endpoint comes from AWS_ENDPOINT_URL_LAMBDA when set (local runs, tests). */
const defaultClient = () => (sharedClient ??= new LambdaClient({}));

/** `name` of `name` or `arn:aws:lambda:<region>:<account>:function:name`. */
export const functionNameOf = (functionName: string) =>
  functionName.startsWith('arn:') ? (functionName.split(':')[6] ?? '') : functionName;

/**
 * Invokes the function asynchronously (InvocationType Event) with the job of docs/api.md section 6 as its
 * event. Lambda queues the event and answers 202; the function reports like any agent, with the
 * job's callback URL and token. The SDK retries throttling and 5xx answers; what is left fails the
 * job with the error's name, never its payload.
 */
export async function dispatchLambda(
  agent: LambdaAgent,
  job: JobPayload,
  deps: AgentDeps,
): Promise<DispatchOutcome> {
  const name = functionNameOf(agent.functionName);
  const what = `Lambda invoke of ${name}${agent.qualifier ? `:${agent.qualifier}` : ''}`;
  const prefix = deps.lambdaFunctionPrefix;
  if (prefix && !name.startsWith(prefix)) {
    throw new JobDispatchError(
      `${what} is not allowed: Gantry may invoke only functions whose name starts with "${prefix}"`,
      false,
    );
  }
  let status: number | undefined;
  try {
    const answer = await (deps.lambdaClient ?? defaultClient()).send(
      new InvokeCommand({
        FunctionName: agent.functionName,
        Qualifier: agent.qualifier,
        InvocationType: 'Event',
        Payload: Buffer.from(JSON.stringify(job)),
      }),
    );
    status = answer.StatusCode;
  } catch (error) {
    const failed = error as Error & { $metadata?: { httpStatusCode?: number } };
    const httpStatus = failed.$metadata?.httpStatusCode;
    throw new JobDispatchError(
      `${what} failed: ${failed.name}${httpStatus ? ` (HTTP ${httpStatus})` : ''}`,
      httpStatus === undefined || isRetryableStatus(httpStatus),
      httpStatus,
      { cause: error },
    );
  }
  if (status !== 202) throw new JobDispatchError(`${what} answered ${status} instead of 202`, false, status);
  return { type: 'accepted' };
}
