import { createHash } from 'node:crypto';

/**
 * Gradual rollout: a target's position in its environment is a hash of target and version (as
 * Ctrlplane does), so every version gets a fresh, deterministic order; its slot opens at the moment
 * the other gates opened plus position x interval.
 */
const rank = (key: string, tag: string) => createHash('sha256').update(`${key}\n${tag}`).digest('hex');

export function rolloutOrder(targetKeys: readonly string[], tag: string): string[] {
  // Each rank hashed once (a comparator hashing both sides costs 2 n log n hashes). Ranks are
  // lower-case hex of one length: code-unit order is their collation order.
  const ranked = targetKeys.map((key) => ({ key, rank: rank(key, tag) }));
  ranked.sort((a, b) => (a.rank < b.rank ? -1 : a.rank > b.rank ? 1 : a.key.localeCompare(b.key)));
  return ranked.map((r) => r.key);
}

export const slotTime = (anchor: Date, position: number, intervalSeconds: number) =>
  new Date(anchor.getTime() + position * intervalSeconds * 1000);
