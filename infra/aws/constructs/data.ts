import { RemovalPolicy } from 'aws-cdk-lib';
import {
  AttributeType,
  BillingMode,
  type ITable,
  ProjectionType,
  Table,
  TableEncryption,
} from 'aws-cdk-lib/aws-dynamodb';
import { type IGrantable, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { TABLE } from '../../../shared/adapters/store/table';
import { TABLE_ACTIONS } from '../grants';

/** Context key (`cdk deploy -c gantry:tableName=<TableName>`): the default of `existingTableName`. */
export const TABLE_NAME_CONTEXT = 'gantry:tableName';

export interface DataProps {
  /**
   * An existing table to use instead of creating one: the table a destroyed stack retained. It must
   * have the keys and indexes of shared/adapters/store/table.ts. Default: context `gantry:tableName`, else none.
   */
  readonly existingTableName?: string;
}

/**
 * The one table of shared/adapters/store/table.ts: on demand, PITR, retained and protected from deletion; or,
 * with `existingTableName`, that table taken back (no table resource; grants and variables name it).
 */
export class Data extends Construct {
  public readonly table: ITable;

  constructor(scope: Construct, id: string, props: DataProps = {}) {
    super(scope, id);
    const existingTableName: unknown = props.existingTableName ?? this.node.tryGetContext(TABLE_NAME_CONTEXT);
    if (typeof existingTableName === 'string' && existingTableName !== '') {
      this.table = Table.fromTableAttributes(this, 'Table', {
        tableName: existingTableName,
        globalIndexes: TABLE.indexes.map((index) => index.name),
      });
      return;
    }
    const table = new Table(this, 'Table', {
      partitionKey: { name: TABLE.partitionKey, type: AttributeType.STRING },
      sortKey: { name: TABLE.sortKey, type: AttributeType.STRING },
      billingMode: BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      deletionProtection: true,
      removalPolicy: RemovalPolicy.RETAIN,
      timeToLiveAttribute: TABLE.ttlAttribute,
      encryption: TableEncryption.AWS_MANAGED,
    });
    for (const index of TABLE.indexes) {
      table.addGlobalSecondaryIndex({
        indexName: index.name,
        partitionKey: { name: index.partitionKey, type: AttributeType.STRING },
        sortKey: { name: index.sortKey, type: AttributeType.STRING },
        projectionType: ProjectionType.ALL,
      });
    }
    this.table = table;
  }

  /** Item reads and writes on the table and its named indexes: no `index/*` wildcard, no table admin. */
  public grantItemAccess(grantee: IGrantable): void {
    grantee.grantPrincipal.addToPrincipalPolicy(
      new PolicyStatement({
        actions: [...TABLE_ACTIONS],
        resources: [
          this.table.tableArn,
          ...TABLE.indexes.map((index) => `${this.table.tableArn}/index/${index.name}`),
        ],
      }),
    );
  }
}
