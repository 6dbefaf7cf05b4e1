import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { createMemoryStore } from "../adapters/memory-store.js";
import { createEngagement, type Engagement, type EngagementOptions } from "../engagement.js";
import type { EngagementEvent } from "../schema.js";
import type { EngagementStore } from "../store.js";

export const T0 = Date.UTC(2026, 10, 20, 12, 0, 0);

/** Events with fresh ids and sane defaults, so each test reads as the behaviour it checks. */
export function eventFactory(videoId: string, start = T0) {
  let clock = start;
  return (type: EngagementEvent["type"], fields: Partial<EngagementEvent> = {}): EngagementEvent => {
    clock += 10;
    return { id: randomUUID(), type, videoId, sessionId: "s1", ts: clock, ...fields };
  };
}

/**
 * The behaviour every `EngagementStore` must share, checked through `createEngagement`. The memory
 * store defines it; every adapter runs this suite, and a differential test against memory.
 */
export function engagementContract(
  name: string,
  makeStore: () => EngagementStore | Promise<EngagementStore>,
  /** Route `record` through something (the Kafka pipeline) that must deliver the same results. */
  { through = async (engagement: Engagement) => engagement }: { through?: (e: Engagement) => Promise<Engagement> } = {},
): void {
  const make = async (options: EngagementOptions = {}): Promise<Engagement> =>
    through(await createEngagement({ store: await makeStore(), now: () => T0 + 60_000, ...options }));
  // Fresh video ids per test: stores backed by a shared server never see each other's data.
  const vid = () => `v-${randomUUID()}`;

  describe(`engagement contract: ${name}`, () => {
    it("counts a view once per session when playback reaches 3 s", async () => {
      const engagement = await make();
      const v = vid();
      const e = eventFactory(v);
      const result = await engagement.record([
        e("impression"),
        e("view", { positionMs: 0 }),
        e("watch", { watchMs: 1000, positionMs: 1000 }),
        e("watch", { watchMs: 1500, positionMs: 2500 }),
      ]);
      expect(result).toEqual({ accepted: 4, duplicates: 0, rejected: [] });
      expect((await engagement.counts([v]))[v]).toMatchObject({ impressions: 1, views: 0, watchMs: 2500 });
      await engagement.record([e("watch", { watchMs: 600 }), e("watch", { watchMs: 5000 })]);
      const counts = (await engagement.counts([v]))[v];
      expect(counts).toMatchObject({ impressions: 1, views: 1, watchMs: 8100, uniqueViewers: 1 });
      expect(counts?.clickThroughRate).toBe(1);
    });

    it("counts a short clip's view at its end, and a complete as a view", async () => {
      const engagement = await make();
      const [short, other] = [vid(), vid()];
      await engagement.registerVideo({ videoId: short, durationMs: 2000 });
      await engagement.record([
        eventFactory(short)("watch", { watchMs: 2000 }),
        eventFactory(other)("complete", { sessionId: "s9" }),
      ]);
      const counts = await engagement.counts([short, other]);
      expect(counts[short]).toMatchObject({ views: 1 });
      expect(counts[other]).toMatchObject({ views: 1, completions: 1, completionRate: 1 });
    });

    it("counts unique viewers by user across sessions, by session when anonymous", async () => {
      const engagement = await make();
      const v = vid();
      const e = eventFactory(v);
      await engagement.record([
        e("complete", { sessionId: "a", userId: "u1" }),
        e("complete", { sessionId: "b", userId: "u1" }),
        e("complete", { sessionId: "c" }),
        e("complete", { sessionId: "d" }),
      ]);
      expect((await engagement.counts([v]))[v]).toMatchObject({ views: 4, completions: 4, uniqueViewers: 3 });
    });

    it("applies each event id at most once, within and across batches", async () => {
      const engagement = await make();
      const v = vid();
      const share = eventFactory(v)("share");
      expect(await engagement.record([share, share])).toMatchObject({ accepted: 2, duplicates: 1 });
      expect(await engagement.record([share])).toMatchObject({ accepted: 1, duplicates: 1 });
      expect((await engagement.counts([v]))[v]).toMatchObject({ shares: 1 });
    });

    it("applies an id once even when a retry carries another timestamp", async () => {
      const engagement = await make();
      const v = vid();
      const share = eventFactory(v)("share");
      await engagement.record([share]);
      expect(await engagement.record([{ ...share, ts: share.ts - 2 * 3_600_000 }])).toMatchObject({
        duplicates: 1,
      });
      expect((await engagement.counts([v]))[v]).toMatchObject({ shares: 1 });
    });

    it("treats a like as per-user state", async () => {
      const engagement = await make();
      const [v, w] = [vid(), vid()];
      const e = eventFactory(v);
      const steps: Array<[EngagementEvent[], number]> = [
        [[e("like", { userId: "u1" }), e("like", { userId: "u1" })], 1], // liking twice counts once
        [[e("unlike", { userId: "u2" })], 1], // unliking what was not liked changes nothing
        [[e("like", { userId: "u3" }), e("unlike", { userId: "u3" })], 1],
        [[e("like", { userId: "u3" })], 2],
        [[e("unlike", { userId: "u1" }), e("unlike", { userId: "u1" })], 1],
      ];
      for (const [events, likes] of steps) {
        await engagement.record(events);
        expect((await engagement.counts([v]))[v]?.likes).toBe(likes);
      }
      expect(await engagement.hasLiked("u3", [v, w])).toEqual({ [v]: true, [w]: false });
      expect(await engagement.hasLiked("u1", [v])).toEqual({ [v]: false });
    });

    it("rejects bad events with reasons and changes nothing", async () => {
      const engagement = await make();
      const v = vid();
      const e = eventFactory(v);
      const bad = [
        { ...e("share"), type: "poke" },
        { ...e("share"), id: undefined },
        e("watch", { watchMs: -1 }),
        e("share", { ts: T0 + 60_000 + 3_600_000 }),
        e("share", { ts: T0 - 30 * 86_400_000 }),
        e("like"),
        "not an event",
      ];
      const result = await engagement.record(bad);
      expect(result.accepted).toBe(0);
      expect(result.rejected.map((r) => r.index)).toEqual([0, 1, 2, 3, 4, 5, 6]);
      expect(result.rejected[0]?.id).toBe(bad[0] && (bad[0] as { id: string }).id);
      expect(result.rejected[3]?.reason).toMatch(/future/);
      expect(result.rejected[4]?.reason).toMatch(/older than/);
      expect(result.rejected[5]?.reason).toMatch(/userId/);
      const counts = (await engagement.counts([v]))[v];
      expect(counts).toMatchObject({ shares: 0, likes: 0, watchMs: 0, views: 0 });
      await expect(engagement.record({ not: "an array" })).rejects.toMatchObject({ code: "INVALID_INPUT" });
    });

    it("draws a retention curve at every 5 % of the duration", async () => {
      const engagement = await make();
      const v = vid();
      await engagement.registerVideo({ videoId: v, durationMs: 10_000 });
      const e = eventFactory(v);
      await engagement.record([
        e("view", { sessionId: "a" }),
        e("watch", { sessionId: "a", watchMs: 5000, positionMs: 5000 }),
        e("view", { sessionId: "b" }),
        e("skip", { sessionId: "b", watchMs: 2000, positionMs: 2000 }),
        e("view", { sessionId: "c" }),
        e("watch", { sessionId: "c", watchMs: 4000, positionMs: 4000 }),
        e("complete", { sessionId: "c", watchMs: 6000 }),
        e("view", { sessionId: "d" }),
      ]);
      const { viewers, points } = await engagement.retention(v);
      expect(viewers).toBe(4);
      expect(points).toHaveLength(21);
      const at = (percent: number) => points.find((p) => p.percent === percent)?.share;
      expect(at(0)).toBe(1);
      expect(at(20)).toBe(0.75); // a (50 %), b (20 %), c (100 %)
      expect(at(25)).toBe(0.5);
      expect(at(50)).toBe(0.5);
      expect(at(55)).toBe(0.25);
      expect(at(100)).toBe(0.25);
    });

    it("ranks trending videos by weighted, time-decayed engagement", async () => {
      const engagement = await make({ now: () => T0 + 3_600_000 });
      const [hot, warm, old] = [vid(), vid(), vid()];
      const recent = T0 + 3_500_000;
      await engagement.record([
        eventFactory(hot, recent)("share"),
        eventFactory(hot, recent)("like", { userId: "u1" }),
        eventFactory(warm, recent)("like", { userId: "u1" }),
        // Same events as `hot`, but 45 minutes older: three half-lives (15 min) decay 8 to 1.
        eventFactory(old, T0 + 600_000)("share"),
        eventFactory(old, T0 + 600_000)("like", { userId: "u2" }),
      ]);
      const top = await engagement.trending({ window: "1h", limit: 50 });
      const ours = top.filter((t) => [hot, warm, old].includes(t.videoId)).map((t) => t.videoId);
      expect(ours).toEqual([hot, warm, old]);
      const scores = Object.fromEntries(top.map((t) => [t.videoId, t.score]));
      expect(scores[hot]).toBeCloseTo(8, 9);
      expect(scores[warm]).toBeCloseTo(3, 9);
      expect(scores[old]).toBeCloseTo(1, 9);
      await expect(engagement.trending({ window: "2h" })).rejects.toMatchObject({ code: "INVALID_INPUT" });
    });

    it("sums a creator's videos per day over a range", async () => {
      const engagement = await make({ now: () => T0 + 2 * 86_400_000 });
      const creator = `c-${randomUUID()}`;
      const [a, b, elsewhere] = [vid(), vid(), vid()];
      await engagement.registerVideo({ videoId: a, creatorId: creator, durationMs: 20_000 });
      await engagement.record([
        eventFactory(a)("complete"),
        eventFactory(a, T0 + 86_400_000)("share"),
        eventFactory(b, T0 + 86_400_000)("complete", { creatorId: creator, watchMs: 4000 }),
        eventFactory(elsewhere)("complete", { creatorId: "someone-else" }),
      ]);
      const stats = await engagement.creatorStats(creator, { from: T0, to: T0 + 2 * 86_400_000 });
      expect(stats.videos).toEqual([a, b].sort());
      expect(stats.totals).toMatchObject({ views: 2, completions: 2, shares: 1, watchMs: 4000 });
      expect(stats.days.map((d) => [d.date, d.views, d.shares])).toEqual([
        ["2026-11-20", 1, 0],
        ["2026-11-21", 1, 1],
      ]);
      const firstDay = await engagement.creatorStats(creator, { from: T0, to: T0 + 1000 });
      expect(firstDay.totals.views).toBe(1);
    });

    it("measures session length, watch time and views per session", async () => {
      // Session ids are global to a store: fresh ones, and a day of their own far from other tests.
      const day0 = T0 - 3 * 86_400_000;
      const engagement = await make({ now: () => day0 + 86_400_000 });
      const [v, w] = [vid(), vid()];
      const [a, b] = [`sa-${randomUUID()}`, `sb-${randomUUID()}`];
      const before = await engagement.sessionStats({ from: day0, to: day0 });
      await engagement.record([
        eventFactory(v, day0)("impression", { sessionId: a }),
        eventFactory(v, day0 + 1000)("watch", { sessionId: a, watchMs: 4000 }),
        eventFactory(w, day0 + 9000)("complete", { sessionId: a, watchMs: 2000 }),
        eventFactory(v, day0 + 20_000)("like", { sessionId: a, userId: "u1" }),
        eventFactory(w, day0 + 5000)("skip", { sessionId: b, watchMs: 500 }),
      ]);
      const after = await engagement.sessionStats({ from: day0, to: day0 });
      // a: 10 ms → 20 010 ms (20 000 ms long), 6000 ms watched, 2 views; b: one event (0 ms), 500 ms, no view.
      expect(after.sessions - before.sessions).toBe(2);
      const days = after.days.map((d) => d.date);
      expect(days).toEqual(["2026-11-17"]);
      const added = (field: "watchMs" | "views" | "lengthMs") =>
        (after.days[0]?.[field] ?? 0) - (before.days[0]?.[field] ?? 0);
      expect(added("watchMs")).toBe(6500);
      expect(added("views")).toBe(2);
      expect(added("lengthMs")).toBe(20_000);
      // A retry changes nothing.
      const retry = eventFactory(w, day0 + 40_000)("share", { sessionId: a });
      await engagement.record([retry]);
      const once = await engagement.sessionStats({ from: day0, to: day0 });
      await engagement.record([retry]);
      expect(await engagement.sessionStats({ from: day0, to: day0 })).toEqual(once);
    });

    it("matches the memory store on a random stream with duplicates and like/unlike churn", async () => {
      const store = await makeStore();
      const ours = await through(await createEngagement({ store, now: () => T0 + 86_400_000 }));
      const reference = await createEngagement({ store: createMemoryStore(), now: () => T0 + 86_400_000 });
      const videos = [vid(), vid(), vid()];
      let seed = 42;
      const random = () => {
        seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
        return seed / 2 ** 31;
      };
      const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
      const types = ["impression", "view", "watch", "complete", "replay", "skip", "like", "unlike", "share"] as const;
      const sent: EngagementEvent[] = [];
      for (let batch = 0; batch < 8; batch++) {
        const events: EngagementEvent[] = [];
        for (let i = 0; i < 120; i++) {
          if (sent.length > 0 && random() < 0.1) {
            events.push(pick(sent)); // a retry
            continue;
          }
          const event = eventFactory(pick(videos), T0 + batch * 1000 + i)(pick(types), {
            sessionId: `s${Math.floor(random() * 6)}`,
            userId: `u${Math.floor(random() * 5)}`,
            watchMs: Math.floor(random() * 2000),
            positionMs: Math.floor(random() * 10_000),
            durationMs: 10_000,
          });
          sent.push(event);
          events.push(event);
        }
        expect(await ours.record(events)).toEqual(await reference.record(events));
      }
      expect(await ours.counts(videos)).toEqual(await reference.counts(videos));
      for (const user of ["u0", "u1", "u2", "u3", "u4"]) {
        expect(await ours.hasLiked(user, videos)).toEqual(await reference.hasLiked(user, videos));
      }
      for (const v of videos) expect(await ours.retention(v)).toEqual(await reference.retention(v));
      const top = (list: Array<{ videoId: string; score: number }>) =>
        list.filter((t) => videos.includes(t.videoId)).map((t) => [t.videoId, t.score.toFixed(6)]);
      expect(top(await ours.trending({ window: "24h", limit: 1000 }))).toEqual(
        top(await reference.trending({ window: "24h", limit: 1000 })),
      );
      await ours.close();
    });
  });
}
