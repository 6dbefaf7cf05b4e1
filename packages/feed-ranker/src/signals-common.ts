import { z } from "zod";
import type { Signal, VideoStats } from "./types.js";
import { signalWeight } from "./types.js";

export const signalsOptionsSchema = z.strictObject({
  /** Half-life of trending scores. @default 21600000 (6 h) */
  halfLifeMs: z
    .number()
    .int()
    .positive()
    .default(6 * 3_600_000),
  /** Recent positive engagements kept per user. @default 200 */
  recentLimit: z.number().int().min(1).max(100_000).default(200),
  /** A positive engagement is paired with this many of the user's recent ones (co-engagement). @default 20 */
  coWindow: z.number().int().min(0).max(1000).default(20),
  /**
   * A `view` is positive engagement (recent history, trending, co-engagement, interest) from this
   * share of the video watched on. @default 0.5
   */
  positiveWatch: z.number().min(0.01).max(1).default(0.5),
});
export type SignalsOptions = z.input<typeof signalsOptionsSchema>;

export const stateOptionsSchema = z.strictObject({
  /** Bits of each user's seen filter (a Bloom filter). @default 65536 (8 KiB per user) */
  seenBits: z
    .number()
    .int()
    .min(64)
    .max(2 ** 24)
    .default(2 ** 16),
  /** Probes per id in the seen filter. @default 5 */
  seenHashes: z.number().int().min(1).max(16).default(5),
});
export type StateOptions = z.input<typeof stateOptionsSchema>;

/** Trending lives in epochs of 16 half-lives; within one, weights grow as 2^(age/halfLife). */
export const EPOCH_HALF_LIVES = 16;

export function epochOf(ts: number, halfLifeMs: number): number {
  return Math.floor(ts / (halfLifeMs * EPOCH_HALF_LIVES));
}

/** The forward-decayed weight of a signal inside its epoch. */
export function trendingIncrement(weight: number, ts: number, halfLifeMs: number): number {
  const start = epochOf(ts, halfLifeMs) * halfLifeMs * EPOCH_HALF_LIVES;
  return weight * 2 ** ((ts - start) / halfLifeMs);
}

/** Factor turning an epoch's stored score into its value at `now`. */
export function epochScale(epoch: number, now: number, halfLifeMs: number): number {
  const start = epoch * halfLifeMs * EPOCH_HALF_LIVES;
  return 2 ** (-(now - start) / halfLifeMs);
}

/** Counter increments of one signal, by stats field. */
export function statsDelta(s: Signal): Partial<VideoStats> {
  const delta: Partial<VideoStats> = {};
  if (s.type === "impression") delta.impressions = 1;
  if (s.type === "complete") delta.completes = 1;
  if (s.type === "like") delta.likes = 1;
  if (s.type === "share") delta.shares = 1;
  if (s.type === "hide" || s.type === "report" || s.type === "skip") delta.negatives = 1;
  if (s.type === "view" || s.type === "complete" || s.type === "skip") delta.watchFraction = s.watchFraction;
  return delta;
}

export const isPositive = (s: Signal, positiveWatch = 0.5): boolean => signalWeight(s, positiveWatch) > 0;
