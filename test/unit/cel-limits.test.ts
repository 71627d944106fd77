import { describe, expect, it } from 'vitest';
import { CEL_LIMITS, CelCompileError, compileCel, evaluateCel, matches } from '../../shared/core/cel';
import { Cel } from '../../shared/core/schemas/config';
import { auditSelector, CATASTROPHIC_SELECTOR, catastrophicName, numbers } from '../support/hostile-cel';

/**
 * Issue 17, bounded CEL (docs/api.md section 3): `matches()` runs on RE2 (linear time, RE2 syntax), and an
 * expression over the size or cost limits is refused when it is compiled, which is when it is written.
 */
const scope = (name: string, metadata: Record<string, string> = {}) => ({
  resource: { id: 'r-1', kind: 'vm', name, metadata },
  environment: { id: 'production', name: 'Production' },
  deployment: { id: 'api', name: 'API' },
});

/** Runs `fn` and answers its result with the milliseconds it took. */
function timed<T>(fn: () => T): { value: T; ms: number } {
  const start = performance.now();
  const value = fn();
  return { value, ms: performance.now() - start };
}

/** The compile error's message, or a failure when the expression compiles. */
function refusal(expression: string): string {
  try {
    compileCel(expression);
  } catch (error) {
    expect(error).toBeInstanceOf(CelCompileError);
    return (error as Error).message;
  }
  throw new Error(`"${expression}" compiled`);
}

describe('matches() on RE2', () => {
  it.each([
    ['method', CATASTROPHIC_SELECTOR],
    ['function', "matches(resource.name, '^(a+)+$')"],
  ])(
    'the catastrophic pattern, %s form: answers at once on 31 and on 10,000 characters',
    (_form, expression) => {
      const short = timed(() => matches(expression, scope(catastrophicName(31))));
      const long = timed(() => matches(expression, scope('a'.repeat(10_000))));

      expect(short.value).toEqual({ ok: true, value: false });
      expect(long.value).toEqual({ ok: true, value: true });
      expect(short.ms).toBeLessThan(250);
      expect(long.ms).toBeLessThan(250);
    },
  );

  it.each([
    ["'prod-us-1'.matches('^prod-')", true],
    ["'xprod'.matches('prod')", true],
    ["'prod'.matches('^prod$')", true],
    ["'prod\\n'.matches('^prod$')", false],
    ["'PROD'.matches('(?i)^prod$')", true],
    ["'eu-west-1'.matches('^(us|eu)-[a-z]+-\\\\d$')", true],
    ["'ap-south-1'.matches('^(us|eu)-')", false],
    ["'a.b'.matches('a\\\\.b')", true],
    ["matches('us-east-1', 'east')", true],
  ])('%s is %s (unanchored search, RE2 syntax)', (expression, expected) => {
    expect(evaluateCel(expression, {})).toEqual({ ok: true, value: expected });
  });

  it.each([
    ['a backreference', "resource.name.matches('(a)\\\\1')", '(a)\\1'],
    ['a lookahead', "resource.name.matches('^(?=prod)')", '^(?=prod)'],
    ['a negative lookbehind', "matches(resource.name, '(?<!x)y')", '(?<!x)y'],
    ['an unclosed class', "resource.name.matches('[a-z')", '[a-z'],
  ])('%s in a literal pattern is refused when compiled, naming the pattern', (_what, expression, pattern) => {
    const message = refusal(expression);

    expect(message).toContain(`pattern "${pattern}"`);
    expect(message).toContain('RE2');
  });

  it('a pattern over the size limit is refused, one computed at run time is an error', () => {
    const big = '(a|b){500}(a|b){499}y';

    expect(refusal(`resource.name.matches('${big}')`)).toMatch(/\d+ RE2 instructions, at most 300/);
    const outcome = matches('resource.name.matches(resource.metadata.p)', scope('ab', { p: big }));
    expect(outcome.ok ? '' : outcome.error).toContain('RE2 instructions');
  });

  it('a pattern computed at run time that RE2 refuses: that evaluation is an error, not a crash', () => {
    const expression = 'resource.name.matches(resource.metadata.pattern)';

    const refused = matches(expression, scope('aa', { pattern: '(a)\\1' }));
    const accepted = matches(expression, scope('aa', { pattern: '^a+$' }));

    expect(refused.ok).toBe(false);
    expect(refused.ok ? '' : refused.error).toContain('pattern "(a)\\1"');
    expect(accepted).toEqual({ ok: true, value: true });
  });

  it('an error names matches(), not the engine underneath', () => {
    const outcome = evaluateCel('result.value.matches("1")', { result: { value: 1 } });

    expect(outcome.ok).toBe(false);
    expect(outcome.ok ? '' : outcome.error).toContain('.matches(');
  });
});

describe('size and cost limits', () => {
  const nestedAll = (count: number) =>
    `${numbers(count)}.all(a, ${numbers(count)}.all(b, ${numbers(count)}.all(c, a + b + c >= 0 && resource.metadata.env != 'x')))`;

  it.each([
    ['three comprehensions inside one another', nestedAll(3), 'nest'],
    [
      'two comprehensions over 400 elements each',
      `${numbers(400)}.all(a, ${numbers(400)}.all(b, a + b >= 0))`,
      'cost',
    ],
    [
      'bindings that double a value (cel.bind counts as nesting)',
      "cel.bind(a, 'xx', cel.bind(b, a + a, cel.bind(c, b + b, c + c))) == ''",
      'nest',
    ],
    [
      'deeper than the maximum depth',
      `${'('.repeat(CEL_LIMITS.maxDepth + 1)}true${')'.repeat(CEL_LIMITS.maxDepth + 1)}`,
      'depth',
    ],
    [
      'more nodes than the maximum (a sum of 1,000 ones)',
      Array.from({ length: CEL_LIMITS.maxNodes }, () => '1').join('+'),
      'nodes',
    ],
  ])('%s: refused when compiled, naming the limit', (_what, expression, limit) => {
    const message = refusal(expression);

    expect(message).toMatch(new RegExp(limit, 'i'));
    // The message names the expression (docs/api.md section 1).
    expect(message).toContain(expression);
    // A stored expression over the limits (written before them) is a warning at evaluation.
    expect(evaluateCel(expression, scope('n')).ok).toBe(false);
  });

  it('an expression longer than the maximum length is refused by the schema every write goes through', () => {
    const long = `resource.name == '${'x'.repeat(CEL_LIMITS.maxLength)}'`;

    const result = Cel.safeParse(long);

    expect(result.success).toBe(false);
    expect(result.error?.issues[0]?.message).toContain(String(CEL_LIMITS.maxLength));
    // At the limit exactly: accepted.
    expect(Cel.safeParse(`resource.name == '${'x'.repeat(CEL_LIMITS.maxLength - 19)}'`).success).toBe(true);
  });

  it('the audit selector (3.3 KB of nested all()) is refused at once', () => {
    const audit = auditSelector();

    const { value: message, ms } = timed(() => refusal(audit));

    expect(audit.length).toBeGreaterThan(3200);
    expect(audit.length).toBeLessThanOrEqual(CEL_LIMITS.maxLength);
    expect(message).toContain('is over the limits');
    expect(ms).toBeLessThan(250);
  });

  it.each([
    ['a metadata value', "resource.metadata.env == 'production'"],
    ['a short list', "resource.metadata.group in ['a', 'b', 'c'] && resource.kind == 'kubernetes-cluster'"],
    ['ids', "deployment.id == 'api' && environment.id != 'staging'"],
    [
      '250 resource ids',
      `resource.id in [${Array.from({ length: 250 }, (_, i) => `'cluster-${i}'`).join(', ')}]`,
    ],
    ['a loop over metadata', "resource.metadata.exists(k, k.startsWith('team-'))"],
    ['two loops', "resource.metadata.exists(k, ['team-', 'owner-'].exists(p, k.startsWith(p)))"],
    [
      'a list of 250 names in a loop over metadata',
      `resource.metadata.exists(k, k in [${Array.from({ length: 250 }, (_, i) => `'team-${i}'`).join(', ')}])`,
    ],
    ['a pattern', "resource.name.matches('^prod-[a-z]+-\\\\d+$') && resource.metadata.exists(k, k in ['a'])"],
    ['a DNS label pattern', "resource.name.matches('^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$')"],
    ['a success condition', 'result.json.errorRate < 0.01'],
    ['a loop over a result', 'result.json.items.all(i, i.healthy) && result.json.items.size() > 0'],
    ['has()', 'has(resource.metadata.ring) && int(resource.metadata.ring) <= 2'],
    [
      'every kind of node',
      "!!(-1 < 0) && {'a': [1, 2]}.a[0] == 1 && (true ? b'x' : b'y').size() == 1 && dyn(null) == null",
    ],
    [
      'a map and a filter',
      "resource.metadata.map(k, k + '=' + resource.metadata[k]).filter(p, p.contains('=')).size() > 0",
    ],
    ['two loops over 40 numbers', `${numbers(40)}.exists(a, ${numbers(40)}.exists(b, a * b == 1521))`],
  ])('a real selector compiles: %s', (_what, expression) => {
    expect(() => compileCel(expression)).not.toThrow();
  });

  it('an iteration over metadata keys gives the right answer', () => {
    const expression = "resource.metadata.exists(k, ['team-', 'owner-'].exists(p, k.startsWith(p)))";

    expect(matches(expression, scope('n', { 'owner-x': '1' }))).toEqual({ ok: true, value: true });
    expect(matches(expression, scope('n', { region: 'eu' }))).toEqual({ ok: true, value: false });
  });
});
