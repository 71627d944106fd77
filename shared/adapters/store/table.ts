import type { CreateTableCommandInput } from '@aws-sdk/client-dynamodb';

/**
 * The one DynamoDB table, shared by the CDK stack (infra/aws) and the local runtime's table creation.
 *
 * Access patterns (keys in ./keys.ts):
 *  1. config object by kind and id (resource, environment, deployment, policy)   pk=KIND         sk=id
 *  2. list config objects of a kind, paginated                                    Query pk=KIND
 *  3. resources of one provider (sync)                                            gsi1 PROVIDER#p
 *  4. a version by deployment and tag                                             pk=VERSION#dep  sk=tag
 *  5. versions of a deployment, newest last                                       gsi1 VERSIONS#dep, createdAt#tag
 *  6. releases of a version (GET version), of a version in one environment        pk=RELEASES#dep#tag sk=env#res
 *  7. a release target's state: current/previous successful versions, lock      pk=TARGET#dep   sk=env#res
 *  8. targets of a deployment (and environment)                                   Query pk=TARGET#dep [begins_with env#]
 *  9. a job by id (callbacks)                                                     pk=JOB#id       sk=JOB
 * 10. executions waiting on a signal (approval, progression, target lock, pause)  pk=WAIT#key     sk=release key
 * 11. replay nonces, with TTL                                                     pk=NONCE#sig    sk=NONCE
 * 12. audit trail, newest last; per deployment                                   pk=EVENTS sk=time#id, gsi1 EVENTS#dep
 * 13. work a write caused, advanced chunk by chunk (reconcile, fan-out, cancel)   pk=WORK         sk=work id
 * 14. a paged provider sync session: head and the ids each page named            pk=SYNC#p#s     sk=HEAD | page#n
 * 15. a review page sign-in under way, and a signed-in session, with TTL         pk=SIGNIN#h | SESSION#h
 * 16. GitHub mirrors: a version's Deployment per environment, its plan's check run  pk=GITHUB#dep#tag sk=env | CHECKRUN#dep#tag
 * 17. freezes, all of them in one Query (few; an ended one expires by TTL)       pk=FREEZE       sk=freeze id
 * 18. subscriptions; a subscription's deliveries by event id (TTL); a lane's outbox in order, its head
 *     holding the lease; lanes due for delivery (gsi1)       pk=SUBSCRIPTION | SUBDELIVERY#gen | SUBLANE#gen#lane, gsi1 SUBLANES
 * 19. what a deployment runs in an environment, for its dependants (one GetItem)  pk=RUNNING#dep  sk=env
 * 20. a gitops file's queue: its lease, and each target's entry (tag, state, commit) pk=GITOPS#hash sk=#LEASE | T#res
 * 21. delivery metrics: a deployment's day (ADD counters), all deployments' day   pk=DELIVERY#dep | DELIVERY#*  sk=YYYY-MM-DD,
 *     every deployment's day (gsi1, the rollup); an outcome counted (TTL)         gsi1 DELIVERY-DAY#day; pk=DELIVERY-COUNTED#id
 * 22. a deployment's release-creation lease (held around reading and batch-writing  pk=LEASE#RELEASES#dep sk=LEASE
 *     a chunk's releases; holder and expiry, TTL)
 * 23. a debounced signal's last wake: version, window end, the sleeper      pk=WAKE#signal  sk=WAKE
 *     waking at its end (conditional puts on the version; TTL)
 * 24. releases and jobs whose outbox holds events not yet published (written     gsi1 OUTBOX, newest record's time#pk#sk
 *     with the change, removed once published), for the sweep
 *
 * Every state change is a single-item conditional write (no transactions: docs/decisions/0002-one-table.md),
 * but one: new releases are batch-written under their deployment's lease (docs/decisions/0004-release-batch-writes.md).
 */
export const TABLE = {
  partitionKey: 'pk',
  sortKey: 'sk',
  ttlAttribute: 'expiresAt',
  indexes: [{ name: 'gsi1', partitionKey: 'gsi1pk', sortKey: 'gsi1sk' }],
} as const;

export function createTableInput(tableName: string): CreateTableCommandInput {
  const keyNames = [
    TABLE.partitionKey,
    TABLE.sortKey,
    ...TABLE.indexes.flatMap((i) => [i.partitionKey, i.sortKey]),
  ];
  return {
    TableName: tableName,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: keyNames.map((name) => ({ AttributeName: name, AttributeType: 'S' })),
    KeySchema: [
      { AttributeName: TABLE.partitionKey, KeyType: 'HASH' },
      { AttributeName: TABLE.sortKey, KeyType: 'RANGE' },
    ],
    GlobalSecondaryIndexes: TABLE.indexes.map((index) => ({
      IndexName: index.name,
      KeySchema: [
        { AttributeName: index.partitionKey, KeyType: 'HASH' },
        { AttributeName: index.sortKey, KeyType: 'RANGE' },
      ],
      Projection: { ProjectionType: 'ALL' },
    })),
  };
}
