import { Duration, Validations } from 'aws-cdk-lib';
import { EventBus, Rule, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { SqsDestination } from 'aws-cdk-lib/aws-lambda-destinations';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { type DetailType, EVENT_SOURCE } from '../../../shared/adapters/events';

/** The bus Gantry publishes on (shared/adapters/events.ts), and where deliveries that keep failing end up. */
export class Events extends Construct {
  public readonly bus: EventBus;
  public readonly deadLetterQueue: Queue;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    this.bus = new EventBus(this, 'Bus', { description: 'Gantry events (source "gantry")' });
    this.deadLetterQueue = new Queue(this, 'DeadLetters', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    Validations.of(this.deadLetterQueue).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason: 'This queue is the dead-letter queue: of the bus rules and of the consumer functions.',
    });
  }

  /**
   * Delivers Gantry events of these detail types to a consumer function. An event that cannot be
   * delivered (EventBridge retries for two hours) or that the function keeps failing on (Lambda
   * retries an asynchronous invocation twice) lands in the dead-letter queue, which is alarmed.
   */
  public rule(detailTypes: readonly DetailType[], target: IFunction, id: string): Rule {
    if (detailTypes.length === 0) throw new Error(`Rule ${id}: no detail types to subscribe to`);
    target.configureAsyncInvoke({
      onFailure: new SqsDestination(this.deadLetterQueue),
      retryAttempts: 2,
      maxEventAge: Duration.hours(6),
    });
    return new Rule(this, id, {
      eventBus: this.bus,
      eventPattern: { source: [EVENT_SOURCE], detailType: [...detailTypes] },
      targets: [this.target(target)],
    });
  }

  /** Invokes a consumer on a schedule (on the default bus, where EventBridge schedules run). */
  public schedule(expression: string, target: IFunction, id: string): Rule {
    return new Rule(this, id, { schedule: Schedule.expression(expression), targets: [this.target(target)] });
  }

  private target(fn: IFunction): LambdaFunction {
    return new LambdaFunction(fn, {
      deadLetterQueue: this.deadLetterQueue,
      maxEventAge: Duration.hours(2),
      retryAttempts: 8,
    });
  }
}
