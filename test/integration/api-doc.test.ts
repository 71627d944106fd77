import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { API_DOC_FILE, generatedParts, renderApiDoc, sectionOf } from '../../functions/http/api-doc';
import { ROUTES } from '../../functions/http/routes';

/** docs/api.md, the repository's API reference: its generated parts are the route table's. */
const ROOT = join(import.meta.dirname, '../..');
const doc = readFileSync(API_DOC_FILE, 'utf8');

describe('docs/api.md', () => {
  it('is what npm run docs:api renders from the route table', () => {
    expect(doc === renderApiDoc(doc), 'docs/api.md is stale: run npm run docs:api').toBe(true);
  });

  it('lists every route in the section its path belongs to', () => {
    const sections = doc.split(/\n## (?=\d+\. )/);
    for (const route of ROUTES) {
      const section = sections.find((text) => text.startsWith(`${sectionOf(route)}. `)) ?? '';
      expect(section, `${route.method} ${route.path}`).toContain(`\`${route.method} ${route.path}`);
    }
  });

  it('renders a table again after someone edited it by hand', () => {
    // Prepare: drop the first route row of section 3.
    const row = doc.split('\n').find((line) => line.startsWith('| `PUT /v1/resources/'));
    expect(row).toBeDefined();
    const edited = doc.replace(`${row}\n`, '');

    // Assess: the edited file is stale, and rendering puts the row back.
    expect(renderApiDoc(edited)).not.toBe(edited);
    expect(renderApiDoc(edited)).toBe(doc);
  });

  it('refuses a document that lacks the markers of a generated part, or has markers nothing fills', () => {
    const withoutSection4 = doc.replace('<!-- routes of section 4:', '<!-- routes of section four:');

    expect(() => renderApiDoc(withoutSection4)).toThrow(/"routes of section four", which nothing generates/);
    expect(() => renderApiDoc(doc, new Map([...generatedParts(), ['routes of section 12', '']]))).toThrow(
      /no markers for "routes of section 12"/,
    );
    expect(generatedParts().has('detail types')).toBe(true);
  });

  it('places no route outside a section', () => {
    expect(() => sectionOf({ method: 'GET', path: '/v2/anything' })).toThrow(/belongs to no section/);
  });

  it('has every section that the repository cites as "docs/api.md section N"', () => {
    const cited = execFileSync(
      'git',
      [
        'grep',
        '-h',
        '-o',
        '-E',
        'docs/api\\.md sections? [0-9]+(( and |-)[0-9]+)?',
        '--',
        ':!node_modules',
        ':!dist',
      ],
      { cwd: ROOT, encoding: 'utf8' },
    );
    const numbers = new Set([...cited.matchAll(/\d+/g)].map(([n]) => Number(n)));
    expect(numbers.size).toBeGreaterThan(5);
    for (const n of numbers)
      expect(doc, `docs/api.md section ${n} is cited`).toMatch(new RegExp(`\\n## ${n}\\. `));
  });
});
