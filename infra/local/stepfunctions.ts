import { randomBytes, randomUUID } from 'node:crypto';
import { evaluateRule, isTimestamp } from './asl/choice';
import { isObject, runtimeError, SfnApiError, StatesError } from './asl/common';
import {
  type Definition,
  parseDefinition,
  type Retrier,
  type State,
  type TaskKind,
  taskKind,
} from './asl/definition';
import { evaluateIntrinsic } from './asl/intrinsics';
import { requirePath, writePath } from './asl/jsonpath';

/**
 * Gantry's embedded local AWS Step Functions: runs JSONPath ASL definitions (Pass, Task, Choice, Wait,
 * Succeed, Fail) with real .waitForTaskToken callbacks, time-scaled waits/timeouts, and an AWS JSON 1.0
 * protocol front end so handlers can use the real @aws-sdk/client-sfn.
 */
export { SfnApiError } from './asl/common';

export type InvokeFunction = (functionArn: string, payload: unknown) => Promise<unknown>;
export type ExecutionStatus = 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT' | 'ABORTED';

export interface LocalStepFunctionsOptions {
  /** Runs a Lambda handler; a thrown Error becomes ASL error `err.name` with cause `err.message`. */
  invokeFunction: InvokeFunction;
  /** Divides every Wait, Retry interval, TimeoutSeconds and HeartbeatSeconds. Default 1. */
  timeScale?: number;
  /** Millisecond clock. Default Date.now. */
  now?: () => number;
  onExecutionEnd?: (e: ExecutionDescription) => void;
  /**
   * Task invocations running at once (Lambda's concurrency); more wait their turn, first come first
   * served. Default 64.
   */
  maxConcurrentInvocations?: number;
}

export interface ExecutionDescription {
  executionArn: string;
  stateMachineArn: string;
  name: string;
  status: ExecutionStatus;
  startDate: Date;
  stopDate?: Date;
  input: string;
  output?: string;
  error?: string;
  cause?: string;
  historyEventCount: number;
  stateTransitions: number;
}

/**
 * historyEventCount approximates the events AWS records for a Standard workflow:
 *  - ExecutionStarted, and one terminal ExecutionSucceeded | ExecutionFailed | ExecutionAborted | ExecutionTimedOut;
 *  - per state entered: <Type>StateEntered, plus <Type>StateExited unless the state ends the execution
 *    with an error (a Fail state or an uncaught error);
 *  - per Task attempt (each retry too): TaskScheduled + TaskStarted (LambdaFunctionScheduled/Started for
 *    plain function ARNs), TaskSubmitted for .waitForTaskToken (counted even if the invoke then fails),
 *    and one outcome event: TaskSucceeded | TaskFailed | TaskTimedOut.
 * Heartbeats and retry back-off record nothing. stateTransitions counts states entered (what AWS bills).
 */
const MAX_HISTORY_EVENTS = 25_000;
/** AWS's quota for an execution's input, a state's input or output, a task's parameters or result. */
const MAX_PAYLOAD_BYTES = 262_144;
const MAX_TIMER_MS = 2 ** 31 - 1;
/** States run back to back before an execution yields, so many concurrent executions share the loop. */
const YIELD_EVERY = 100;
/**
 * One process runs every handler here, so thousands of executions invoking at once only queue their
 * DynamoDB and HTTP calls behind each other: no more throughput, but every request (a job callback,
 * /healthz) waits behind the whole queue, long enough to time out. A bound keeps the queues short.
 */
const DEFAULT_MAX_INVOCATIONS = 64;
const LOCAL_ROLE_ARN = 'arn:aws:iam::000000000000:role/local-stepfunctions';
const INVALID_NAME = /[\s<>{}[\]?*"#%\\^|~`$&,;:/\p{Cc}]/u;

/** Thrown inside a run when its execution was stopped; never reported. */
class Aborted extends Error {}

interface StateMachine {
  arn: string;
  name: string;
  definition: Definition;
}

interface PendingTask {
  succeed: (output: unknown) => void;
  fail: (error: StatesError) => void;
  heartbeat: () => void;
}

interface Outcome {
  output: unknown;
  /** Absent when the execution ends successfully. */
  next?: string;
}

class Execution {
  status: ExecutionStatus = 'RUNNING';
  stopDate?: Date;
  output?: string;
  error?: string;
  cause?: string;
  historyEventCount = 1; // ExecutionStarted
  stateTransitions = 0;
  timeout?: NodeJS.Timeout;
  readonly controller = new AbortController();
  readonly done: Promise<ExecutionDescription>;
  resolveDone: (d: ExecutionDescription) => void = () => {};

  constructor(
    readonly arn: string,
    readonly machine: StateMachine,
    readonly name: string,
    readonly input: string,
    readonly inputValue: unknown,
    readonly startDate: Date,
  ) {
    this.done = new Promise((resolve) => {
      this.resolveDone = resolve;
    });
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** Records history events; refuses (States.Runtime) once no room is left for the terminal event. */
  addEvents(n: number): void {
    if (this.historyEventCount + n >= MAX_HISTORY_EVENTS) {
      throw runtimeError(`The execution history exceeded the maximum of ${MAX_HISTORY_EVENTS} events.`);
    }
    this.historyEventCount += n;
  }

  describe(): ExecutionDescription {
    return {
      executionArn: this.arn,
      stateMachineArn: this.machine.arn,
      name: this.name,
      status: this.status,
      startDate: this.startDate,
      ...(this.stopDate && { stopDate: this.stopDate }),
      input: this.input,
      ...(this.output !== undefined && { output: this.output }),
      ...(this.error !== undefined && { error: this.error }),
      ...(this.cause !== undefined && { cause: this.cause }),
      historyEventCount: this.historyEventCount,
      stateTransitions: this.stateTransitions,
    };
  }
}

export class LocalStepFunctions {
  private readonly machines = new Map<string, StateMachine>();
  private readonly executions = new Map<string, Execution>();
  private readonly running = new Set<Execution>();
  private readonly tasks = new Map<string, PendingTask>();
  private readonly scale: number;
  private readonly now: () => number;
  private closed = false;
  private readonly slots: Slots;

  constructor(private readonly opts: LocalStepFunctionsOptions) {
    this.scale = opts.timeScale ?? 1;
    if (!(this.scale > 0)) throw new Error('timeScale must be > 0');
    this.now = opts.now ?? Date.now;
    this.slots = new Slots(opts.maxConcurrentInvocations ?? DEFAULT_MAX_INVOCATIONS);
  }

  createStateMachine(arn: string, definition: object | string): void {
    const name = arn.split(':').pop() ?? arn;
    this.machines.set(arn, { arn, name, definition: parseDefinition(definition) });
  }

  startExecution(p: { stateMachineArn: string; name?: string; input?: string }): {
    executionArn: string;
    startDate: Date;
  } {
    if (this.closed) throw new SfnApiError('ServiceUnavailable', 'The local Step Functions engine is closed');
    const machine = this.machines.get(p.stateMachineArn);
    if (!machine)
      throw new SfnApiError(
        'StateMachineDoesNotExist',
        `State Machine Does Not Exist: '${p.stateMachineArn}'`,
      );
    const name = p.name ?? randomUUID();
    if (name.length === 0 || name.length > 80 || INVALID_NAME.test(name)) {
      throw new SfnApiError('InvalidName', `Invalid Name: '${name}'`);
    }
    const input = p.input ?? '{}';
    if (Buffer.byteLength(input) > MAX_PAYLOAD_BYTES) {
      throw new SfnApiError(
        'ValidationException',
        `1 validation error detected: Value at 'input' failed to satisfy constraint: Member must have length less than or equal to ${MAX_PAYLOAD_BYTES}`,
      );
    }
    // As in AWS: the execution ARN is the state machine's, with `execution` and the name.
    const executionArn = `${p.stateMachineArn.replace(':stateMachine:', ':execution:')}:${name}`;
    const existing = this.executions.get(executionArn);
    if (existing) {
      // AWS: same name and input while still running is an idempotent retry; anything else is a conflict.
      if (existing.status === 'RUNNING' && existing.input === input) {
        return { executionArn, startDate: existing.startDate };
      }
      throw new SfnApiError('ExecutionAlreadyExists', `Execution Already Exists: '${executionArn}'`);
    }
    let inputValue: unknown;
    try {
      inputValue = JSON.parse(input);
    } catch (e) {
      throw new SfnApiError(
        'InvalidExecutionInput',
        `Invalid State Machine Execution Input: '${messageOf(e)}'`,
      );
    }
    const exec = new Execution(executionArn, machine, name, input, inputValue, new Date(this.now()));
    this.executions.set(executionArn, exec);
    this.running.add(exec);
    const limit = machine.definition.TimeoutSeconds;
    if (limit !== undefined) {
      exec.timeout = setTimer(
        () =>
          this.finish(exec, 'TIMED_OUT', {
            error: 'States.Timeout',
            cause: `Execution timed out after ${limit} seconds`,
          }),
        this.scaledMs(limit),
      );
    }
    void this.run(exec);
    return { executionArn, startDate: exec.startDate };
  }

  sendTaskSuccess(p: { taskToken: string; output: string }): void {
    const task = this.pendingTask(p.taskToken);
    let output: unknown;
    try {
      output = JSON.parse(p.output);
    } catch (e) {
      throw new SfnApiError('InvalidOutput', `Invalid Output: '${messageOf(e)}'`);
    }
    task.succeed(output);
  }

  sendTaskFailure(p: { taskToken: string; error?: string; cause?: string }): void {
    this.pendingTask(p.taskToken).fail(new StatesError(p.error ?? '', p.cause ?? ''));
  }

  sendTaskHeartbeat(p: { taskToken: string }): void {
    this.pendingTask(p.taskToken).heartbeat();
  }

  stopExecution(p: { executionArn: string; error?: string; cause?: string }): { stopDate: Date } {
    const exec = this.execution(p.executionArn);
    this.finish(exec, 'ABORTED', { error: p.error, cause: p.cause });
    return { stopDate: exec.stopDate ?? new Date(this.now()) };
  }

  describeExecution(p: { executionArn: string }): ExecutionDescription {
    return this.execution(p.executionArn).describe();
  }

  /** Newest first, like AWS. */
  listExecutions(p: { stateMachineArn: string; statusFilter?: string }): ExecutionDescription[] {
    if (!this.machines.has(p.stateMachineArn)) {
      throw new SfnApiError(
        'StateMachineDoesNotExist',
        `State Machine Does Not Exist: '${p.stateMachineArn}'`,
      );
    }
    const out: ExecutionDescription[] = [];
    for (const exec of this.executions.values()) {
      if (exec.machine.arn !== p.stateMachineArn) continue;
      if (p.statusFilter && exec.status !== p.statusFilter) continue;
      out.push(exec.describe());
    }
    return out.reverse();
  }

  async waitForExecution(executionArn: string): Promise<ExecutionDescription> {
    return this.execution(executionArn).done;
  }

  async idle(): Promise<void> {
    while (this.running.size > 0) await Promise.all([...this.running].map((e) => e.done));
  }

  close(): void {
    this.closed = true;
    for (const exec of [...this.running]) this.finish(exec, 'ABORTED', {});
  }

  handleJsonProtocol(target: string, body: unknown): { status: number; body: unknown } {
    const prefix = 'AWSStepFunctions.';
    const operation = target.startsWith(prefix) ? target.slice(prefix.length) : target;
    try {
      return { status: 200, body: this.dispatch(operation, isObject(body) ? body : {}) };
    } catch (e) {
      if (e instanceof SfnApiError) return { status: 400, body: { __type: e.name, message: e.message } };
      return { status: 500, body: { __type: 'InternalFailure', message: messageOf(e) } };
    }
  }

  private dispatch(operation: string, p: Record<string, unknown>): unknown {
    switch (operation) {
      case 'StartExecution': {
        const r = this.startExecution({
          stateMachineArn: required(p, 'stateMachineArn'),
          name: optional(p, 'name'),
          input: optional(p, 'input'),
        });
        return { executionArn: r.executionArn, startDate: epochSeconds(r.startDate) };
      }
      case 'StopExecution': {
        const r = this.stopExecution({
          executionArn: required(p, 'executionArn'),
          error: optional(p, 'error'),
          cause: optional(p, 'cause'),
        });
        return { stopDate: epochSeconds(r.stopDate) };
      }
      case 'SendTaskSuccess':
        this.sendTaskSuccess({ taskToken: required(p, 'taskToken'), output: required(p, 'output') });
        return {};
      case 'SendTaskFailure':
        this.sendTaskFailure({
          taskToken: required(p, 'taskToken'),
          error: optional(p, 'error'),
          cause: optional(p, 'cause'),
        });
        return {};
      case 'SendTaskHeartbeat':
        this.sendTaskHeartbeat({ taskToken: required(p, 'taskToken') });
        return {};
      case 'DescribeExecution': {
        const d = this.describeExecution({ executionArn: required(p, 'executionArn') });
        return {
          ...listItem(d),
          input: d.input,
          inputDetails: { included: true },
          ...(d.output !== undefined && { output: d.output, outputDetails: { included: true } }),
          ...(d.error !== undefined && { error: d.error }),
          ...(d.cause !== undefined && { cause: d.cause }),
        };
      }
      case 'ListExecutions': {
        const all = this.listExecutions({
          stateMachineArn: required(p, 'stateMachineArn'),
          statusFilter: optional(p, 'statusFilter'),
        });
        const start = Number(optional(p, 'nextToken') ?? 0) || 0;
        const max = typeof p.maxResults === 'number' && p.maxResults > 0 ? p.maxResults : 100;
        const end = start + max;
        return {
          executions: all.slice(start, end).map(listItem),
          ...(end < all.length && { nextToken: String(end) }),
        };
      }
      default:
        throw new SfnApiError('UnknownOperationException', `Unknown operation ${operation}`);
    }
  }

  private execution(arn: string): Execution {
    const exec = this.executions.get(arn);
    if (!exec) throw new SfnApiError('ExecutionDoesNotExist', `Execution Does Not Exist: '${arn}'`);
    return exec;
  }

  private pendingTask(token: string): PendingTask {
    const task = this.tasks.get(token);
    if (!task) throw new SfnApiError('TaskDoesNotExist', 'Task Does Not Exist');
    return task;
  }

  private scaledMs(seconds: number): number {
    return (seconds * 1000) / this.scale;
  }

  private finish(
    exec: Execution,
    status: Exclude<ExecutionStatus, 'RUNNING'>,
    result: { output?: string; error?: string; cause?: string },
  ): void {
    if (exec.status !== 'RUNNING') return;
    exec.status = status;
    exec.stopDate = new Date(this.now());
    exec.output = result.output;
    // AWS reports an absent error/cause (e.g. SendTaskFailure without them) as missing, not empty.
    exec.error = result.error || undefined;
    exec.cause = result.cause || undefined;
    exec.historyEventCount++; // the terminal Execution* event
    clearTimeout(exec.timeout);
    this.running.delete(exec);
    exec.controller.abort(); // cancels its Wait/retry timers and pending task tokens
    const description = exec.describe();
    exec.resolveDone(description);
    if (this.closed || !this.opts.onExecutionEnd) return;
    try {
      this.opts.onExecutionEnd(description);
    } catch (e) {
      console.error('LocalStepFunctions onExecutionEnd failed', e);
    }
  }

  private async run(exec: Execution): Promise<void> {
    const { definition } = exec.machine;
    let name = definition.StartAt;
    let input = exec.inputValue;
    try {
      for (let n = 0; ; n++) {
        // Also makes startExecution return before the first state runs.
        if (n % YIELD_EVERY === 0) await yieldToEventLoop();
        if (exec.status !== 'RUNNING') return;
        const state = definition.States[name];
        if (!state) throw runtimeError(`State '${name}' does not exist`);
        exec.addEvents(1); // <Type>StateEntered
        exec.stateTransitions++;
        const { output, next } = await this.runState(exec, name, state, input);
        limitPayload(output, `The state '${name}' returned an output`);
        exec.addEvents(1); // <Type>StateExited
        if (next === undefined) {
          this.finish(exec, 'SUCCEEDED', { output: JSON.stringify(output) });
          return;
        }
        name = next;
        input = output;
      }
    } catch (e) {
      if (e instanceof Aborted) return;
      const failure = e instanceof StatesError ? e : runtimeError(messageOf(e));
      this.finish(exec, 'FAILED', { error: failure.error, cause: failure.cause });
    }
  }

  private context(
    exec: Execution,
    stateName: string,
    enteredTime: string,
    retryCount: number,
    token?: string,
  ) {
    return {
      Execution: {
        Id: exec.arn,
        Name: exec.name,
        Input: exec.inputValue,
        StartTime: exec.startDate.toISOString(),
        RoleArn: LOCAL_ROLE_ARN,
      },
      State: { Name: stateName, EnteredTime: enteredTime, RetryCount: retryCount },
      StateMachine: { Id: exec.machine.arn, Name: exec.machine.name },
      ...(token !== undefined && { Task: { Token: token } }),
    };
  }

  private async runState(exec: Execution, name: string, state: State, input: unknown): Promise<Outcome> {
    const enteredTime = new Date(this.now()).toISOString();
    const context = this.context(exec, name, enteredTime, 0);
    switch (state.Type) {
      case 'Pass': {
        const effective = inputPath(state.InputPath, input);
        const result =
          'Result' in state
            ? state.Result
            : state.Parameters === undefined
              ? effective
              : applyTemplate(state.Parameters, effective, context);
        return {
          output: outputPath(state.OutputPath, resultPath(state.ResultPath, input, result)),
          next: state.Next,
        };
      }
      case 'Task':
        return this.runTask(exec, name, state, input, enteredTime);
      case 'Choice': {
        const effective = inputPath(state.InputPath, input);
        const rule = state.Choices?.find((r) => evaluateRule(r, effective, context));
        const next = rule ? String(rule.Next) : state.Default;
        if (next === undefined) {
          throw new StatesError(
            'States.NoChoiceMatched',
            `No Choice Rule matched in state '${name}' and it has no Default`,
          );
        }
        return { output: outputPath(state.OutputPath, effective), next };
      }
      case 'Wait': {
        const effective = inputPath(state.InputPath, input);
        await sleep(this.waitMs(state, effective, context), exec.signal);
        return { output: outputPath(state.OutputPath, effective), next: state.Next };
      }
      case 'Succeed':
        return { output: outputPath(state.OutputPath, inputPath(state.InputPath, input)) };
      case 'Fail': {
        const error =
          state.ErrorPath === undefined
            ? state.Error
            : evaluate(state.ErrorPath, input, context, 'ErrorPath');
        const cause =
          state.CausePath === undefined
            ? state.Cause
            : evaluate(state.CausePath, input, context, 'CausePath');
        if (!isOptionalString(error) || !isOptionalString(cause)) {
          throw runtimeError(`ErrorPath and CausePath must resolve to strings in state '${name}'`);
        }
        throw new StatesError(error ?? '', cause ?? '');
      }
    }
  }

  private waitMs(state: State, input: unknown, context: unknown): number {
    if (state.Seconds !== undefined) return this.scaledMs(state.Seconds);
    if (state.SecondsPath !== undefined) {
      const seconds = evaluate(state.SecondsPath, input, context, 'SecondsPath');
      if (typeof seconds !== 'number' || !Number.isInteger(seconds) || seconds < 0) {
        throw runtimeError(
          `SecondsPath '${state.SecondsPath}' must resolve to a non-negative integer, got ${JSON.stringify(seconds)}`,
        );
      }
      return this.scaledMs(seconds);
    }
    const timestamp =
      state.Timestamp ?? evaluate(state.TimestampPath ?? '$', input, context, 'TimestampPath');
    if (!isTimestamp(timestamp)) {
      throw runtimeError(`TimestampPath '${state.TimestampPath}' must resolve to an RFC 3339 timestamp`);
    }
    return Math.max(0, (Date.parse(timestamp) - this.now()) / this.scale);
  }

  private async runTask(exec: Execution, name: string, state: State, input: unknown, enteredTime: string) {
    const kind = taskKind(state.Resource ?? '');
    if (!kind) throw runtimeError(`Unsupported Task resource '${state.Resource}'`);
    const retriers = state.Retry ?? [];
    const attempts = retriers.map(() => 0);
    for (let retryCount = 0; ; retryCount++) {
      const token = kind === 'callback' ? randomBytes(48).toString('base64url') : undefined;
      const context = this.context(exec, name, enteredTime, retryCount, token);
      try {
        const effective = inputPath(state.InputPath, input);
        const parameters =
          state.Parameters === undefined ? effective : applyTemplate(state.Parameters, effective, context);
        limitPayload(parameters, `The state '${name}' built parameters`);
        const result = await this.invokeTask(exec, state, kind, parameters, effective, context, token);
        limitPayload(result, `The task of state '${name}' returned a result`);
        exec.addEvents(1); // TaskSucceeded / LambdaFunctionSucceeded
        const selected =
          state.ResultSelector === undefined ? result : applyTemplate(state.ResultSelector, result, context);
        return {
          output: outputPath(state.OutputPath, resultPath(state.ResultPath, input, selected)),
          next: state.Next,
        };
      } catch (e) {
        if (!(e instanceof StatesError) || isTerminalError(e.error)) throw e;
        exec.addEvents(1); // TaskFailed / TaskTimedOut
        const i = retriers.findIndex((r) => errorMatches(r.ErrorEquals, e.error));
        const retrier = retriers[i];
        const attempt = attempts[i] ?? 0;
        if (retrier && attempt < (retrier.MaxAttempts ?? 3)) {
          attempts[i] = attempt + 1;
          await sleep(this.retryDelayMs(retrier, attempt), exec.signal);
          continue;
        }
        const catcher = state.Catch?.find((c) => errorMatches(c.ErrorEquals, e.error));
        if (!catcher) throw e;
        return {
          output: resultPath(catcher.ResultPath, input, { Error: e.error, Cause: e.cause }),
          next: catcher.Next,
        };
      }
    }
  }

  private retryDelayMs(r: Retrier, attempt: number): number {
    let seconds = (r.IntervalSeconds ?? 1) * (r.BackoffRate ?? 2) ** attempt;
    if (r.MaxDelaySeconds !== undefined) seconds = Math.min(seconds, r.MaxDelaySeconds);
    if (r.JitterStrategy === 'FULL') seconds *= Math.random();
    return this.scaledMs(seconds);
  }

  /** One Task attempt: invoke the function and, for callbacks, wait for SendTask*; honours timeouts and stops. */
  private invokeTask(
    exec: Execution,
    state: State,
    kind: TaskKind,
    parameters: unknown,
    effectiveInput: unknown,
    context: unknown,
    token: string | undefined,
  ): Promise<unknown> {
    const timeout = timerSeconds(
      state.TimeoutSeconds,
      state.TimeoutSecondsPath,
      effectiveInput,
      context,
      'TimeoutSecondsPath',
    );
    // HeartbeatSeconds only applies to callbacks here: a synchronous Lambda call cannot send heartbeats.
    const heartbeat =
      kind === 'callback'
        ? timerSeconds(
            state.HeartbeatSeconds,
            state.HeartbeatSecondsPath,
            effectiveInput,
            context,
            'HeartbeatSecondsPath',
          )
        : undefined;
    let functionArn = state.Resource ?? '';
    let payload = parameters;
    if (kind !== 'function') {
      const p = isObject(parameters) ? parameters : {};
      if (typeof p.FunctionName !== 'string') throw runtimeError('Parameters.FunctionName must be a string');
      functionArn = p.FunctionName;
      payload = p.Payload ?? {};
    }
    exec.addEvents(kind === 'callback' ? 3 : 2); // Scheduled, Started (+ Submitted)

    return new Promise((resolve, reject) => {
      let settled = false;
      let timeoutTimer: NodeJS.Timeout | undefined;
      let heartbeatTimer: NodeJS.Timeout | undefined;
      const settle = (error: Error | undefined, value?: unknown) => {
        if (settled) return;
        settled = true;
        clearTimeout(timeoutTimer);
        clearTimeout(heartbeatTimer);
        exec.signal.removeEventListener('abort', onAbort);
        if (token) this.tasks.delete(token);
        if (error) reject(error);
        else resolve(value);
      };
      const onAbort = () => settle(new Aborted());
      if (exec.signal.aborted) return onAbort();
      exec.signal.addEventListener('abort', onAbort, { once: true });

      if (timeout !== undefined) {
        timeoutTimer = setTimer(
          () => settle(new StatesError('States.Timeout', `Task timed out after ${timeout} seconds`)),
          this.scaledMs(timeout),
        );
      }
      const armHeartbeat = () => {
        if (heartbeat === undefined) return;
        clearTimeout(heartbeatTimer);
        heartbeatTimer = setTimer(
          () =>
            settle(new StatesError('States.HeartbeatTimeout', `No heartbeat within ${heartbeat} seconds`)),
          this.scaledMs(heartbeat),
        );
      };
      armHeartbeat();
      if (token) {
        // Registered before invoking: the function may call SendTaskSuccess before it returns.
        this.tasks.set(token, {
          succeed: (output) => settle(undefined, output),
          fail: (error) => settle(error),
          heartbeat: armHeartbeat,
        });
      }

      const invocation = Promise.resolve().then(async () => {
        await this.slots.acquire();
        try {
          // Stopped or timed out while waiting for a slot: nobody wants the result.
          if (settled) return undefined;
          return jsonCopy(await this.opts.invokeFunction(functionArn, jsonCopy(payload)));
        } finally {
          this.slots.release();
        }
      });
      invocation.then(
        (value) => {
          if (kind === 'function') settle(undefined, value);
          else if (kind === 'lambdaInvoke') settle(undefined, { Payload: value, StatusCode: 200 });
        },
        (e: unknown) => settle(toStatesError(e)),
      );
    });
  }
}

/** A counting semaphore with a first-come-first-served queue. */
class Slots {
  private free: number;
  private readonly queue: (() => void)[] = [];
  private head = 0;

  constructor(size: number) {
    if (!(size >= 1)) throw new Error('maxConcurrentInvocations must be >= 1');
    this.free = size;
  }

  acquire(): Promise<void> {
    if (this.free > 0) {
      this.free--;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.queue.push(resolve));
  }

  /** Hands the slot to the next in line, or frees it. */
  release(): void {
    const next = this.queue[this.head];
    if (next === undefined) {
      this.free++;
      return;
    }
    this.queue[this.head++] = undefined as unknown as () => void;
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue.splice(0, this.head);
      this.head = 0;
    }
    next();
  }
}

// ---- input/output processing ----

/** A `.$` value: `$$...` reads the context object, `$...` the input, anything else is an intrinsic function. */
function evaluate(expr: string, input: unknown, context: unknown, field: string): unknown {
  if (expr.startsWith('$$')) return requirePath(context, expr.slice(1), field);
  if (expr.startsWith('$')) return requirePath(input, expr, field);
  return evaluateIntrinsic(expr, (path) => evaluate(path, input, context, field));
}

/** Parameters / ResultSelector payload template. */
function applyTemplate(template: unknown, input: unknown, context: unknown): unknown {
  if (Array.isArray(template)) return template.map((t) => applyTemplate(t, input, context));
  if (!isObject(template)) return template;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(template)) {
    if (key.endsWith('.$')) out[key.slice(0, -2)] = evaluate(String(value), input, context, key);
    else out[key] = applyTemplate(value, input, context);
  }
  return out;
}

const inputPath = (path: string | null | undefined, input: unknown) =>
  path === null ? {} : requirePath(input, path ?? '$', 'InputPath');
const outputPath = (path: string | null | undefined, output: unknown) =>
  path === null ? {} : requirePath(output, path ?? '$', 'OutputPath');
/** ResultPath combines the result with the state's raw input; null discards the result. */
const resultPath = (path: string | null | undefined, rawInput: unknown, result: unknown) =>
  path === null ? rawInput : writePath(rawInput, path ?? '$', result);

function timerSeconds(
  fixed: number | undefined,
  path: string | undefined,
  input: unknown,
  context: unknown,
  field: string,
): number | undefined {
  if (fixed !== undefined || path === undefined) return fixed;
  const seconds = evaluate(path, input, context, field);
  if (typeof seconds !== 'number' || !Number.isInteger(seconds) || seconds <= 0) {
    throw runtimeError(
      `${field} '${path}' must resolve to a positive integer, got ${JSON.stringify(seconds)}`,
    );
  }
  return seconds;
}

// ---- errors ----

/** A payload over AWS's 256 KiB (UTF-8 JSON) fails the execution with States.DataLimitExceeded. */
function limitPayload(value: unknown, what: string): void {
  const text = JSON.stringify(value) ?? 'null';
  // A UTF-16 code unit is at most 3 UTF-8 bytes: short text needs no byte count.
  if (text.length * 3 <= MAX_PAYLOAD_BYTES) return;
  if (Buffer.byteLength(text) > MAX_PAYLOAD_BYTES) {
    throw new StatesError(
      'States.DataLimitExceeded',
      `${what} with a size exceeding the maximum number of bytes service limit (${MAX_PAYLOAD_BYTES}).`,
    );
  }
}

/** States.Runtime (and DataLimitExceeded) end the execution: no Retry or Catch applies, as in AWS. */
const isTerminalError = (error: string) => error === 'States.Runtime' || error === 'States.DataLimitExceeded';

function errorMatches(errorEquals: string[], error: string): boolean {
  return errorEquals.some(
    (e) => e === error || e === 'States.ALL' || (e === 'States.TaskFailed' && error !== 'States.Timeout'),
  );
}

function toStatesError(e: unknown): StatesError {
  if (e instanceof StatesError) return e;
  if (e instanceof Error) return new StatesError(e.name || 'Error', e.message);
  let cause: string;
  try {
    cause = typeof e === 'string' ? e : (JSON.stringify(e) ?? String(e));
  } catch {
    cause = String(e);
  }
  return new StatesError('Error', cause);
}

const isOptionalString = (v: unknown): v is string | undefined => v === undefined || typeof v === 'string';
const messageOf = (e: unknown) => (e instanceof Error ? e.message : String(e));

// ---- timers and wire helpers ----

/** Timers beyond setTimeout's range (~24.8 days) are treated as never firing. */
function setTimer(fn: () => void, ms: number): NodeJS.Timeout | undefined {
  return ms > MAX_TIMER_MS ? undefined : setTimeout(fn, ms);
}

const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/** A cancellable sleep; long waits are chained because setTimeout caps at ~24.8 days. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(new Aborted());
    let remaining = ms;
    let timer: NodeJS.Timeout | undefined;
    const onAbort = () => {
      clearTimeout(timer);
      reject(new Aborted());
    };
    const step = () => {
      if (remaining <= 0) {
        signal.removeEventListener('abort', onAbort);
        return resolve();
      }
      const chunk = Math.min(remaining, MAX_TIMER_MS);
      remaining -= chunk;
      timer = setTimeout(step, chunk);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    step();
  });
}

/** Simulates the JSON serialization a Lambda invocation goes through (no shared references, undefined => null). */
function jsonCopy(value: unknown): unknown {
  const text = JSON.stringify(value);
  return text === undefined ? null : JSON.parse(text);
}

const epochSeconds = (d: Date) => d.getTime() / 1000;

function listItem(d: ExecutionDescription) {
  return {
    executionArn: d.executionArn,
    stateMachineArn: d.stateMachineArn,
    name: d.name,
    status: d.status,
    startDate: epochSeconds(d.startDate),
    ...(d.stopDate && { stopDate: epochSeconds(d.stopDate) }),
  };
}

function required(p: Record<string, unknown>, key: string): string {
  const v = p[key];
  if (typeof v !== 'string') throw new SfnApiError('ValidationException', `${key} is required`);
  return v;
}

function optional(p: Record<string, unknown>, key: string): string | undefined {
  const v = p[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw new SfnApiError('ValidationException', `${key} must be a string`);
  return v;
}
