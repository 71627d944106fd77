import { describe, expect, it } from 'vitest';
import { awaitsSync, dispatchArgoCd, judgeApplication } from '../../shared/adapters/agents/argocd';
import { JobDispatchError } from '../../shared/adapters/agents/http';
import { renderTemplate } from '../../shared/adapters/agents/template';

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
  /** An Application whose live state is synced to `synced`, after an operation of `revision`. */
  const app = (
    phase: string | undefined,
    health: string,
    options: { revision?: string; synced?: string; message?: string } = {},
  ) => {
    const revision = options.revision ?? 'v2';
    const synced = options.synced ?? (phase === 'Succeeded' ? revision : 'v1');
    const message = options.message;
    return {
      status: {
        health: { status: health },
        sync: {
          status: synced === 'v2' ? 'Synced' : 'OutOfSync',
          comparedTo: { source: { targetRevision: 'v2' } },
        },
        operationState: phase
          ? {
              phase,
              message,
              operation: { sync: { revision } },
              syncResult: { source: { targetRevision: 'v2' } },
            }
          : undefined,
      },
    };
  };

  it.each([
    ['no operation yet, out of sync', app(undefined, 'Healthy'), 'pending'],
    ['already synced to the revision and healthy', app(undefined, 'Healthy', { synced: 'v2' }), 'successful'],
    ['our sync running', app('Running', 'Progressing'), 'pending'],
    [
      'an automated sync (of the commit) running',
      app('Running', 'Progressing', { revision: '3f9c2ab' }),
      'pending',
    ],
    [
      'an automated sync done and healthy',
      app('Succeeded', 'Healthy', { revision: '3f9c2ab', synced: 'v2' }),
      'successful',
    ],
    ['our sync done, still progressing', app('Succeeded', 'Progressing'), 'pending'],
    ['our sync done, suspended', app('Succeeded', 'Suspended'), 'pending'],
    ['our sync done and healthy', app('Succeeded', 'Healthy'), 'successful'],
    ['our sync done, degraded', app('Succeeded', 'Degraded'), 'failed'],
    ['our sync done, missing', app('Succeeded', 'Missing'), 'failed'],
    ['our sync failed', app('Failed', 'Healthy', { message: 'hook failed' }), 'failed'],
    ['an automated sync of it errored', app('Error', 'Unknown', { revision: '3f9c2ab' }), 'failed'],
  ])('%s: %s', (_what, application, expected) => {
    expect(judgeApplication(application, 'v2').status).toBe(expected);
  });

  it('waits while an older sync (of another revision) has failed and the new one has not started', () => {
    const older = {
      status: {
        health: { status: 'Healthy' },
        sync: { status: 'OutOfSync', comparedTo: { source: { targetRevision: 'v2' } } },
        operationState: {
          phase: 'Failed',
          operation: { sync: { revision: 'v1' } },
          syncResult: { source: { targetRevision: 'v1' } },
        },
      },
    };

    expect(judgeApplication(older, 'v2').status).toBe('pending');
  });

  it.each([
    [
      'out of sync at the revision, after a sync of another',
      {
        status: {
          health: { status: 'Healthy' },
          sync: { status: 'OutOfSync', comparedTo: { source: { targetRevision: 'v2' } } },
          operationState: {
            phase: 'Succeeded',
            operation: { sync: { revision: 'v1' } },
            syncResult: { source: { targetRevision: 'v1' } },
          },
        },
      },
      true,
    ],
    ['out of sync at the revision, no sync ever', app(undefined, 'Healthy'), true],
    ['a sync still running', app('Running', 'Progressing', { revision: 'v1' }), false],
    ['our sync failed (no second try)', app('Failed', 'Healthy'), false],
    ['already synced to the revision', app(undefined, 'Progressing', { synced: 'v2' }), false],
  ])('needs the poll loop to start its sync when %s: %s', (_what, application, expected) => {
    expect(awaitsSync(application, 'v2')).toBe(expected);
  });

  it("says why, with Argo CD's message", () => {
    expect(judgeApplication(app('Failed', 'Healthy', { message: 'hook failed' }), 'v2')).toEqual({
      status: 'failed',
      message: 'Argo CD sync of v2 Failed: hook failed',
    });
  });
});

describe('dispatchArgoCd', () => {
  it.each(['drain', 'undrain'] as const)('refuses a %s job without calling Argo CD', async (kind) => {
    let calls = 0;
    const deps = {
      getSecret: async () => 'token',
      outbound: async () => {
        calls++;
        return { status: 200, body: '{}' };
      },
    };
    const agent = {
      type: 'argocd' as const,
      serverUrl: 'https://argocd.example.com',
      application: 'shop-{{environment.id}}',
      tokenSecretRef: 'argocd-token',
    };

    const outcome = dispatchArgoCd(
      agent,
      { ...job, jobId: 'j1', kind, variables: {}, callback: { url: '', token: '' } },
      deps,
    );

    await expect(outcome).rejects.toThrow(`the argocd agent cannot ${kind} traffic`);
    expect(calls).toBe(0);
  });
});
