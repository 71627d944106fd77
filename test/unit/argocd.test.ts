import { describe, expect, it } from 'vitest';
import { judgeApplication, renderTemplate } from '../../shared/agents/argocd';
import { JobDispatchError } from '../../shared/agents/http';

const job = {
  deployment: { id: 'shop', name: 'Shop' },
  environment: { id: 'prod', name: 'Production' },
  resource: { id: 'eu-1', kind: 'cluster', name: 'EU one', metadata: { region: 'eu', 'k8s.io/zone': 'a' } },
  version: { tag: 'v1.4.0', config: {}, metadata: { commit: '3f9c2ab' } },
};

describe('renderTemplate', () => {
  it.each([
    ['shop-{{environment.id}}', 'shop-prod'],
    ['{{deployment.id}}-{{resource.id}}', 'shop-eu-1'],
    ['{{ resource.metadata.region }}/{{resource.metadata.k8s.io/zone}}', 'eu/a'],
    ['{{version.tag}}', 'v1.4.0'],
    ['{{version.metadata.commit}}', '3f9c2ab'],
    ['no fields', 'no fields'],
  ])('%s -> %s', (template, expected) => {
    expect(renderTemplate(template, job)).toBe(expected);
  });

  it('refuses a metadata key the target does not have, without retrying', () => {
    let error: unknown;
    try {
      renderTemplate('{{resource.metadata.cluster}}', job);
    } catch (caught) {
      error = caught;
    }

    expect(error).toBeInstanceOf(JobDispatchError);
    expect((error as JobDispatchError).retryable).toBe(false);
    expect((error as Error).message).toBe(
      'the template field {{resource.metadata.cluster}} has no value for this target',
    );
  });
});

describe('judgeApplication', () => {
  const app = (phase: string | undefined, health: string, revision = 'v2', message?: string) => ({
    status: {
      health: { status: health },
      operationState: phase ? { phase, message, operation: { sync: { revision } } } : undefined,
    },
  });

  it.each([
    ['no operation yet', app(undefined, 'Healthy'), 'pending'],
    ["another revision's sync", app('Succeeded', 'Healthy', 'v1'), 'pending'],
    ['our sync running', app('Running', 'Progressing'), 'pending'],
    ['our sync done, still progressing', app('Succeeded', 'Progressing'), 'pending'],
    ['our sync done, suspended', app('Succeeded', 'Suspended'), 'pending'],
    ['our sync done and healthy', app('Succeeded', 'Healthy'), 'successful'],
    ['our sync done, degraded', app('Succeeded', 'Degraded'), 'failed'],
    ['our sync done, missing', app('Succeeded', 'Missing'), 'failed'],
    ['our sync failed', app('Failed', 'Healthy', 'v2', 'hook failed'), 'failed'],
    ['our sync errored', app('Error', 'Unknown'), 'failed'],
  ])('%s: %s', (_what, application, expected) => {
    expect(judgeApplication(application, 'v2').status).toBe(expected);
  });

  it("says why, with Argo CD's message", () => {
    expect(judgeApplication(app('Failed', 'Healthy', 'v2', 'hook failed'), 'v2')).toEqual({
      status: 'failed',
      message: 'Argo CD sync of v2 Failed: hook failed',
    });
  });
});
