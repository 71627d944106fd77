import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { JobDispatchError } from '../adapters/agents/http';
import { DETAIL_TYPES, publish, SYSTEM } from '../adapters/events';
import {
  type CheckRunBody,
  createCheckRun,
  findCheckRun,
  underLease,
  updateCheckRun,
} from '../adapters/github';
import { log } from '../adapters/log';
import type { Runtime } from '../adapters/runtime';
import { SecretNotFound } from '../adapters/secrets';
import { isConditionFailed } from '../adapters/store/client';
import type { Stored } from '../adapters/store/config';
import { keys } from '../adapters/store/keys';
import { getVersion, type VersionRecord } from '../adapters/store/rollouts';
import { currentDate } from '../core/clock';
import { commitOf } from '../core/commit';
import { addPlanPage, newPlanSummary, planNeedsAttention, renderPlanSummary } from '../core/plan-summary';
import type { DeploymentBody } from '../core/schemas/config';
import { planVersionPage } from './rollouts/plan';

/**
 * The plan on the pull request (docs/configuration.md, GitHub): when a version names a commit in its
 * metadata and its deployment mirrors to GitHub, its plan is a check run on that commit, in progress
 * while the version is building and completed once it is ready. Called by the github consumer on
 * `Version Created` and `Version Ready`, off the request path.
 */
interface CheckItem {
  pending?: number;
  checkRunId?: number;
  /** The version status the check run shows. */
  posted?: VersionRecord['status'];
  /** When a pass set out to create the check run (real clock, ms); removed once its id is stored. */
  creating?: number;
}

/** A creation older than this was cut short: its check run is looked up before another is created. */
const CLAIM_STALE_MS = 60_000;

/** Another pass is creating the check run: the event is to be delivered again later. */
class CreationUnderWay extends Error {
  override readonly name = 'CreationUnderWay';
}

export async function postPlanCheck(
  rt: Runtime,
  deployment: Stored<DeploymentBody>,
  tag: string,
  realNow = Date.now(),
): Promise<void> {
  const settings = deployment.data.github;
  if (!settings) return;
  const named = await getVersion(rt, deployment.id, tag);
  const sha = named && commitOf(named.metadata);
  if (!sha) return;
  const key = keys.githubCheckRun(deployment.id, tag);
  const set = (expression: string, values: Record<string, unknown>, condition?: string) =>
    rt.doc.send(
      new UpdateCommand({
        TableName: rt.tableName,
        Key: key,
        UpdateExpression: expression,
        ...(condition ? { ConditionExpression: condition } : {}),
        ...(Object.keys(values).length ? { ExpressionAttributeValues: values } : {}),
      }),
    );

  await underLease<CheckItem, void>(rt, key, async (item) => {
    const version = await getVersion(rt, deployment.id, tag);
    if (!version || item.posted === version.status) return;
    // Set once this pass claimed a creation no other pass had begun.
    let fresh = false;
    try {
      const body = await checkRunBody(rt, version);
      let id = item.checkRunId;
      if (id === undefined) {
        try {
          await set(
            'SET creating = :now',
            { ':now': realNow, ':stale': realNow - CLAIM_STALE_MS },
            'attribute_not_exists(checkRunId) AND (attribute_not_exists(creating) OR creating < :stale)',
          );
        } catch (error) {
          if (isConditionFailed(error)) throw new CreationUnderWay('another pass is creating the check run');
          throw error;
        }
        fresh = item.creating === undefined;
        const externalId = `gantry:${deployment.id}:${tag}`;
        const name = `Gantry plan: ${deployment.id}`;
        // A claim left by a pass that was cut short: its POST may have created the check run.
        id = fresh ? undefined : await findCheckRun(settings, sha, name, externalId);
        if (id === undefined) {
          id = await createCheckRun(settings, { ...body, name, head_sha: sha, external_id: externalId });
          await set('SET checkRunId = :id, posted = :s REMOVE creating', { ':id': id, ':s': version.status });
          return;
        }
        await set('SET checkRunId = :id REMOVE creating', { ':id': id });
      }
      await updateCheckRun(settings, id, body);
      await set('SET posted = :s', { ':s': version.status });
    } catch (error) {
      if (!(error instanceof JobDispatchError || error instanceof SecretNotFound)) throw error;
      log.warn('the plan check run could not be posted', {
        deployment: deployment.id,
        tag,
        error: error.message,
      });
      // A creation refused (a 4xx) created nothing, so its claim goes; any other failure may have.
      const refused = error instanceof SecretNotFound || (error.status !== undefined && !error.retryable);
      if (fresh && refused) await set('REMOVE creating', {});
      await publish(rt, [
        {
          detailType: DETAIL_TYPES.githubCheckFailed,
          deployment: deployment.id,
          version: tag,
          actor: SYSTEM,
          data: {
            message: error.message,
            ...(error instanceof JobDispatchError && error.status ? { status: error.status } : {}),
          },
        },
      ]);
      // Worth another try: the event is delivered again (EventBridge retries a failed invocation).
      if (error instanceof JobDispatchError && error.retryable) throw error;
    }
  });
}

/** The check run's state and output for the version as it is now: its plan read page by page. */
async function checkRunBody(rt: Runtime, version: VersionRecord): Promise<CheckRunBody> {
  const now = currentDate();
  const summary = newPlanSummary();
  let nextToken: string | undefined;
  do {
    const page = await planVersionPage(rt, version.deployment, version.tag, { nextToken }, now);
    addPlanPage(summary, page);
    nextToken = page.nextToken;
  } while (nextToken);
  const output = renderPlanSummary(summary, version, now.toISOString());
  if (version.status === 'building') return { status: 'in_progress', output };
  const conclusion =
    version.status === 'rejected' ? 'cancelled' : planNeedsAttention(summary) ? 'neutral' : 'success';
  return { status: 'completed', conclusion, completed_at: new Date().toISOString(), output };
}
