import { parse } from '@marcbachmann/cel-js';
import { CEL_LIMITS, compileCel, matches } from '../shared/core/cel';
import { auditSelector, CATASTROPHIC_SELECTOR, catastrophicName, numbers } from '../test/support/hostile-cel';

/**
 * Bounded CEL (issue 17): the audit's two attacks with cel-js as Gantry ran it before (its own
 * `matches()` on JavaScript's backtracking RegExp, no limits) and as shared/core/cel.ts runs it now, the
 * costliest expressions the limits admit, and typical selectors over 20,000 resources. In-process, on
 * one core; the backtracking case alone takes about half a minute.
 * Run: npx tsx bench/cel.ts
 */
const RESOURCES = 20_000;

type Scope = Record<string, unknown>;
const scope = (name: string, metadata: Record<string, string> = {}): Scope => ({
  resource: { id: name, kind: 'vm', name, metadata },
  environment: { id: 'production', name: 'production' },
  deployment: { id: 'api', name: 'api' },
});

/** The mean milliseconds of `runs` calls. */
function ms(fn: () => unknown, runs = 1): number {
  const start = performance.now();
  for (let i = 0; i < runs; i++) fn();
  return (performance.now() - start) / runs;
}
const format = (value: number) =>
  value >= 1000 ? `${(value / 1000).toFixed(1)} s` : `${value.toFixed(2)} ms`;

/** The old path: cel-js's own parse and evaluation, its matches() on RegExp. */
const before = (expression: string, context: Scope) => format(ms(() => parse(expression)(context)));
/** The new path, compiled once: the evaluation's time and outcome (refused: the time to refuse). */
function now(expression: string, context: Scope, runs = 1): string {
  const outcome = matches(expression, context);
  const shown = outcome.ok ? String(outcome.value) : outcome.error.replace(/^CEL expression ".*" /s, '');
  return `${format(outcome.ok ? ms(() => compileCel(expression)(context), runs) : ms(() => matches(expression, context)))} (${shown})`;
}

const rows: [string, string, string][] = [];
const load = ms(() => matches("'a'.matches('a')", {}));
rows.push(['the first `matches()` of a process (loads re2js)', '-', format(load)]);

// The catastrophic pattern: backtracking doubles its steps per character; RE2 is linear.
const victim = scope(catastrophicName(31));
rows.push([
  `\`${CATASTROPHIC_SELECTOR}\`, name of 32 characters`,
  before(CATASTROPHIC_SELECTOR, victim),
  now(CATASTROPHIC_SELECTOR, victim, 100),
]);
rows.push([
  `\`${CATASTROPHIC_SELECTOR}\`, name of 10,000 characters`,
  '-',
  now(CATASTROPHIC_SELECTOR, scope('a'.repeat(10_000)), 100),
]);

// The 3.3 KB selector of nested all(): a million steps per evaluation, now refused when written.
const audit = auditSelector();
const tiered = scope('n', { tier: 'web' });
rows.push([
  `audit selector (${audit.length} characters, 3 nested \`all()\`)`,
  before(audit, tiered),
  now(audit, tiered),
]);

// The costliest the limits admit, per evaluation.
const loops = `${numbers(115)}.all(a, ${numbers(115)}.all(b, a + b >= 0))`;
rows.push(['2 nested `all()` over 115 numbers (cost 93,000)', before(loops, {}), now(loops, {}, 20)]);
const widest = `resource.name.matches('(a|b){50}(a|b){49}y')`;
// No match: the engine reads the whole value.
const long = scope(`${'ab'.repeat(512)}xy`);
rows.push(['a pattern of 300 RE2 instructions on 1 KiB', before(widest, long), now(widest, long, 100)]);

// Typical selectors over 20,000 resources (compiled once, evaluated per resource).
const regions = ['us-east-1', 'eu-west-1', 'ap-south-1'];
const fleet = Array.from({ length: RESOURCES }, (_, i) =>
  scope(`prod-${regions[i % 3]}-${i}`, {
    env: i % 2 ? 'production' : 'staging',
    region: regions[i % 3] as string,
  }),
);
for (const selector of [
  "resource.metadata.env == 'production'",
  "resource.metadata.env == 'production' && resource.name.matches('^prod-[a-z]+-[a-z]+-\\\\d+-\\\\d+$')",
  "resource.metadata.exists(k, ['team-', 'owner-'].exists(p, k.startsWith(p)))",
]) {
  const old = parse(selector);
  const program = compileCel(selector);
  const time = (run: (s: Scope) => unknown) =>
    format(
      ms(() => {
        for (const s of fleet) run(s);
      }),
    );
  rows.push([`\`${selector}\` over ${RESOURCES.toLocaleString('en')} resources`, time(old), time(program)]);
}

console.log(`CEL on node ${process.version}; limits ${JSON.stringify(CEL_LIMITS)}\n`);
console.log('| case | before (cel-js, RegExp, no limits) | now |');
console.log('|---|--:|--:|');
for (const [label, old, current] of rows) console.log(`| ${label} | ${old} | ${current} |`);
