import type { Client } from "cassandra-driver";
import { z } from "zod";
import { totalsByDay } from "../days.js";
import { EngagementError, EngagementErrorCode, withBackend } from "../errors.js";
import { HyperLogLog } from "../hll.js";
import {
  type Counters,
  counterFields,
  type Effects,
  emptyPairState,
  type NormalizedEvent,
  type PairState,
  retentionPoints,
  type SessionState,
  sessionStep,
  sessionTotalFields,
  transition,
  zeroCounters,
  zeroSessionTotals,
} from "../rules.js";
import { shardOf } from "../shard.js";
import type { ApplyContext, EngagementStore, StoredCounts, TrendingWindow, VideoRecord } from "../store.js";
import { bucketMs, bucketOf, bucketsPerWindow, decayOf, liveBuckets, topK } from "../trending.js";
import { parseWith } from "../validate.js";

export interface CassandraStoreOptions {
  /** A cassandra-driver `Client`, created (and shut down) by the caller. */
  client: Client;
  /** @default "reelkit_engagement" */
  keyspace?: string;
  /**
   * Create the keyspace if it is missing, with this replication. Pass `false` where the keyspace
   * is managed elsewhere (production clusters want NetworkTopologyStrategy and RF ≥ 3).
   * @default { class: "SimpleStrategy", replication_factor: 1 }
   */
  createKeyspace?: Record<string, string | number> | false;
  /** How long event ids and session state are kept: match `createEngagement`'s `dedupeWindowMs`. @default 604800000 */
  dedupeWindowMs?: number;
  /**
   * Most events one conditional batch carries. Cassandra fails batches over 50 kB by default; the
   * HyperLogLog alone is 12 kB.
   * @default 100
   */
  eventsPerBatch?: number;
  /** Session state and per-day session totals are spread over this many partitions. @default 16 */
  sessionShards?: number;
  /** Most queries this store has in flight at once. @default 256 */
  maxInFlight?: number;
}

/** Run at most `n` of the given tasks at a time, in arrival order. */
function limiter(n: number) {
  let active = 0;
  const waiting: Array<() => void> = [];
  return async <T>(task: () => Promise<T>): Promise<T> => {
    if (active < n) active++;
    else await new Promise<void>((resolve) => waiting.push(resolve)); // a finishing task hands its slot over
    try {
      return await task();
    } finally {
      const next = waiting.shift();
      if (next === undefined) active--;
      else next();
    }
  };
}

const optionsSchema = z.strictObject({
  client: z.custom<Client>(
    (v) => typeof v === "object" && v !== null && typeof (v as Client).batch === "function",
    "client must be a cassandra-driver Client",
  ),
  keyspace: z
    .string()
    .regex(/^[a-z][a-z0-9_]{0,47}$/, "a keyspace name is lower-case letters, digits and _")
    .default("reelkit_engagement"),
  createKeyspace: z
    .union([z.record(z.string(), z.union([z.string(), z.number()])), z.literal(false)])
    .default({ class: "SimpleStrategy", replication_factor: 1 }),
  dedupeWindowMs: z
    .number()
    .int()
    .min(60_000)
    .default(7 * 86_400_000),
  eventsPerBatch: z.number().int().min(1).max(1000).default(100),
  sessionShards: z.number().int().min(1).max(1024).default(16),
  maxInFlight: z.number().int().min(1).max(100_000).default(256),
});

// Rows of one video's partition, by kind: c counter, d day counter, r retention point, h HyperLogLog,
// p pair state, i applied event id, t trending weight per window bucket.
type Row = { kind: string; key: string; n: unknown; data: Buffer | null; score: number | null };

const num = (value: unknown): number => {
  if (typeof value === "bigint") return Number(value);
  if (value !== null && typeof value === "object" && "toNumber" in value)
    return (value as { toNumber(): number }).toNumber();
  return Number(value ?? 0);
};

const dayKey = (day: number, field: string) => `${String(day).padStart(7, "0")}:${field}`;
const encodePair = (s: PairState) => Buffer.from(`${s.watchedMs},${s.viewed ? 1 : 0},${s.maxPoint},${s.liked ? 1 : 0}`);
const decodePair = (data: Buffer | null): PairState => {
  if (data === null) return emptyPairState();
  const [w = "0", v = "0", m = "-1", l = "0"] = data.toString().split(",");
  return { watchedMs: Number(w), viewed: v === "1", maxPoint: Number(m), liked: l === "1" };
};

/**
 * Engagement state in Cassandra, written idempotently and never with counter columns (a timed-out
 * counter increment is ambiguous, and drivers never retry one).
 *
 * Each video is one partition holding its totals, per-day totals, retention, HyperLogLog, pair
 * states and applied event ids. A batch is applied as read → compute (the same rules as every
 * store) → one conditional single-partition batch that writes absolute values and bumps the
 * partition's `version` IF it is still the version read. A retry, a concurrent writer or a replay
 * after a crash either sees its ids already applied or loses the condition and recomputes, so
 * every event counts exactly once.
 */
export async function createCassandraStore(options: CassandraStoreOptions): Promise<EngagementStore> {
  const config = parseWith(optionsSchema, options, EngagementErrorCode.INVALID_OPTIONS, "options");
  const { client, keyspace: ks } = config;
  const ttl = Math.ceil(config.dedupeWindowMs / 1000);
  const backend = <T>(what: string, work: () => Promise<T>) => withBackend("cassandra", what, work);

  // Every query passes one gate: a batch touching thousands of videos must not flood the driver's
  // connection pool (it fails requests past pooling.maxRequestsPerConnection, 2048 by default).
  const gate = limiter(config.maxInFlight);
  const run = (query: string, params: unknown[] = []) => gate(() => client.execute(query, params, { prepare: true }));
  const batch = (queries: Array<{ query: string; params: unknown[] }>) =>
    gate(() => client.batch(queries, { prepare: true }));

  await backend("schema", async () => {
    if (config.createKeyspace !== false) {
      const replication = JSON.stringify(config.createKeyspace).replaceAll('"', "'");
      await client.execute(`CREATE KEYSPACE IF NOT EXISTS ${ks} WITH replication = ${replication}`);
    }
    await client.execute(
      `CREATE TABLE IF NOT EXISTS ${ks}.video_state (video_id text, kind text, key text, n bigint, data blob, score double, version bigint static, PRIMARY KEY (video_id, kind, key))`,
    );
    await client.execute(
      `CREATE TABLE IF NOT EXISTS ${ks}.session_state (shard int, kind text, key text, n bigint, data blob, version bigint static, PRIMARY KEY (shard, kind, key))`,
    );
    await client.execute(
      `CREATE TABLE IF NOT EXISTS ${ks}.videos (video_id text PRIMARY KEY, creator_id text, duration_ms bigint)`,
    );
    await client.execute(
      `CREATE TABLE IF NOT EXISTS ${ks}.creator_videos (creator_id text, video_id text, PRIMARY KEY (creator_id, video_id))`,
    );
    await client.execute(
      `CREATE TABLE IF NOT EXISTS ${ks}.trending (window_name text, bucket bigint, video_id text, score double, PRIMARY KEY ((window_name, bucket), video_id))`,
    );
  });

  const rowsOf = async (videoId: string, kind: string, keys?: string[]): Promise<Row[]> => {
    if (keys !== undefined && keys.length === 0) return [];
    const result =
      keys === undefined
        ? await run(`SELECT kind, key, n, data, score FROM ${ks}.video_state WHERE video_id = ? AND kind = ?`, [
            videoId,
            kind,
          ])
        : await run(
            `SELECT kind, key, n, data, score FROM ${ks}.video_state WHERE video_id = ? AND kind = ? AND key IN ?`,
            [videoId, kind, keys],
          );
    return result.rows as unknown as Row[];
  };

  /** Apply one video's events (in order) in conditional rounds; resolves applied flags. */
  async function applyChunk(
    videoId: string,
    events: NormalizedEvent[],
    context: ApplyContext,
    appliedNow: Array<{ event: NormalizedEvent; effects: Effects }>,
  ): Promise<boolean[]> {
    for (let attempt = 0; ; attempt++) {
      const versionRow = (
        await run(`SELECT version FROM ${ks}.video_state WHERE video_id = ? LIMIT 1`, [videoId])
      ).first();
      const version = versionRow === null ? null : num(versionRow.version);
      const days = [...new Set(events.map((e) => e.day))];
      const trendKeys = [
        ...new Set(events.flatMap((e) => context.windows.map((w) => `${w.name}:${bucketOf(e.ts, w)}`))),
      ];
      // A trending bucket is read until it leaves its window: keep it a bucket longer, then let it expire.
      const trendTtl = (key: string) => {
        const name = key.slice(0, key.lastIndexOf(":"));
        const window = context.windows.find((w) => w.name === name);
        return window === undefined ? ttl : Math.ceil(((bucketsPerWindow + 2) * bucketMs(window)) / 1000);
      };
      const [ids, pairs, counters, retention, hll, dayRows, trendRows] = await Promise.all([
        rowsOf(videoId, "i", [...new Set(events.map((e) => e.id))]),
        rowsOf(videoId, "p", [...new Set(events.map((e) => e.pairKey))]),
        rowsOf(videoId, "c"),
        rowsOf(videoId, "r"),
        rowsOf(videoId, "h"),
        rowsOf(
          videoId,
          "d",
          days.flatMap((d) => counterFields.map((f) => dayKey(d, f))),
        ),
        rowsOf(videoId, "t", trendKeys),
      ]);

      const applied = new Set(ids.map((r) => r.key));
      const pairState = new Map(pairs.map((r) => [r.key, decodePair(r.data)]));
      const totals = new Map<string, number>(counters.map((r) => [r.key, num(r.n)]));
      const points = new Map<string, number>(retention.map((r) => [r.key, num(r.n)]));
      const dayTotals = new Map<string, number>(dayRows.map((r) => [r.key, num(r.n)]));
      const trend = new Map<string, number>(trendRows.map((r) => [r.key, r.score ?? 0]));
      const viewers = hll[0]?.data ? HyperLogLog.fromRedis(hll[0].data) : new HyperLogLog();
      const changed = {
        pairs: new Set<string>(),
        totals: new Set<string>(),
        points: new Set<string>(),
        days: new Set<string>(),
        trend: new Set<string>(),
      };
      let viewersChanged = false;
      const newIds: NormalizedEvent[] = [];
      const newEffects: Effects[] = [];
      const creators = new Set<string>();

      const flags = events.map((event) => {
        if (applied.has(event.id)) return false;
        applied.add(event.id);
        newIds.push(event);
        const { state, effects } = transition(pairState.get(event.pairKey) ?? emptyPairState(), event);
        newEffects.push(effects);
        pairState.set(event.pairKey, state);
        changed.pairs.add(event.pairKey);
        for (const [field, by] of Object.entries(effects.counters) as Array<[keyof Counters, number]>) {
          totals.set(field, (totals.get(field) ?? 0) + by);
          changed.totals.add(field);
          const dk = dayKey(event.day, field);
          dayTotals.set(dk, (dayTotals.get(dk) ?? 0) + by);
          changed.days.add(dk);
        }
        if (effects.viewer !== undefined) viewersChanged = viewers.add(effects.viewer) || viewersChanged;
        if (effects.retention !== undefined) {
          const { from, to } = effects.retention;
          if (from >= 0) points.set(String(from), (points.get(String(from)) ?? 0) - 1);
          points.set(String(to), (points.get(String(to)) ?? 0) + 1);
          changed.points.add(String(from)).add(String(to));
          changed.points.delete("-1");
        }
        if (event.creatorId !== undefined) creators.add(event.creatorId);
        const weight = context.weigh(event, effects.counters);
        if (weight !== 0) {
          for (const window of context.windows) {
            const tk = `${window.name}:${bucketOf(event.ts, window)}`;
            trend.set(tk, (trend.get(tk) ?? 0) + weight);
            changed.trend.add(tk);
          }
        }
        return true;
      });
      if (newIds.length === 0) return flags;

      const upsert = `UPDATE ${ks}.video_state SET n = ? WHERE video_id = ? AND kind = ? AND key = ?`;
      const queries: Array<{ query: string; params: unknown[] }> = [
        {
          query: `UPDATE ${ks}.video_state SET version = ? WHERE video_id = ? IF version = ?`,
          params: [(version ?? 0) + 1, videoId, version],
        },
        ...newIds.map((e) => ({
          query: `INSERT INTO ${ks}.video_state (video_id, kind, key, n) VALUES (?, 'i', ?, 1) USING TTL ?`,
          params: [videoId, e.id, ttl],
        })),
        ...[...changed.pairs].map((pairKey) => ({
          // A session's state matters while its events may arrive; a like is kept for good.
          query: `INSERT INTO ${ks}.video_state (video_id, kind, key, data) VALUES (?, 'p', ?, ?) USING TTL ?`,
          params: [
            videoId,
            pairKey,
            encodePair(pairState.get(pairKey) ?? emptyPairState()),
            pairKey.startsWith("s:") ? ttl : 0,
          ],
        })),
        ...[...changed.totals].map((k) => ({ query: upsert, params: [totals.get(k) ?? 0, videoId, "c", k] })),
        ...[...changed.days].map((k) => ({ query: upsert, params: [dayTotals.get(k) ?? 0, videoId, "d", k] })),
        ...[...changed.points].map((k) => ({ query: upsert, params: [points.get(k) ?? 0, videoId, "r", k] })),
        ...[...changed.trend].map((k) => ({
          query: `UPDATE ${ks}.video_state USING TTL ? SET score = ? WHERE video_id = ? AND kind = 't' AND key = ?`,
          params: [trendTtl(k), trend.get(k) ?? 0, videoId, k],
        })),
      ];
      if (viewersChanged) {
        queries.push({
          query: `UPDATE ${ks}.video_state SET data = ? WHERE video_id = ? AND kind = 'h' AND key = ''`,
          params: [viewers.toRedis(), videoId],
        });
      }
      const result = await batch(queries);
      if (!result.wasApplied()) {
        // Another writer moved the partition on: read again and recompute.
        if (attempt >= 50) {
          throw new EngagementError(
            EngagementErrorCode.BACKEND_FAILED,
            `[cassandra] video ${videoId} stayed contended`,
          );
        }
        await new Promise((r) => setTimeout(r, Math.random() * 10 * (attempt + 1)));
        continue;
      }
      newIds.forEach((event, i) => {
        appliedNow.push({ event, effects: newEffects[i] as Effects });
      });
      // Derived rows, written after the commit from absolute values: a crash before them leaves
      // trending or the creator index behind until the video's next batch rewrites them.
      await Promise.all([
        ...[...changed.trend].map((k) => {
          const cut = k.lastIndexOf(":");
          const [window, bucket] = [k.slice(0, cut), k.slice(cut + 1)];
          return run(
            `INSERT INTO ${ks}.trending (window_name, bucket, video_id, score) VALUES (?, ?, ?, ?) USING TTL ?`,
            [window, Number(bucket), videoId, trend.get(k) ?? 0, trendTtl(k)],
          );
        }),
        ...[...creators].map((c) =>
          run(`INSERT INTO ${ks}.creator_videos (creator_id, video_id) VALUES (?, ?)`, [c, videoId]),
        ),
      ]);
      return flags;
    }
  }

  async function apply(events: readonly NormalizedEvent[], context: ApplyContext): Promise<boolean[]> {
    const byVideo = new Map<string, number[]>();
    events.forEach((e, i) => {
      const list = byVideo.get(e.videoId);
      if (list === undefined) byVideo.set(e.videoId, [i]);
      else list.push(i);
    });
    const flags = new Array<boolean>(events.length).fill(false);
    const appliedNow: Array<{ event: NormalizedEvent; effects: Effects }> = [];
    // Settle every video: the ones that committed still get their session updates when another
    // failed (the caller's retry will find their events applied and skip them).
    const settled = await Promise.allSettled(
      [...byVideo].map(async ([videoId, indexes]) => {
        for (let start = 0; start < indexes.length; start += config.eventsPerBatch) {
          const chunk = indexes.slice(start, start + config.eventsPerBatch);
          const result = await applyChunk(
            videoId,
            chunk.map((i) => events[i] as NormalizedEvent),
            context,
            appliedNow,
          );
          chunk.forEach((i, k) => {
            flags[i] = result[k] ?? false;
          });
        }
      }),
    );
    // Session totals are folded in after the videos' commits, only for events applied now: a crash
    // in between can lose a session update, never add one twice.
    const byShard = new Map<number, Array<{ event: NormalizedEvent; effects: Effects }>>();
    for (const entry of appliedNow) {
      const shard = shardOf(entry.event.sessionId, config.sessionShards);
      byShard.set(shard, [...(byShard.get(shard) ?? []), entry]);
    }
    await Promise.all(
      [...byShard].map(async ([shard, entries]) => {
        // In slices, in order, so each conditional batch stays under Cassandra's batch size limit.
        for (let start = 0; start < entries.length; start += config.eventsPerBatch) {
          await applySessions(shard, entries.slice(start, start + config.eventsPerBatch));
        }
      }),
    );
    const failure = settled.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failure !== undefined) throw failure.reason;
    return flags;
  }

  /** Sessions of one shard: read, fold with sessionStep, one conditional batch (as for videos). */
  async function applySessions(shard: number, entries: Array<{ event: NormalizedEvent; effects: Effects }>) {
    const sessionRows = (kind: string, keys?: string[]) =>
      keys === undefined || keys.length > 0
        ? run(
            `SELECT key, n, data FROM ${ks}.session_state WHERE shard = ? AND kind = ?${keys ? " AND key IN ?" : ""}`,
            keys ? [shard, kind, keys] : [shard, kind],
          ).then((r) => r.rows as unknown as Row[])
        : Promise.resolve([]);
    for (let attempt = 0; ; attempt++) {
      const versionRow = (
        await run(`SELECT version FROM ${ks}.session_state WHERE shard = ? LIMIT 1`, [shard])
      ).first();
      const version = versionRow === null ? null : num(versionRow.version);
      const ids = [...new Set(entries.map((e) => e.event.sessionId))];
      const states = new Map<string, SessionState>();
      for (const row of await sessionRows("s", ids)) {
        const [day = 0, firstTs = 0, lastTs = 0] = (row.data?.toString() ?? "").split(",").map(Number);
        states.set(row.key, { day, firstTs, lastTs });
      }
      const days = new Set(entries.map((e) => states.get(e.event.sessionId)?.day ?? e.event.day));
      const dayRows = await sessionRows(
        "d",
        [...days].flatMap((d) => sessionTotalFields.map((f) => `${d}:${f}`)),
      );
      const totals = new Map<string, number>(dayRows.map((r) => [r.key, num(r.n)]));
      const changedDays = new Set<string>();
      for (const { event, effects } of entries) {
        const { state, gain } = sessionStep(states.get(event.sessionId), event, effects);
        states.set(event.sessionId, state);
        for (const field of sessionTotalFields) {
          if (gain[field] === 0) continue;
          const key = `${state.day}:${field}`;
          totals.set(key, (totals.get(key) ?? 0) + gain[field]);
          changedDays.add(key);
        }
      }
      const queries = [
        {
          query: `UPDATE ${ks}.session_state SET version = ? WHERE shard = ? IF version = ?`,
          params: [(version ?? 0) + 1, shard, version],
        },
        ...ids.map((id) => {
          const s = states.get(id) as SessionState;
          return {
            query: `INSERT INTO ${ks}.session_state (shard, kind, key, data) VALUES (?, 's', ?, ?) USING TTL ?`,
            params: [shard, id, Buffer.from(`${s.day},${s.firstTs},${s.lastTs}`), ttl],
          };
        }),
        ...[...changedDays].map((key) => ({
          query: `UPDATE ${ks}.session_state SET n = ? WHERE shard = ? AND kind = 'd' AND key = ?`,
          params: [totals.get(key) ?? 0, shard, key],
        })),
      ];
      if ((await batch(queries)).wasApplied()) return;
      if (attempt >= 50)
        throw new EngagementError(
          EngagementErrorCode.BACKEND_FAILED,
          `[cassandra] session shard ${shard} stayed contended`,
        );
      await new Promise((r) => setTimeout(r, Math.random() * 10 * (attempt + 1)));
    }
  }

  return {
    apply: (events, context) => backend("apply", () => apply(events, context)),

    counts: (videoIds) =>
      backend("counts", () =>
        Promise.all(
          videoIds.map(async (videoId): Promise<StoredCounts> => {
            const [counters, hll] = await Promise.all([rowsOf(videoId, "c"), rowsOf(videoId, "h")]);
            const totals = zeroCounters();
            for (const row of counters) if (row.key in totals) totals[row.key as keyof Counters] = num(row.n);
            const data = hll[0]?.data;
            return { ...totals, uniqueViewers: data ? HyperLogLog.fromRedis(data).count() : 0 };
          }),
        ),
      ),

    liked: (userId, videoIds) =>
      backend("liked", () =>
        Promise.all(
          videoIds.map(
            async (videoId) => decodePair((await rowsOf(videoId, "p", [`u:${userId}`]))[0]?.data ?? null).liked,
          ),
        ),
      ),

    retentionHistogram: (videoId) =>
      backend("retention", async () => {
        const histogram = new Array<number>(retentionPoints).fill(0);
        for (const row of await rowsOf(videoId, "r")) histogram[Number(row.key)] = num(row.n);
        return histogram;
      }),

    trending: (window: TrendingWindow, limit, now) =>
      backend("trending", async () => {
        const scores = new Map<string, number>();
        await Promise.all(
          liveBuckets(now, window).map(async (bucket) => {
            const decay = decayOf(bucket, now, window);
            const result = await run(
              `SELECT video_id, score FROM ${ks}.trending WHERE window_name = ? AND bucket = ?`,
              [window.name, bucket],
            );
            for (const row of result.rows) {
              const videoId = row.video_id as string;
              scores.set(videoId, (scores.get(videoId) ?? 0) + (row.score as number) * decay);
            }
          }),
        );
        return topK(scores, limit);
      }),

    creatorDays: (creatorId, fromDay, toDay) =>
      backend("creator days", async () => {
        const videos = (await run(`SELECT video_id FROM ${ks}.creator_videos WHERE creator_id = ?`, [creatorId])).rows;
        const entries: Array<[string, number]> = [];
        for (const { video_id: videoId } of videos) {
          const rows = await run(
            `SELECT key, n FROM ${ks}.video_state WHERE video_id = ? AND kind = 'd' AND key >= ? AND key < ?`,
            [videoId, dayKey(fromDay, ""), dayKey(toDay, "~")],
          );
          for (const row of rows.rows) entries.push([row.key as string, num(row.n)]);
        }
        return totalsByDay(entries, fromDay, toDay, zeroCounters).map(({ day, totals }) => ({ day, counters: totals }));
      }),

    sessionDays: (fromDay, toDay) =>
      backend("session days", async () => {
        const shards = await Promise.all(
          Array.from({ length: config.sessionShards }, (_, shard) =>
            run(`SELECT key, n FROM ${ks}.session_state WHERE shard = ? AND kind = 'd'`, [shard]),
          ),
        );
        const entries = shards.flatMap((r) => r.rows.map((row) => [row.key as string, num(row.n)] as const));
        return totalsByDay(entries, fromDay, toDay, zeroSessionTotals);
      }),

    creatorVideos: (creatorId) =>
      backend("creator videos", async () =>
        (await run(`SELECT video_id FROM ${ks}.creator_videos WHERE creator_id = ?`, [creatorId])).rows
          .map((r) => r.video_id as string)
          .sort(),
      ),

    registerVideo: (video: VideoRecord) =>
      backend("register video", async () => {
        if (video.creatorId !== undefined) {
          await run(`UPDATE ${ks}.videos SET creator_id = ? WHERE video_id = ?`, [video.creatorId, video.videoId]);
          await run(`INSERT INTO ${ks}.creator_videos (creator_id, video_id) VALUES (?, ?)`, [
            video.creatorId,
            video.videoId,
          ]);
        }
        if (video.durationMs !== undefined) {
          await run(`UPDATE ${ks}.videos SET duration_ms = ? WHERE video_id = ?`, [video.durationMs, video.videoId]);
        }
      }),

    videos: (videoIds) =>
      backend("videos", () =>
        Promise.all(
          videoIds.map(async (videoId): Promise<VideoRecord | undefined> => {
            const row = (
              await run(`SELECT creator_id, duration_ms FROM ${ks}.videos WHERE video_id = ?`, [videoId])
            ).first();
            if (row === null) return undefined;
            return {
              videoId,
              ...(row.creator_id !== null && { creatorId: row.creator_id as string }),
              ...(row.duration_ms !== null && { durationMs: num(row.duration_ms) }),
            };
          }),
        ),
      ),

    async close() {},
  };
}
