import { bloomPositions } from "../bloom.js";
import { FeedRankerErrorCode } from "../errors.js";
import { getOrCreate } from "../random.js";
import {
  epochOf,
  epochScale,
  isPositive,
  type SignalsOptions,
  type StateOptions,
  signalsOptionsSchema,
  stateOptionsSchema,
  statsDelta,
  trendingIncrement,
} from "../signals-common.js";
import type { Affinity, Scored, SignalsPort, StatePort, VideoStats } from "../types.js";
import { emptyStats, interestOf, signalWeight } from "../types.js";
import { parseWith } from "../validate.js";

function topOf(map: Map<string, number>, limit: number): Scored[] {
  return [...map.entries()]
    .filter(([, score]) => score > 0)
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
    .slice(0, limit)
    .map(([videoId, score]) => ({ videoId, score }));
}

/** In-process signals: the default, and the reference behaviour every adapter must match. */
export function createMemorySignals(options: SignalsOptions = {}): SignalsPort {
  const o = parseWith(signalsOptionsSchema, options, FeedRankerErrorCode.INVALID_OPTIONS, "signals options");
  const epochs = new Map<number, Map<string, number>>();
  const co = new Map<string, Map<string, number>>();
  const recent = new Map<string, string[]>();
  const interests = new Map<string, Map<string, number>>();
  const stats = new Map<string, VideoStats>();
  const affinity = new Map<string, Affinity>();
  const add = (map: Map<string, number>, key: string, by: number) => map.set(key, (map.get(key) ?? 0) + by);

  return {
    async record(signals) {
      for (const s of signals) {
        const weight = signalWeight(s, o.positiveWatch);
        const st = stats.get(s.videoId) ?? emptyStats();
        for (const [field, by] of Object.entries(statsDelta(s)) as Array<[keyof VideoStats, number]>) st[field] += by;
        stats.set(s.videoId, st);
        if (weight !== 0) {
          const a = affinity.get(s.userId) ?? { topics: new Map(), creators: new Map() };
          for (const topic of s.topics) add(a.topics, topic, weight);
          add(a.creators, s.creatorId, weight);
          affinity.set(s.userId, a);
        }
        if (!isPositive(s, o.positiveWatch)) continue;
        const e = epochOf(s.ts, o.halfLifeMs);
        if (!epochs.has(e)) for (const old of epochs.keys()) if (old < e - 1) epochs.delete(old);
        const scores = getOrCreate(epochs, e, () => new Map<string, number>());
        add(scores, s.videoId, trendingIncrement(weight, s.ts, o.halfLifeMs));
        const history = recent.get(s.userId) ?? [];
        for (const other of history.slice(0, o.coWindow)) {
          if (other === s.videoId) continue;
          const mine = getOrCreate(co, s.videoId, () => new Map<string, number>());
          const theirs = getOrCreate(co, other, () => new Map<string, number>());
          add(mine, other, 1);
          add(theirs, s.videoId, 1);
        }
        const next = [s.videoId, ...history.filter((v) => v !== s.videoId)];
        const mine = getOrCreate(interests, s.userId, () => new Map<string, number>());
        mine.set(s.videoId, Math.max(mine.get(s.videoId) ?? 0, interestOf(s)));
        for (const evicted of next.splice(o.recentLimit)) mine.delete(evicted);
        recent.set(s.userId, next);
      }
    },
    async trending(limit, now) {
      const e = epochOf(now, o.halfLifeMs);
      const merged = new Map<string, number>();
      for (const epoch of [e - 1, e]) {
        const scale = epochScale(epoch, now, o.halfLifeMs);
        for (const [video, score] of epochs.get(epoch) ?? []) add(merged, video, score * scale);
      }
      return topOf(merged, limit);
    },
    async coEngaged(videoId, limit) {
      return topOf(co.get(videoId) ?? new Map(), limit);
    },
    async recent(userId, limit) {
      return (recent.get(userId) ?? []).slice(0, limit);
    },
    async interest(userId, videoIds) {
      const mine = interests.get(userId);
      return videoIds.map((id) => mine?.get(id) ?? 0);
    },
    async stats(videoIds) {
      return new Map(videoIds.map((id) => [id, { ...(stats.get(id) ?? emptyStats()) }]));
    },
    async affinity(userId) {
      const a = affinity.get(userId);
      return { topics: new Map(a?.topics), creators: new Map(a?.creators) };
    },
  };
}

/** In-process serving state: Bloom-filter seen sets, session served lists with a TTL, follows, blocks. */
export function createMemoryState(options: StateOptions = {}, now: () => number = Date.now): StatePort {
  const o = parseWith(stateOptionsSchema, options, FeedRankerErrorCode.INVALID_OPTIONS, "state options");
  const seen = new Map<string, Uint8Array>();
  const served = new Map<string, { ids: Set<string>; expires: number }>();
  const follows = new Map<string, Set<string>>();
  const blocks = new Map<string, Set<string>>();
  const setOf = (map: Map<string, Set<string>>, key: string) => {
    return getOrCreate(map, key, () => new Set<string>());
  };
  return {
    async markSeen(userId, videoIds) {
      const bits = getOrCreate(seen, userId, () => new Uint8Array(o.seenBits >> 3));
      for (const id of videoIds) {
        for (const p of bloomPositions(id, o.seenBits, o.seenHashes))
          bits[p >> 3] = (bits[p >> 3] as number) | (1 << (p & 7));
      }
    },
    async seen(userId, videoIds) {
      const bits = seen.get(userId);
      if (bits === undefined) return videoIds.map(() => false);
      return videoIds.map((id) =>
        bloomPositions(id, o.seenBits, o.seenHashes).every((p) => ((bits[p >> 3] as number) & (1 << (p & 7))) !== 0),
      );
    },
    async addServed(sessionKey, videoIds, ttlMs) {
      const entry = served.get(sessionKey);
      const ids = entry && entry.expires > now() ? entry.ids : new Set<string>();
      for (const id of videoIds) ids.add(id);
      served.set(sessionKey, { ids, expires: now() + ttlMs });
    },
    async served(sessionKey) {
      const entry = served.get(sessionKey);
      return entry && entry.expires > now() ? new Set(entry.ids) : new Set();
    },
    async follow(userId, creatorId) {
      setOf(follows, userId).add(creatorId);
    },
    async unfollow(userId, creatorId) {
      follows.get(userId)?.delete(creatorId);
    },
    async following(userId) {
      return [...(follows.get(userId) ?? [])].sort();
    },
    async block(userId, creatorId) {
      setOf(blocks, userId).add(creatorId);
    },
    async unblock(userId, creatorId) {
      blocks.get(userId)?.delete(creatorId);
    },
    async blocked(userId) {
      return [...(blocks.get(userId) ?? [])].sort();
    },
  };
}
