import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { anchorsOf, checkPaths, commentsOf, linksIn, pathsIn } from '../../scripts/check-paths';

const TOP = ['shared', 'docs', 'test', '.ci'];

describe('pathsIn', () => {
  it.each([
    ['see shared/adapters/store/keys.ts.', ['shared/adapters/store/keys.ts']],
    ['(`docs/api.md`, section 2)', ['docs/api.md']],
    ['run .ci/run, then test/e2e/', ['.ci/run', 'test/e2e/']],
    [
      'shared/core/schemas/{common,config}.ts',
      ['shared/core/schemas/common.ts', 'shared/core/schemas/config.ts'],
    ],
    ['node_modules/shared/x.ts, https://example.com/shared/y.ts, ../shared/z.ts', []],
    ['a GET /v1/... and the word shared alone', []],
  ])('%s', (text, paths) => {
    expect(pathsIn(text, TOP)).toEqual(paths);
  });
});

describe('linksIn', () => {
  it('finds link and image targets outside code, not URLs', () => {
    const markdown = [
      'See [the API](api.md#2-signed-requests) and ![shot](screenshots/a.png).',
      '[site](https://example.com) `[not](a-link.md)`',
      '```',
      '[inside](a-block.md)',
      '```',
    ].join('\n');

    expect(linksIn(markdown)).toEqual([
      { target: 'api.md#2-signed-requests', line: 1 },
      { target: 'screenshots/a.png', line: 1 },
    ]);
  });
});

describe('anchorsOf', () => {
  it("gives headings GitHub's anchors, numbering repeats", () => {
    const anchors = anchorsOf(
      '# 2. Signed requests\n## The local server (`npm start`)\n## Deploy\n### Deploy\n',
    );

    expect([...anchors]).toEqual(['2-signed-requests', 'the-local-server-npm-start', 'deploy', 'deploy-1']);
  });
});

describe('commentsOf', () => {
  it('reads line and block comments with their lines, not strings, templates or regexes', () => {
    const source = [
      "const url = 'https://example.com/shared/x.ts'; // see shared/a.ts",
      'const re = /\\/\\/ shared\\/b.ts/;',
      'const t = `',
      '// shared/c.ts inside a template`;',
      '/**',
      ' * shared/d.ts',
      ' */',
    ].join('\n');

    const comments = commentsOf(source);

    expect(comments.map((c) => [c.line, c.text])).toEqual([
      [1, '// see shared/a.ts'],
      [5, '/**\n * shared/d.ts\n */'],
    ]);
  });
});

describe('checkPaths', () => {
  it('lists each named path, link and anchor that does not exist, and nothing that does', () => {
    // Prepare: a repository with one of each, right and wrong.
    const root = mkdtempSync(join(tmpdir(), 'gantry-paths-'));
    const write = (path: string, text: string) => {
      mkdirSync(dirname(join(root, path)), { recursive: true });
      writeFileSync(join(root, path), text);
    };
    write('README.md', 'Read [docs](docs/guide.md#setup), then [gone](docs/gone.md) and docs/guide.md.\n');
    write(
      'docs/guide.md',
      '# Guide\n## Setup\nSee [the README](../README.md#no-such-heading) and shared/a.ts.\n',
    );
    write(
      'shared/a.ts',
      '// shared/a.ts calls shared/missing.ts\nexport const a = "shared/not-a-comment.ts";\n',
    );
    execFileSync('git', ['init', '-q'], { cwd: root });

    // Act
    const findings = checkPaths(root);

    // Assess
    expect(findings).toEqual([
      { file: 'README.md', line: 1, target: 'docs/gone.md' },
      { file: 'docs/guide.md', line: 3, target: '../README.md#no-such-heading' },
      { file: 'shared/a.ts', line: 1, target: 'shared/missing.ts' },
    ]);
  });
});
