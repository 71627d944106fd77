/**
 * The file the gitops agent writes (docs/configuration.md, "gitops"): one JSON file per deployment and
 * environment in a configuration repository, holding the version the environment is moved to and
 * the tag of each of its release targets. Pure: what the file says, and what a batch of target
 * entries changes in it.
 */

/** A release target's wish, queued by its job: the tag it deploys and the job's non-secret variables. */
export interface GitopsEntry {
  resource: string;
  tag: string;
  variables: Record<string, string>;
  queuedAt: string;
}

export interface GitopsVersion {
  tag: string;
  config: Record<string, unknown>;
  metadata: Record<string, string>;
}

export type GitopsFile = Record<string, unknown>;

/** Every object's keys sorted, two-space indented, a trailing newline: the same state is the same bytes. */
export function renderFile(file: GitopsFile): string {
  return `${JSON.stringify(sortKeys(file), null, 2)}\n`;
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value === null || typeof value !== 'object') return value;
  const object = value as Record<string, unknown>;
  return Object.fromEntries(
    Object.keys(object)
      .sort()
      .map((key) => [key, sortKeys(object[key])]),
  );
}

/**
 * The file as found (undefined: not there yet), or why it cannot be written: it is not a JSON object,
 * or it belongs to another deployment or environment (a path template shared by mistake).
 */
export function parseFile(
  text: string | undefined,
  deployment: string,
  environment: string,
): { file: GitopsFile } | { problem: string } {
  if (text === undefined) return { file: { deployment, environment, targets: {} } };
  let file: unknown;
  try {
    file = JSON.parse(text);
  } catch {
    return { problem: 'is not JSON' };
  }
  if (file === null || typeof file !== 'object' || Array.isArray(file))
    return { problem: 'is not a JSON object' };
  const found = file as GitopsFile;
  if (found.deployment !== deployment || found.environment !== environment) {
    return {
      problem: `belongs to deployment ${String(found.deployment)} in environment ${String(found.environment)}`,
    };
  }
  return { file: found };
}

const targetsOf = (file: GitopsFile): Record<string, { tag?: unknown }> => {
  const targets = file.targets;
  return targets !== null && typeof targets === 'object' && !Array.isArray(targets)
    ? (targets as Record<string, { tag?: unknown }>)
    : {};
};

/** The entries the file does not show yet: a target already at its tag writes nothing (a retry makes no commit). */
export const unwritten = (file: GitopsFile, entries: GitopsEntry[]): GitopsEntry[] =>
  entries.filter((entry) => targetsOf(file)[entry.resource]?.tag !== entry.tag);

/**
 * The file with `entries` written: each its target's tag; `version` (the newest entry's, read by the
 * caller) and `variables` are those of the newest entry (by queuedAt). Other keys are kept.
 */
export function writeEntries(file: GitopsFile, entries: GitopsEntry[], version: GitopsVersion): GitopsFile {
  const newest = newestEntry(entries);
  if (!newest) return file;
  const targets = { ...targetsOf(file) };
  for (const entry of entries) targets[entry.resource] = { tag: entry.tag };
  return {
    ...file,
    version: { tag: version.tag, config: version.config, metadata: version.metadata },
    variables: newest.variables,
    targets,
  };
}

/** The newest of the entries, whose version heads the file. */
export const newestEntry = (entries: GitopsEntry[]): GitopsEntry | undefined =>
  [...entries].sort((a, b) => a.queuedAt.localeCompare(b.queuedAt)).at(-1);

/** `Gantry: web v1.4.0 to production (eu-1, us-1)`, at most ten targets named. */
export function commitMessage(deployment: string, environment: string, entries: GitopsEntry[]): string {
  const tags = [...new Set(entries.map((entry) => entry.tag))].join(', ');
  const names = entries.map((entry) => entry.resource).sort();
  const more = names.length > 10 ? ` and ${names.length - 10} more` : '';
  return `Gantry: ${deployment} ${tags} to ${environment} (${names.slice(0, 10).join(', ')}${more})`;
}

/** The pull request branch of a version in an environment: `gantry/<deployment>/<environment>/<tag>`, a valid git ref. */
export const pullRequestBranch = (deployment: string, environment: string, tag: string): string =>
  `gantry/${deployment}/${environment}/${tag.replace(/\.{2,}/g, '.').replace(/(\.lock|\.)$/, '-')}`;

/** Why a file path (a template, or one rendered) cannot name a file in a repository; undefined when it can. */
export function repoPathProblem(path: string): string | undefined {
  if (path.startsWith('/') || path.endsWith('/')) return 'must be relative and name a file';
  // biome-ignore lint/suspicious/noControlCharactersInRegex: they are what is refused
  if (/[\\\u0000-\u001f\u007f]/.test(path)) return 'may not hold a backslash or control characters';
  if (path.split('/').some((segment) => segment === '' || segment === '.' || segment === '..'))
    return 'may not have empty, "." or ".." segments';
  return undefined;
}
