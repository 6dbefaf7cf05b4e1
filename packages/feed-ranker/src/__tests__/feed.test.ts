import { describe, expect, it } from "vitest";
import { createMemorySignals, createMemoryState } from "../adapters/memory.js";
import { Catalog } from "../catalog.js";
import { EmbeddingModel } from "../embeddings.js";
import { FeedRankerErrorCode } from "../errors.js";
import { createFeedRanker } from "../feed.js";
import { ItemModel } from "../item-model.js";
import { createRandom } from "../random.js";
import { backgroundTraffic, Simulator } from "../simulator.js";
import type { EngagementEvent, SignalsPort } from "../types.js";
import { favouriteShare, SECRET, world } from "./world.js";

describe("createFeedRanker on the simulator", () => {
  it("gives personalised users their interests, far above the base rate", async () => {
    const { sim, ranker } = await world();
    const shares: number[] = [];
    for (const user of sim.users.slice(0, 20)) {
      const page = await ranker.feed({ userId: user.userId, limit: 20 });
      expect(page.coldStart).toBe(false);
      shares.push(
        favouriteShare(
          sim,
          user.userId,
          page.items.map((i) => i.videoId),
        ),
      );
    }
    const mean = shares.reduce((a, b) => a + b, 0) / shares.length;
    // 2 of 12 topics are favourites: a random page would score about 0.17.
    expect(mean).toBeGreaterThan(0.5);
  });

  it("never repeats a served video within a session, page after page", async () => {
    const { sim, ranker } = await world();
    const userId = sim.users[0]?.userId as string;
    const served = new Set<string>();
    let cursor: string | undefined;
    for (let p = 0; p < 6; p++) {
      const page = await ranker.feed({ userId, limit: 20, ...(cursor !== undefined && { cursor }) });
      expect(page.items.length).toBe(20);
      for (const item of page.items) {
        expect(served.has(item.videoId)).toBe(false);
        served.add(item.videoId);
      }
      cursor = page.cursor;
    }
  });

  it("never serves what the user has already seen (impressions recorded)", async () => {
    const { sim, ranker, clock } = await world();
    const userId = sim.users[1]?.userId as string;
    const first = await ranker.feed({ userId, limit: 20 });
    await ranker.engage(
      first.items.map((i) => ({ userId, videoId: i.videoId, type: "impression" as const, ts: clock.t })),
    );
    // A new session: the served-in-session list is empty, the seen filter alone must hold.
    const second = await ranker.feed({ userId, limit: 20 });
    expect(second.sessionId).not.toBe(first.sessionId);
    const before = new Set(first.items.map((i) => i.videoId));
    expect(second.items.filter((i) => before.has(i.videoId))).toEqual([]);
  });

  it("holds the per-creator cap and spreads topics", async () => {
    const { sim, ranker, catalog } = await world({ ranker: { diversity: { maxPerCreator: 1, topicDecay: 0.5 } } });
    for (const user of sim.users.slice(0, 8)) {
      const page = await ranker.feed({ userId: user.userId, limit: 20 });
      const creators = page.items.map((i) => catalog.get(i.videoId)?.creatorId);
      expect(new Set(creators).size).toBe(creators.length);
      const topics = new Set(page.items.map((i) => catalog.get(i.videoId)?.topics[0]));
      expect(topics.size).toBeGreaterThanOrEqual(3);
    }
  });

  it("diversity is what spreads creators: without it, one creator can fill the page", async () => {
    const { sim, ranker, catalog } = await world({
      ranker: { diversity: { maxPerCreator: 1000, creatorDecay: 1, topicDecay: 1 }, exploration: { slots: 0 } },
    });
    let worst = 0;
    for (const user of sim.users.slice(0, 8)) {
      const page = await ranker.feed({ userId: user.userId, limit: 20 });
      const counts = new Map<string, number>();
      for (const i of page.items) {
        const c = catalog.get(i.videoId)?.creatorId as string;
        counts.set(c, (counts.get(c) ?? 0) + 1);
      }
      worst = Math.max(worst, ...counts.values());
    }
    expect(worst).toBeGreaterThan(1);
  });

  it("fills exploration slots with unproven videos, marked in the reasons", async () => {
    const { sim, ranker } = await world({ ranker: { exploration: { slots: 3, maxImpressions: 2 } } });
    const userId = sim.users[2]?.userId as string;
    const page = await ranker.feed({ userId, limit: 20 });
    const exploring = page.items.filter((i) => i.reasons.exploration);
    expect(exploring.length).toBe(3);
    // Spread through the page, not stacked at the end.
    const positions = page.items.flatMap((i, at) => (i.reasons.exploration ? [at] : []));
    expect(positions[0]).toBeLessThan(10);
  });

  it("still serves a page when sources fail or hang, and says which", async () => {
    const base = createMemorySignals();
    const broken: SignalsPort = {
      ...base,
      trending: () => Promise.reject(new Error("trending down")),
      coEngaged: () => Promise.reject(new Error("co-engagement down")),
    };
    const { sim, ranker } = await world({
      ranker: {
        signals: broken,
        extraSources: [{ name: "slow", fetch: () => new Promise(() => {}), timeoutMs: 20 }],
      },
    });
    const page = await ranker.feed({ userId: sim.users[3]?.userId as string, limit: 10 });
    expect(page.items.length).toBe(10);
    expect(page.degraded).toEqual(
      expect.arrayContaining([
        { source: "trending", reason: "error" },
        { source: "coEngagement", reason: "error" },
        { source: "slow", reason: "timeout" },
      ]),
    );
  });

  it("shifts the next page within a session after engagement on one topic", async () => {
    const { sim, ranker, catalog, clock } = await world();
    const userId = "newcomer";
    const first = await ranker.feed({ userId, limit: 20 });
    expect(first.coldStart).toBe(true);
    const topicOf = (id: string) => catalog.get(id)?.topics[0] as string;
    const target = topicOf(first.items[0]?.videoId as string);
    const share = (ids: string[]) => ids.filter((id) => topicOf(id) === target).length / ids.length;
    await ranker.engage(
      first.items.flatMap((i): EngagementEvent[] =>
        topicOf(i.videoId) === target
          ? [
              { userId, videoId: i.videoId, type: "impression" as const, ts: clock.t },
              { userId, videoId: i.videoId, type: "complete" as const, ts: clock.t },
              { userId, videoId: i.videoId, type: "like" as const, ts: clock.t },
            ]
          : [
              { userId, videoId: i.videoId, type: "impression" as const, ts: clock.t },
              { userId, videoId: i.videoId, type: "skip" as const, watchMs: 500, ts: clock.t },
            ],
      ),
    );
    const second = await ranker.feed({ userId, limit: 20, cursor: first.cursor });
    expect(second.coldStart).toBe(false);
    expect(share(second.items.map((i) => i.videoId))).toBeGreaterThan(share(first.items.map((i) => i.videoId)) + 0.2);
    expect(sim.users.length).toBeGreaterThan(0);
  });

  it("learns online: engagement moves the heads' weights", async () => {
    const { sim, ranker, clock } = await world({ traffic: 0 });
    const before = ranker.headWeights();
    const userId = sim.users[0]?.userId as string;
    const page = await ranker.feed({ userId, limit: 20 });
    await ranker.engage(page.items.flatMap((i) => sim.watch(userId, i.videoId, clock.t)));
    const after = ranker.headWeights();
    expect(after.completion).not.toEqual(before.completion);
  });

  it("serves an unknown user a cold-start page", async () => {
    const { ranker } = await world();
    const page = await ranker.feed({ userId: "nobody-knows-me", limit: 15 });
    expect(page.coldStart).toBe(true);
    expect(page.items.length).toBe(15);
    expect(page.items.every((i) => i.reasons.sources.length > 0)).toBe(true);
  });

  it("returns an empty page for an empty catalogue", async () => {
    const ranker = createFeedRanker({ catalog: new Catalog(), secret: SECRET });
    const page = await ranker.feed({ userId: "u1", limit: 10 });
    expect(page.items).toEqual([]);
    expect(typeof page.cursor).toBe("string");
  });

  it("rejects a tampered, foreign or expired cursor with its own code", async () => {
    const { ranker, clock } = await world({ traffic: 2, ranker: { cursorTtlMs: 60_000 } });
    const page = await ranker.feed({ userId: "u1", limit: 5 });
    const [body, mac] = page.cursor.split(".") as [string, string];
    const forged = `${Buffer.from(Buffer.from(body, "base64url").toString().replace('"p":1', '"p":9')).toString("base64url")}.${mac}`;
    await expect(ranker.feed({ userId: "u1", cursor: forged })).rejects.toMatchObject({
      code: FeedRankerErrorCode.CURSOR_INVALID,
    });
    await expect(ranker.feed({ userId: "u1", cursor: "garbage" })).rejects.toMatchObject({
      code: FeedRankerErrorCode.CURSOR_INVALID,
    });
    await expect(ranker.feed({ userId: "u2", cursor: page.cursor })).rejects.toMatchObject({
      code: FeedRankerErrorCode.CURSOR_INVALID,
    });
    clock.t += 61_000;
    await expect(ranker.feed({ userId: "u1", cursor: page.cursor })).rejects.toMatchObject({
      code: FeedRankerErrorCode.CURSOR_EXPIRED,
    });
  });

  it("filters blocked creators and unapproved videos", async () => {
    const { sim, ranker, catalog } = await world();
    const userId = sim.users[4]?.userId as string;
    const first = await ranker.feed({ userId, limit: 20 });
    const blockedCreator = catalog.get(first.items[0]?.videoId as string)?.creatorId as string;
    const removed = first.items[1]?.videoId as string;
    const video = catalog.get(removed);
    if (video === undefined) throw new Error("missing video");
    catalog.upsert([{ ...video, moderation: "removed" }]);
    await ranker.block(userId, blockedCreator);
    // A fresh session, so only the filters (not the served list) keep these out.
    for (let p = 0; p < 3; p++) {
      const page = await ranker.feed({ userId, limit: 20 });
      expect(page.items.map((i) => catalog.get(i.videoId)?.creatorId)).not.toContain(blockedCreator);
      expect(page.items.map((i) => i.videoId)).not.toContain(removed);
    }
  });

  it("lets a user-supplied scorer replace the heavy ranker", async () => {
    const { sim, ranker: _unused } = await world({ traffic: 0 });
    const catalog = new Catalog();
    catalog.upsert(sim.videos.slice(0, 200).map(({ topic: _t, quality: _q, embedding: _e, ...v }) => v));
    const ranker = createFeedRanker({
      catalog,
      secret: SECRET,
      diversity: { maxPerCreator: 1000, creatorDecay: 1, topicDecay: 1 },
      exploration: { slots: 0 },
      // Longest videos first.
      scorer: (_user, candidates) => candidates.map((c) => c.video.durationMs),
    });
    const page = await ranker.feed({ userId: "u1", limit: 10 });
    const durations = page.items.map((i) => catalog.get(i.videoId)?.durationMs as number);
    expect(durations).toEqual([...durations].sort((a, b) => b - a));
    expect(page.items.map((i) => i.score)).toEqual(durations);
  });

  it("gives reasons: sources and the features that mattered", async () => {
    const { sim, ranker } = await world();
    const page = await ranker.feed({ userId: sim.users[5]?.userId as string, limit: 10 });
    for (const item of page.items) {
      expect(item.reasons.sources.length).toBeGreaterThan(0);
      expect(item.reasons.features.length).toBeGreaterThan(0);
    }
  });

  it("is reproducible: same seed and clock, same pages", async () => {
    const a = await world();
    const b = await world();
    const userId = a.sim.users[6]?.userId as string;
    const pa = await a.ranker.feed({ userId, limit: 20 });
    const pb = await b.ranker.feed({ userId, limit: 20 });
    expect(pa.items).toEqual(pb.items);
  });

  it("serves embedding neighbours from embeddings trained offline on interactions", async () => {
    const sim = new Simulator({ users: 60, videos: 800, creators: 60, dim: 0 });
    const traffic = backgroundTraffic(sim, 30, sim.start - 3_600_000);
    // The offline job: positive engagements per user → item embeddings.
    const histories = new Map<string, string[]>();
    for (const e of traffic) {
      if (e.type !== "complete" && e.type !== "like") continue;
      histories.set(e.userId, [...(histories.get(e.userId) ?? []), e.videoId]);
    }
    const embeddings = EmbeddingModel.train(histories.values(), { dim: 16 });
    const catalog = new Catalog();
    catalog.upsert(
      sim.videos.map(({ topic: _t, quality: _q, embedding: _e, ...v }) => {
        const vector = embeddings.vector(v.videoId);
        return vector === undefined ? v : { ...v, embedding: [...vector] };
      }),
    );
    const ranker = createFeedRanker({
      catalog,
      secret: SECRET,
      now: () => sim.start,
      embeddings,
      // Only the embedding source, so the page shows what it alone retrieves.
      sources: {
        trending: { enabled: false },
        fresh: { enabled: false },
        coEngagement: { enabled: false },
        coldStart: { enabled: false },
      },
      exploration: { slots: 0 },
    });
    await ranker.engage(traffic);
    let share = 0;
    for (const user of sim.users.slice(0, 10)) {
      const page = await ranker.feed({ userId: user.userId, limit: 10 });
      expect(page.items.every((i) => i.reasons.sources.includes("embedding"))).toBe(true);
      share +=
        favouriteShare(
          sim,
          user.userId,
          page.items.map((i) => i.videoId),
        ) / 10;
    }
    expect(share).toBeGreaterThan(0.5);
  });

  it("gives every session its own id, even across rankers sharing one state", async () => {
    const state = createMemoryState();
    const a = await world({ traffic: 0, ranker: { state } });
    const b = await world({ traffic: 0, ranker: { state } });
    const pa = await a.ranker.feed({ userId: "u1", limit: 5 });
    const pb = await b.ranker.feed({ userId: "u1", limit: 5 });
    expect(pa.sessionId).not.toBe(pb.sessionId);
    // The second ranker's first page is not filtered by the first one's session.
    expect(pb.items.map((i) => i.videoId)).toEqual(pa.items.map((i) => i.videoId));
  });

  it("validates options and requests", () => {
    expect(() => createFeedRanker({ catalog: new Catalog(), secret: "short" })).toThrow(
      expect.objectContaining({ code: FeedRankerErrorCode.INVALID_OPTIONS }),
    );
    const ranker = createFeedRanker({ catalog: new Catalog(), secret: SECRET });
    return expect(ranker.feed({ userId: "", limit: 0 })).rejects.toMatchObject({
      code: FeedRankerErrorCode.INVALID_INPUT,
    });
  });
});

describe("follows", () => {
  it("serves a followed creator through the following source, and stops after an unfollow", async () => {
    const { sim, ranker } = await world();
    const userId = sim.users[2]?.userId as string;
    const creatorId = ranker.catalog.get(ranker.catalog.ids()[0] as string)?.creatorId as string;
    const fromFollowing = async () => {
      const page = await ranker.feed({ userId, limit: 50 });
      return page.items.filter((i) => i.reasons.sources.includes("following"));
    };
    expect(await fromFollowing()).toEqual([]);
    await ranker.follow(userId, creatorId);
    const followed = await fromFollowing();
    expect(followed.length).toBeGreaterThan(0);
    for (const item of followed) expect(ranker.catalog.get(item.videoId)?.creatorId).toBe(creatorId);
    await ranker.unfollow(userId, creatorId);
    expect(await fromFollowing()).toEqual([]);
  });

  it("does not serve a video before its createdAt (scheduled)", async () => {
    const { sim, ranker, catalog, clock } = await world();
    const userId = sim.users[5]?.userId as string;
    const first = await ranker.feed({ userId, limit: 20 });
    const video = catalog.get(first.items[0]?.videoId as string);
    if (video === undefined) throw new Error("missing video");
    catalog.upsert([{ ...video, createdAt: clock.t + 3_600_000 }]);
    const ids = async () => (await ranker.feed({ userId, limit: 50 })).items.map((i) => i.videoId);
    expect(await ids()).not.toContain(video.videoId);
    clock.t += 2 * 3_600_000;
    expect(await ids()).toContain(video.videoId);
  });

  it("weighs the item model's history by the user's interest (historyInterest)", async () => {
    // Two taste groups; the user watched a1 halfway and completed b1.
    const r = createRandom(7);
    const groups = Array.from({ length: 200 }, (_, u) =>
      Array.from({ length: 10 }, (_, i) => `${u % 2 === 0 ? "a" : "b"}${i}`).filter(() => r() < 0.5),
    );
    const itemModel = ItemModel.train(groups, { lambda: 5, neighbours: 0 });
    const catalog = new Catalog();
    catalog.upsert(
      itemModel.items.map((videoId) => ({ videoId, creatorId: `c-${videoId}`, createdAt: 0, durationMs: 10_000 })),
    );
    const top = async (historyInterest: boolean) => {
      const ranker = createFeedRanker({
        catalog,
        secret: SECRET,
        now: () => 1_000,
        itemModel,
        historyInterest,
        lightWeight: 1,
        objectiveWeights: { completion: 0, watchTime: 0, like: 0, share: 0, negative: 0 },
        exploration: { slots: 0 },
        diversity: { creatorDecay: 1, maxPerCreator: 100, topicDecay: 1 },
        sources: { trending: { enabled: false }, coEngagement: { enabled: false }, fresh: { enabled: false } },
      });
      await ranker.engage([
        { userId: "u", videoId: "a1", type: "view", watchMs: 5_000, ts: 10 },
        { userId: "u", videoId: "b1", type: "complete", ts: 20 },
      ]);
      const page = await ranker.feed({ userId: "u", limit: 6 });
      return page.items.map((i) => i.videoId);
    };
    const weighted = await top(true);
    const flat = await top(false);
    // The model's own answer for the same history, weighted 0.5 / 1 and unweighted.
    expect(weighted).toEqual(itemModel.recommend(["b1", "a1"], 6, [1, 0.5]).map((r) => r.itemId));
    expect(flat).toEqual(itemModel.recommend(["b1", "a1"], 6).map((r) => r.itemId));
    expect(weighted.slice(0, 4).every((id) => id.startsWith("b"))).toBe(true);
    expect(flat.filter((id) => id.startsWith("a")).length).toBeGreaterThan(1);
  });

  it("unblocks a blocked creator", async () => {
    const { sim, ranker } = await world();
    const userId = sim.users[3]?.userId as string;
    const first = await ranker.feed({ userId, limit: 20 });
    const creatorId = ranker.catalog.get(first.items[0]?.videoId as string)?.creatorId as string;
    await ranker.block(userId, creatorId);
    const creatorsOf = async () =>
      new Set((await ranker.feed({ userId, limit: 50 })).items.map((i) => ranker.catalog.get(i.videoId)?.creatorId));
    expect((await creatorsOf()).has(creatorId)).toBe(false);
    await ranker.unblock(userId, creatorId);
    // Unblocked, the creator may come back (it has many videos and the user was shown it first).
    let back = false;
    for (let i = 0; i < 3 && !back; i++) back = (await creatorsOf()).has(creatorId);
    expect(back).toBe(true);
  });
});
