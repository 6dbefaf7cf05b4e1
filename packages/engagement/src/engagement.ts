import { z } from "zod";
import { createMemoryStore } from "./adapters/memory-store.js";
import { EngagementError, EngagementErrorCode } from "./errors.js";
import { type Journal, openJournal, readJournal } from "./journal.js";
import {
  type Counters,
  counterFields,
  dayOf,
  defaultTrendingWeights,
  type NormalizedEvent,
  normalize,
  retentionPoints,
  sessionTotalFields,
  trendingWeight,
  zeroCounters,
  zeroSessionTotals,
} from "./rules.js";
import { type EngagementEvent, type EngagementEventType, engagementEventTypes, eventProblem } from "./schema.js";
import { serialQueue } from "./serial.js";
import type { ApplyContext, EngagementStore, TrendingWindow, VideoRecord } from "./store.js";
import { parseWith } from "./validate.js";

const dayMs = 86_400_000;

export interface EngagementOptions {
  /**
   * Where state lives. The default keeps it in this process (add `journal` to survive restarts);
   * pass a Redis store (`@reelkit/engagement/redis`) to share it between processes.
   * @default createMemoryStore()
   */
  store?: EngagementStore;
  /**
   * Append-only journal for the in-process store: every accepted batch is written and flushed
   * before `record` resolves, and replayed at start, so a restart loses nothing acknowledged.
   * Only valid with the default store.
   */
  journal?: { path: string /** fdatasync each append. @default true */; sync?: boolean };
  /**
   * Watch time after which a session's playback of a video counts as one view (a shorter clip
   * counts once played to its end).
   * @default 3000
   */
  qualifiedViewMs?: number;
  /**
   * How far in the future an event's `ts` may be (client clocks drift) before it is rejected; at most
   * one hour.
   * @default 300000 (5 minutes)
   */
  maxClockSkewMs?: number;
  /**
   * How old an event may be. Event ids are remembered this long, so an event is applied at most once.
   * @default 604800000 (7 days)
   */
  dedupeWindowMs?: number;
  /**
   * Trending windows. Each is cut into 12 buckets; scores halve every `halfLifeMs` (default a
   * quarter of the window).
   * @default [{ name: "1h", lengthMs: 3600000 }, { name: "24h", lengthMs: 86400000 }, { name: "7d", lengthMs: 604800000 }]
   */
  trendingWindows?: Array<{ name: string; lengthMs: number; halfLifeMs?: number }>;
  /** Trending weight per event type; a qualified view adds `view`. @default like 3, share 5, comment 3, complete 2, replay 1, view 1, skip -0.5, unlike -3 */
  trendingWeights?: Partial<Record<EngagementEventType, number>>;
  /** Most events one `record` call takes. @default 10000 */
  maxBatch?: number;
  /** The clock. @default Date.now */
  now?: () => number;
}

export interface RecordResult {
  /** Events that were valid: applied now, or applied before (see `duplicates`). */
  accepted: number;
  /** Accepted events whose id had already been applied; they changed nothing. */
  duplicates: number;
  rejected: Array<{ index: number; id?: string; reason: string }>;
}

export interface VideoCounts extends Counters {
  /** Distinct viewers with a qualified view (HyperLogLog estimate, about 0.8 % standard error). */
  uniqueViewers: number;
  /** completions / views */
  completionRate: number;
  /** skips / impressions */
  skipRate: number;
  /** views / impressions */
  clickThroughRate: number;
  /** watchMs / views */
  averageWatchMs: number;
}

export interface Retention {
  videoId: string;
  /** Viewers who started playback (the 0 % point). */
  viewers: number;
  /** Share of those viewers who reached each 5 % of the duration. */
  points: Array<{ percent: number; share: number }>;
}

export interface CreatorStats {
  creatorId: string;
  from: number;
  to: number;
  videos: string[];
  totals: Counters & { completionRate: number; averageWatchMs: number };
  /** One entry per UTC day with activity, oldest first; `date` is YYYY-MM-DD. */
  days: Array<Counters & { date: string }>;
}

export interface SessionStats {
  from: number;
  to: number;
  /** Sessions that started in the range (a session belongs to the day of its first event). */
  sessions: number;
  /** Watch time per session. */
  averageWatchMs: number;
  /** Qualified views per session. */
  averageViews: number;
  /** Session length: time from a session's first event to its last, averaged. */
  averageLengthMs: number;
  days: Array<{ date: string; sessions: number; watchMs: number; views: number; lengthMs: number }>;
}

export interface Engagement {
  record(events: unknown): Promise<RecordResult>;
  counts(videoIds: readonly string[]): Promise<Record<string, VideoCounts>>;
  hasLiked(userId: string, videoIds: readonly string[]): Promise<Record<string, boolean>>;
  retention(videoId: string): Promise<Retention>;
  trending(options: { window: string; limit?: number }): Promise<Array<{ videoId: string; score: number }>>;
  creatorStats(creatorId: string, range: { from: number; to: number }): Promise<CreatorStats>;
  /** Session length and depth over a range of UTC days. */
  sessionStats(range: { from: number; to: number }): Promise<SessionStats>;
  registerVideo(video: { videoId: string; creatorId?: string; durationMs?: number }): Promise<void>;
  close(): Promise<void>;
}

const id = z.string().trim().min(1).max(128);
const optionsSchema = z.strictObject({
  store: z
    .custom<EngagementStore>((v) => typeof v === "object" && v !== null && "apply" in v, "not an EngagementStore")
    .optional(),
  journal: z.strictObject({ path: z.string().min(1), sync: z.boolean().default(true) }).optional(),
  qualifiedViewMs: z.number().int().min(0).max(3_600_000).default(3000),
  // At most an hour: stores forget ids by the newest event time with an hour of slack, so a larger
  // skew could let an id be forgotten while an event of its age is still accepted.
  maxClockSkewMs: z.number().int().min(0).max(3_600_000).default(300_000),
  dedupeWindowMs: z
    .number()
    .int()
    .min(60_000)
    .max(365 * dayMs)
    .default(7 * dayMs),
  trendingWindows: z
    .array(
      z.strictObject({
        name: z.string().min(1).max(32),
        lengthMs: z.number().int().min(60_000),
        halfLifeMs: z.number().positive().optional(),
      }),
    )
    .min(1)
    .default([
      { name: "1h", lengthMs: 3_600_000 },
      { name: "24h", lengthMs: dayMs },
      { name: "7d", lengthMs: 7 * dayMs },
    ]),
  trendingWeights: z.partialRecord(z.enum([...engagementEventTypes]), z.number().finite()).default({}),
  maxBatch: z.number().int().min(1).max(1_000_000).default(10_000),
  now: z.custom<() => number>((v) => typeof v === "function", "now must be a function").default(() => Date.now),
});

const videoSchema = z.strictObject({
  videoId: id,
  creatorId: id.optional(),
  durationMs: z.number().int().positive().max(Number.MAX_SAFE_INTEGER).optional(),
});
const idsSchema = z.array(id).max(10_000);
const rangeSchema = z
  .strictObject({ from: z.number().int().nonnegative(), to: z.number().int().nonnegative() })
  .refine((r) => r.from <= r.to, "from must not be after to")
  .refine((r) => r.to - r.from <= 400 * dayMs, "a range spans at most 400 days");

const ratio = (a: number, b: number) => (b > 0 ? a / b : 0);
const isoDate = (day: number) => new Date(day * dayMs).toISOString().slice(0, 10);

/** Engagement events in, exact counts out. In-process by default; pass `store` to scale out. */
export async function createEngagement(options: EngagementOptions = {}): Promise<Engagement> {
  const config = parseWith(optionsSchema, options, EngagementErrorCode.INVALID_OPTIONS, "options");
  if (config.journal !== undefined && config.store !== undefined) {
    throw new EngagementError(
      EngagementErrorCode.INVALID_OPTIONS,
      "journal makes the in-process store durable; a shared store (Redis) is durable on its own, so pass one or the other",
    );
  }
  const store = config.store ?? createMemoryStore({ dedupeWindowMs: config.dedupeWindowMs });
  const windows: TrendingWindow[] = config.trendingWindows.map((w) => ({
    name: w.name,
    lengthMs: w.lengthMs,
    halfLifeMs: w.halfLifeMs ?? w.lengthMs / 4,
  }));
  // `view` weighs a qualified view, not the "playback started" event of the same name.
  const weights = { ...defaultTrendingWeights, ...config.trendingWeights, view: 0 };
  const viewWeight = config.trendingWeights.view ?? 1;
  const context: ApplyContext = {
    windows,
    weigh: (event, counters) => trendingWeight(event, { counters }, weights, viewWeight),
  };
  const rules = { qualifiedViewMs: config.qualifiedViewMs };
  let closed = false;
  // One write at a time, so the journal's order is the order events were applied in.
  const serial = serialQueue();
  const open = () => {
    if (closed) throw new EngagementError(EngagementErrorCode.CLOSED, "this engagement instance is closed");
  };

  async function normalizeAll(events: EngagementEvent[]): Promise<NormalizedEvent[]> {
    const ids = [...new Set(events.map((e) => e.videoId))];
    const known = await store.videos(ids);
    const facts = new Map(ids.map((videoId, i) => [videoId, known[i]]));
    return events.map((event) => normalize(event, facts.get(event.videoId), rules));
  }

  let journal: Journal | undefined;
  if (config.journal !== undefined) {
    for (const entry of await readJournal(config.journal.path)) {
      if (entry.t === "v") await store.registerVideo(entry.video);
      else await store.apply(await normalizeAll(entry.events), context);
    }
    journal = await openJournal(config.journal.path, { sync: config.journal.sync });
  }

  /** The reason an event is refused, or the parsed event. */
  function problem(raw: unknown, now: number): string | EngagementEvent {
    const event = eventProblem(raw);
    if (typeof event === "string") return event;
    if (event.ts > now + config.maxClockSkewMs) {
      return `ts is ${event.ts - now} ms in the future; at most ${config.maxClockSkewMs} ms of clock skew is allowed`;
    }
    if (event.ts < now - config.dedupeWindowMs) return `ts is older than the ${config.dedupeWindowMs} ms dedupe window`;
    return event;
  }

  function validate(input: unknown, now: number): { good: EngagementEvent[]; rejected: RecordResult["rejected"] } {
    if (!Array.isArray(input)) {
      throw new EngagementError(EngagementErrorCode.INVALID_INPUT, "record takes an array of events");
    }
    if (input.length > config.maxBatch) {
      throw new EngagementError(
        EngagementErrorCode.INVALID_INPUT,
        `a batch holds at most ${config.maxBatch} events (got ${input.length}); split it`,
      );
    }
    const good: EngagementEvent[] = [];
    const rejected: RecordResult["rejected"] = [];
    for (const [index, raw] of (input as unknown[]).entries()) {
      const rawId = typeof raw === "object" && raw !== null ? (raw as { id?: unknown }).id : undefined;
      const reason = problem(raw, now);
      if (typeof reason === "string") {
        rejected.push(typeof rawId === "string" ? { index, id: rawId, reason } : { index, reason });
      } else {
        good.push(reason);
      }
    }
    return { good, rejected };
  }

  return {
    record: (input) =>
      serial(async () => {
        open();
        const { good, rejected } = validate(input, config.now());
        if (good.length === 0) return { accepted: 0, duplicates: 0, rejected };
        const normalized = await normalizeAll(good);
        await journal?.append({ t: "e", events: good });
        const applied = await store.apply(normalized, context);
        return { accepted: good.length, duplicates: applied.filter((a) => !a).length, rejected };
      }),

    async counts(videoIds) {
      open();
      const ids = parseWith(idsSchema, videoIds, EngagementErrorCode.INVALID_INPUT, "videoIds");
      const stored = await store.counts(ids);
      const result: Record<string, VideoCounts> = {};
      ids.forEach((videoId, i) => {
        const c = stored[i] ?? { ...zeroCounters(), uniqueViewers: 0 };
        result[videoId] = {
          ...c,
          completionRate: ratio(c.completions, c.views),
          skipRate: ratio(c.skips, c.impressions),
          clickThroughRate: ratio(c.views, c.impressions),
          averageWatchMs: ratio(c.watchMs, c.views),
        };
      });
      return result;
    },

    async hasLiked(userId, videoIds) {
      open();
      const user = parseWith(id, userId, EngagementErrorCode.INVALID_INPUT, "userId");
      const ids = parseWith(idsSchema, videoIds, EngagementErrorCode.INVALID_INPUT, "videoIds");
      const liked = await store.liked(user, ids);
      return Object.fromEntries(ids.map((videoId, i) => [videoId, liked[i] ?? false]));
    },

    async retention(videoId) {
      open();
      const video = parseWith(id, videoId, EngagementErrorCode.INVALID_INPUT, "videoId");
      const histogram = await store.retentionHistogram(video);
      // The histogram counts each viewer at their furthest point; a point's audience is everyone at or past it.
      const reached = new Array<number>(retentionPoints).fill(0);
      let running = 0;
      for (let point = retentionPoints - 1; point >= 0; point--) {
        running += histogram[point] ?? 0;
        reached[point] = running;
      }
      const viewers = reached[0] ?? 0;
      return {
        videoId: video,
        viewers,
        points: reached.map((n, point) => ({ percent: point * 5, share: ratio(n, viewers) })),
      };
    },

    async trending({ window, limit = 20 }) {
      open();
      const found = windows.find((w) => w.name === window);
      if (found === undefined) {
        throw new EngagementError(
          EngagementErrorCode.INVALID_INPUT,
          `unknown trending window '${window}'; configured: ${windows.map((w) => w.name).join(", ")}`,
        );
      }
      const top = parseWith(z.number().int().min(1).max(1000), limit, EngagementErrorCode.INVALID_INPUT, "limit");
      return store.trending(found, top, config.now());
    },

    async creatorStats(creatorId, range) {
      open();
      const creator = parseWith(id, creatorId, EngagementErrorCode.INVALID_INPUT, "creatorId");
      const { from, to } = parseWith(rangeSchema, range, EngagementErrorCode.INVALID_INPUT, "range");
      const [days, videos] = await Promise.all([
        store.creatorDays(creator, dayOf(from), dayOf(to)),
        store.creatorVideos(creator),
      ]);
      const totals = zeroCounters();
      for (const { counters } of days) for (const field of counterFields) totals[field] += counters[field];
      return {
        creatorId: creator,
        from,
        to,
        videos,
        totals: {
          ...totals,
          completionRate: ratio(totals.completions, totals.views),
          averageWatchMs: ratio(totals.watchMs, totals.views),
        },
        days: days.map(({ day, counters }) => ({ date: isoDate(day), ...counters })),
      };
    },

    async sessionStats(range) {
      open();
      const { from, to } = parseWith(rangeSchema, range, EngagementErrorCode.INVALID_INPUT, "range");
      const days = await store.sessionDays(dayOf(from), dayOf(to));
      const sum = zeroSessionTotals();
      for (const { totals } of days) for (const field of sessionTotalFields) sum[field] += totals[field];
      return {
        from,
        to,
        sessions: sum.sessions,
        averageWatchMs: ratio(sum.watchMs, sum.sessions),
        averageViews: ratio(sum.views, sum.sessions),
        averageLengthMs: ratio(sum.lengthMs, sum.sessions),
        days: days.map(({ day, totals }) => ({ date: isoDate(day), ...totals })),
      };
    },

    registerVideo: (video) =>
      serial(async () => {
        open();
        const record: VideoRecord = parseWith(videoSchema, video, EngagementErrorCode.INVALID_INPUT, "video");
        await journal?.append({ t: "v", video: record });
        await store.registerVideo(record);
      }),

    close: () =>
      serial(async () => {
        if (closed) return;
        closed = true;
        await journal?.close();
        await store.close();
      }),
  };
}
