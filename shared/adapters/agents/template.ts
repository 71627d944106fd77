import { JobDispatchError } from './http';
import type { JobPayload } from './types';

/** Fills `{{environment.id}}` and the other template fields of shared/core/schemas/config.ts from the job. */
export function renderTemplate(
  template: string,
  job: Pick<JobPayload, 'deployment' | 'environment' | 'resource' | 'version'>,
): string {
  return template.replace(/\{\{\s*([^}]*?)\s*\}\}/g, (_match, field: string) => {
    const [root, key, ...rest] = field.split('.');
    const metadataKey = rest.join('.');
    const value =
      root === 'deployment' && key === 'id'
        ? job.deployment.id
        : root === 'environment' && key === 'id'
          ? job.environment.id
          : root === 'resource' && (key === 'id' || key === 'name')
            ? job.resource[key]
            : root === 'version' && key === 'tag'
              ? job.version.tag
              : key === 'metadata' && (root === 'resource' || root === 'version')
                ? job[root].metadata[metadataKey]
                : undefined;
    if (value === undefined)
      throw new JobDispatchError(`the template field {{${field}}} has no value for this target`, false);
    return value;
  });
}
