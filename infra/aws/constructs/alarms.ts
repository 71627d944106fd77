import { Duration } from 'aws-cdk-lib';
import type { IHttpApi } from 'aws-cdk-lib/aws-apigatewayv2';
import { Alarm, ComparisonOperator, type Metric, TreatMissingData } from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { Topic } from 'aws-cdk-lib/aws-sns';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import type { IStateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';

export interface AlarmsProps {
  readonly stateMachines: ReadonlyMap<string, IStateMachine>;
  readonly api: IHttpApi;
  readonly functions: ReadonlyMap<string, IFunction>;
  readonly deadLetterQueue: IQueue;
  /** An existing SNS topic to notify; without one the alarms only show in CloudWatch. */
  readonly topicArn?: string;
}

/** Any failure is worth a look at Gantry's volume: every alarm fires on the first occurrence. */
export class Alarms extends Construct {
  public readonly alarms: readonly Alarm[];

  constructor(scope: Construct, id: string, props: AlarmsProps) {
    super(scope, id);
    const alarms: Alarm[] = [];
    const sum = (metric: Metric) => metric.with({ period: Duration.minutes(5), statistic: 'Sum' });
    const alarm = (alarmId: string, metric: Metric, description: string) => {
      alarms.push(
        new Alarm(this, alarmId, {
          metric,
          threshold: 1,
          evaluationPeriods: 1,
          comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
          treatMissingData: TreatMissingData.NOT_BREACHING,
          alarmDescription: description,
        }),
      );
    };
    for (const [machineId, machine] of props.stateMachines) {
      alarm(`${machineId}ExecutionsFailed`, sum(machine.metricFailed()), `Executions of ${machineId} failed`);
      alarm(
        `${machineId}ExecutionsTimedOut`,
        sum(machine.metricTimedOut()),
        `Executions of ${machineId} timed out`,
      );
    }
    alarm('Api5xx', sum(props.api.metricServerError()), 'The API answered 5xx');
    for (const [fnId, fn] of props.functions) {
      alarm(`${fnId}Errors`, sum(fn.metricErrors()), `Function ${fnId} threw or timed out`);
      alarm(`${fnId}Throttles`, sum(fn.metricThrottles()), `Function ${fnId} was throttled`);
    }
    alarm(
      'DeadLetters',
      props.deadLetterQueue
        .metricApproximateNumberOfMessagesVisible()
        .with({ period: Duration.minutes(5), statistic: 'Maximum' }),
      'Events could not be delivered to a consumer and wait in the dead-letter queue',
    );
    if (props.topicArn) {
      const action = new SnsAction(Topic.fromTopicArn(this, 'Topic', props.topicArn));
      for (const each of alarms) {
        each.addAlarmAction(action);
        each.addOkAction(action);
      }
    }
    this.alarms = alarms;
  }
}
