import type { Counters, NormalizedEvent, SessionTotals } from "./rules.js";

/** A trending window: its length and how finely it is bucketed. */
export interface TrendingWindow {
  name: string;
  lengthMs: number;
  /** Scores halve every `halfLifeMs` inside the window. */
  halfLifeMs: number;
}

export interface VideoRecord {
  videoId: string;
  creatorId?: string | undefined;
  durationMs?: number | undefined;
}

export interface ApplyContext {
  /** Trending windows every applied event contributes to. */
  windows: readonly TrendingWindow[];
  /** Trending weight of an applied event, given the counters it moved. */
  weigh(event: NormalizedEvent, counters: Partial<Counters>): number;
}

export interface StoredCounts extends Counters {
  uniqueViewers: number;
}

/**
 * Port: where engagement state lives. A store applies the rules in `rules.ts` exactly (`transition`
 * per event, `sessionStep` per applied event), with each
 * event id applied at most once, and the dedupe, the pair state and the counters changed together
 * (atomically where the backend allows). The memory store is the reference; the same contract
 * suite (`__tests__/engagement.contract.ts`) runs on every store.
 */
export interface EngagementStore {
  /** Apply events in order. Resolves, per event, `true` if applied now, `false` if it was applied before. */
  apply(events: readonly NormalizedEvent[], context: ApplyContext): Promise<boolean[]>;
  counts(videoIds: readonly string[]): Promise<StoredCounts[]>;
  liked(userId: string, videoIds: readonly string[]): Promise<boolean[]>;
  /** How many pairs reached each retention point as their furthest (21 entries). */
  retentionHistogram(videoId: string): Promise<number[]>;
  /** The highest-scoring videos of a window at `now`, best first. */
  trending(window: TrendingWindow, limit: number, now: number): Promise<Array<{ videoId: string; score: number }>>;
  /** Per-day counters of every video of a creator, for days `fromDay`..`toDay` inclusive. */
  creatorDays(creatorId: string, fromDay: number, toDay: number): Promise<Array<{ day: number; counters: Counters }>>;
  /** Session totals per UTC day, for days `fromDay`..`toDay` inclusive (days without sessions omitted). */
  sessionDays(fromDay: number, toDay: number): Promise<Array<{ day: number; totals: SessionTotals }>>;
  /** The creator's videos known to the store. */
  creatorVideos(creatorId: string): Promise<string[]>;
  registerVideo(video: VideoRecord): Promise<void>;
  videos(videoIds: readonly string[]): Promise<Array<VideoRecord | undefined>>;
  close(): Promise<void>;
}
