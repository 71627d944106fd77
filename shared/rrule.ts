import * as rruleModule from 'rrule';

/**
 * rrule ships a UMD build as `main` and ESM as `module`: Node's ESM loader sees only a default
 * export, a bundler sees named exports. This picks whichever is there. The pick is a function marked
 * pure so that a bundle which never uses RRule leaves the whole package out.
 */
type RRuleModule = typeof import('rrule');
function pickRRule(): RRuleModule['RRule'] {
  const lib = ((rruleModule as unknown as { default?: RRuleModule }).default ?? rruleModule) as RRuleModule;
  return lib.RRule;
}

export const RRule = /* @__PURE__ */ pickRRule();
export type RRule = import('rrule').RRule;
export type RRuleOptions = import('rrule').Options;
