import { ConditionalCheckFailedException, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

export type Item = Record<string, unknown>;

export interface StoreContext {
  doc: DynamoDBDocumentClient;
  tableName: string;
}

export function documentClient(client = new DynamoDBClient({})): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(client, {
    marshallOptions: { removeUndefinedValues: true, convertClassInstanceToMap: true },
  });
}

/** A conditional write lost: the item is not in the expected state. `current` is the item as it is. */
export class ConditionFailed extends Error {
  constructor(readonly current: Item | undefined) {
    super('The conditional write did not apply.');
    this.name = 'ConditionFailed';
  }
}

export function isConditionFailed(error: unknown): error is ConditionalCheckFailedException {
  return (
    error instanceof ConditionalCheckFailedException ||
    (error as Error)?.name === 'ConditionalCheckFailedException'
  );
}
