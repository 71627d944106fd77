import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * `npm run check:paths`: every repository path named in README.md, docs/ and the comments of the code
 * exists, and every Markdown link leads to a file (and heading) that exists. What counts as a path is
 * precise rather than guessed: text that starts with a top-level folder of the repository
 * (`shared/adapters/store/keys.ts`, `test/e2e/`, `.ci/run`), or the target of a Markdown link, resolved from the
 * file it is in. `{a,b}` names both, `*` any name. Run by .ci/run.
 */
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

/** Folders whose .ts files have their comments read. */
const CODE_FOLDERS = ['shared', 'functions', 'infra', 'cli', 'test', 'bench', 'ui', 'scripts'];

export interface Finding {
  file: string;
  line: number;
  target: string;
}

/** The comments of TypeScript source, with the line each starts on. Strings and regexes are skipped. */
export function commentsOf(source: string): { text: string; line: number }[] {
  const comments: { text: string; line: number }[] = [];
  let line = 1;
  let i = 0;
  let previous = '';
  const skipTo = (end: number) => {
    for (; i < end && i < source.length; i++) if (source[i] === '\n') line++;
  };
  while (i < source.length) {
    const c = source[i] as string;
    const next = source[i + 1];
    if (c === '/' && (next === '/' || next === '*')) {
      const end = next === '/' ? source.indexOf('\n', i) : source.indexOf('*/', i + 2);
      const stop = end < 0 ? source.length : next === '/' ? end : end + 2;
      comments.push({ text: source.slice(i, stop), line });
      skipTo(stop);
      continue;
    }
    if (c === "'" || c === '"' || c === '`' || (c === '/' && /^$|[(,=:[!&|?{};]$/.test(previous))) {
      // A quoted string or a regex ends on its line (a template literal may span lines).
      let j = i + 1;
      let inClass = false;
      for (; j < source.length; j++) {
        const d = source[j];
        if (d === '\\') j++;
        else if (d === '\n' && c !== '`') break;
        else if (c === '/' && d === '[') inClass = true;
        else if (c === '/' && d === ']') inClass = false;
        else if (d === c && !inClass) break;
      }
      skipTo(j + 1);
      previous = c;
      continue;
    }
    if (!/\s/.test(c)) previous = c;
    skipTo(i + 1);
  }
  return comments;
}

/** `a/{b,c}.ts` -> `a/b.ts`, `a/c.ts`. */
const expand = (path: string): string[] => {
  const m = /\{([^{}]*)\}/.exec(path);
  if (!m) return [path];
  return (m[1] ?? '').split(',').flatMap((part) => expand(path.replace(m[0], part)));
};

/** Repository paths in free text: a top-level folder, a slash, then path characters. */
export function pathsIn(text: string, topFolders: readonly string[]): string[] {
  const folders = topFolders.map((f) => f.replace('.', '\\.')).join('|');
  const pattern = new RegExp(`(?<![\\w./@-])(?:${folders})/[\\w.{},*/-]*`, 'g');
  return [...text.matchAll(pattern)].flatMap(([found]) => expand(found.replace(/[.,:]+$/, '')));
}

/** Link targets of Markdown outside code (fenced blocks and `spans`), by line. */
export function linksIn(markdown: string): { target: string; line: number }[] {
  const links: { target: string; line: number }[] = [];
  let fenced = false;
  markdown.split('\n').forEach((text, index) => {
    if (text.startsWith('```')) fenced = !fenced;
    if (fenced) return;
    for (const [, target] of text.replace(/`[^`]*`/g, '``').matchAll(/\]\(([^)\s]+)\)/g)) {
      if (target && !/^[a-z]+:/i.test(target)) links.push({ target, line: index + 1 });
    }
  });
  return links;
}

/** The anchors GitHub gives the headings of a Markdown file. */
export function anchorsOf(markdown: string): Set<string> {
  const anchors = new Set<string>();
  let fenced = false;
  for (const text of markdown.split('\n')) {
    if (text.startsWith('```')) fenced = !fenced;
    const heading = fenced ? null : /^#{1,6} (.+)$/.exec(text);
    if (!heading) continue;
    const slug = (heading[1] ?? '')
      .trim()
      .toLowerCase()
      .replace(/[^\p{L}\p{N}_ -]/gu, '')
      .replaceAll(' ', '-');
    let anchor = slug;
    for (let n = 1; anchors.has(anchor); n++) anchor = `${slug}-${n}`;
    anchors.add(anchor);
  }
  return anchors;
}

const globMatches = (glob: string, files: readonly string[]) => {
  const pattern = new RegExp(`^${glob.replace(/[.+?^$()|[\]\\]/g, '\\$&').replaceAll('*', '[^/]*')}`);
  return files.some((file) => pattern.test(file));
};

/** Every path and link named in README.md, docs/ and code comments that does not exist. */
export function checkPaths(root = ROOT): Finding[] {
  const files = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard'], {
    cwd: root,
    encoding: 'utf8',
  })
    .split('\n')
    .filter((file) => file && existsSync(join(root, file)));
  const topFolders = [...new Set(files.filter((f) => f.includes('/')).map((f) => f.split('/')[0] as string))];
  const exists = (path: string) =>
    path.includes('*') ? globMatches(path, files) : existsSync(join(root, path.replace(/\/$/, '')));
  const findings: Finding[] = [];
  const anchors = new Map<string, Set<string>>();
  const anchorsIn = (file: string) => {
    if (!anchors.has(file)) anchors.set(file, anchorsOf(readFileSync(join(root, file), 'utf8')));
    return anchors.get(file) as Set<string>;
  };

  const markdown = files.filter((f) => f === 'README.md' || (f.startsWith('docs/') && f.endsWith('.md')));
  for (const file of markdown) {
    const text = readFileSync(join(root, file), 'utf8');
    text.split('\n').forEach((line, index) => {
      for (const path of pathsIn(line, topFolders))
        if (!exists(path)) findings.push({ file, line: index + 1, target: path });
    });
    for (const { target, line } of linksIn(text)) {
      const [path = '', anchor] = target.split('#');
      const linked = path ? normalize(relative(root, join(root, dirname(file), decodeURI(path)))) : file;
      const missing =
        linked.startsWith('..') || !existsSync(join(root, linked))
          ? true
          : anchor !== undefined && linked.endsWith('.md') && !anchorsIn(linked).has(anchor);
      if (missing) findings.push({ file, line, target });
    }
  }

  const code = files.filter((f) => CODE_FOLDERS.includes(f.split('/')[0] as string) && f.endsWith('.ts'));
  for (const file of code) {
    for (const comment of commentsOf(readFileSync(join(root, file), 'utf8'))) {
      comment.text.split('\n').forEach((line, offset) => {
        for (const path of pathsIn(line, topFolders))
          if (!exists(path)) findings.push({ file, line: comment.line + offset, target: path });
      });
    }
  }
  const seen = new Set<string>();
  return findings.filter(({ file, line, target }) => {
    const key = `${file}:${line}:${target}`;
    return !seen.has(key) && Boolean(seen.add(key));
  });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const findings = checkPaths();
  for (const { file, line, target } of findings) console.error(`${file}:${line}: ${target} does not exist`);
  if (findings.length) {
    console.error(`${findings.length} path(s) named in docs and comments do not exist`);
    process.exit(1);
  }
  console.log('every path named in README.md, docs/ and code comments exists');
}
