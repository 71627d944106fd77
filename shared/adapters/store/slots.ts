import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { ReleaseKey } from '../../core/records';
import { isConditionFailed, type StoreContext } from './client';
import { keys } from './keys';
import { releaseKeyString } from './rollouts';

/**
 * The concurrency slots of a deployment in an environment: one item holding the set of releases that
 * hold a slot, so taking one again (a re-run) is free.
 */

/** Takes one of `max` slots; false when all are held by others. */
export async function takeSlot(rt: StoreContext, release: ReleaseKey, max: number): Promise<boolean> {
  const me = releaseKeyString(release);
  try {
    await rt.doc.send(
      new UpdateCommand({
        TableName: rt.tableName,
        Key: keys.concurrency(release.deployment, release.environment),
        UpdateExpression: 'ADD holders :me',
        ConditionExpression:
          'attribute_not_exists(holders) OR size(holders) < :max OR contains(holders, :key)',
        ExpressionAttributeValues: { ':me': new Set([me]), ':max': max, ':key': me },
      }),
    );
    return true;
  } catch (error) {
    if (isConditionFailed(error)) return false;
    throw error;
  }
}

/** The releases holding a slot of the deployment in the environment. */
export async function slotHolders(
  rt: StoreContext,
  deployment: string,
  environment: string,
): Promise<ReleaseKey[]> {
  const out = await rt.doc.send(
    new GetCommand({
      TableName: rt.tableName,
      Key: keys.concurrency(deployment, environment),
      ConsistentRead: true,
    }),
  );
  return [...((out.Item?.holders as Set<string> | undefined) ?? [])].map((holder) => {
    const [heldDeployment, tag, heldEnvironment, ...rest] = holder.split('#');
    return {
      deployment: heldDeployment ?? '',
      tag: tag ?? '',
      environment: heldEnvironment ?? '',
      resource: rest.join('#'),
    };
  });
}

/**
 * Gives the slot back (every terminal path), so the next release can take it. Conditional, so that
 * releasing a target of an environment with no concurrency policy does not create an empty slot item.
 */
export async function releaseSlot(rt: StoreContext, release: ReleaseKey): Promise<boolean> {
  const me = releaseKeyString(release);
  try {
    await rt.doc.send(
      new UpdateCommand({
        TableName: rt.tableName,
        Key: keys.concurrency(release.deployment, release.environment),
        UpdateExpression: 'DELETE holders :me',
        ConditionExpression: 'contains(holders, :id)',
        ExpressionAttributeValues: { ':me': new Set([me]), ':id': me },
      }),
    );
    return true;
  } catch (error) {
    if (isConditionFailed(error)) return false;
    throw error;
  }
}
