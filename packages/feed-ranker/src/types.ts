import { z } from "zod";

export const moderationStatuses = ["approved", "pending", "rejected", "removed"] as const;
export type ModerationStatus = (typeof moderationStatuses)[number];

export const videoSchema = z.strictObject({
  videoId: z.string().min(1).max(256),
  creatorId: z.string().min(1).max(256),
  topics: z.array(z.string().min(1).max(128)).max(32).default([]),
  /** Upload time, ms since the epoch. */
  createdAt: z.number().int().nonnegative(),
  durationMs: z.number().int().positive().default(15_000),
  moderation: z.enum(moderationStatuses).default("approved"),
  /** Content or collaborative embedding (all videos of a catalogue share one dimension). */
  embedding: z.array(z.number().finite()).max(4096).optional(),
});
export type VideoInput = z.input<typeof videoSchema>;
export type Video = z.output<typeof videoSchema>;

export const engagementTypes = ["impression", "view", "complete", "like", "share", "skip", "hide", "report"] as const;
export type EngagementType = (typeof engagementTypes)[number];

export const engagementEventSchema = z.strictObject({
  userId: z.string().min(1).max(256),
  videoId: z.string().min(1).max(256),
  type: z.enum(engagementTypes),
  /** Playback time of this event (view, complete, skip). */
  watchMs: z.number().nonnegative().optional(),
  /** ms since the epoch; defaults to the ranker's clock. */
  ts: z.number().int().nonnegative().optional(),
});
export type EngagementEvent = z.input<typeof engagementEventSchema>;

/** One engagement after enrichment from the catalogue: what the signals port stores. */
export interface Signal {
  userId: string;
  videoId: string;
  creatorId: string;
  topics: string[];
  type: EngagementType;
  /** Fraction of the video watched, 0..1 (1 for `complete`). */
  watchFraction: number;
  ts: number;
}

export interface Scored {
  videoId: string;
  score: number;
}

/** Smoothed-by-the-reader counts of one video's engagement. */
export interface VideoStats {
  impressions: number;
  completes: number;
  likes: number;
  shares: number;
  negatives: number;
  /** Sum of watched fractions over views. */
  watchFraction: number;
}

export interface Affinity {
  topics: Map<string, number>;
  creators: Map<string, number>;
}

/**
 * Hot features fed by engagement: trending, co-engagement, recent history, per-video counts and
 * per-user affinities. In-process by default (`createMemorySignals`); `./redis` shares them.
 */
export interface SignalsPort {
  record(signals: readonly Signal[]): Promise<void>;
  /** Videos by engagement decayed with the port's half-life, as of `now`. */
  trending(limit: number, now: number): Promise<Scored[]>;
  /** Videos most often engaged positively by the same users as `videoId`. */
  coEngaged(videoId: string, limit: number): Promise<Scored[]>;
  /** The user's most recent positively engaged videos, newest first. */
  recent(userId: string, limit: number): Promise<string[]>;
  /**
   * How strongly the user engaged with each video, 0..1 (`interestOf`, the largest over the
   * user's positive engagements with it; 0 when there is none or it left the recent history).
   * Optional: without it the `itemModel` source weighs every history video alike.
   */
  interest?(userId: string, videoIds: readonly string[]): Promise<number[]>;
  stats(videoIds: readonly string[]): Promise<Map<string, VideoStats>>;
  affinity(userId: string): Promise<Affinity>;
}

/** Per-user serving state: seen videos, served pages of a session, follows and blocks. */
export interface StatePort {
  markSeen(userId: string, videoIds: readonly string[]): Promise<void>;
  /** For each id, whether the user has seen it (a compact filter: rare false positives, no false negatives). */
  seen(userId: string, videoIds: readonly string[]): Promise<boolean[]>;
  addServed(sessionKey: string, videoIds: readonly string[], ttlMs: number): Promise<void>;
  served(sessionKey: string): Promise<Set<string>>;
  follow(userId: string, creatorId: string): Promise<void>;
  unfollow(userId: string, creatorId: string): Promise<void>;
  following(userId: string): Promise<string[]>;
  block(userId: string, creatorId: string): Promise<void>;
  unblock(userId: string, creatorId: string): Promise<void>;
  blocked(userId: string): Promise<string[]>;
}

export const emptyStats = (): VideoStats => ({
  impressions: 0,
  completes: 0,
  likes: 0,
  shares: 0,
  negatives: 0,
  watchFraction: 0,
});

/**
 * How much one positive engagement says the user wanted the video, 0..1: the share watched for a
 * `view`, 1 for `complete`, `like` and `share`, 0 otherwise. A history weight for item models.
 */
export function interestOf(s: Pick<Signal, "type" | "watchFraction">): number {
  if (s.type === "view") return Math.min(1, Math.max(0, s.watchFraction));
  return s.type === "complete" || s.type === "like" || s.type === "share" ? 1 : 0;
}

/**
 * How much one engagement speaks for a video: positive for interest, negative for rejection. A
 * `view` counts 0.5 from `positiveWatch` of the video watched on (the signals option), else 0.
 */
export function signalWeight(s: Pick<Signal, "type" | "watchFraction">, positiveWatch = 0.5): number {
  switch (s.type) {
    case "complete":
      return 1;
    case "like":
      return 1.5;
    case "share":
      return 2;
    case "view":
      return s.watchFraction >= positiveWatch ? 0.5 : 0;
    case "skip":
      return -0.3;
    case "hide":
      return -2;
    case "report":
      return -3;
    default:
      return 0;
  }
}
