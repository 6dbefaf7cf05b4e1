import { randomUUID } from "node:crypto";
import { z } from "zod";
import { createMemorySignals, createMemoryState } from "./adapters/memory.js";
import { Catalog, type CatalogVideo } from "./catalog.js";
import { decodeCursor, encodeCursor } from "./cursor.js";
import { EmbeddingModel } from "./embeddings.js";
import { FeedRankerError, FeedRankerErrorCode } from "./errors.js";
import { F, type FeatureName, featureNames, Heads, labelsOf, type Objective, objectives } from "./heads.js";
import { ItemModel, topK } from "./item-model.js";
import { beta, createRandom, getOrCreate, hash32, type Random } from "./random.js";
import {
  type EngagementEvent,
  engagementEventSchema,
  type Scored,
  type Signal,
  type SignalsPort,
  type StatePort,
  type VideoStats,
} from "./types.js";
import { parseWith } from "./validate.js";

/** What a candidate source sees when asked for candidates. */
export interface SourceContext {
  userId: string;
  now: number;
  /** Recent positively engaged videos, newest first. */
  recent: readonly string[];
  following: readonly string[];
  coldStart: boolean;
  quota: number;
  catalog: Catalog;
  signals: SignalsPort;
  signal: AbortSignal;
}

/** A candidate source: returns up to `quota` scored video ids (higher is better). */
export type SourceFetch = (ctx: SourceContext) => Promise<Scored[]>;

const sourceSchema = z.strictObject({
  enabled: z.boolean().default(true),
  quota: z.number().int().min(0).max(100_000).default(200),
  timeoutMs: z.number().int().min(1).max(60_000).default(50),
  /** Weight of this source's (max-normalised) score in the light scorer. */
  weight: z.number().finite().default(1),
});
export type SourceOptions = z.input<typeof sourceSchema>;

const builtInSources = [
  "following",
  "trending",
  "coEngagement",
  "embedding",
  "fresh",
  "coldStart",
  "itemModel",
] as const;
export type BuiltInSource = (typeof builtInSources)[number];

const objectiveWeightsSchema = z.strictObject({
  completion: z.number().finite().default(1),
  watchTime: z.number().finite().default(1),
  like: z.number().finite().default(0.5),
  share: z.number().finite().default(0.5),
  negative: z.number().finite().default(-2),
});

/** One candidate as a user-supplied scorer sees it. */
export interface ScorerCandidate {
  videoId: string;
  video: CatalogVideo;
  sources: Record<string, number>;
  features: Record<FeatureName, number>;
}
export type UserScorer = (userId: string, candidates: readonly ScorerCandidate[]) => number[] | Promise<number[]>;

const optionsSchema = z.strictObject({
  catalog: z.instanceof(Catalog, { message: "catalog must be a Catalog" }),
  signals: z.custom<SignalsPort>((v) => typeof v === "object" && v !== null && "trending" in v).optional(),
  state: z.custom<StatePort>((v) => typeof v === "object" && v !== null && "seen" in v).optional(),
  /** HMAC secret of cursors (at least 16 characters). */
  secret: z.string().min(16),
  cursorTtlMs: z
    .number()
    .int()
    .positive()
    .default(30 * 60_000),
  /** How long a session's served list is kept. */
  sessionTtlMs: z
    .number()
    .int()
    .positive()
    .default(4 * 3_600_000),
  now: z.custom<() => number>((v) => typeof v === "function").optional(),
  seed: z.number().int().default(0),
  sources: z.partialRecord(z.enum(builtInSources), sourceSchema).default({}),
  /** Extra sources, run beside the built-in ones. */
  extraSources: z
    .array(
      z.strictObject({
        name: z.string().min(1),
        fetch: z.custom<SourceFetch>((v) => typeof v === "function"),
        ...sourceSchema.shape,
      }),
    )
    .default([]),
  /** An offline-trained item-to-item model (the `itemModel` source). */
  itemModel: z.instanceof(ItemModel).optional(),
  /**
   * The `itemModel` source weighs each history video by the user's interest in it (the signals
   * port's `interest`: the share watched, 1 for complete, like or share); off, or with a port
   * without `interest`, every history video counts 1. Train the model on histories weighted the
   * same way (`ItemModel.update` takes `{ itemId, weight }`). @default true
   */
  historyInterest: z.boolean().default(true),
  /** Offline-trained embeddings: user vectors for the `embedding` source when videos have none. */
  embeddings: z.instanceof(EmbeddingModel).optional(),
  /** Recent history read per request. */
  historyLimit: z.number().int().min(1).max(100_000).default(50),
  /** Candidates the light scorer keeps for the heavy ranker. */
  lightKeep: z.number().int().min(1).max(100_000).default(300),
  objectiveWeights: objectiveWeightsSchema.default({
    completion: 1,
    watchTime: 1,
    like: 0.5,
    share: 0.5,
    negative: -2,
  }),
  learningRate: z.number().min(0).max(10).default(0.05),
  /** Weight of the light score in the final score, beside the objectives. @default 0 */
  lightWeight: z.number().finite().default(0),
  /** Replace the heavy ranker: return one score per candidate. */
  scorer: z.custom<UserScorer>((v) => typeof v === "function").optional(),
  /** Freshness half-life for the freshness feature and the fresh source. */
  freshHalfLifeMs: z
    .number()
    .int()
    .positive()
    .default(24 * 3_600_000),
  diversity: z
    .strictObject({
      /** Each earlier pick by the same creator multiplies a video's score by this. */
      creatorDecay: z.number().min(0).max(1).default(0.5),
      /** Hard cap of videos per creator in one page (relaxed only when nothing else is left). */
      maxPerCreator: z.number().int().min(1).default(2),
      /** Each earlier pick sharing a topic multiplies a video's score by this. */
      topicDecay: z.number().min(0).max(1).default(0.95),
    })
    .default({ creatorDecay: 0.5, maxPerCreator: 2, topicDecay: 0.95 }),
  exploration: z
    .strictObject({
      /** Page positions given to unproven videos (Thompson sampling on completion rate). */
      slots: z.number().int().min(0).default(2),
      /** A video with fewer impressions than this is unproven. */
      maxImpressions: z.number().int().min(1).default(50),
    })
    .default({ slots: 2, maxImpressions: 50 }),
});
export type FeedRankerOptions = z.input<typeof optionsSchema>;

const feedRequestSchema = z.strictObject({
  userId: z.string().min(1).max(256),
  limit: z.number().int().min(1).max(500).default(20),
  cursor: z.string().max(4096).optional(),
});
export type FeedRequest = z.input<typeof feedRequestSchema>;

export interface FeedItem {
  videoId: string;
  score: number;
  reasons: {
    /** Every source that proposed the video, strongest first. */
    sources: string[];
    /** The features that moved its score most. */
    features: Array<{ feature: FeatureName; contribution: number }>;
    /** Set when the video fills an exploration slot. */
    exploration?: boolean;
  };
}

export interface FeedPage {
  items: FeedItem[];
  /** Pass back to get the next page of the same session. */
  cursor: string;
  sessionId: string;
  /** Sources that failed or timed out for this page (it was served without them). */
  degraded: Array<{ source: string; reason: "timeout" | "error" }>;
  coldStart: boolean;
}

export interface FeedRanker {
  feed(request: FeedRequest): Promise<FeedPage>;
  /** Record engagement: feeds signals, seen sets and the online learning of the heavy ranker. */
  engage(events: readonly EngagementEvent[]): Promise<void>;
  follow(userId: string, creatorId: string): Promise<void>;
  /** Stop following: the following source and feature no longer count the creator. */
  unfollow(userId: string, creatorId: string): Promise<void>;
  block(userId: string, creatorId: string): Promise<void>;
  unblock(userId: string, creatorId: string): Promise<void>;
  readonly catalog: Catalog;
  /** Current weights of the heavy ranker's heads (read-only view, for inspection). */
  headWeights(): Record<Objective, Record<FeatureName, number>>;
}

interface Candidate {
  videoId: string;
  video: CatalogVideo;
  sources: Map<string, number>;
  light: number;
  x: Float64Array;
  score: number;
}

const noFeatures = new Float64Array(0);

/** Rejection of a source that ran past its time budget. */
class SourceTimeout extends Error {}

function withTimeout<T>(promise: Promise<T>, ms: number, controller: AbortController): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      controller.abort();
      reject(new SourceTimeout());
    }, ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function maxOf(list: readonly Scored[]): number {
  let max = 1e-12;
  for (const item of list) if (item.score > max) max = item.score;
  return max;
}

const tanh01 = (v: number) => Math.tanh(Math.max(0, v) / 3);

/** Create a two-stage personalised feed over a catalogue. */
export function createFeedRanker(options: FeedRankerOptions): FeedRanker {
  const o = parseWith(optionsSchema, options, FeedRankerErrorCode.INVALID_OPTIONS, "feed ranker options");
  const now = o.now ?? Date.now;
  const catalog = o.catalog;
  const signals = o.signals ?? createMemorySignals();
  const state = o.state ?? createMemoryState({}, now);
  const heads = new Heads(o.learningRate);
  // Session ids must be unique across processes sharing a state port: random, not seeded.
  const newSessionId = () => randomUUID();
  /** Features of served videos, so engagement that follows can train the heads. LRU-bounded. */
  const servedFeatures = new Map<string, Float64Array>();
  const featureKey = (userId: string, videoId: string) => `${userId}\u0000${videoId}`;
  const remember = (key: string, x: Float64Array) => {
    servedFeatures.delete(key);
    servedFeatures.set(key, x);
    if (servedFeatures.size > 100_000) servedFeatures.delete(servedFeatures.keys().next().value as string);
  };
  const source = (name: BuiltInSource) => sourceSchema.parse(o.sources[name] ?? {});
  const freshness = (video: CatalogVideo, t: number) => 2 ** (-Math.max(0, t - video.createdAt) / o.freshHalfLifeMs);

  const fetchers: Record<BuiltInSource, SourceFetch> = {
    async following(ctx) {
      const out: Scored[] = [];
      for (const creator of ctx.following.slice(0, 200)) {
        for (const v of ctx.catalog.byCreator(creator, 5))
          out.push({ videoId: v.videoId, score: freshness(v, ctx.now) + 0.01 });
      }
      return out.sort((a, b) => b.score - a.score).slice(0, ctx.quota);
    },
    async trending(ctx) {
      return ctx.signals.trending(ctx.quota, ctx.now);
    },
    async coEngagement(ctx) {
      const seeds = ctx.recent.slice(0, 10);
      const lists = await Promise.all(seeds.map((v) => ctx.signals.coEngaged(v, 30)));
      const sum = new Map<string, number>();
      lists.forEach((list, rank) => {
        const top = Math.max(...list.map((s) => s.score), 1);
        for (const s of list) sum.set(s.videoId, (sum.get(s.videoId) ?? 0) + (s.score / top) * 0.9 ** rank);
      });
      return [...sum.entries()]
        .map(([videoId, score]) => ({ videoId, score }))
        .sort((a, b) => b.score - a.score)
        .slice(0, ctx.quota);
    },
    async embedding(ctx) {
      const index = ctx.catalog.index;
      if (index === undefined || ctx.recent.length === 0) return [];
      const seeds = ctx.recent.slice(0, 20);
      let query: Float32Array | undefined = o.embeddings?.userVector(seeds);
      if (query === undefined || query.length !== index.dim) {
        query = new Float32Array(index.dim);
        let n = 0;
        for (const id of seeds) {
          const v = index.vectorOf(id);
          if (v === undefined) continue;
          for (let d = 0; d < v.length; d++) query[d] = (query[d] as number) + (v[d] as number);
          n++;
        }
        if (n === 0) return [];
      }
      return index
        .search(query, ctx.quota, new Set(seeds))
        .map((s) => ({ videoId: s.videoId, score: Math.max(0, s.score) }));
    },
    async fresh(ctx) {
      return ctx.catalog.fresh(ctx.quota, ctx.now).map((v) => ({ videoId: v.videoId, score: freshness(v, ctx.now) }));
    },
    async coldStart(ctx) {
      if (!ctx.coldStart) return [];
      // Popular videos spread over topics, so a new user's first page samples their interests.
      const trending = await ctx.signals.trending(ctx.quota * 3, ctx.now);
      const pool =
        trending.length > 0
          ? trending
          : ctx.catalog.fresh(ctx.quota * 3, ctx.now).map((v) => ({ videoId: v.videoId, score: 1 }));
      const byTopic = new Map<string, Scored[]>();
      for (const s of pool) {
        const topic = ctx.catalog.get(s.videoId)?.topics[0] ?? "";
        const queue = byTopic.get(topic);
        if (queue === undefined) byTopic.set(topic, [s]);
        else queue.push(s);
      }
      const out: Scored[] = [];
      const queues = [...byTopic.values()];
      for (let round = 0; out.length < ctx.quota && queues.some((q) => q.length > round); round++) {
        for (const q of queues) {
          const s = q[round];
          if (s !== undefined && out.length < ctx.quota) out.push({ videoId: s.videoId, score: 1 / (1 + round) });
        }
      }
      return out;
    },
    async itemModel(ctx) {
      if (o.itemModel === undefined || ctx.recent.length === 0) return [];
      // A video watched halfway speaks for the user less than one completed or liked.
      const weights =
        o.historyInterest && ctx.signals.interest !== undefined
          ? await ctx.signals.interest(ctx.userId, ctx.recent)
          : undefined;
      return o.itemModel
        .recommend(ctx.recent, ctx.quota, weights)
        .map((r) => ({ videoId: r.itemId, score: Math.max(0, r.score) }));
    },
  };

  const sourceList = [
    ...builtInSources
      .filter((name) => name !== "itemModel" || o.itemModel !== undefined)
      .map((name) => ({ name: name as string, fetch: fetchers[name], ...source(name) })),
    ...o.extraSources,
  ].filter((s) => s.enabled && s.quota > 0);

  function features(
    c: Omit<Candidate, "x" | "score" | "light"> & { light: number },
    t: number,
    stats: VideoStats,
    ctx: { following: Set<string>; topics: Map<string, number>; creators: Map<string, number> },
    x: Float64Array = new Float64Array(featureNames.length),
  ): Float64Array {
    x[F.bias] = 1;
    x[F.light] = c.light;
    x[F.coEngagement] = c.sources.get("coEngagement") ?? 0;
    x[F.embedding] = c.sources.get("embedding") ?? 0;
    x[F.trending] = c.sources.get("trending") ?? 0;
    x[F.itemModel] = c.sources.get("itemModel") ?? 0;
    x[F.following] = ctx.following.has(c.video.creatorId) ? 1 : 0;
    x[F.freshness] = freshness(c.video, t);
    let topic = 0;
    for (const name of c.video.topics) topic = Math.max(topic, ctx.topics.get(name) ?? 0);
    x[F.topicAffinity] = tanh01(topic);
    x[F.creatorAffinity] = tanh01(ctx.creators.get(c.video.creatorId) ?? 0);
    // Beta-smoothed rates (prior: 1 complete in 3 impressions, 1 like in 20, 1 negative in 50).
    x[F.completionRate] = (stats.completes + 1) / (stats.impressions + 3);
    x[F.likeRate] = Math.min(1, ((stats.likes + stats.shares + 1) / (stats.impressions + 20)) * 5);
    x[F.negativeRate] = Math.min(1, ((stats.negatives + 1) / (stats.impressions + 50)) * 5);
    return x;
  }

  async function feed(request: FeedRequest): Promise<FeedPage> {
    const req = parseWith(feedRequestSchema, request, FeedRankerErrorCode.INVALID_INPUT, "feed request");
    const t = now();
    const position =
      req.cursor === undefined
        ? { sessionId: newSessionId(), page: 0 }
        : decodeCursor(req.cursor, o.secret, t, req.userId);
    const sessionKey = `${req.userId}:${position.sessionId}`;
    const random: Random = createRandom(hash32(`${o.seed}:${req.userId}:${position.page}:${t}`));
    const backend = async <T>(what: string, p: Promise<T>): Promise<T> => {
      try {
        return await p;
      } catch (error) {
        if (error instanceof FeedRankerError) throw error;
        throw new FeedRankerError(FeedRankerErrorCode.BACKEND_FAILED, `${what} failed`, { cause: error });
      }
    };
    const [recent, following, blocked, served, affinity] = await backend(
      "reading user state",
      Promise.all([
        signals.recent(req.userId, o.historyLimit),
        state.following(req.userId),
        state.blocked(req.userId),
        state.served(sessionKey),
        signals.affinity(req.userId),
      ]),
    );
    const coldStart = recent.length === 0 && following.length === 0;

    // Stage 1: every source in parallel, each bounded by its quota and timeout.
    const degraded: FeedPage["degraded"] = [];
    const results = await Promise.all(
      sourceList.map(async (s) => {
        const controller = new AbortController();
        try {
          const list = await withTimeout(
            s.fetch({
              userId: req.userId,
              now: t,
              recent,
              following,
              coldStart,
              quota: s.quota,
              catalog,
              signals,
              signal: controller.signal,
            }),
            s.timeoutMs,
            controller,
          );
          return { source: s, list: list.slice(0, s.quota) };
        } catch (error) {
          degraded.push({ source: s.name, reason: error instanceof SourceTimeout ? "timeout" : "error" });
          return { source: s, list: [] as Scored[] };
        }
      }),
    );

    // Merge and dedupe, then the light score: weighted max-normalised source scores.
    const merged = new Map<string, { sources: Map<string, number>; light: number }>();
    for (const { source: s, list } of results) {
      const max = maxOf(list);
      for (const { videoId, score } of list) {
        const norm = score / max;
        const entry = getOrCreate(merged, videoId, () => ({ sources: new Map<string, number>(), light: 0 }));
        if (!entry.sources.has(s.name)) {
          entry.sources.set(s.name, norm);
          entry.light += s.weight * norm;
        }
      }
    }

    // Filters: unknown, unapproved or not yet published videos, blocked creators, served in this
    // session, seen.
    const blockedSet = new Set(blocked);
    const recentSet = new Set(recent);
    let pool: Array<{ videoId: string; video: CatalogVideo; sources: Map<string, number>; light: number }> = [];
    for (const [videoId, entry] of merged) {
      const video = catalog.get(videoId);
      if (video === undefined || video.moderation !== "approved") continue;
      if (blockedSet.has(video.creatorId) || served.has(videoId) || recentSet.has(videoId)) continue;
      if (video.createdAt > t) continue; // scheduled: not out yet at the time of the request
      pool.push({ videoId, video, ...entry });
    }
    const seen = await backend(
      "reading seen videos",
      state.seen(
        req.userId,
        pool.map((c) => c.videoId),
      ),
    );
    pool = pool.filter((_, i) => !seen[i]);

    // Stage 2: light scorer keeps the best few hundred for the heavy ranker.
    if (pool.length > o.lightKeep) {
      const lights = pool.map((c) => c.light);
      pool = topK(lights, o.lightKeep).map((i) => pool[i] as (typeof pool)[number]);
    }
    const stats = await backend("reading video stats", signals.stats(pool.map((c) => c.videoId)));
    const followingSet = new Set(following);
    let maxLight = 1e-12;
    for (const c of pool) if (c.light > maxLight) maxLight = c.light;
    // Built field by field (no spreads): this runs for every candidate of every page.
    const featureContext = { following: followingSet, topics: affinity.topics, creators: affinity.creators };
    // One buffer for every candidate's features (a typed array each would be an allocation each).
    const featureBlock = new Float64Array(pool.length * featureNames.length);
    const candidates: Candidate[] = pool.map((c, i) => {
      const candidate: Candidate = {
        videoId: c.videoId,
        video: c.video,
        sources: c.sources,
        light: c.light / maxLight,
        x: noFeatures,
        score: 0,
      };
      candidate.x = features(
        candidate,
        t,
        stats.get(c.videoId) as VideoStats,
        featureContext,
        featureBlock.subarray(i * featureNames.length, (i + 1) * featureNames.length),
      );
      return candidate;
    });
    if (o.scorer !== undefined) {
      const scores = await o.scorer(
        req.userId,
        candidates.map((c) => ({
          videoId: c.videoId,
          video: c.video,
          sources: Object.fromEntries(c.sources),
          features: Object.fromEntries(featureNames.map((n, f) => [n, c.x[f] as number])) as Record<
            FeatureName,
            number
          >,
        })),
      );
      if (scores.length !== candidates.length || scores.some((s) => !Number.isFinite(s))) {
        throw new FeedRankerError(
          FeedRankerErrorCode.INVALID_INPUT,
          "the scorer must return one finite score per candidate",
        );
      }
      candidates.forEach((c, i) => {
        c.score = scores[i] as number;
      });
    } else {
      for (const c of candidates) c.score = o.lightWeight * c.light + heads.score(c.x, o.objectiveWeights);
    }
    candidates.sort((a, b) => b.score - a.score || (a.videoId < b.videoId ? -1 : 1));

    // Post-ranking: exploration slots (Thompson sampling on early completion rates), then diversity.
    const slots = Math.min(o.exploration.slots, Math.max(0, req.limit - 1));
    const exploring: Candidate[] = [];
    if (slots > 0) {
      const unproven = candidates
        .filter((c) => (stats.get(c.videoId)?.impressions ?? 0) < o.exploration.maxImpressions)
        .map((c) => {
          const s = stats.get(c.videoId) as VideoStats;
          return { c, draw: beta(random, 1 + s.completes, 1 + Math.max(0, s.impressions - s.completes)) };
        })
        .sort((a, b) => b.draw - a.draw);
      const perCreator = new Map<string, number>();
      for (const { c } of unproven) {
        if (exploring.length >= slots) break;
        const count = perCreator.get(c.video.creatorId) ?? 0;
        if (count >= o.diversity.maxPerCreator) continue;
        perCreator.set(c.video.creatorId, count + 1);
        exploring.push(c);
      }
    }
    const exploringSet = new Set(exploring);
    const page = diversify(
      candidates.filter((c) => !exploringSet.has(c)),
      req.limit - exploring.length,
      o.diversity,
      exploring,
    );
    // Exploration items go at evenly spaced positions.
    const items: Array<{ c: Candidate; exploration: boolean }> = page.map((c) => ({ c, exploration: false }));
    exploring.forEach((c, k) => {
      const at = Math.min(
        items.length,
        Math.round(((k + 1) * (items.length + exploring.length)) / (exploring.length + 1)),
      );
      items.splice(at, 0, { c, exploration: true });
    });

    const out: FeedItem[] = items.map(({ c, exploration }) => {
      // A copy: `c.x` is a view of the page's feature block, which must not be kept alive.
      remember(featureKey(req.userId, c.videoId), c.x.slice());
      const contributions = o.scorer === undefined ? heads.contributions(c.x, o.objectiveWeights) : [];
      return {
        videoId: c.videoId,
        score: c.score,
        reasons: {
          sources: [...c.sources.entries()].sort((a, b) => b[1] - a[1]).map(([name]) => name),
          features: contributions.sort((a, b) => Math.abs(b.contribution) - Math.abs(a.contribution)).slice(0, 3),
          ...(exploration && { exploration: true }),
        },
      };
    });
    await backend(
      "recording served videos",
      state.addServed(
        sessionKey,
        out.map((i) => i.videoId),
        o.sessionTtlMs,
      ),
    );
    const cursor = encodeCursor(
      { userId: req.userId, sessionId: position.sessionId, page: position.page + 1, expiresAt: t + o.cursorTtlMs },
      o.secret,
    );
    return { items: out, cursor, sessionId: position.sessionId, degraded, coldStart };
  }

  async function engage(events: readonly EngagementEvent[]): Promise<void> {
    const parsed = parseWith(
      z.array(engagementEventSchema).max(10_000),
      events,
      FeedRankerErrorCode.INVALID_INPUT,
      "engagement events",
    );
    const out: Signal[] = [];
    const seenBy = new Map<string, string[]>();
    for (const e of parsed) {
      const video = catalog.get(e.videoId);
      if (video === undefined) continue;
      const watchFraction =
        e.type === "complete" ? 1 : e.watchMs === undefined ? 0 : Math.min(1, e.watchMs / video.durationMs);
      out.push({
        userId: e.userId,
        videoId: e.videoId,
        creatorId: video.creatorId,
        topics: video.topics,
        type: e.type,
        watchFraction,
        ts: e.ts ?? now(),
      });
      seenBy.set(e.userId, [...(seenBy.get(e.userId) ?? []), e.videoId]);
      const x = servedFeatures.get(featureKey(e.userId, e.videoId));
      if (x !== undefined && o.learningRate > 0) heads.learn(x, labelsOf(e.type, watchFraction));
    }
    try {
      await signals.record(out);
      await Promise.all([...seenBy].map(([userId, ids]) => state.markSeen(userId, ids)));
    } catch (error) {
      throw new FeedRankerError(FeedRankerErrorCode.BACKEND_FAILED, "recording engagement failed", { cause: error });
    }
  }

  const idSchema = z.string().min(1).max(256);
  return {
    feed,
    engage,
    catalog,
    async follow(userId, creatorId) {
      await state.follow(
        parseWith(idSchema, userId, FeedRankerErrorCode.INVALID_INPUT, "user id"),
        parseWith(idSchema, creatorId, FeedRankerErrorCode.INVALID_INPUT, "creator id"),
      );
    },
    async unfollow(userId, creatorId) {
      await state.unfollow(
        parseWith(idSchema, userId, FeedRankerErrorCode.INVALID_INPUT, "user id"),
        parseWith(idSchema, creatorId, FeedRankerErrorCode.INVALID_INPUT, "creator id"),
      );
    },
    async block(userId, creatorId) {
      await state.block(
        parseWith(idSchema, userId, FeedRankerErrorCode.INVALID_INPUT, "user id"),
        parseWith(idSchema, creatorId, FeedRankerErrorCode.INVALID_INPUT, "creator id"),
      );
    },
    async unblock(userId, creatorId) {
      await state.unblock(
        parseWith(idSchema, userId, FeedRankerErrorCode.INVALID_INPUT, "user id"),
        parseWith(idSchema, creatorId, FeedRankerErrorCode.INVALID_INPUT, "creator id"),
      );
    },
    headWeights() {
      return Object.fromEntries(
        objectives.map((ob) => [
          ob,
          Object.fromEntries(featureNames.map((n, f) => [n, heads.weights[ob][f] as number])),
        ]),
      ) as Record<Objective, Record<FeatureName, number>>;
    },
  };
}

/**
 * Greedy re-ranking: each pick multiplies the scores of later videos by the same creator
 * (`creatorDecay`) or sharing a topic (`topicDecay`), and caps videos per creator.
 */
export function diversify<T extends { score: number; video: { creatorId: string; topics: string[] } }>(
  ranked: readonly T[],
  limit: number,
  o: { creatorDecay: number; maxPerCreator: number; topicDecay: number },
  /** Videos already on the page (e.g. exploration picks): they count towards the caps. */
  placed: readonly T[] = [],
): T[] {
  const min = Math.min(0, ...ranked.map((c) => c.score));
  const base = ranked.map((c) => c.score - min + 1e-9);
  const creators = new Map<string, number>();
  const topics = new Map<string, number>();
  // Scores only shrink as picks accumulate, so scanning in base order can stop at the first
  // video whose undecayed score cannot beat the best decayed one found (a lazy greedy).
  const order = ranked.map((_, i) => i).sort((a, b) => (base[b] as number) - (base[a] as number) || a - b);
  const taken = new Uint8Array(ranked.length);
  const out: T[] = [];
  for (const c of placed) {
    creators.set(c.video.creatorId, (creators.get(c.video.creatorId) ?? 0) + 1);
    for (const topic of c.video.topics) topics.set(topic, (topics.get(topic) ?? 0) + 1);
  }
  while (out.length < Math.min(limit, ranked.length)) {
    let best = -1;
    let bestScore = Number.NEGATIVE_INFINITY;
    let bestCapped = -1;
    let bestCappedScore = Number.NEGATIVE_INFINITY;
    for (const i of order) {
      if (taken[i] === 1) continue;
      if (best >= 0 && (base[i] as number) <= bestScore) break;
      const c = ranked[i] as T;
      const byCreator = creators.get(c.video.creatorId) ?? 0;
      let topicRepeats = 0;
      for (const topic of c.video.topics) topicRepeats = Math.max(topicRepeats, topics.get(topic) ?? 0);
      const s = (base[i] as number) * o.creatorDecay ** byCreator * o.topicDecay ** topicRepeats;
      if (byCreator >= o.maxPerCreator) {
        if (s > bestCappedScore) {
          bestCappedScore = s;
          bestCapped = i;
        }
      } else if (s > bestScore) {
        bestScore = s;
        best = i;
      }
    }
    const pick = best >= 0 ? best : bestCapped;
    taken[pick] = 1;
    const c = ranked[pick] as T;
    out.push(c);
    creators.set(c.video.creatorId, (creators.get(c.video.creatorId) ?? 0) + 1);
    for (const topic of c.video.topics) topics.set(topic, (topics.get(topic) ?? 0) + 1);
  }
  return out;
}
