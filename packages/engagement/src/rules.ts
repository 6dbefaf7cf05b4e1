// The engagement rules, pure and synchronous: what one event does to the state of its
// (video, viewer) pair and which counters it moves. Every store applies exactly these rules
// (the memory store calls them; the Redis store's Lua mirrors them, and one contract suite holds
// both to the same results).
import type { EngagementEvent, EngagementEventType } from "./schema.js";

/** The counters kept per video (and per creator and day). */
export const counterFields = [
  "impressions",
  "views",
  "completions",
  "replays",
  "skips",
  "likes",
  "shares",
  "comments",
  "watchMs",
] as const;

export type CounterField = (typeof counterFields)[number];
export type Counters = Record<CounterField, number>;

/** Retention is sampled at every 5 % of the duration: 21 points, 0 % to 100 %. */
export const retentionPoints = 21;

export const zeroCounters = (): Counters => ({
  impressions: 0,
  views: 0,
  completions: 0,
  replays: 0,
  skips: 0,
  likes: 0,
  shares: 0,
  comments: 0,
  watchMs: 0,
});

/**
 * An event after validation, with everything the rules need already resolved: the pair it
 * belongs to, its UTC day, how much watching qualifies a view, and where it stands in the video.
 */
export interface NormalizedEvent {
  id: string;
  type: EngagementEventType;
  videoId: string;
  /** The pair whose state this event reads and changes: `u:<userId>` for likes, `s:<sessionId>` otherwise. */
  pairKey: string;
  /** Who counts as one unique viewer: the user when known, else the session. */
  viewerKey: string;
  sessionId: string;
  userId: string | undefined;
  creatorId: string | undefined;
  ts: number;
  /** Days since the Unix epoch (UTC) of `ts`: the creator statistics' bucket. */
  day: number;
  watchMs: number;
  /** Watch time after which this session's playback counts as a view. */
  qualifyAtMs: number;
  /** The retention point this event shows the viewer reached (0–20), or -1 when unknown. */
  reachedPoint: number;
}

/** What a store keeps per (video, pair). Absent fields are zero / false. */
export interface PairState {
  /** Watch time summed over this pair's events. */
  watchedMs: number;
  /** A qualified view was counted for this pair. */
  viewed: boolean;
  /** The furthest retention point reached, -1 when none. */
  maxPoint: number;
  /** Likes only: the user currently likes the video. */
  liked: boolean;
}

export const emptyPairState = (): PairState => ({ watchedMs: 0, viewed: false, maxPoint: -1, liked: false });

/** What applying one event changes outside its pair state. */
export interface Effects {
  counters: Partial<Counters>;
  /** A viewer to add to the video's unique-viewer estimate. */
  viewer?: string;
  /** The pair's furthest retention point moved from `from` (-1: none) to `to`. */
  retention?: { from: number; to: number };
}

export interface RuleOptions {
  /** Watch time that makes a view. @default 3000 */
  qualifiedViewMs: number;
}

export interface VideoFacts {
  creatorId?: string | undefined;
  durationMs?: number | undefined;
}

const dayMs = 86_400_000;
export const dayOf = (ts: number): number => Math.floor(ts / dayMs);

/** Resolve an already-validated event against what is known of its video. */
export function normalize(
  event: EngagementEvent,
  video: VideoFacts | undefined,
  options: RuleOptions,
): NormalizedEvent {
  const durationMs = event.durationMs ?? video?.durationMs;
  const isLike = event.type === "like" || event.type === "unlike";
  // A clip shorter than the threshold qualifies once it has played to its end.
  const qualifyAtMs =
    durationMs !== undefined && durationMs > 0
      ? Math.min(options.qualifiedViewMs, durationMs)
      : options.qualifiedViewMs;
  return {
    id: event.id,
    type: event.type,
    videoId: event.videoId,
    pairKey: isLike ? `u:${event.userId}` : `s:${event.sessionId}`,
    viewerKey: event.userId !== undefined ? `u:${event.userId}` : `s:${event.sessionId}`,
    sessionId: event.sessionId,
    userId: event.userId,
    creatorId: event.creatorId ?? video?.creatorId,
    ts: event.ts,
    day: dayOf(event.ts),
    watchMs: event.watchMs ?? 0,
    qualifyAtMs,
    reachedPoint: reachedPoint(event, durationMs),
  };
}

function reachedPoint(event: EngagementEvent, durationMs: number | undefined): number {
  if (event.type === "complete") return retentionPoints - 1;
  if (event.type === "view") return 0; // playback started: the viewer is at 0 %
  if (event.type !== "watch" && event.type !== "skip") return -1;
  if (event.positionMs === undefined || durationMs === undefined || durationMs <= 0) return -1;
  const point = Math.floor((event.positionMs / durationMs) * (retentionPoints - 1));
  return Math.max(0, Math.min(retentionPoints - 1, point));
}

const simpleCounter: Partial<Record<EngagementEventType, CounterField>> = {
  impression: "impressions",
  complete: "completions",
  replay: "replays",
  skip: "skips",
  share: "shares",
  comment: "comments",
};

/**
 * Apply one (new, never-seen) event to its pair's state. Returns the next state and the effects;
 * the caller has already made sure the event id was not applied before.
 */
export function transition(state: PairState, event: NormalizedEvent): { state: PairState; effects: Effects } {
  const next = { ...state };
  const counters: Partial<Counters> = {};
  const effects: Effects = { counters };

  if (event.type === "like" || event.type === "unlike") {
    const liked = event.type === "like";
    // A like is a state, not a tally: liking twice counts once, unliking what was not liked is nothing.
    if (next.liked !== liked) {
      next.liked = liked;
      counters.likes = liked ? 1 : -1;
    }
    return { state: next, effects };
  }

  const field = simpleCounter[event.type];
  if (field !== undefined) counters[field] = 1;
  if (event.watchMs > 0) {
    counters.watchMs = event.watchMs;
    next.watchedMs += event.watchMs;
  }
  if (!next.viewed && (event.type === "complete" || next.watchedMs >= event.qualifyAtMs)) {
    next.viewed = true;
    counters.views = 1;
    effects.viewer = event.viewerKey;
  }
  if (event.reachedPoint > next.maxPoint) {
    effects.retention = { from: next.maxPoint, to: event.reachedPoint };
    next.maxPoint = event.reachedPoint;
  }
  return { state: next, effects };
}

/** What a store keeps per session: the UTC day it started, and its first and last event times. */
export interface SessionState {
  day: number;
  firstTs: number;
  lastTs: number;
}

/** Per-day session totals; a session belongs to the day of its first event. */
export interface SessionTotals {
  sessions: number;
  watchMs: number;
  views: number;
  /** Summed spans (last event - first event) of the day's sessions. */
  lengthMs: number;
}

export const sessionTotalFields = ["sessions", "watchMs", "views", "lengthMs"] as const;
export const zeroSessionTotals = (): SessionTotals => ({ sessions: 0, watchMs: 0, views: 0, lengthMs: 0 });

/** Fold one applied event into its session: the next state, and what the session's day gains. */
export function sessionStep(
  state: SessionState | undefined,
  event: NormalizedEvent,
  effects: Effects,
): { state: SessionState; gain: SessionTotals } {
  const before = state ?? { day: event.day, firstTs: event.ts, lastTs: event.ts };
  const next = {
    day: before.day,
    firstTs: Math.min(before.firstTs, event.ts),
    lastTs: Math.max(before.lastTs, event.ts),
  };
  return {
    state: next,
    gain: {
      sessions: state === undefined ? 1 : 0,
      watchMs: effects.counters.watchMs ?? 0,
      views: effects.counters.views ?? 0,
      lengthMs: next.lastTs - next.firstTs - (before.lastTs - before.firstTs),
    },
  };
}

/** Weight of each event type in the trending score; negative feedback pulls a video down. */
export const defaultTrendingWeights: Record<EngagementEventType, number> = {
  impression: 0,
  view: 0,
  watch: 0,
  complete: 2,
  replay: 1,
  skip: -0.5,
  like: 3,
  unlike: -3,
  share: 5,
  comment: 3,
};

/** The trending weight of an applied event: views count when they qualify, likes when they change state. */
export function trendingWeight(
  event: NormalizedEvent,
  effects: Effects,
  weights: Record<EngagementEventType, number>,
  viewWeight: number,
): number {
  if (event.type === "like" || event.type === "unlike")
    return effects.counters.likes === undefined ? 0 : weights[event.type];
  return weights[event.type] + (effects.counters.views === 1 ? viewWeight : 0);
}
