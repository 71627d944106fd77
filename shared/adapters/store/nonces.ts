import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { isConditionFailed, type StoreContext } from './client';
import { keys } from './keys';

/** Records an accepted write signature; false when it was already seen (a replay). */
export async function recordNonce(ctx: StoreContext, signature: string, nowMs: number): Promise<boolean> {
  try {
    await ctx.doc.send(
      new PutCommand({
        TableName: ctx.tableName,
        // Kept past the 300 s skew window on both sides, so a replay can never outlive its nonce.
        Item: { ...keys.nonce(signature), expiresAt: Math.floor(nowMs / 1000) + 900 },
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    );
    return true;
  } catch (error) {
    if (isConditionFailed(error)) return false;
    throw error;
  }
}
