import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ArnFormat, Fn, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { IVersion } from 'aws-cdk-lib/aws-lambda';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import { DefinitionBody, LogLevel, StateMachine, StateMachineType } from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { aslSubstitutions, FUNCTIONS, type FunctionSpec, STATE_MACHINES } from '../../../functions/registry';
import { ROOT } from '../bundling';
import { acknowledgeWildcardResource } from '../nag';

export type MachineId = (typeof STATE_MACHINES)[number]['id'];

/** A state machine's name and ARNs, known before the state machine exists. */
export interface MachineIdentity {
  readonly name: string;
  readonly arn: string;
  /** Every execution of the machine: `arn:...:execution:<name>:*`. */
  readonly executionsArn: string;
}

/**
 * The functions a state machine invokes also need its ARN (environment, task callbacks,
 * StopExecution), so taking it from the state machine resource would be a dependency cycle. The name
 * is made from the GUID CloudFormation gives this stack instance instead: nothing is hard-coded, two
 * stacks never collide, and a re-created stack starts with fresh execution names.
 */
export function machineIdentity(scope: Construct, machine: MachineId): MachineIdentity {
  const stack = Stack.of(scope);
  const stackGuid = Fn.select(2, Fn.split('/', stack.stackId));
  const name = Fn.join('-', [`Gantry${pascal(machine)}`, stackGuid]);
  const arnOf = (resource: string, resourceName: string) =>
    stack.formatArn({ service: 'states', resource, resourceName, arnFormat: ArnFormat.COLON_RESOURCE_NAME });
  return { name, arn: arnOf('stateMachine', name), executionsArn: arnOf('execution', `${name}:*`) };
}

export interface WorkflowsProps {
  /** The published version of a step function, retained across deploys (GantryFunction.version). */
  readonly versionOf: (spec: FunctionSpec) => IVersion;
  readonly identityOf: (machine: MachineId) => MachineIdentity;
  readonly logRetention: RetentionDays;
}

/**
 * The state machines of functions/registry.ts, from their ASL files as they are tested locally.
 *
 * Upgrades under running rollouts: a Standard execution keeps the definition it started with, and the
 * definition names each step function by its published version (a qualified ARN, `...:function:f:7`),
 * so an execution that waits days for an approval while `cdk deploy` ships new code still finishes
 * on the code it started with. The versions are retained (never deleted by the deploy that
 * publishes the next), and the role may invoke every version of exactly these functions.
 */
export class Workflows extends Construct {
  public readonly stateMachines: ReadonlyMap<MachineId, StateMachine>;

  constructor(scope: Construct, id: string, props: WorkflowsProps) {
    super(scope, id);
    const machines = new Map<MachineId, StateMachine>();
    for (const machine of STATE_MACHINES) {
      const asl = readFileSync(join(ROOT, machine.file), 'utf8');
      const invoked = referencedFunctions(asl, machine.file);
      const logGroup = new LogGroup(this, `${pascal(machine.id)}Logs`, {
        retention: props.logRetention,
        removalPolicy: RemovalPolicy.DESTROY,
      });
      const stateMachine = new StateMachine(this, pascal(machine.id), {
        stateMachineName: props.identityOf(machine.id).name,
        stateMachineType: StateMachineType.STANDARD,
        definitionBody: DefinitionBody.fromString(asl),
        definitionSubstitutions: aslSubstitutions((spec) => props.versionOf(spec).functionArn, invoked),
        // Execution data stays out of the logs: task payloads carry task tokens.
        logs: { destination: logGroup, level: LogLevel.ALL, includeExecutionData: false },
        tracingEnabled: true,
      });
      // Exactly the functions its Tasks name, in every version: an execution started on an older
      // deploy invokes that deploy's versions under today's policy. Unqualified too, for executions
      // started before the definition named versions.
      const functionArns = invoked.map((spec) => props.versionOf(spec).lambda.functionArn);
      const anyVersionArns = functionArns.map((arn) => `${arn}:*`);
      stateMachine.addToRolePolicy(
        new PolicyStatement({
          actions: ['lambda:InvokeFunction'],
          resources: [...functionArns, ...anyVersionArns],
        }),
      );
      for (const arn of anyVersionArns)
        acknowledgeWildcardResource(
          stateMachine.role,
          arn,
          'Every published version of one step function (the `:*` qualifier) and nothing else: a running ' +
            'execution invokes the version its definition named when it started, so no deploy may revoke it.',
        );
      Validations.of(stateMachine.role).acknowledge({
        id: 'AwsSolutions-IAM5[Resource::*]',
        reason:
          'Only the statements CDK adds for execution logging (CloudWatch Logs delivery APIs) and X-Ray ' +
          'tracing, neither of which supports resource-level permissions.',
      });
      machines.set(machine.id, stateMachine);
    }
    this.stateMachines = machines;
  }

  public get(machine: MachineId): StateMachine {
    const stateMachine = this.stateMachines.get(machine);
    if (!stateMachine) throw new Error(`No state machine "${machine}"`);
    return stateMachine;
  }
}

/** The registry functions whose `${aslKey}` the ASL uses; a placeholder nobody fills fails synth. */
export function referencedFunctions(asl: string, file: string): FunctionSpec[] {
  const keys = new Set([...asl.matchAll(/\$\{([A-Za-z0-9_]+)\}/g)].map((match) => match[1] as string));
  const specs = FUNCTIONS.filter((spec) => spec.aslKey !== undefined && keys.has(spec.aslKey));
  const unknown = [...keys].filter((key) => !specs.some((spec) => spec.aslKey === key));
  if (unknown.length > 0) throw new Error(`${file}: no function in the registry fills ${unknown.join(', ')}`);
  return specs;
}

const pascal = (id: string) =>
  id.replace(/(^|[-_])([a-z0-9])/g, (_whole, _sep: string, letter: string) => letter.toUpperCase());
