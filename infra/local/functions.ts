import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Context } from 'aws-lambda';
import {
  aslSubstitutions,
  FUNCTIONS,
  type FunctionSpec,
  STATE_MACHINES,
  substitute,
} from '../../functions/registry';
import { functionArn, stateMachineArn } from './arns';
import { runAs } from './iam';

/** Loads the registry's handlers in-process and fills the ASL placeholders with local ARNs. */
export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

type Handler = (event: unknown, context: Context) => Promise<unknown>;
const loaded = new Map<string, Handler>();

/** Invocations per function id and their summed handler time, what Lambda would bill (the scale bench prices them). */
export const invocations = new Map<string, { count: number; ms: number }>();

export async function loadHandler(spec: FunctionSpec): Promise<Handler> {
  const hit = loaded.get(spec.id);
  if (hit) return hit;
  const module = (await import(join(ROOT, spec.entry))) as Record<string, unknown>;
  const handler = module[spec.handler];
  if (typeof handler !== 'function') throw new Error(`${spec.entry} does not export ${spec.handler}.`);
  const counted: Handler = async (event, context) => {
    const started = performance.now();
    try {
      return await (handler as Handler)(event, context);
    } finally {
      const seen = invocations.get(spec.id) ?? { count: 0, ms: 0 };
      invocations.set(spec.id, { count: seen.count + 1, ms: seen.ms + performance.now() - started });
    }
  };
  loaded.set(spec.id, counted);
  return counted;
}

export function lambdaContext(spec: FunctionSpec, requestId: string): Context {
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: `gantry-${spec.id}`,
    functionVersion: '$LATEST',
    invokedFunctionArn: functionArn(spec),
    memoryLimitInMB: String(spec.memoryMb),
    awsRequestId: requestId,
    logGroupName: `/local/gantry-${spec.id}`,
    logStreamName: 'local',
    getRemainingTimeInMillis: () => spec.timeoutSeconds * 1000,
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

const byArn = new Map(FUNCTIONS.map((spec) => [functionArn(spec), spec]));

/**
 * The registry function an ARN names, unqualified or qualified with a version or alias
 * (`...:function:gantry-step-begin:7`, as the deployed definition names step functions): locally
 * every qualifier runs the one loaded handler.
 */
export function localFunctionOf(arn: string): FunctionSpec | undefined {
  const match = /^(arn:[^:]+:lambda:[^:]*:[^:]*:function:[^:]+)(?::([A-Za-z0-9$_-]+))?$/.exec(arn);
  const unqualified = match?.[1] ?? arn;
  return byArn.get(unqualified) ?? FUNCTIONS.find((f) => unqualified.endsWith(`:function:gantry-${f.id}`));
}

/** The Lambda "invoke" of the local engine: runs the registered handler with the payload. */
export async function invokeLocal(arn: string, payload: unknown): Promise<unknown> {
  const spec = localFunctionOf(arn);
  if (!spec)
    throw Object.assign(new Error(`No local function for ${arn}`), {
      name: 'Lambda.ResourceNotFoundException',
    });
  const handler = await loadHandler(spec);
  return runAs(spec, () => handler(structuredClone(payload), lambdaContext(spec, crypto.randomUUID())));
}

export function localDefinitions(): { arn: string; definition: string }[] {
  const values = aslSubstitutions(functionArn);
  return STATE_MACHINES.map((sm) => ({
    arn: stateMachineArn(sm.id),
    definition: substitute(readFileSync(join(ROOT, sm.file), 'utf8'), values),
  }));
}
