import { readFileSync } from 'node:fs';
import { RE2JS } from 're2js';
import { parse } from 'yaml';
import * as z from 'zod/mini';
import { useRE2 } from '../shared/core/cel';
import { canonicalJson } from '../shared/core/json';
import { Id, ResourceId } from '../shared/core/schemas/common';
import { DeploymentBody, EnvironmentBody, PolicyBody, ResourceBody } from '../shared/core/schemas/config';
import { ApiError, CliError, EXIT, seg, usageError } from './client';
import type { Context } from './context';

// The schemas check `matches()` patterns on RE2; dist/gantry.mjs has no node_modules to load it from.
useRE2(RE2JS);

/**
 * `gantry apply -f gantry.yaml`: the delivery configuration kept in git. The file is validated with
 * the service's own schemas, each object is compared with what Gantry holds, the diff is printed,
 * then every new or changed object is PUT (idempotent upserts, docs/api.md section 3). Objects missing
 * from the file are left alone.
 */

const GantryFile = z.strictObject({
  resources: z.nullish(z.record(ResourceId, ResourceBody)),
  environments: z.nullish(z.record(Id, EnvironmentBody)),
  deployments: z.nullish(z.record(Id, DeploymentBody)),
  policies: z.nullish(z.record(Id, PolicyBody)),
});

/** In dependency order: environments select resources, deployments name environments. */
const KINDS = [
  { key: 'resources', kind: 'resource', path: '/v1/resources' },
  { key: 'environments', kind: 'environment', path: '/v1/environments' },
  { key: 'deployments', kind: 'deployment', path: '/v1/deployments' },
  { key: 'policies', kind: 'policy', path: '/v1/policies' },
] as const;

/** What the service adds to a stored object. */
const SERVER_FIELDS = new Set(['id', 'createdAt', 'updatedAt', 'provider']);

export interface Change {
  kind: string;
  id: string;
  action: 'create' | 'change' | 'unchanged';
  fields: string[];
}

export function loadFile(file: string): z.output<typeof GantryFile> {
  let text: string;
  try {
    text = readFileSync(file === '-' ? 0 : file, 'utf8');
  } catch (error) {
    throw usageError(`cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (error) {
    throw usageError(`${file} is not valid YAML: ${(error as Error).message}`);
  }
  const result = GantryFile.safeParse(doc ?? {});
  if (!result.success) {
    const lines = result.error.issues.map(
      (issue) => `  - ${issue.path.map(String).join('.') || '(top level)'}: ${issue.message}`,
    );
    throw usageError(`${file} is invalid:\n${lines.join('\n')}`);
  }
  return result.data;
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** Dotted paths of the leaves that differ (arrays compare whole). */
function changedPaths(local: unknown, remote: unknown, path = ''): string[] {
  if (isObject(local) && isObject(remote)) {
    const keys = [...new Set([...Object.keys(local), ...Object.keys(remote)])].sort();
    return keys.flatMap((k) => changedPaths(local[k], remote[k], path ? `${path}.${k}` : k));
  }
  return canonicalJson(local) === canonicalJson(remote) ? [] : [path || '(everything)'];
}

const SIGN = { create: '+', change: '~', unchanged: '=' } as const;

export async function apply(ctx: Context, o: { file: string; dryRun?: boolean }): Promise<number> {
  const file = loadFile(o.file);
  const objects = KINDS.flatMap(({ key, kind, path }) =>
    Object.entries(file[key] ?? {}).map(([id, body]) => ({ kind, id, body, url: `${path}/${seg(id)}` })),
  );
  // Reads in parallel; the diff and the writes keep the file's dependency order.
  const changes = await Promise.all(
    objects.map(async (object) => {
      const remote = await ctx.client.request<Record<string, unknown> | undefined>(
        'GET',
        object.url,
        undefined,
        { allow404: true },
      );
      const stored =
        remote && Object.fromEntries(Object.entries(remote).filter(([k]) => !SERVER_FIELDS.has(k)));
      const fields = stored ? changedPaths(object.body, stored) : [];
      const action: Change['action'] = !stored ? 'create' : fields.length ? 'change' : 'unchanged';
      return { ...object, action, fields };
    }),
  );
  if (!ctx.json) {
    for (const { action, kind, id, fields } of changes) {
      ctx.out.write(`${SIGN[action]} ${kind} ${id}${fields.length ? ` (${fields.join(', ')})` : ''}\n`);
    }
  }
  const count = (action: Change['action']) => changes.filter((c) => c.action === action).length;
  const pending = changes.filter((c) => c.action !== 'unchanged');
  const summary = `${count('create')} to create, ${count('change')} to change, ${count('unchanged')} unchanged`;
  if (!ctx.json) ctx.out.write(`${summary}${o.dryRun ? ' (dry run: nothing written)' : ''}\n`);

  if (!o.dryRun) {
    for (const c of pending) {
      try {
        await ctx.client.request('PUT', c.url, c.body, { idempotent: true });
      } catch (error) {
        if (error instanceof ApiError) throw new CliError(`applying ${c.kind} ${c.id}: ${error.message}`);
        throw error;
      }
    }
    if (!ctx.json && pending.length) ctx.out.write(`applied ${pending.length} change(s)\n`);
  }
  if (ctx.json) {
    const list = changes.map(({ kind, id, action, fields }) => ({ kind, id, action, fields }));
    ctx.out.write(`${JSON.stringify({ changes: list, applied: !o.dryRun }, null, 2)}\n`);
  }
  return EXIT.ok;
}
