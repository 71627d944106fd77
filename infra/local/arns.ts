import type { FunctionSpec } from '../../functions/registry';

/** The account, region and ARNs the local runtime gives its functions and state machines. */
export const LOCAL_ACCOUNT = '000000000000';
export const LOCAL_REGION = 'us-east-1';

export const functionArn = (spec: FunctionSpec) =>
  `arn:aws:lambda:${LOCAL_REGION}:${LOCAL_ACCOUNT}:function:gantry-${spec.id}`;
export const stateMachineArn = (id: string) =>
  `arn:aws:states:${LOCAL_REGION}:${LOCAL_ACCOUNT}:stateMachine:gantry-${id}`;
