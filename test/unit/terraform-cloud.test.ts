import { describe, expect, it } from 'vitest';
import { hclString, judgeRun } from '../../shared/agents/terraform-cloud';

describe('judgeRun', () => {
  const run = (status: string) => ({ data: { id: 'run-1', attributes: { status } } });

  it.each([
    ['applied', 'successful'],
    ['planned_and_finished', 'successful'],
    ['errored', 'failed'],
    ['discarded', 'failed'],
    ['canceled', 'failed'],
    ['force_canceled', 'failed'],
    ['pending', 'pending'],
    ['planning', 'pending'],
    ['planned', 'pending'],
    ['policy_checking', 'pending'],
    ['policy_soft_failed', 'pending'],
    ['applying', 'pending'],
    ['a status Terraform Cloud adds later', 'pending'],
  ])('%s -> %s', (status, expected) => {
    expect(judgeRun(run(status)).status).toBe(expected);
  });

  it('names the run and its status', () => {
    expect(judgeRun(run('errored'))).toEqual({
      status: 'failed',
      message: 'Terraform Cloud run run-1 errored',
    });
  });
});

describe('hclString', () => {
  it.each([
    ['v1.2.3', '"v1.2.3"'],
    ['say "hi"\n', '"say \\"hi\\"\\n"'],
    // biome-ignore lint/suspicious/noTemplateCurlyInString: an HCL interpolation, on purpose
    ['${path.module}', '"$${path.module}"'],
    ['%{ if x }', '"%%{ if x }"'],
  ])('%j -> %s', (value, expected) => {
    expect(hclString(value)).toBe(expected);
  });
});
