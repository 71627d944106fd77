import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import type { FunctionSpec } from '../../functions/registry';
import { esbuildOptions, ROOT } from '../../infra/aws/bundling';

/**
 * The IAM actions each function can reach, derived from what ships: the entry bundled as the stack
 * bundles it, and every module of this repository that lands in the bundle (imports followed through
 * every layer, tree-shaken modules left out) scanned for the AWS SDK commands it constructs.
 */

const SERVICES: Record<string, string> = {
  'client-dynamodb': 'dynamodb',
  'lib-dynamodb': 'dynamodb',
  'client-sfn': 'states',
  'client-eventbridge': 'events',
  'client-secrets-manager': 'secretsmanager',
  'client-lambda': 'lambda',
  'client-cloudwatch': 'cloudwatch',
};

/** The document client's commands and the DynamoDB operations they send. */
const DOCUMENT_CLIENT: Record<string, string> = {
  Get: 'GetItem',
  Put: 'PutItem',
  Update: 'UpdateItem',
  Delete: 'DeleteItem',
  BatchGet: 'BatchGetItem',
  BatchWrite: 'BatchWriteItem',
  TransactGet: 'TransactGetItems',
  TransactWrite: 'TransactWriteItems',
};

/** `lambda:InvokeFunction` for `InvokeCommand`; otherwise the command's name is the action's. */
export function iamActionOf(pkg: string, command: string): string {
  const service = SERVICES[pkg];
  if (!service) throw new Error(`No IAM service known for @aws-sdk/${pkg} (${command}Command)`);
  if (pkg === 'lib-dynamodb') return `${service}:${DOCUMENT_CLIENT[command] ?? command}`;
  if (pkg === 'client-lambda' && command === 'Invoke') return 'lambda:InvokeFunction';
  return `${service}:${command}`;
}

/** The commands a source file imports from an AWS SDK package: name -> package (`lib-dynamodb`). */
function sdkImportsOf(source: string): Map<string, string> {
  const packageOf = new Map<string, string>();
  for (const m of source.matchAll(/import\s*\{([^}]*)\}\s*from\s*'@aws-sdk\/([a-z0-9-]+)'/g)) {
    for (const name of (m[1] as string).split(',').map((s) => s.trim())) {
      if (name && !name.startsWith('type '))
        packageOf.set(name.split(/\s+as\s+/).pop() as string, m[2] as string);
    }
  }
  return packageOf;
}

export interface BundledActions {
  /** Repository modules with code in the bundle (relative paths). */
  modules: string[];
  /** IAM action -> the modules whose bundled code constructs its command. */
  actions: Map<string, string[]>;
  /** Each repository module's code as bundled (tree-shaken). */
  code: Map<string, string>;
}

/**
 * Bundles each function as the stack does, from an entry that exports only its handler, so code
 * reachable only from other handlers of the same file is shaken out; unminified, each module's code
 * follows a `// path` line, and only this repository's modules are scanned.
 */
export async function actionsOf(spec: FunctionSpec): Promise<BundledActions> {
  const options = esbuildOptions(spec.entry, join(tmpdir(), `gantry-${spec.id}.mjs`));
  const result = await build({
    ...options,
    entryPoints: undefined,
    stdin: {
      contents: `export { ${spec.handler} } from './${spec.entry}';`,
      resolveDir: ROOT,
      sourcefile: 'entry.ts',
      loader: 'ts',
    },
    minify: false,
    sourcemap: false,
    write: false,
  });
  const sections = (result.outputFiles[0]?.text ?? '').split(/^\/\/ (\S+\.[cm]?[jt]s)$/m);
  const modules: string[] = [];
  const actions = new Map<string, string[]>();
  const code = new Map<string, string>();
  for (let i = 1; i < sections.length; i += 2) {
    const module = sections[i] as string;
    if (module.includes('node_modules/')) continue;
    modules.push(module);
    code.set(module, sections[i + 1] as string);
    const packageOf = sdkImportsOf(readFileSync(join(ROOT, module), 'utf8'));
    // esbuild renames a binding that collides with another module's (QueryCommand2).
    for (const m of (sections[i + 1] as string).matchAll(/new\s+([A-Za-z0-9]+?)Command\d*\s*\(/g)) {
      const pkg = packageOf.get(`${m[1]}Command`);
      if (!pkg) throw new Error(`${module} constructs ${m[1]}Command, not imported from an @aws-sdk package`);
      const action = iamActionOf(pkg, m[1] as string);
      const seen = actions.get(action) ?? [];
      if (!seen.includes(module)) actions.set(action, [...seen, module]);
    }
  }
  return { modules, actions, code };
}
