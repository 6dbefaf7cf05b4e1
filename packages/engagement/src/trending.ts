import type { TrendingWindow } from "./store.js";

/** Every window is cut into this many buckets; a score is the decayed sum of the buckets still inside. */
export const bucketsPerWindow = 12;

export const bucketMs = (window: TrendingWindow): number => window.lengthMs / bucketsPerWindow;
export const bucketOf = (ts: number, window: TrendingWindow): number => Math.floor(ts / bucketMs(window));

/** The buckets a query at `now` sums, oldest first. */
export function liveBuckets(now: number, window: TrendingWindow): number[] {
  const last = bucketOf(now, window);
  return Array.from({ length: bucketsPerWindow + 1 }, (_, i) => last - bucketsPerWindow + i);
}

/** The decay factor of a bucket at `now`: 1 for the current bucket, halving every half-life of age. */
export function decayOf(bucket: number, now: number, window: TrendingWindow): number {
  const age = Math.max(0, now - (bucket + 1) * bucketMs(window));
  return 0.5 ** (age / window.halfLifeMs);
}

/** The `limit` best entries, best first; ties broken by id so results are stable. */
export function topK(scores: Iterable<[string, number]>, limit: number): Array<{ videoId: string; score: number }> {
  // A bounded min-heap would win for huge candidate sets; a sort of the positive entries is
  // simpler and fast at the sizes one window holds in memory.
  const entries: Array<{ videoId: string; score: number }> = [];
  for (const [videoId, score] of scores) if (score > 0) entries.push({ videoId, score });
  entries.sort((a, b) => b.score - a.score || (a.videoId < b.videoId ? -1 : 1));
  return entries.slice(0, limit);
}
