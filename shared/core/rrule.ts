import * as rruleModule from 'rrule';

/**
 * rrule ships a UMD build as `main` and ESM as `module`: Node's ESM loader sees only a default
 * export, a bundler sees named exports. This picks whichever is there.
 */
type RRuleModule = typeof import('rrule');
const lib: RRuleModule = ((rruleModule as unknown as { default?: RRuleModule }).default ??
  rruleModule) as RRuleModule;

export const RRule = lib.RRule;
export type RRule = import('rrule').RRule;
export type RRuleOptions = import('rrule').Options;
