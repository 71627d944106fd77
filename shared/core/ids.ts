import { createHash } from 'node:crypto';
import type { ReleaseKey } from './records';
import type { JobKind } from './status';

const digest = (text: string, length: number) =>
  createHash('sha256').update(text).digest('hex').slice(0, length);

/** Stable id of a release: also its execution's name (deterministic, so StartExecution is idempotent). */
export const releaseIdOf = (r: ReleaseKey) =>
  `r-${digest(`${r.deployment}\n${r.tag}\n${r.environment}\n${r.resource}`, 40)}`;

/** A job per release, kind and attempt: a re-run of a step finds the same job instead of a second one. */
export const jobIdOf = (releaseId: string, kind: JobKind, attempt: number) =>
  digest(`${releaseId}\n${kind}\n${attempt}`, 32);

export const executionArnOf = (stateMachineArn: string, name: string) =>
  `${stateMachineArn.replace(':stateMachine:', ':execution:')}:${name}`;

/** The execution of a release; an override that restarts it moves to the next generation's name. */
export const executionNameOf = (r: ReleaseKey & { generation?: number }) =>
  r.generation ? `${releaseIdOf(r)}-g${r.generation}` : releaseIdOf(r);
