import { HyperLogLog } from "../hll.js";
import {
  type Counters,
  emptyPairState,
  type NormalizedEvent,
  type PairState,
  retentionPoints,
  type SessionState,
  type SessionTotals,
  sessionStep,
  sessionTotalFields,
  transition,
  zeroCounters,
  zeroSessionTotals,
} from "../rules.js";
import type { ApplyContext, EngagementStore, StoredCounts, TrendingWindow, VideoRecord } from "../store.js";
import { bucketOf, decayOf, liveBuckets, topK } from "../trending.js";

interface VideoState {
  counters: Counters;
  viewers: HyperLogLog;
  retention: number[];
  pairs: Map<string, PairState>;
  /** Per UTC day, for creator statistics. */
  days: Map<number, Counters>;
}

export interface MemoryStoreOptions {
  /**
   * How long an applied event id is remembered (and so how old an event may be and still be
   * accepted): `createEngagement` rejects older events, so forgetting an id can never let it apply twice.
   * @default 604800000 (7 days)
   */
  dedupeWindowMs?: number;
}

/** The in-process store: the embedded default and the reference behaviour for every other store. */
export function createMemoryStore(options: MemoryStoreOptions = {}): EngagementStore {
  const dedupeWindowMs = options.dedupeWindowMs ?? 7 * 86_400_000;
  const videos = new Map<string, VideoState>();
  const records = new Map<string, VideoRecord>();
  const creators = new Map<string, Set<string>>();
  // Applied ids, with the hour of their event time, and per hour the ids to forget together.
  const seen = new Map<string, number>();
  const seenByHour = new Map<number, string[]>();
  const hourOf = (ts: number) => Math.floor(ts / 3_600_000);
  // window name → bucket → video → summed weight
  const trending = new Map<string, Map<number, Map<string, number>>>();
  const sessions = new Map<string, SessionState>();
  const sessionDays = new Map<number, SessionTotals>();
  let newestTs = 0;

  const video = (videoId: string): VideoState => {
    let state = videos.get(videoId);
    if (state === undefined) {
      state = {
        counters: zeroCounters(),
        viewers: new HyperLogLog(),
        retention: new Array<number>(retentionPoints).fill(0),
        pairs: new Map(),
        days: new Map(),
      };
      videos.set(videoId, state);
    }
    return state;
  };

  const remember = (event: NormalizedEvent): boolean => {
    if (seen.has(event.id)) return false;
    const hour = hourOf(event.ts);
    seen.set(event.id, hour);
    let ids = seenByHour.get(hour);
    if (ids === undefined) {
      ids = [];
      seenByHour.set(hour, ids);
    }
    ids.push(event.id);
    return true;
  };

  const forgetOld = () => {
    // A session idle for a whole window can receive no more events.
    for (const [id, session] of sessions) if (session.lastTs < newestTs - dedupeWindowMs) sessions.delete(id);
    const oldest = hourOf(newestTs - dedupeWindowMs) - 1;
    for (const [hour, ids] of seenByHour) {
      if (hour >= oldest) continue;
      for (const id of ids) seen.delete(id);
      seenByHour.delete(hour);
    }
  };

  const linkCreator = (creatorId: string, videoId: string) => {
    let set = creators.get(creatorId);
    if (set === undefined) {
      set = new Set();
      creators.set(creatorId, set);
    }
    set.add(videoId);
  };

  const addTrending = (window: TrendingWindow, event: NormalizedEvent, weight: number) => {
    let buckets = trending.get(window.name);
    if (buckets === undefined) {
      buckets = new Map();
      trending.set(window.name, buckets);
    }
    const bucket = bucketOf(event.ts, window);
    let scores = buckets.get(bucket);
    if (scores === undefined) {
      scores = new Map();
      buckets.set(bucket, scores);
      // Buckets older than any query can reach are dead weight.
      const live = liveBuckets(newestTs, window)[0] ?? bucket;
      for (const b of buckets.keys()) if (b < live) buckets.delete(b);
    }
    scores.set(event.videoId, (scores.get(event.videoId) ?? 0) + weight);
  };

  return {
    async apply(events: readonly NormalizedEvent[], context: ApplyContext) {
      return events.map((event) => {
        if (!remember(event)) return false;
        if (event.ts > newestTs) {
          const hourChanged = hourOf(event.ts) !== hourOf(newestTs);
          newestTs = event.ts;
          if (hourChanged) forgetOld();
        }
        const state = video(event.videoId);
        const { state: pair, effects } = transition(state.pairs.get(event.pairKey) ?? emptyPairState(), event);
        state.pairs.set(event.pairKey, pair);
        let day = state.days.get(event.day);
        if (day === undefined) {
          day = zeroCounters();
          state.days.set(event.day, day);
        }
        for (const [field, by] of Object.entries(effects.counters) as Array<[keyof Counters, number]>) {
          state.counters[field] += by;
          day[field] += by;
        }
        if (effects.viewer !== undefined) state.viewers.add(effects.viewer);
        if (effects.retention !== undefined) {
          const { from, to } = effects.retention;
          if (from >= 0) state.retention[from] = (state.retention[from] ?? 0) - 1;
          state.retention[to] = (state.retention[to] ?? 0) + 1;
        }
        if (event.creatorId !== undefined) linkCreator(event.creatorId, event.videoId);
        const session = sessionStep(sessions.get(event.sessionId), event, effects);
        sessions.set(event.sessionId, session.state);
        const totals = sessionDays.get(session.state.day) ?? zeroSessionTotals();
        for (const field of sessionTotalFields) totals[field] += session.gain[field];
        sessionDays.set(session.state.day, totals);
        const weight = context.weigh(event, effects.counters);
        if (weight !== 0) for (const window of context.windows) addTrending(window, event, weight);
        return true;
      });
    },

    async counts(videoIds: readonly string[]) {
      return videoIds.map((videoId): StoredCounts => {
        const state = videos.get(videoId);
        return state === undefined
          ? { ...zeroCounters(), uniqueViewers: 0 }
          : { ...state.counters, uniqueViewers: state.viewers.count() };
      });
    },

    async liked(userId: string, videoIds: readonly string[]) {
      return videoIds.map((videoId) => videos.get(videoId)?.pairs.get(`u:${userId}`)?.liked ?? false);
    },

    async retentionHistogram(videoId: string) {
      return [...(videos.get(videoId)?.retention ?? new Array<number>(retentionPoints).fill(0))];
    },

    async trending(window: TrendingWindow, limit: number, now: number) {
      const buckets = trending.get(window.name);
      const scores = new Map<string, number>();
      if (buckets !== undefined) {
        for (const bucket of liveBuckets(now, window)) {
          const entries = buckets.get(bucket);
          if (entries === undefined) continue;
          const decay = decayOf(bucket, now, window);
          for (const [videoId, weight] of entries) scores.set(videoId, (scores.get(videoId) ?? 0) + weight * decay);
        }
      }
      return topK(scores, limit);
    },

    async creatorDays(creatorId: string, fromDay: number, toDay: number) {
      const totals = new Map<number, Counters>();
      for (const videoId of creators.get(creatorId) ?? []) {
        for (const [day, counters] of videos.get(videoId)?.days ?? []) {
          if (day < fromDay || day > toDay) continue;
          const sum = totals.get(day) ?? zeroCounters();
          for (const field of Object.keys(sum) as Array<keyof Counters>) sum[field] += counters[field];
          totals.set(day, sum);
        }
      }
      return [...totals].sort(([a], [b]) => a - b).map(([day, counters]) => ({ day, counters }));
    },

    async sessionDays(fromDay: number, toDay: number) {
      return [...sessionDays]
        .filter(([day]) => day >= fromDay && day <= toDay)
        .sort(([a], [b]) => a - b)
        .map(([day, totals]) => ({ day, totals: { ...totals } }));
    },

    async creatorVideos(creatorId: string) {
      return [...(creators.get(creatorId) ?? [])].sort();
    },

    async registerVideo(record: VideoRecord) {
      records.set(record.videoId, { ...records.get(record.videoId), ...record });
      if (record.creatorId !== undefined) linkCreator(record.creatorId, record.videoId);
    },

    async videos(videoIds: readonly string[]) {
      return videoIds.map((videoId) => records.get(videoId));
    },

    async close() {},
  };
}
