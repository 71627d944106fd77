/** The one clock. Domain code takes `now` as a parameter; this is the default. */
export const nowMs = (): number => Date.now();
export const isoNow = (now = nowMs()): string => new Date(now).toISOString();
