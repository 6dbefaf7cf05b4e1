import { describe, expect, it } from "vitest";
import {
  createModeration,
  createReportCheck,
  createTextCheck,
  isModerationError,
  ModerationErrorCode,
} from "../index.js";

const DAY = 86_400_000;
const NOW = 20_000 * DAY;
const subject = { kind: "video", id: "v1" };

describe("createReportCheck", () => {
  const setup = () => createModeration({ checks: [createReportCheck({ holdAt: 3 })], now: () => NOW });
  const old = (id: string) => ({ id, createdAt: NOW - 400 * DAY });

  it("holds a subject for review once enough distinct established accounts report it", async () => {
    const moderation = setup();
    const report = (reporter: { id: string; createdAt?: number }, reason = "hate", ip?: string) =>
      moderation.onReport({ subject, reporter, reason, ...(ip ? { source: { ip } } : {}) });
    expect((await report(old("a"))).decision).toBe("allow");
    expect((await report(old("a"))).signals[0]?.evidence).toMatchObject({ reporters: 1, weight: 1, reports: 2 });
    expect((await report(old("b"), "harassment")).decision).toBe("allow");
    const third = await report(old("c"));
    expect(third).toMatchObject({ decision: "hold", reasonCodes: ["reports:harassment", "reports:hate"] });
    expect(third.signals[0]?.score).toBe(0.5);
    expect(third.subject).toEqual(subject);
  });

  it("discounts brigades: new accounts weigh a quarter, one IP counts once", async () => {
    const moderation = setup();
    const report = (id: string, createdAt: number, ip?: string) =>
      moderation.onReport({ subject, reporter: { id, createdAt }, reason: "spam", ...(ip ? { source: { ip } } : {}) });
    for (let i = 0; i < 10; i++) expect((await report(`sock${i}`, NOW - 400 * DAY, "10.0.0.1")).decision).toBe("allow"); // 1
    for (let i = 0; i < 4; i++) expect((await report(`new${i}`, NOW - DAY)).decision).toBe("allow"); // + 4 × 0.25
    const d = await report("established", NOW - 400 * DAY); // + 1
    expect(d.signals[0]?.evidence).toMatchObject({ reporters: 15, weight: 3 });
    expect(d.decision).toBe("hold"); // weight 3 = holdAt
  });

  it("forgets reports outside the window and keeps subjects apart", async () => {
    let now = NOW;
    const moderation = createModeration({ checks: [createReportCheck({ holdAt: 2, windowMs: 1000 })], now: () => now });
    const report = (id: string, s = subject) => moderation.onReport({ subject: s, reporter: { id }, reason: "spam" });
    await report("a");
    now += 1001;
    expect((await report("b")).signals[0]?.evidence).toMatchObject({ reporters: 1 });
    expect((await report("c", { kind: "video", id: "v2" })).signals[0]?.evidence).toMatchObject({ reporters: 1 });
    expect((await report("c")).decision).toBe("hold");
  });

  it("runs beside text checks on the report's text, and rejects bad options", async () => {
    const moderation = createModeration({ checks: [createReportCheck(), createTextCheck()], now: () => NOW });
    const d = await moderation.onReport({
      subject,
      reporter: { id: "r" },
      reason: "harassment",
      text: "he told me to k y s",
    });
    expect(d.signals.map((s) => [s.check, s.category])).toEqual([
      ["reports", "reports"],
      ["text", "harassment"],
    ]);
    expect(d.decision).toBe("hold"); // harassment 0.8 ≥ 0.7
    let code: string | undefined;
    try {
      createReportCheck({ holdAt: 0 });
    } catch (error) {
      code = isModerationError(error) ? error.code : "other";
    }
    expect(code).toBe(ModerationErrorCode.INVALID_OPTIONS);
  });
});
