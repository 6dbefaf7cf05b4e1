import type { Cluster, Redis } from "ioredis";
import { z } from "zod";
import { totalsByDay } from "../days.js";
import { EngagementErrorCode, withBackend } from "../errors.js";
import { HyperLogLog } from "../hll.js";
import {
  type Counters,
  counterFields,
  type NormalizedEvent,
  retentionPoints,
  zeroCounters,
  zeroSessionTotals,
} from "../rules.js";
import { shardOf } from "../shard.js";
import type { ApplyContext, EngagementStore, StoredCounts, TrendingWindow, VideoRecord } from "../store.js";
import { bucketOf, bucketsPerWindow, decayOf, liveBuckets, topK } from "../trending.js";
import { parseWith } from "../validate.js";
import { applyScript, sessionScript, trendingScript } from "./redis-scripts.js";

export interface RedisStoreOptions {
  /** An ioredis `Redis` or `Cluster` client, created and owned by the caller. */
  client: Redis | Cluster;
  /**
   * Prefix of every key this store writes, so several deployments can share one Redis.
   * @default "reelkit:engagement:"
   */
  keyPrefix?: string;
  /**
   * How long event ids (and session state) are kept: set it to the `dedupeWindowMs` given to
   * `createEngagement`, which rejects events older than that.
   * @default 604800000 (7 days)
   */
  dedupeWindowMs?: number;
  /**
   * A video whose events arrive faster than this (per second, as seen by this process) is hot:
   * its counter shards double, up to `maxShards`, so its writes spread over more cluster slots.
   * @default 2000
   */
  hotEventsPerSecond?: number;
  /** Upper bound on a video's counter shards. @default 64 */
  maxShards?: number;
  /**
   * Trending keys are spread over this many slots (each video's scores live in one of them).
   * @default 16
   */
  trendingShards?: number;
  /** Session state and per-day session totals are spread over this many slots. @default 16 */
  sessionShards?: number;
}

const optionsSchema = z.strictObject({
  client: z
    .custom<Redis | Cluster>(
      (value) => typeof value === "object" && value !== null && typeof (value as Redis).evalsha === "function",
      "client must be an ioredis Redis or Cluster instance",
    )
    // The scripts build key names themselves, which ioredis's keyPrefix would not reach.
    .refine(
      (client) => !(client as Redis).options?.keyPrefix && !(client as Cluster).options?.redisOptions?.keyPrefix,
      "the client must not have an ioredis keyPrefix: use this store's keyPrefix option",
    ),
  keyPrefix: z.string().default("reelkit:engagement:"),
  dedupeWindowMs: z
    .number()
    .int()
    .min(60_000)
    .max(365 * 86_400_000)
    .default(7 * 86_400_000),
  hotEventsPerSecond: z.number().positive().default(2000),
  maxShards: z.number().int().min(1).max(1024).default(64),
  trendingShards: z.number().int().min(1).max(1024).default(16),
  sessionShards: z.number().int().min(1).max(1024).default(16),
});

/** One event as the apply script reads it (see redis-scripts.ts for the fields). */
function eventFields(e: NormalizedEvent, cellRef: string | number, proposed: number | "", dirKey: string) {
  return [
    cellRef,
    proposed,
    dirKey,
    e.id,
    e.type,
    e.pairKey,
    e.viewerKey,
    e.day,
    e.watchMs,
    e.qualifyAtMs,
    e.reachedPoint,
    e.pairKey.startsWith("s:") ? 1 : 0,
  ];
}

interface ShardCount {
  value: number;
  readAt: number;
}

/**
 * Engagement state in Redis (a single server or a Cluster).
 *
 * Layout: each video's counters live in one or more *cells*, `<prefix>{<videoId>#<k>}:…`, each a
 * hash tag of its own so a hot video's cells land on different cluster slots. A (video, session)
 * or (video, user) pair is pinned to one cell the first time it is seen (a directory key written
 * with SET NX), so its state, its event ids and the counters it moves always share a slot and one
 * Lua script applies them atomically, exactly once — even after the video gained shards.
 */
export function createRedisStore(options: RedisStoreOptions): EngagementStore {
  const config = parseWith(optionsSchema, options, EngagementErrorCode.INVALID_OPTIONS, "options");
  const { client, keyPrefix: p } = config;
  // Registered on the caller's client under a name of our own; ioredis sends EVALSHA and falls back to EVAL.
  client.defineCommand("reelkitApplyEngagement", { lua: applyScript });
  const isCluster = "nodes" in client && typeof client.nodes === "function";
  client.defineCommand("reelkitTrending", { lua: trendingScript });
  client.defineCommand("reelkitSessions", { lua: sessionScript });
  const scripts = client as unknown as {
    reelkitApplyEngagement(numberOfKeys: number, ...args: Array<string | number>): Promise<string[]>;
    reelkitTrending(numberOfKeys: number, ...args: Array<string | number>): Promise<number>;
    reelkitSessions(numberOfKeys: number, ...args: Array<string | number>): Promise<number>;
  };
  // Video facts (creator, duration) change rarely and are read for every batch: cache them briefly.
  const videoCache = new Map<string, { record: VideoRecord | undefined; readAt: number }>();
  const windowSeconds = Math.ceil(config.dedupeWindowMs / 1000);
  const shardCache = new Map<string, ShardCount>();
  const rates = new Map<string, { second: number; events: number }>();

  const cell = (videoId: string, k: number) => `${p}{${videoId}#${k}}`;
  const shardsKey = (videoId: string) => `${p}shards:${videoId}`;
  const directoryKey = (videoId: string, pairKey: string) => `${p}dir:${videoId}:${pairKey}`;
  const videoKey = (videoId: string) => `${p}video:${videoId}`;
  const creatorKey = (creatorId: string) => `${p}creator:${creatorId}:videos`;
  const sessionTag = (k: number) => `${p}{sess:${k}}`;
  const trendTag = (window: TrendingWindow, videoId: string) =>
    `${p}{trend:${window.name}:${shardOf(videoId, config.trendingShards)}}`;

  const backend = <T>(what: string, work: () => Promise<T>) => withBackend("redis", what, work);

  /** Shard counts of videos; cached for a second, and they only ever grow, so a stale count is safe for writers. */
  async function shardCounts(videoIds: readonly string[], fresh: boolean): Promise<number[]> {
    const now = Date.now();
    const missing = videoIds.filter((v) => {
      const cached = shardCache.get(v);
      return fresh || cached === undefined || now - cached.readAt > 1000;
    });
    if (missing.length > 0) {
      const values = await Promise.all(missing.map((v) => client.get(shardsKey(v))));
      missing.forEach((v, i) => {
        shardCache.set(v, { value: Math.max(1, Number(values[i] ?? 1)), readAt: now });
      });
    }
    return videoIds.map((v) => shardCache.get(v)?.value ?? 1);
  }

  /** Count this batch into per-video rates; double the shards of a video that runs hot. */
  async function watchHeat(events: readonly NormalizedEvent[]): Promise<void> {
    const second = Math.floor(Date.now() / 1000);
    const perVideo = new Map<string, number>();
    for (const e of events) perVideo.set(e.videoId, (perVideo.get(e.videoId) ?? 0) + 1);
    const grow: string[] = [];
    for (const [videoId, n] of perVideo) {
      const rate = rates.get(videoId);
      const current = rate !== undefined && rate.second === second ? rate.events + n : n;
      rates.set(videoId, { second, events: current });
      const shards = shardCache.get(videoId)?.value ?? 1;
      if (current > config.hotEventsPerSecond * Math.max(1, shards / 2) && shards < config.maxShards)
        grow.push(videoId);
    }
    if (rates.size > 100_000) for (const [v, r] of rates) if (r.second < second) rates.delete(v);
    await Promise.all(
      grow.map(async (videoId) => {
        const next = Math.min(config.maxShards, (shardCache.get(videoId)?.value ?? 1) * 2);
        // Only ever raise: another process may have grown it further already.
        const value = Number(
          await client.eval(
            `local c = tonumber(redis.call("GET", KEYS[1]) or "1") if tonumber(ARGV[1]) > c then redis.call("SET", KEYS[1], ARGV[1]) return tonumber(ARGV[1]) end return c`,
            1,
            shardsKey(videoId),
            next,
          ),
        );
        shardCache.set(videoId, { value, readAt: Date.now() });
        rates.delete(videoId);
      }),
    );
  }

  /**
   * On a Cluster a script runs within one slot: pin each pair to a cell first (SET NX: the first
   * writer's choice wins, every later event of the pair follows it), then one call per cell.
   */
  async function applyOnCluster(
    events: readonly NormalizedEvent[],
    propose: (e: NormalizedEvent) => number,
  ): Promise<{ outcomes: string[]; failure?: unknown }> {
    const pairs = [...new Map(events.map((e) => [`${e.videoId}\n${e.pairKey}`, e])).values()];
    const pinned = new Map(
      await Promise.all(
        pairs.map(async (e) => {
          const proposed = propose(e);
          const key = directoryKey(e.videoId, e.pairKey);
          // A session's pin outlives its state (renewed by every event) by a whole window; a like's is kept for good.
          const session = e.pairKey.startsWith("s:");
          const previous = session
            ? await client.set(key, proposed, "EX", 2 * windowSeconds, "NX", "GET")
            : await client.set(key, proposed, "NX", "GET");
          // Renew a session's pin with its state, so a long session never loses its cell.
          if (session && previous !== null) await client.expire(key, 2 * windowSeconds);
          return [`${e.videoId}\n${e.pairKey}`, previous === null ? proposed : Number(previous)] as const;
        }),
      ),
    );
    const groups = new Map<string, number[]>();
    events.forEach((e, index) => {
      const key = `${cell(e.videoId, pinned.get(`${e.videoId}\n${e.pairKey}`) ?? 0)}:c`;
      const group = groups.get(key);
      if (group === undefined) groups.set(key, [index]);
      else group.push(index);
    });
    const outcomes = new Array<string>(events.length).fill("");
    // Settle every cell: the ones that applied must still get their trending and session updates
    // even when another cell failed (the caller's retry will see those events as duplicates).
    const settled = await Promise.allSettled(
      [...groups].map(async ([key, indexes]) => {
        const argv: Array<string | number> = [windowSeconds, indexes.length];
        for (const index of indexes) argv.push(...eventFields(events[index] as NormalizedEvent, 1, "", ""));
        const result = await scripts.reelkitApplyEngagement(1, key, ...argv);
        indexes.forEach((index, i) => {
          outcomes[index] = result[i] ?? "";
        });
      }),
    );
    const failure = settled.find((r): r is PromiseRejectedResult => r.status === "rejected");
    return { outcomes, failure: failure?.reason };
  }

  async function apply(events: readonly NormalizedEvent[], context: ApplyContext): Promise<boolean[]> {
    if (events.length === 0) return [];
    const videoIds = [...new Set(events.map((e) => e.videoId))];
    const counts = await shardCounts(videoIds, false);
    const shards = new Map(videoIds.map((v, i) => [v, counts[i] ?? 1]));

    const propose = (e: NormalizedEvent) => shardOf(e.pairKey, shards.get(e.videoId) ?? 1);
    let outcomes: string[];
    let failure: unknown;
    if (!isCluster) {
      // One server holds every key: one script pins the pairs and applies the whole batch.
      const argv: Array<string | number> = [windowSeconds, events.length];
      for (const e of events)
        argv.push(...eventFields(e, `${p}{${e.videoId}#`, propose(e), directoryKey(e.videoId, e.pairKey)));
      outcomes = await scripts.reelkitApplyEngagement(0, ...argv);
    } else {
      ({ outcomes, failure } = await applyOnCluster(events, propose));
    }

    // shard tag → bucket key → video → weight
    const trending = new Map<string, { ttl: number; keys: Map<string, Map<string, number>> }>();
    const creators = new Map<string, string>();
    events.forEach((e, index) => {
      const outcome = outcomes[index] ?? "";
      if (outcome === "") return;
      if (e.creatorId !== undefined) creators.set(`${e.creatorId}\n${e.videoId}`, e.creatorId);
      const [views, likes] = outcome.split(":").map(Number);
      const counters: Partial<Counters> = {};
      if (views) counters.views = views;
      if (likes) counters.likes = likes;
      const weight = context.weigh(e, counters);
      if (weight === 0) return;
      for (const window of context.windows) {
        const tag = trendTag(window, e.videoId);
        let shard = trending.get(tag);
        if (shard === undefined) {
          // A bucket is read until it falls out of its window: keep it one bucket longer than that.
          const ttl = Math.ceil(((bucketsPerWindow + 2) * window.lengthMs) / bucketsPerWindow / 1000);
          shard = { ttl, keys: new Map() };
          trending.set(tag, shard);
        }
        const key = `${tag}:${bucketOf(e.ts, window)}`;
        let members = shard.keys.get(key);
        if (members === undefined) {
          members = new Map();
          shard.keys.set(key, members);
        }
        members.set(e.videoId, (members.get(e.videoId) ?? 0) + weight);
      }
    });
    // Session totals, like trending, are folded in after the atomic apply and only for events applied now.
    const sessionCalls = new Map<string, Array<string | number>>();
    events.forEach((e, index) => {
      const outcome = outcomes[index] ?? "";
      if (outcome === "") return;
      const views = Number(outcome.split(":")[0]);
      const watchMs = e.type === "like" || e.type === "unlike" ? 0 : e.watchMs;
      const tag = sessionTag(shardOf(e.sessionId, config.sessionShards));
      const group = isCluster ? tag : "";
      const argv = sessionCalls.get(group) ?? [];
      argv.push(tag, e.sessionId, e.day, e.ts, watchMs, views);
      sessionCalls.set(group, argv);
    });
    await Promise.all([
      ...[...trending.values()].map(({ ttl, keys }) => {
        const argv: Array<string | number> = [ttl];
        for (const members of keys.values()) {
          argv.push(members.size);
          for (const [videoId, weight] of members) argv.push(videoId, weight);
        }
        return scripts.reelkitTrending(keys.size, ...keys.keys(), ...argv);
      }),
      ...[...creators].map(([pair, creatorId]) => client.sadd(creatorKey(creatorId), pair.split("\n")[1] as string)),
      // The first event's days key routes the call to its shard's node on a Cluster.
      ...[...sessionCalls.values()].map((argv) =>
        scripts.reelkitSessions(1, `${argv[0]}:days`, windowSeconds, argv.length / 6, ...argv),
      ),
    ]);
    if (failure !== undefined) throw failure;
    await watchHeat(events);
    return outcomes.map((o) => o !== "");
  }

  async function readCells<T>(videoId: string, read: (cellKey: string) => Promise<T>): Promise<T[]> {
    const [n = 1] = await shardCounts([videoId], true);
    return Promise.all(Array.from({ length: n }, (_, k) => read(cell(videoId, k))));
  }

  return {
    apply: (events, context) => backend("apply", () => apply(events, context)),

    counts: (videoIds) =>
      backend("counts", () =>
        Promise.all(
          videoIds.map(async (videoId): Promise<StoredCounts> => {
            const parts = await readCells(videoId, async (c) => ({
              counters: await client.hgetall(`${c}:c`),
              hll: await client.getBuffer(`${c}:h`),
            }));
            const totals = zeroCounters();
            const viewers = new HyperLogLog();
            for (const { counters, hll } of parts) {
              for (const field of counterFields) totals[field] += Number(counters[field] ?? 0);
              if (hll !== null) viewers.merge(HyperLogLog.fromRedis(hll));
            }
            return { ...totals, uniqueViewers: viewers.count() };
          }),
        ),
      ),

    liked: (userId, videoIds) =>
      backend("liked", () =>
        Promise.all(
          videoIds.map(async (videoId) => {
            const k = await client.get(directoryKey(videoId, `u:${userId}`));
            if (k === null) return false;
            return (await client.hget(`${cell(videoId, Number(k))}:p:u:${userId}`, "l")) === "1";
          }),
        ),
      ),

    retentionHistogram: (videoId) =>
      backend("retention", async () => {
        const histogram = new Array<number>(retentionPoints).fill(0);
        for (const part of await readCells(videoId, (c) => client.hgetall(`${c}:r`))) {
          for (const [point, n] of Object.entries(part))
            histogram[Number(point)] = (histogram[Number(point)] ?? 0) + Number(n);
        }
        return histogram;
      }),

    trending: (window, limit, now) =>
      backend("trending", async () => {
        const buckets = liveBuckets(now, window);
        const perShard = await Promise.all(
          Array.from({ length: config.trendingShards }, async (_, shard) => {
            const tag = `${p}{trend:${window.name}:${shard}}`;
            const dest = `${tag}:top:${now}:${Math.random().toString(36).slice(2)}`;
            const weights = buckets.map((b) => decayOf(b, now, window));
            // Each video's scores live in exactly one shard, so the union of per-shard tops holds the global top.
            await client.zunionstore(dest, buckets.length, ...buckets.map((b) => `${tag}:${b}`), "WEIGHTS", ...weights);
            const flat = await client.zrevrange(dest, 0, limit - 1, "WITHSCORES");
            await client.del(dest);
            const entries: Array<[string, number]> = [];
            for (let i = 0; i < flat.length; i += 2) entries.push([flat[i] as string, Number(flat[i + 1])]);
            return entries;
          }),
        );
        return topK(perShard.flat(), limit);
      }),

    creatorDays: (creatorId, fromDay, toDay) =>
      backend("creator days", async () => {
        const entries: Array<[string, number]> = [];
        for (const videoId of await client.smembers(creatorKey(creatorId))) {
          for (const part of await readCells(videoId, (c) => client.hgetall(`${c}:d`))) {
            for (const [name, value] of Object.entries(part)) entries.push([name, Number(value)]);
          }
        }
        return totalsByDay(entries, fromDay, toDay, zeroCounters).map(({ day, totals }) => ({ day, counters: totals }));
      }),

    sessionDays: (fromDay, toDay) =>
      backend("session days", async () => {
        const shards = await Promise.all(
          Array.from({ length: config.sessionShards }, (_, k) => client.hgetall(`${sessionTag(k)}:days`)),
        );
        const entries = shards.flatMap((shard) => Object.entries(shard).map(([n, v]) => [n, Number(v)] as const));
        return totalsByDay(entries, fromDay, toDay, zeroSessionTotals);
      }),

    creatorVideos: (creatorId) =>
      backend("creator videos", async () => (await client.smembers(creatorKey(creatorId))).sort()),

    registerVideo: (video: VideoRecord) =>
      backend("register video", async () => {
        const fields: Record<string, string> = {};
        if (video.creatorId !== undefined) fields.creatorId = video.creatorId;
        if (video.durationMs !== undefined) fields.durationMs = String(video.durationMs);
        if (Object.keys(fields).length > 0) await client.hset(videoKey(video.videoId), fields);
        if (video.creatorId !== undefined) await client.sadd(creatorKey(video.creatorId), video.videoId);
        videoCache.delete(video.videoId);
      }),

    videos: (videoIds) =>
      backend("videos", () =>
        Promise.all(
          videoIds.map(async (videoId): Promise<VideoRecord | undefined> => {
            const cached = videoCache.get(videoId);
            if (cached !== undefined && Date.now() - cached.readAt < 10_000) return cached.record;
            const [creatorId, durationMs] = await client.hmget(videoKey(videoId), "creatorId", "durationMs");
            const record =
              creatorId === null && durationMs === null
                ? undefined
                : {
                    videoId,
                    ...(creatorId !== null && { creatorId }),
                    ...(durationMs !== null && { durationMs: Number(durationMs) }),
                  };
            if (videoCache.size > 100_000) videoCache.clear();
            videoCache.set(videoId, { record, readAt: Date.now() });
            return record;
          }),
        ),
      ),

    async close() {},
  };
}
