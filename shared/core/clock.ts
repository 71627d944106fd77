/**
 * The one clock of the domain. Locally, GANTRY_TIME_SCALE makes it run faster (60: a minute passes
 * in a second) so waits, soaks, windows and timeouts can be watched; the local Step Functions engine
 * divides its waits by the same factor. Request signatures always use the real clock.
 */
let scale = 1;
let origin = Date.now();

/** `since`: the real time the scaled clock started, kept across restarts so it never runs backwards. */
export function setTimeScale(factor: number, since = Date.now()): void {
  origin = since;
  scale = factor > 0 ? factor : 1;
}

export const timeScale = () => scale;
export const nowMs = (): number => (scale === 1 ? Date.now() : origin + (Date.now() - origin) * scale);
export const isoNow = (now = nowMs()): string => new Date(now).toISOString();
export const currentDate = (): Date => new Date(nowMs());
