import { describe, expect, it } from "vitest";
import {
  burstScore,
  createBehaviourCheck,
  createBurstDetector,
  createModeration,
  isModerationError,
  ModerationErrorCode,
} from "../index.js";

const DAY = 86_400_000;
const NOW = 20_000 * DAY; // 2024-10-04

describe("createBurstDetector", () => {
  it("flags a burst of distinct new accounts on one target within the window", () => {
    const d = createBurstDetector({ windowMs: 60_000, maxNewAccounts: 4 });
    const like = (actor: string, at: number, createdAt = NOW - DAY) =>
      d.record({ target: "video:v1", actor, actorCreatedAt: createdAt, at });
    for (let i = 0; i < 3; i++) expect(like(`n${i}`, NOW + i).signals).toEqual([]);
    // an old account and the same new account again do not add to the count
    expect(like("old", NOW + 3, NOW - 365 * DAY).newAccounts).toBe(3);
    expect(like("n0", NOW + 4).newAccounts).toBe(3);
    const fourth = like("n3", NOW + 5);
    expect(fourth.newAccounts).toBe(4);
    expect(fourth.signals).toEqual([
      {
        category: "behaviour",
        score: 0.5,
        reasonCodes: ["behaviour:new_account_burst"],
        evidence: { target: "video:v1", newAccounts: 4, windowMs: 60_000 },
      },
    ]);
    for (let i = 4; i < 8; i++) like(`n${i}`, NOW + 10 + i);
    expect(like("n8", NOW + 30).signals[0]?.score).toBe(1); // 9 ≥ 2 × 4
    // another target is counted apart
    expect(d.record({ target: "video:v2", actor: "n9", actorCreatedAt: NOW, at: NOW + 31 }).newAccounts).toBe(1);
    // the window slides: a minute later the early likes are gone
    expect(like("n10", NOW + 60_010).newAccounts).toBe(6);
    expect(like("n11", NOW + 200_000).newAccounts).toBe(1);
  });

  it("flags many accounts from one IP or device, each source counted on its own", () => {
    const d = createBurstDetector({ windowMs: 10_000, maxPerSource: 3 });
    const ev = (actor: string, sources: string[], at = NOW) => d.record({ target: "user:creator", actor, sources, at });
    expect(ev("a", ["ip:1", "device:x"]).signals).toEqual([]);
    expect(ev("b", ["ip:1", "device:y"]).perSource).toEqual({ "ip:1": 2, "device:y": 1 });
    const third = ev("c", ["ip:1", "device:z"]);
    expect(third.signals).toEqual([
      {
        category: "behaviour",
        score: 0.5,
        reasonCodes: ["behaviour:source_burst"],
        evidence: { target: "user:creator", source: "ip:1", accounts: 3, windowMs: 10_000 },
      },
    ]);
    expect(ev("a", ["ip:2"]).signals).toEqual([]); // one account from another IP
    expect(ev("a", ["ip:1"]).perSource).toEqual({ "ip:1": 3 }); // same account again: still 3 distinct
    expect(ev("d", ["ip:1"], NOW + 10_001).perSource).toEqual({ "ip:1": 1 }); // the window has passed
  });

  it("treats unknown account age as not new, late events as the latest, and bounds memory", () => {
    const d = createBurstDetector({ maxNewAccounts: 1, maxTargets: 2, maxEventsPerTarget: 3, windowMs: 1_000_000 });
    expect(d.record({ target: "t", actor: "x", at: NOW }).newAccounts).toBe(0);
    expect(d.record({ target: "t", actor: "y", actorCreatedAt: NOW, at: NOW - 5_000 }).signals[0]?.reasonCodes).toEqual(
      ["behaviour:new_account_burst"],
    );
    for (let i = 0; i < 5; i++) d.record({ target: "t", actor: `z${i}`, actorCreatedAt: NOW, at: NOW + i });
    expect(d.record({ target: "t", actor: "w", actorCreatedAt: NOW, at: NOW + 9 }).newAccounts).toBe(3); // 3 events kept
    d.record({ target: "u", actor: "a", at: NOW });
    d.record({ target: "v", actor: "a", at: NOW });
    expect(d.size).toBe(2);
    // "t" was the least recently used and was forgotten
    expect(d.record({ target: "t", actor: "q", actorCreatedAt: NOW, at: NOW + 10 }).newAccounts).toBe(1);
  });

  it("scores 0.5 at the limit and 0.9 at twice the limit", () => {
    expect([burstScore(4, 5), burstScore(5, 5), burstScore(10, 5), burstScore(50, 5)]).toEqual([0, 0.5, 0.9, 1]);
  });

  it("validates options and events", () => {
    const codeOf = (fn: () => unknown) => {
      try {
        fn();
      } catch (error) {
        return isModerationError(error) ? error.code : "other";
      }
      return "none";
    };
    expect(codeOf(() => createBurstDetector({ windowMs: 0 }))).toBe(ModerationErrorCode.INVALID_OPTIONS);
    const d = createBurstDetector();
    expect(codeOf(() => d.record({ target: "", actor: "a", at: 1 }))).toBe(ModerationErrorCode.INVALID_INPUT);
    expect(codeOf(() => d.record({ target: "t", actor: "a", at: -1 }))).toBe(ModerationErrorCode.INVALID_INPUT);
  });
});

describe("createBehaviourCheck", () => {
  it("limits engagement from a burst of new accounts and from one IP, through the moderation", async () => {
    const moderation = createModeration({
      checks: [createBehaviourCheck({ maxNewAccounts: 3, maxPerSource: 2, windowMs: 60_000 })],
      now: () => NOW,
    });
    const like = (actor: string, createdAt: number, ip: string) =>
      moderation.onEngagement({
        subject: { kind: "video", id: "v1" },
        actor: { id: actor, createdAt },
        type: "like",
        source: { ip },
      });
    expect((await like("a", NOW - DAY, "1.1.1.1")).decision).toBe("allow");
    expect((await like("b", NOW - DAY, "2.2.2.2")).decision).toBe("allow");
    const third = await like("c", NOW - DAY, "3.3.3.3");
    expect(third).toMatchObject({
      decision: "limit",
      reasonCodes: ["behaviour:new_account_burst"],
      subject: { kind: "video", id: "v1" },
    });
    const sameIp = await like("old", NOW - 1000 * DAY, "2.2.2.2");
    expect(sameIp).toMatchObject({ decision: "limit", reasonCodes: ["behaviour:source_burst"] });
    expect(sameIp.signals[0]?.evidence).toMatchObject({ source: "ip:2.2.2.2", accounts: 2 });
    // comments on the video count towards its window too; the decision is about the comment
    const comment = await moderation.onComment({
      id: "c1",
      videoId: "v1",
      author: { id: "d", createdAt: NOW - DAY },
      text: "wow",
      source: { device: "dev" },
    });
    expect(comment).toMatchObject({ decision: "limit", subject: { kind: "comment", id: "c1" } });
  });
});
