import { ConditionalCheckFailedException, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, paginateQuery, type QueryCommandInput } from '@aws-sdk/lib-dynamodb';

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

export type QueryInput = Omit<QueryCommandInput, 'TableName' | 'ExclusiveStartKey'>;

/** Every page of a Query on the table, one after the other (the SDK's paginator). */
export const queryPages = (ctx: StoreContext, input: QueryInput) =>
  paginateQuery({ client: ctx.doc }, { ...input, TableName: ctx.tableName });

/** Every item a Query finds, all its pages read. */
export async function queryItems(ctx: StoreContext, input: QueryInput): Promise<Item[]> {
  const items: Item[] = [];
  for await (const page of queryPages(ctx, input)) items.push(...(page.Items ?? []));
  return items;
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
