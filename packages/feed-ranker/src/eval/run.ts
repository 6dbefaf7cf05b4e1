import { performance } from "node:perf_hooks";
import { createMemorySignals, createMemoryState } from "../adapters/memory.js";
import { Catalog } from "../catalog.js";
import { FeedRankerError, FeedRankerErrorCode } from "../errors.js";
import { createFeedRanker } from "../feed.js";
import { ItemModel } from "../item-model.js";
import type { EngagementEvent } from "../types.js";
import { ease, itemKnn, popularity, type Recommender, vocabulary } from "./baselines.js";
import type { Interaction } from "./data.js";
import { MetricsAccumulator, percentile, type RankingMetrics, userMetrics } from "./metrics.js";
import { type Protocol, type Split, splitBy } from "./split.js";

export interface ModelReport {
  model: string;
  metrics: RankingMetrics;
  /** Share of the catalogue that appears in at least one test list. */
  coverage: number;
  p50Ms: number;
  p99Ms: number;
  /** Hyper-parameters chosen on the validation split. */
  tuned: Record<string, number>;
  validNdcg: number;
}

export interface EvalReport {
  protocol: Protocol;
  k: number;
  users: number;
  items: number;
  models: ModelReport[];
}

export interface EvalOptions {
  protocol?: Protocol;
  k?: number;
  seed?: number;
  /** Progress lines (stderr in the CLI). */
  progress?: (line: string) => void;
  /**
   * Before the test run, refit every model (`pop`, `itemknn` and `reelkit`) on training +
   * validation interactions with the hyper-parameters chosen on validation (validation then also
   * counts as each user's history, as it would in serving). Off — RecBole's protocol, and the
   * default — the models trained on training alone are tested. @default false
   */
  refit?: boolean;
  /** Hyper-parameter grids searched on validation (small defaults keep the run short). */
  grid?: {
    knnNeighbours?: number[];
    lambda?: number[];
    dropout?: number[];
    /** Weights of the session co-engagement model beside the main item model (0: off). */
    sessionWeight?: number[];
    /** Time scales of the session model's pair weights exp(−|Δt| / scale), in seconds. */
    sessionScale?: number[];
  };
}

function group(rows: readonly Interaction[]): Map<string, Interaction[]> {
  const out = new Map<string, Interaction[]>();
  for (const r of rows) {
    const list = out.get(r.userId);
    if (list === undefined) out.set(r.userId, [r]);
    else list.push(r);
  }
  return out;
}

const itemsOf = (rows: readonly Interaction[] | undefined) => (rows ?? []).map((r) => r.itemId);

/** Length of every video in the replayed catalogue (ratings become shares of it watched). */
const DURATION_MS = 60_000;
/** The share watched of a video rated lowest (0 or below): still positive engagement. */
const MIN_SHARE = 0.1;

/** Evaluate on one phase: valid (mask train) or test (mask train + valid). */
async function score(
  model: Recommender,
  split: { train: Map<string, Interaction[]>; valid: Map<string, Interaction[]>; test: Map<string, Interaction[]> },
  phase: "valid" | "test",
  k: number,
): Promise<{ metrics: RankingMetrics; recommended: Set<string>; latencies: number[] }> {
  const acc = new MetricsAccumulator();
  const recommended = new Set<string>();
  const latencies: number[] = [];
  const target = phase === "valid" ? split.valid : split.test;
  for (const [userId, rows] of target) {
    const positives = new Set(itemsOf(rows));
    const exclude = new Set([
      ...itemsOf(split.train.get(userId)),
      ...(phase === "test" ? itemsOf(split.valid.get(userId)) : []),
    ]);
    const t = performance.now();
    const list = await model.recommend(userId, exclude, k);
    latencies.push(performance.now() - t);
    for (const item of list) recommended.add(item);
    acc.add(userMetrics(list, positives, k));
  }
  return { metrics: acc.mean(), recommended, latencies };
}

/**
 * The `reelkit` model: the `createFeedRanker` pipeline itself, fed the training interactions as
 * engagement, with two offline-trained item models as candidate sources (lifetime co-occurrence,
 * and session co-engagement weighted by closeness in time). Ratings are replayed as shares watched
 * but carry no like/negative labels, so the objective heads are off and the light score ranks. Trending
 * is off: replaying a whole log into the signals port would let it see the future of each request.
 * Built on training for the validation phase, and again on training + validation for the test.
 */
async function reelkitPipeline(
  trainRows: readonly Interaction[],
  items: readonly string[],
  seconds: boolean,
  maxRating: number | undefined,
) {
  const histories = group([...trainRows].sort((a, b) => a.timestamp - b.timestamp));
  // A rated video was watched, more of it the higher the rating (rating / highest rating, at least
  // MIN_SHARE): the share is its history weight, what the signals port's `interest` reports for
  // the replayed views below. Every rating stays a positive interaction (`positiveWatch`).
  const watched = (r: Interaction) =>
    maxRating === undefined || r.rating === undefined ? 1 : Math.min(1, Math.max(MIN_SHARE, r.rating / maxRating));
  const model = new ItemModel({ neighbours: 0 });
  model.update([...histories.values()].map((rows) => rows.map((r) => ({ itemId: r.itemId, weight: watched(r) }))));
  // A second item model on session co-engagement: pairs weighted by closeness in time. Its time
  // scale (seconds) is tuned on validation, so the model is rebuilt per scale.
  let sessionModel = new ItemModel({ neighbours: 0, lambda: 100 });
  const timed = [...histories.values()].map((rows) => rows.map((r) => ({ itemId: r.itemId, ts: r.timestamp })));
  const buildSession = (scaleSeconds: number) => {
    sessionModel = new ItemModel({ neighbours: 0, lambda: 100 });
    sessionModel.updateTimed(timed, seconds ? scaleSeconds : scaleSeconds * 1000);
    sessionModel.refit();
  };
  const toMs = (ts: number) => Math.round(seconds ? ts * 1000 : ts);
  // A video is out from its first interaction on: a request at time t cannot be served one that
  // nobody had seen yet (the feed filters videos created after the request).
  const createdAt = new Map<string, number>();
  for (const r of trainRows) createdAt.set(r.itemId, Math.min(createdAt.get(r.itemId) ?? Infinity, toMs(r.timestamp)));
  const catalog = new Catalog();
  catalog.upsert(
    items.map((videoId) => ({
      videoId,
      creatorId: videoId,
      createdAt: Math.max(0, createdAt.get(videoId) ?? 0),
      durationMs: DURATION_MS,
    })),
  );
  const state = createMemoryState();
  const signals = createMemorySignals({ recentLimit: 100_000, coWindow: 10, positiveWatch: MIN_SHARE });
  const clock = { t: 0 };
  const lastSeen = new Map<string, number>();
  for (const [userId, rows] of histories) lastSeen.set(userId, toMs(rows[rows.length - 1]?.timestamp ?? 0));
  const build = (sessionWeight: number) =>
    createFeedRanker({
      catalog,
      signals,
      state,
      secret: "offline-evaluation-secret",
      now: () => clock.t,
      itemModel: model,
      historyLimit: 100_000,
      lightKeep: 200,
      lightWeight: 1,
      objectiveWeights: { completion: 0, watchTime: 0, like: 0, share: 0, negative: 0 },
      learningRate: 0,
      diversity: { creatorDecay: 1, maxPerCreator: 1_000_000, topicDecay: 1 },
      exploration: { slots: 0 },
      sources: {
        itemModel: { quota: items.length, weight: 1, timeoutMs: 10_000 },
        trending: { enabled: false },
        following: { enabled: false },
        embedding: { enabled: false },
        fresh: { enabled: false },
        coldStart: { quota: 200, timeoutMs: 10_000 },
        coEngagement: { enabled: false },
      },
      extraSources: [
        {
          name: "sessionModel",
          enabled: sessionWeight > 0,
          weight: sessionWeight,
          quota: items.length,
          timeoutMs: 10_000,
          fetch: async (ctx) =>
            sessionModel
              .recommend(ctx.recent, ctx.quota)
              .map((r) => ({ videoId: r.itemId, score: Math.max(0, r.score) })),
        },
      ],
    });
  // Replay training in time order through the public engagement API.
  const replay = build(0);
  const sorted = [...trainRows].sort((a, b) => a.timestamp - b.timestamp);
  for (let at = 0; at < sorted.length; at += 4000) {
    const events: EngagementEvent[] = sorted.slice(at, at + 4000).flatMap((r): EngagementEvent[] => {
      const ts = toMs(r.timestamp);
      const share = watched(r);
      return [
        { userId: r.userId, videoId: r.itemId, type: "impression", ts },
        share === 1
          ? { userId: r.userId, videoId: r.itemId, type: "complete", ts }
          : { userId: r.userId, videoId: r.itemId, type: "view", watchMs: share * DURATION_MS, ts },
      ];
    });
    await replay.engage(events);
  }
  return {
    model,
    buildSession,
    state,
    recommender(sessionWeight: number): Recommender {
      const ranker = sessionWeight === 0 ? replay : build(sessionWeight);
      return {
        name: "reelkit",
        async recommend(userId, _exclude, k) {
          // The seen filter does the masking: training (and, for test, validation) is marked seen.
          clock.t = lastSeen.get(userId) ?? 0;
          const page = await ranker.feed({ userId, limit: k });
          return page.items.map((i) => i.videoId);
        },
      };
    },
  };
}

/** Split, tune every model on validation, report each on test. */
export async function evaluate(interactions: readonly Interaction[], options: EvalOptions = {}): Promise<EvalReport> {
  const protocol = options.protocol ?? "recbole";
  const k = options.k ?? 10;
  const log = options.progress ?? (() => {});
  if (interactions.length === 0) throw new FeedRankerError(FeedRankerErrorCode.DATA_INVALID, "no interactions");
  const raw: Split = splitBy(protocol, [...interactions], options.seed ?? 2020);
  const split = { train: group(raw.train), valid: group(raw.valid), test: group(raw.test) };
  const trainHistories = new Map([...split.train].map(([u, rows]) => [u, itemsOf(rows)]));
  const vocab = vocabulary(trainHistories);
  const allItems = new Set(interactions.map((r) => r.itemId));
  if (vocab.items.length > 20_000) {
    throw new FeedRankerError(
      FeedRankerErrorCode.DATA_INVALID,
      `${vocab.items.length} items: the offline evaluation is limited to 20,000`,
    );
  }
  // A loop, not Math.max(...rows): a spread of a million arguments overflows the stack.
  let latest = Number.NEGATIVE_INFINITY;
  let maxRating: number | undefined = Number.NEGATIVE_INFINITY;
  for (const r of interactions) {
    latest = Math.max(latest, r.timestamp);
    maxRating = r.rating === undefined || maxRating === undefined ? undefined : Math.max(maxRating, r.rating);
  }
  // Ratings (every row must have one, some above 0) become shares watched: see reelkitPipeline.
  if (maxRating !== undefined && maxRating <= 0) maxRating = undefined;
  const seconds = latest < 1e11;
  log(
    `${interactions.length} interactions, ${split.train.size} users, ${allItems.size} items; ${protocol} split: ${raw.train.length}/${raw.valid.length}/${raw.test.length}`,
  );
  const grid = {
    knnNeighbours: options.grid?.knnNeighbours ?? [50, 100, 200, 400],
    lambda: options.grid?.lambda ?? [100, 200, 300],
    dropout: options.grid?.dropout ?? [0, 0.33, 0.5],
    sessionWeight: options.grid?.sessionWeight ?? [0.5, 0.7, 1, 2],
    sessionScale: options.grid?.sessionScale ?? [300, 600, 3600],
  };

  const reports: ModelReport[] = [];
  const finish = async (model: Recommender, tuned: Record<string, number>, validNdcg: number) => {
    const test = await score(model, split, "test", k);
    reports.push({
      model: model.name,
      metrics: test.metrics,
      coverage: test.recommended.size / allItems.size,
      p50Ms: percentile(test.latencies, 50),
      p99Ms: percentile(test.latencies, 99),
      tuned,
      validNdcg,
    });
    log(
      `${model.name}: test ndcg@${k} ${test.metrics.ndcg.toFixed(4)} (valid ${validNdcg.toFixed(4)}, ${JSON.stringify(tuned)})`,
    );
  };

  const refit = options.refit ?? false;
  // With `refit`, the tested models learn from validation too (after tuning on it).
  const fitHistories = refit
    ? new Map([...split.train].map(([u, rows]) => [u, itemsOf([...rows, ...(split.valid.get(u) ?? [])])]))
    : trainHistories;
  const fitVocab = refit ? vocabulary(fitHistories) : vocab;

  const pop = popularity(trainHistories, vocab);
  const popValid = (await score(pop, split, "valid", k)).metrics.ndcg;
  await finish(refit ? popularity(fitHistories, fitVocab) : pop, {}, popValid);

  let bestKnn = { ndcg: -1, neighbours: 0 };
  for (const neighbours of grid.knnNeighbours) {
    const ndcg = (await score(itemKnn(trainHistories, vocab, neighbours), split, "valid", k)).metrics.ndcg;
    log(`itemknn neighbours=${neighbours}: valid ndcg@${k} ${ndcg.toFixed(4)}`);
    if (ndcg > bestKnn.ndcg) bestKnn = { ndcg, neighbours };
  }
  await finish(itemKnn(fitHistories, fitVocab, bestKnn.neighbours), { neighbours: bestKnn.neighbours }, bestKnn.ndcg);

  // EASE on unweighted histories, tuned on the same grid: the strongest classical baseline.
  let bestEase = { ndcg: -1, lambda: 0, dropout: 0 };
  for (const lambda of grid.lambda) {
    for (const dropout of grid.dropout) {
      const ndcg = (await score(ease(trainHistories, lambda, dropout), split, "valid", k)).metrics.ndcg;
      log(`ease lambda=${lambda} dropout=${dropout}: valid ndcg@${k} ${ndcg.toFixed(4)}`);
      if (ndcg > bestEase.ndcg) bestEase = { ndcg, lambda, dropout };
    }
  }
  const { ndcg: easeValid, ...easeTuned } = bestEase;
  await finish(ease(fitHistories, easeTuned.lambda, easeTuned.dropout), easeTuned, easeValid);

  const pipeline = await reelkitPipeline(raw.train, vocab.items, seconds, maxRating);
  // Coordinate search on validation: the main model first, then the session model's weight.
  let best = { ndcg: -1, lambda: 0, dropout: 0, sessionWeight: 0, sessionScale: 0 };
  for (const lambda of grid.lambda) {
    for (const dropout of grid.dropout) {
      pipeline.model.refit(lambda, dropout);
      const ndcg = (await score(pipeline.recommender(0), split, "valid", k)).metrics.ndcg;
      log(`reelkit lambda=${lambda} dropout=${dropout}: valid ndcg@${k} ${ndcg.toFixed(4)}`);
      if (ndcg > best.ndcg) best = { ndcg, lambda, dropout, sessionWeight: 0, sessionScale: 0 };
    }
  }
  pipeline.model.refit(best.lambda, best.dropout);
  if (grid.sessionWeight.some((w) => w > 0)) {
    for (const sessionScale of grid.sessionScale) {
      pipeline.buildSession(sessionScale);
      for (const sessionWeight of grid.sessionWeight) {
        if (sessionWeight === 0) continue;
        const ndcg = (await score(pipeline.recommender(sessionWeight), split, "valid", k)).metrics.ndcg;
        log(`reelkit session-model scale=${sessionScale}s weight=${sessionWeight}: valid ndcg@${k} ${ndcg.toFixed(4)}`);
        if (ndcg > best.ndcg) best = { ...best, ndcg, sessionWeight, sessionScale };
      }
    }
  }
  const { ndcg: validNdcg, ...tuned } = best;
  let final = pipeline;
  if (refit) {
    // Validation interactions join training: the models are rebuilt on both with the tuned
    // hyper-parameters, and the replay makes them each user's history (and so seen).
    const items = [...new Set([...vocab.items, ...raw.valid.map((r) => r.itemId)])];
    final = await reelkitPipeline([...raw.train, ...raw.valid], items, seconds, maxRating);
    final.model.refit(best.lambda, best.dropout);
    log(`reelkit: refit on training + validation (${raw.train.length + raw.valid.length} interactions)`);
  } else {
    // Validation items are history at test time: mark them seen so the feed never serves them.
    for (const [userId, rows] of split.valid) await pipeline.state.markSeen(userId, itemsOf(rows));
  }
  if (best.sessionWeight > 0) final.buildSession(best.sessionScale);
  await finish(final.recommender(best.sessionWeight), tuned, validNdcg);

  return { protocol, k, users: split.train.size, items: allItems.size, models: reports };
}

/** The CLI's JSON document: metric names carry K, e.g. "ndcg@10". */
export function reportJson(report: EvalReport): Record<string, unknown> {
  const k = report.k;
  return {
    protocol: report.protocol,
    k,
    models: report.models.map((m) => ({
      model: m.model,
      [`recall@${k}`]: m.metrics.recall,
      [`ndcg@${k}`]: m.metrics.ndcg,
      [`hit@${k}`]: m.metrics.hit,
      [`mrr@${k}`]: m.metrics.mrr,
      coverage: m.coverage,
      p50Ms: m.p50Ms,
      p99Ms: m.p99Ms,
    })),
  };
}

/** A fixed-width table of the report. */
export function reportTable(report: EvalReport): string {
  const k = report.k;
  const header = ["model", `recall@${k}`, `ndcg@${k}`, `hit@${k}`, `mrr@${k}`, "coverage", "p50 ms", "p99 ms"];
  const rows = report.models.map((m) => [
    m.model,
    m.metrics.recall.toFixed(4),
    m.metrics.ndcg.toFixed(4),
    m.metrics.hit.toFixed(4),
    m.metrics.mrr.toFixed(4),
    m.coverage.toFixed(4),
    m.p50Ms.toFixed(3),
    m.p99Ms.toFixed(3),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] as string).length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i] as number)).join("  ");
  return [
    `protocol ${report.protocol}, K=${k}, ${report.users} users, ${report.items} items`,
    line(header),
    widths.map((w) => "-".repeat(w)).join("  "),
    ...rows.map(line),
  ].join("\n");
}
