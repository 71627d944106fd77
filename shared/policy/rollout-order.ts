import { createHash } from 'node:crypto';

/**
 * Gradual rollout: a target's position in its environment is a hash of target and version (as
 * Ctrlplane does), so every version gets a fresh, deterministic order; its slot opens at the moment
 * the other gates opened plus position x interval.
 */
const rank = (key: string, tag: string) => createHash('sha256').update(`${key}\n${tag}`).digest('hex');

export function rolloutOrder(targetKeys: string[], tag: string): string[] {
  return [...targetKeys].sort((a, b) => rank(a, tag).localeCompare(rank(b, tag)) || a.localeCompare(b));
}

export const slotTime = (anchor: Date, position: number, intervalSeconds: number) =>
  new Date(anchor.getTime() + position * intervalSeconds * 1000);
