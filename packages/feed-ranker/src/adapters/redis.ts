import type { Cluster, Redis } from "ioredis";
import { z } from "zod";
import { bloomPositions } from "../bloom.js";
import { FeedRankerError, FeedRankerErrorCode } from "../errors.js";
import {
  EPOCH_HALF_LIVES,
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

const clientSchema = z
  .custom<Redis | Cluster>(
    (value) => typeof value === "object" && value !== null && typeof (value as Redis).zincrby === "function",
    "client must be an ioredis Redis or Cluster instance",
  )
  .refine(
    (client) => !(client as Redis).options?.keyPrefix && !(client as Cluster).options?.redisOptions?.keyPrefix,
    "the client must not have an ioredis keyPrefix: use this adapter's keyPrefix option",
  );

const redisSignalsSchema = signalsOptionsSchema.extend({
  client: clientSchema,
  keyPrefix: z.string().default("reelkit:feed:"),
  /** Idle time after which per-video and per-user hot features expire. @default 30 days */
  ttlMs: z
    .number()
    .int()
    .min(60_000)
    .default(30 * 86_400_000),
});
const redisStateSchema = stateOptionsSchema.extend({
  client: clientSchema,
  keyPrefix: z.string().default("reelkit:feed:"),
  /** Idle time after which seen filters, follows and blocks expire. @default 365 days */
  ttlMs: z
    .number()
    .int()
    .min(60_000)
    .default(365 * 86_400_000),
});

export type RedisSignalsOptions = SignalsOptions & { client: Redis | Cluster; keyPrefix?: string; ttlMs?: number };
export type RedisStateOptions = StateOptions & { client: Redis | Cluster; keyPrefix?: string; ttlMs?: number };

async function backend<T>(what: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    throw new FeedRankerError(FeedRankerErrorCode.BACKEND_FAILED, `redis: ${what} failed`, { cause: error });
  }
}

function pairs(flat: string[]): Scored[] {
  const out: Scored[] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) out.push({ videoId: flat[i] as string, score: Number(flat[i + 1]) });
  return out;
}

/**
 * Signals in Redis (server or cluster), shared by every serving process: trending in per-epoch
 * sorted sets, co-engagement per video, recent history and interest per user, stats and affinities in hashes.
 * Every command touches one key, so it works unchanged on a cluster.
 */
export function createRedisSignals(options: RedisSignalsOptions): SignalsPort {
  const o = parseWith(redisSignalsSchema, options, FeedRankerErrorCode.INVALID_OPTIONS, "redis signals options");
  const r = o.client;
  const k = {
    trend: (epoch: number) => `${o.keyPrefix}trend:${epoch}`,
    co: (videoId: string) => `${o.keyPrefix}co:${videoId}`,
    recent: (userId: string) => `${o.keyPrefix}recent:${userId}`,
    stats: (videoId: string) => `${o.keyPrefix}stats:${videoId}`,
    aff: (userId: string) => `${o.keyPrefix}aff:${userId}`,
    interest: (userId: string) => `${o.keyPrefix}interest:${userId}`,
  };
  const epochMs = o.halfLifeMs * EPOCH_HALF_LIVES;
  const ttl = o.ttlMs;

  return {
    record: (signals) =>
      backend("recording signals", async () => {
        // In order, so co-engagement pairs each signal with the history before it.
        for (const s of signals) {
          const weight = signalWeight(s, o.positiveWatch);
          const writes: Array<Promise<unknown>> = [];
          for (const [field, by] of Object.entries(statsDelta(s))) {
            writes.push(
              field === "watchFraction"
                ? r.hincrbyfloat(k.stats(s.videoId), field, by)
                : r.hincrby(k.stats(s.videoId), field, by),
            );
          }
          writes.push(r.pexpire(k.stats(s.videoId), ttl));
          if (weight !== 0) {
            for (const topic of s.topics) writes.push(r.hincrbyfloat(k.aff(s.userId), `t:${topic}`, weight));
            writes.push(r.hincrbyfloat(k.aff(s.userId), `c:${s.creatorId}`, weight), r.pexpire(k.aff(s.userId), ttl));
          }
          if (isPositive(s, o.positiveWatch)) {
            const epoch = epochOf(s.ts, o.halfLifeMs);
            writes.push(
              r.zincrby(k.trend(epoch), trendingIncrement(weight, s.ts, o.halfLifeMs), s.videoId),
              r.pexpire(k.trend(epoch), 3 * epochMs),
            );
            const history = o.coWindow > 0 ? await r.lrange(k.recent(s.userId), 0, o.coWindow - 1) : [];
            for (const other of history) {
              if (other === s.videoId) continue;
              writes.push(r.zincrby(k.co(s.videoId), 1, other), r.zincrby(k.co(other), 1, s.videoId));
            }
            writes.push(r.pexpire(k.co(s.videoId), ttl));
            const key = k.recent(s.userId);
            const interest = k.interest(s.userId);
            await r.lrem(key, 0, s.videoId);
            const length = await r.lpush(key, s.videoId);
            // The largest interest wins (ZADD GT: atomic, and a retried signal changes nothing).
            writes.push(r.zadd(interest, "GT", interestOf(s), s.videoId));
            if (length > o.recentLimit) {
              const evicted = await r.lrange(key, o.recentLimit, -1);
              if (evicted.length > 0) writes.push(r.zrem(interest, ...evicted));
            }
            writes.push(r.ltrim(key, 0, o.recentLimit - 1), r.pexpire(key, ttl), r.pexpire(interest, ttl));
          }
          await Promise.all(writes);
        }
      }),
    trending: (limit, now) =>
      backend("reading trending", async () => {
        const e = epochOf(now, o.halfLifeMs);
        const merged = new Map<string, number>();
        const lists = await Promise.all(
          [e - 1, e].map((epoch) => r.zrevrange(k.trend(epoch), 0, limit - 1, "WITHSCORES")),
        );
        // Take the top `limit` of each epoch: enough, since a video's score only grows within one.
        [e - 1, e].forEach((epoch, i) => {
          const scale = epochScale(epoch, now, o.halfLifeMs);
          for (const s of pairs(lists[i] as string[]))
            merged.set(s.videoId, (merged.get(s.videoId) ?? 0) + s.score * scale);
        });
        return [...merged.entries()]
          .filter(([, score]) => score > 0)
          .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
          .slice(0, limit)
          .map(([videoId, score]) => ({ videoId, score }));
      }),
    coEngaged: (videoId, limit) =>
      backend("reading co-engagement", async () => {
        const list = pairs(await r.zrevrange(k.co(videoId), 0, limit - 1, "WITHSCORES"));
        return list.sort((a, b) => b.score - a.score || (a.videoId < b.videoId ? -1 : 1));
      }),
    recent: (userId, limit) => backend("reading recent history", () => r.lrange(k.recent(userId), 0, limit - 1)),
    interest: (userId, videoIds) =>
      backend("reading interest", async () => {
        if (videoIds.length === 0) return [];
        const scores = (await r.call("ZMSCORE", k.interest(userId), ...videoIds)) as Array<string | null>;
        return scores.map((v) => (v === null ? 0 : Number(v)));
      }),
    stats: (videoIds) =>
      backend("reading stats", async () => {
        const hashes = await Promise.all(videoIds.map((id) => r.hgetall(k.stats(id))));
        return new Map(
          videoIds.map((id, i) => {
            const h = hashes[i] as Record<string, string>;
            const stats = emptyStats();
            for (const field of Object.keys(stats) as Array<keyof VideoStats>)
              if (h[field] !== undefined) stats[field] = Number(h[field]);
            return [id, stats];
          }),
        );
      }),
    affinity: (userId) =>
      backend("reading affinity", async () => {
        const h = await r.hgetall(k.aff(userId));
        const a: Affinity = { topics: new Map(), creators: new Map() };
        for (const [field, value] of Object.entries(h)) {
          if (field.startsWith("t:")) a.topics.set(field.slice(2), Number(value));
          else if (field.startsWith("c:")) a.creators.set(field.slice(2), Number(value));
        }
        return a;
      }),
  };
}

/**
 * Serving state in Redis: each user's seen set is a Bloom filter in one bitmap (`seenBits` bits,
 * 8 KiB by default, written and read with one BITFIELD), sessions' served lists are sets with a
 * TTL, follows and blocks are sets.
 */
export function createRedisState(options: RedisStateOptions): StatePort {
  const o = parseWith(redisStateSchema, options, FeedRankerErrorCode.INVALID_OPTIONS, "redis state options");
  const r = o.client;
  const k = {
    seen: (userId: string) => `${o.keyPrefix}seen:${userId}`,
    served: (session: string) => `${o.keyPrefix}served:${session}`,
    follow: (userId: string) => `${o.keyPrefix}follow:${userId}`,
    block: (userId: string) => `${o.keyPrefix}block:${userId}`,
  };
  return {
    markSeen: (userId, videoIds) =>
      backend("marking seen", async () => {
        if (videoIds.length === 0) return;
        const args: Array<string | number> = [];
        for (const id of videoIds)
          for (const p of bloomPositions(id, o.seenBits, o.seenHashes)) args.push("SET", "u1", p, 1);
        await r.call("BITFIELD", k.seen(userId), ...args);
        await r.pexpire(k.seen(userId), o.ttlMs);
      }),
    seen: (userId, videoIds) =>
      backend("reading seen", async () => {
        if (videoIds.length === 0) return [];
        const args: Array<string | number> = [];
        for (const id of videoIds)
          for (const p of bloomPositions(id, o.seenBits, o.seenHashes)) args.push("GET", "u1", p);
        const bits = (await r.call("BITFIELD_RO", k.seen(userId), ...args)) as number[];
        return videoIds.map((_, i) => {
          for (let h = 0; h < o.seenHashes; h++) if (bits[i * o.seenHashes + h] !== 1) return false;
          return true;
        });
      }),
    addServed: (sessionKey, videoIds, ttlMs) =>
      backend("recording served", async () => {
        if (videoIds.length > 0) await r.sadd(k.served(sessionKey), ...videoIds);
        await r.pexpire(k.served(sessionKey), ttlMs);
      }),
    served: (sessionKey) => backend("reading served", async () => new Set(await r.smembers(k.served(sessionKey)))),
    follow: (userId, creatorId) =>
      backend("following", async () => {
        await r.sadd(k.follow(userId), creatorId);
        await r.pexpire(k.follow(userId), o.ttlMs);
      }),
    unfollow: (userId, creatorId) =>
      backend("unfollowing", async () => {
        await r.srem(k.follow(userId), creatorId);
      }),
    following: (userId) => backend("reading follows", async () => (await r.smembers(k.follow(userId))).sort()),
    block: (userId, creatorId) =>
      backend("blocking", async () => {
        await r.sadd(k.block(userId), creatorId);
        await r.pexpire(k.block(userId), o.ttlMs);
      }),
    unblock: (userId, creatorId) =>
      backend("unblocking", async () => {
        await r.srem(k.block(userId), creatorId);
      }),
    blocked: (userId) => backend("reading blocks", async () => (await r.smembers(k.block(userId))).sort()),
  };
}
