import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import type { SignalsOptions } from "../signals-common.js";
import type { Signal, SignalsPort, StatePort } from "../types.js";

export const T0 = Date.UTC(2026, 0, 1);
const HOUR = 3_600_000;

function signal(userId: string, videoId: string, type: Signal["type"], ts = T0, extra: Partial<Signal> = {}): Signal {
  return {
    userId,
    videoId,
    creatorId: "c1",
    topics: ["cats"],
    type,
    watchFraction: type === "complete" ? 1 : 0,
    ts,
    ...extra,
  };
}

/**
 * The behaviour every signals/state adapter must share. The memory adapters define it; the Redis
 * adapter runs the same suite against a server and a cluster. Ids are fresh per test, and
 * `makeSignals` gives an isolated port (trending is global per port).
 */
export function portsContract(
  name: string,
  makeSignals: (options?: SignalsOptions) => SignalsPort | Promise<SignalsPort>,
  makeState: () => StatePort | Promise<StatePort>,
): void {
  const id = (p: string) => `${p}-${randomUUID().slice(0, 8)}`;

  describe(`signals contract: ${name} (6 h half-life)`, () => {
    it("ranks trending by decayed positive engagement", async () => {
      const s = await makeSignals();
      const [a, b, c] = [id("a"), id("b"), id("c")];
      // b: two completes long ago; a: one complete now; c: only impressions and skips.
      await s.record([
        signal("u1", b, "complete", T0 - 12 * HOUR),
        signal("u2", b, "complete", T0 - 12 * HOUR),
        signal("u3", a, "complete", T0),
        signal("u4", c, "impression", T0),
        signal("u4", c, "skip", T0),
      ]);
      const top = await s.trending(10, T0);
      expect(top.map((x) => x.videoId)).toEqual([a, b]);
      // Two completes 12 h (two half-lives) ago are worth half of one now.
      expect((top[1]?.score ?? 0) / (top[0]?.score ?? 1)).toBeCloseTo(0.5, 5);
      expect((await s.trending(1, T0)).length).toBe(1);
    });

    it("keeps trending continuous across its epochs", async () => {
      const s = await makeSignals();
      const v = id("v");
      const epoch = 16 * 6 * HOUR;
      const late = Math.ceil(T0 / epoch) * epoch - HOUR; // one hour before an epoch boundary
      await s.record([signal("u1", v, "complete", late)]);
      const before = (await s.trending(5, late + HOUR - 1))[0]?.score ?? 0;
      const after = (await s.trending(5, late + HOUR + 1))[0]?.score ?? 0;
      expect(before).toBeGreaterThan(0);
      expect(after / before).toBeCloseTo(1, 3);
    });

    it("pairs a user's positive engagements as co-engagement", async () => {
      const s = await makeSignals();
      const [x, y, z, w] = [id("x"), id("y"), id("z"), id("w")];
      await s.record([
        signal("u1", x, "complete"),
        signal("u1", y, "like"),
        signal("u2", x, "complete"),
        signal("u2", y, "complete"),
        signal("u2", z, "share"),
        signal("u3", x, "complete"),
        signal("u3", w, "skip"),
      ]);
      const near = await s.coEngaged(x, 10);
      expect(near.map((n) => n.videoId)).toEqual([y, z]);
      expect(near.map((n) => n.score)).toEqual([2, 1]);
      expect(await s.coEngaged(w, 10)).toEqual([]);
    });

    it("keeps each user's recent positive engagements, newest first, deduplicated", async () => {
      const s = await makeSignals();
      const u = id("u");
      const [p, q, r] = [id("p"), id("q"), id("r")];
      await s.record([signal(u, p, "complete"), signal(u, q, "like"), signal(u, r, "skip"), signal(u, p, "share")]);
      expect(await s.recent(u, 10)).toEqual([p, q]);
      expect(await s.recent(u, 1)).toEqual([p]);
      expect(await s.recent(id("nobody"), 5)).toEqual([]);
    });

    it("keeps the strongest interest per recent video, and drops it with the video", async () => {
      const s = await makeSignals();
      if (s.interest === undefined) throw new Error("the adapter must implement interest()");
      const u = id("u");
      const [p, q, r, v] = [id("p"), id("q"), id("r"), id("v")];
      await s.record([
        signal(u, p, "view", T0, { watchFraction: 0.6 }),
        signal(u, p, "view", T0, { watchFraction: 0.8 }),
        signal(u, p, "view", T0, { watchFraction: 0.7 }),
        signal(u, q, "like"),
        signal(u, r, "view", T0, { watchFraction: 0.3 }), // not positive: not in the history
        signal(u, v, "skip", T0, { watchFraction: 0.1 }),
      ]);
      expect(await s.interest(u, [p, q, r, v, id("none")])).toEqual([0.8, 1, 0, 0, 0]);
      expect(await s.interest(id("nobody"), [p])).toEqual([0]);
      expect(await s.interest(u, [])).toEqual([]);
      // A retried signal changes nothing; 200 newer videos push p and q out of the history.
      await s.record([signal(u, p, "view", T0, { watchFraction: 0.8 })]);
      expect(await s.interest(u, [p])).toEqual([0.8]);
      const newer = Array.from({ length: 200 }, (_, n) => id(`n${n}`));
      await s.record(newer.map((w) => signal(u, w, "view", T0, { watchFraction: 0.9 })));
      expect(await s.interest(u, [p, q, newer[0] as string, newer[199] as string])).toEqual([0, 0, 0.9, 0.9]);
      expect(await s.recent(u, 300)).toHaveLength(200);
    });

    it("counts a view as positive engagement from positiveWatch on", async () => {
      const u = id("u");
      const [p, q] = [id("p"), id("q")];
      const views = [
        signal(u, p, "view", T0, { watchFraction: 0.3 }),
        signal(u, q, "view", T0 + HOUR, { watchFraction: 0.15 }),
      ];
      const strict = await makeSignals();
      await strict.record(views);
      expect(await strict.recent(u, 10)).toEqual([]);
      const lenient = await makeSignals({ positiveWatch: 0.2 });
      await lenient.record(views);
      expect(await lenient.recent(u, 10)).toEqual([p]);
      expect(await lenient.interest?.(u, [p, q])).toEqual([0.3, 0]);
      expect((await lenient.trending(10, T0 + HOUR)).map((t) => t.videoId)).toEqual([p]);
      expect((await lenient.affinity(u)).creators.get("c1")).toBeCloseTo(0.5);
    });

    it("counts per-video stats and per-user affinities", async () => {
      const s = await makeSignals();
      const [v, u] = [id("v"), id("u")];
      await s.record([
        signal(u, v, "impression"),
        signal(u, v, "view", T0, { watchFraction: 0.5 }),
        signal(u, v, "complete"),
        signal(u, v, "like"),
        signal("other", v, "impression"),
        signal("other", v, "hide", T0, { topics: ["dogs"], creatorId: "c2" }),
      ]);
      const stats = (await s.stats([v, id("none")])).get(v);
      expect(stats).toEqual({ impressions: 2, completes: 1, likes: 1, shares: 0, negatives: 1, watchFraction: 1.5 });
      const a = await s.affinity(u);
      expect(a.topics.get("cats")).toBeCloseTo(0.5 + 1 + 1.5);
      expect(a.creators.get("c1")).toBeCloseTo(3);
      expect((await s.affinity("other")).topics.get("dogs")).toBeCloseTo(-2);
    });
  });

  describe(`state contract: ${name}`, () => {
    it("remembers seen videos per user, with no false negatives", async () => {
      const st = await makeState();
      const [u, other] = [id("u"), id("u")];
      const ids = Array.from({ length: 300 }, (_, i) => `seen-${i}`);
      await st.markSeen(u, ids);
      expect((await st.seen(u, ids)).every(Boolean)).toBe(true);
      const fresh = Array.from({ length: 300 }, (_, i) => `fresh-${i}`);
      expect((await st.seen(u, fresh)).filter(Boolean).length).toBeLessThanOrEqual(1);
      expect((await st.seen(other, ids)).some(Boolean)).toBe(false);
      expect(await st.seen(u, [])).toEqual([]);
    });

    it("keeps a session's served videos", async () => {
      const st = await makeState();
      const key = id("session");
      await st.addServed(key, ["a", "b"], 60_000);
      await st.addServed(key, ["c"], 60_000);
      expect([...(await st.served(key))].sort()).toEqual(["a", "b", "c"]);
      expect((await st.served(id("other"))).size).toBe(0);
    });

    it("keeps follows and blocks", async () => {
      const st = await makeState();
      const u = id("u");
      await st.follow(u, "c2");
      await st.follow(u, "c1");
      await st.follow(u, "c1");
      await st.block(u, "c9");
      expect(await st.following(u)).toEqual(["c1", "c2"]);
      expect(await st.blocked(u)).toEqual(["c9"]);
      expect(await st.following(id("nobody"))).toEqual([]);
      await st.unfollow(u, "c2");
      await st.unfollow(u, "never-followed");
      await st.unblock(u, "c9");
      expect(await st.following(u)).toEqual(["c1"]);
      expect(await st.blocked(u)).toEqual([]);
    });
  });
}
