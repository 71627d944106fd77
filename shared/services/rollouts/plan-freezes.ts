import {
  activeUntil,
  currentOrNext,
  type FreezeRecord,
  type FreezeScope,
  selects,
} from '../../core/policy/freeze';

/**
 * Freezes in the plan (docs/api.md section 10): the `freeze` gate of each environment the active or
 * upcoming freezes select (with each freeze's id, reason and end), and estimated starts moved past them.
 */

type FreezeGate = { gate: 'freeze'; policies: string[]; detail: Record<string, unknown> };

/** The gate goes after the upstream and approval gates, as gates.ts checks them. */
const BEFORE_FREEZE = new Set(['environment_progression', 'approval']);

export function planFreezes(freezes: readonly FreezeRecord[], now: Date) {
  const selected = new Map<string, FreezeRecord[]>();
  const selectedBy = (scope: FreezeScope) => {
    let found = selected.get(scope.environment.id);
    if (!found) {
      found = freezes.filter((f) => currentOrNext(f, now) && selects(f, scope));
      selected.set(scope.environment.id, found);
    }
    return found;
  };
  const gates = new Map<string, FreezeGate | undefined>();
  const gateOf = (scope: FreezeScope) => {
    if (!gates.has(scope.environment.id)) {
      const shown = selectedBy(scope).map((freeze) => {
        const span = currentOrNext(freeze, now);
        const until = activeUntil(freeze, now);
        return {
          freezeId: freeze.id,
          reason: freeze.reason,
          active: until !== undefined,
          start: span?.start ?? freeze.createdAt,
          end: until === undefined ? (span?.end ?? null) : (until?.toISOString() ?? null),
        };
      });
      gates.set(
        scope.environment.id,
        shown.length ? { gate: 'freeze', policies: [], detail: { freezes: shown } } : undefined,
      );
    }
    return gates.get(scope.environment.id);
  };
  return {
    /** The target's gates with the freeze gate in its place. */
    withGate<G extends { gate: string }>(scope: FreezeScope, planned: G[]): (G | FreezeGate)[] {
      const gate = gateOf(scope);
      if (!gate) return planned;
      const at = planned.findIndex((g) => !BEFORE_FREEZE.has(g.gate));
      const index = at < 0 ? planned.length : at;
      return [...planned.slice(0, index), gate, ...planned.slice(index)];
    },
    /** The first moment from `start` on that no freeze selecting the scope holds; null: none is known. */
    after(scope: FreezeScope, start: Date): Date | null {
      let at: Date | null = start;
      for (let moved = true; moved && at; ) {
        moved = false;
        for (const freeze of selectedBy(scope)) {
          const until: Date | null | undefined = activeUntil(freeze, at);
          if (until === undefined) continue;
          at = until;
          moved = true;
          if (!at) break;
        }
      }
      return at;
    },
  };
}
