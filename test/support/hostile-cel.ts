/**
 * The two CEL attacks of the issue 17 audit, shared by the tests and bench/cel.ts: a catastrophic
 * backtracking pattern, and a 3.3 KB selector of nested all() that cost 0.8 s per evaluation.
 */

/** `(a+)+` backtracks exponentially on a run of `a` that does not end the string. */
export const CATASTROPHIC_SELECTOR = "resource.name.matches('^(a+)+$')";

/** A name the catastrophic pattern does not match: with backtracking, twice the time per character. */
export const catastrophicName = (length = 31) => `${'a'.repeat(length)}!`;

/** A list literal of the numbers 0 to count - 1. */
export const numbers = (count: number) => `[${Array.from({ length: count }, (_, i) => i).join(',')}]`;

/** Three all() inside one another over 100 numbers each (a million steps), behind plain guards. */
export function auditSelector(bytes = 3300): string {
  const loops = `${numbers(100)}.all(a, ${numbers(100)}.all(b, ${numbers(100)}.all(c, a + b + c >= 0)))`;
  let guards = '';
  for (let i = 0; ; i++) {
    const guard = `resource.metadata.tier != 'retired-${i}' && `;
    if (guards.length + guard.length + loops.length > bytes) return guards + loops;
    guards += guard;
  }
}
