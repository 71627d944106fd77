import type { Context } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { AuditEvent, WorkEvent } from '../../functions/events/input';
import { handler as metrics } from '../../functions/events/metrics';
import { handler as progression } from '../../functions/events/progression';
import { handler as work } from '../../functions/events/work';
import { completeRelease } from '../../functions/steps/complete';
import { StepInput } from '../../functions/steps/input';
import { dispatch } from '../../functions/steps/jobs';
import { begin } from '../../functions/steps/rollout';
import { InvalidInput, validInput } from '../../functions/task-input';

/**
 * Step and event handlers check their input before any work (functions/task-input.ts): an input of
 * another shape fails the invocation with a clear error. The handlers here never reach the store
 * (this test sets no table): the error is the input's.
 */

const context = {} as Context;
const release = { deployment: 'api', tag: 'v1', environment: 'production', resource: 'r1' };
/** An audit record as the bus delivers it (shared/adapters/events.ts), with `changed` in it. */
const audited = (changed: object) => ({
  id: '01J0000000000000000000000',
  time: '2026-12-01T10:00:00.000Z',
  detailType: 'Release Succeeded',
  deployment: 'api',
  version: 'v1',
  environment: 'production',
  resource: 'r1',
  actor: { system: 'gantry' },
  ...changed,
});

describe('the input of a step or event handler', () => {
  it('takes a whole audit record', () => {
    const event = {
      source: 'gantry',
      'detail-type': 'Release Succeeded',
      detail: audited({ data: { jobId: 'j1' } }),
    };

    expect(AuditEvent.parse(event)).toEqual(event);
  });

  it('is replaced by what its schema parses, unknown keys dropped', async () => {
    const request = { event: { release: { ...release, extra: 1 }, other: true } as unknown };

    await validInput(StepInput, 'The test input').before?.(request as never);

    expect(request.event).toEqual({ release });
  });

  it.each([
    [
      'a task without its release resource',
      () => begin({ release: { ...release, resource: undefined } }, context),
      'The Begin task input is not valid: release.resource: expected string.',
    ],
    [
      'a dispatch of an unknown kind and no task token',
      () => dispatch({ release, kind: 'redeploy' }, context),
      'The Dispatch task input is not valid: kind: expected "deploy" or "rollback" or "drain" or "undrain"; taskToken: expected string.',
    ],
    [
      'a job outcome of no known status',
      () => completeRelease({ release, job: { jobId: 'j1', status: 'done' } }, context),
      'The Complete task input is not valid: job: matches none of its shapes (status: expected "successful" or "failed"; or status: expected "timed_out").',
    ],
    [
      'a work event naming no work item',
      () => work({ source: 'gantry', 'detail-type': 'Work Requested', detail: { data: {} } }, context),
      'The work event is not valid: the input: matches none of its shapes (source: expected "aws.events"; or detail.data.workId: expected string).',
    ],
    [
      'a release event whose detail names a deployment by number',
      () =>
        progression(
          { source: 'gantry', 'detail-type': 'Release Succeeded', detail: audited({ deployment: 42 }) },
          context,
        ),
      'The release event is not valid: detail.deployment: expected string.',
    ],
    [
      'an event that is no audit record',
      () =>
        metrics(
          { source: 'gantry', 'detail-type': 'Release Succeeded', detail: { deployment: 'api' } },
          context,
        ),
      /^The release event is not valid: detail\.id: expected string; detail\.time: expected string; detail\.detailType: expected "Version Created" or .*; detail\.actor: expected object\.$/,
    ],
  ])('fails on %s, before any work', async (_name, invoke, message) => {
    const error = await invoke().catch((thrown: unknown) => thrown);

    expect(error).toBeInstanceOf(InvalidInput);
    expect((error as Error).name).toBe('Gantry.InvalidInput');
    if (typeof message === 'string') expect((error as Error).message).toBe(message);
    else expect((error as Error).message).toMatch(message);
  });

  it('takes the scheduled sweep and a work item, and nothing between', () => {
    expect(
      WorkEvent.safeParse({ source: 'aws.events', 'detail-type': 'Scheduled Event', detail: {} }).success,
    ).toBe(true);
    expect(WorkEvent.safeParse({ source: 'gantry', detail: { data: { workId: 'w1' } } }).success).toBe(true);
    expect(WorkEvent.safeParse({ source: 'elsewhere', detail: { data: { workId: 'w1' } } }).success).toBe(
      false,
    );
  });
});
