import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import {
  type CheckContext,
  createAccountCheck,
  createModeration,
  createReviewQueue,
  createTextCheck,
  isModerationError,
  type ModerationCheck,
  type ModerationDecision,
  ModerationErrorCode,
  type ModerationEvents,
} from "../index.js";

const uploader = { id: "u1" };
const publish = (caption: string) => ({ id: "v1", uploader, caption });

function fixed(
  name: string,
  signals: ReturnType<ModerationCheck["run"]>,
  extra: Partial<ModerationCheck> = {},
): ModerationCheck {
  return { name, moments: ["publish", "comment", "report", "engagement", "transcoded"], run: () => signals, ...extra };
}

async function codeOf(p: Promise<unknown> | (() => unknown)): Promise<string> {
  try {
    await (typeof p === "function" ? p() : p);
  } catch (error) {
    return isModerationError(error) ? error.code : "other";
  }
  return "none";
}

describe("createModeration", () => {
  it("turns a caption with an evasion into a limit, with reason codes, signals and evidence", async () => {
    const moderation = createModeration({ checks: [createTextCheck()] });
    const d = await moderation.beforePublish({ id: "v1", uploader, title: "my day", caption: "what the f\u200Bսck" });
    expect(d.decision).toBe("limit");
    expect(d.reasonCodes).toEqual(["text:profanity"]);
    expect(d.subject).toEqual({ kind: "video", id: "v1" });
    expect(d.moment).toBe("publish");
    expect(d.signals).toEqual([
      {
        check: "text",
        category: "profanity",
        score: 0.6,
        reasonCodes: ["text:profanity"],
        evidence: { terms: ["fuck*"], matches: ["fuck"] },
      },
    ]);
    expect(d.failures).toEqual([]);
    const clean = await moderation.beforePublish({ id: "v2", uploader, caption: "a classic cocktail in Scunthorpe" });
    expect(clean).toMatchObject({ decision: "allow", reasonCodes: [], signals: [] });
  });

  it("routes each moment to its checks and subject", async () => {
    const seen: Array<[string, string]> = [];
    const spy = (name: string, moments: ModerationCheck["moments"]): ModerationCheck => ({
      name,
      moments,
      run: (ctx: CheckContext) => {
        seen.push([name, `${ctx.moment}:${ctx.subject.kind}:${ctx.subject.id}`]);
        return [];
      },
    });
    const moderation = createModeration({
      checks: [spy("a", ["publish", "comment"]), spy("b", ["transcoded", "report", "engagement"])],
    });
    await moderation.beforePublish(publish("hi"));
    await moderation.afterTranscode({ id: "v1", frames: [] });
    await moderation.onComment({ id: "c1", videoId: "v1", author: { id: "u2" }, text: "nice" });
    await moderation.onReport({ subject: { kind: "user", id: "u9" }, reporter: { id: "u2" }, reason: "spam" });
    await moderation.onEngagement({ subject: { kind: "video", id: "v1" }, actor: { id: "u3" }, type: "like" });
    await moderation.check("comment", { id: "c2", videoId: "v1", author: { id: "u2" }, text: "x" });
    expect(seen).toEqual([
      ["a", "publish:video:v1"],
      ["b", "transcoded:video:v1"],
      ["a", "comment:comment:c1"],
      ["b", "report:user:u9"],
      ["b", "engagement:video:v1"],
      ["a", "comment:comment:c2"],
    ]);
  });

  it("runs checks in parallel", async () => {
    const slow = (name: string): ModerationCheck => ({
      name,
      moments: ["publish"],
      run: async () => {
        await sleep(150);
        return [{ category: "spam", score: 0.1 }];
      },
    });
    const moderation = createModeration({ checks: [slow("a"), slow("b"), slow("c"), slow("d")] });
    const started = performance.now();
    const d = await moderation.beforePublish(publish("hi"));
    const elapsed = performance.now() - started;
    expect(d.signals.map((s) => s.check)).toEqual(["a", "b", "c", "d"]);
    expect(elapsed).toBeLessThan(450); // in series it would take 600 ms
  });

  it("times out a slow check, aborts its signal, and follows its fail mode", async () => {
    let aborted: unknown;
    const hang = (name: string, failMode: "open" | "closed"): ModerationCheck => ({
      name,
      moments: ["publish"],
      timeoutMs: 50,
      failMode,
      run: (ctx) =>
        new Promise((resolve) => {
          ctx.signal.addEventListener("abort", () => {
            aborted = ctx.signal.reason;
            setTimeout(() => resolve([{ category: "hate", score: 1 }]), 10); // too late: ignored
          });
        }),
    });
    const closed = createModeration({ checks: [hang("slow", "closed")] });
    const started = performance.now();
    const d = await closed.beforePublish(publish("hi"));
    expect(performance.now() - started).toBeLessThan(1000);
    expect(d.decision).toBe("hold");
    expect(d.reasonCodes).toEqual(["check_failed:slow"]);
    expect(d.failures).toEqual([
      {
        check: "slow",
        code: ModerationErrorCode.CHECK_TIMEOUT,
        message: expect.stringContaining("50 ms"),
        failMode: "closed",
      },
    ]);
    expect(isModerationError(aborted) && aborted.code).toBe(ModerationErrorCode.CHECK_TIMEOUT);

    const open = createModeration({
      checks: [hang("slow", "open"), fixed("ok", [{ category: "profanity", score: 0.7 }])],
    });
    const d2 = await open.beforePublish(publish("hi"));
    expect(d2.decision).toBe("limit");
    expect(d2.reasonCodes).toEqual(["profanity"]);
    expect(d2.failures.map((f) => [f.check, f.failMode])).toEqual([["slow", "open"]]);
  });

  it("records throwing checks and malformed signals as failures; the default fail mode is closed", async () => {
    const moderation = createModeration({
      checks: [
        fixed("throws", [], {
          run: () => {
            throw new Error("boom");
          },
        }),
        fixed("rejects", [], { run: () => Promise.reject(new TypeError("nope")), failMode: "open" }),
        fixed("bad-score", [{ category: "spam", score: 1.5 }], { failMode: "open" }),
        fixed("bad-category", [{ category: "Not A Category", score: 0.5 }], { failMode: "open" }),
        fixed("not-an-array", { category: "spam", score: 1 } as never, { failMode: "open" }),
        fixed("bad-reason", [{ category: "spam", score: 1, reasonCodes: ["has/slash"] }], { failMode: "open" }),
        fixed("fine", [{ category: "spam", score: 0.2 }]),
      ],
    });
    const d = await moderation.beforePublish(publish("hi"));
    expect(d.failures.map((f) => [f.check, f.code, f.failMode])).toEqual([
      ["throws", "CHECK_FAILED", "closed"],
      ["rejects", "CHECK_FAILED", "open"],
      ["bad-score", "CHECK_FAILED", "open"],
      ["bad-category", "CHECK_FAILED", "open"],
      ["not-an-array", "CHECK_FAILED", "open"],
      ["bad-reason", "CHECK_FAILED", "open"],
    ]);
    expect(d.failures[0]?.message).toBe("boom");
    expect(d.signals.map((s) => s.check)).toEqual(["fine"]);
    expect(d).toMatchObject({ decision: "hold", reasonCodes: ["check_failed:throws"] });

    const allOpen = createModeration({
      checks: [
        fixed("throws", [], {
          run: () => {
            throw new Error("x");
          },
        }),
      ],
      failMode: "open",
    });
    expect((await allOpen.beforePublish(publish("hi"))).decision).toBe("allow");
  });

  it("emits typed decision and checkFailed events; unsubscribing stops them; a throwing listener changes nothing", async () => {
    const moderation = createModeration({
      checks: [
        fixed("hate", [{ category: "hate", score: 0.99, reasonCodes: ["x:hate"] }]),
        fixed("broken", [], {
          run: () => {
            throw new Error("b");
          },
          failMode: "open",
        }),
      ],
    });
    const decisions: ModerationDecision[] = [];
    const failures: Array<ModerationEvents["checkFailed"]> = [];
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.message);
    process.on("warning", onWarning);
    try {
      moderation.on("decision", () => {
        throw new Error("listener bug");
      });
      const off = moderation.on("decision", (d) => decisions.push(d));
      moderation.on("checkFailed", (f) => failures.push(f));
      const returned = await moderation.onComment({ id: "c1", videoId: "v1", author: { id: "u" }, text: "x" });
      expect(returned.decision).toBe("block");
      expect(decisions).toEqual([returned]);
      expect(failures).toEqual([
        {
          check: "broken",
          code: "CHECK_FAILED",
          message: "b",
          failMode: "open",
          moment: "comment",
          subject: { kind: "comment", id: "c1" },
        },
      ]);
      off();
      await moderation.onComment({ id: "c2", videoId: "v1", author: { id: "u" }, text: "x" });
      expect(decisions).toHaveLength(1);
      expect(failures).toHaveLength(2);
      await sleep(10);
      expect(warnings.some((w) => w.includes("listener bug"))).toBe(true);
    } finally {
      process.off("warning", onWarning);
    }
    expect(await codeOf(() => moderation.on("nope" as "decision", () => {}))).toBe(ModerationErrorCode.INVALID_INPUT);
  });

  it("validates every input with INVALID_INPUT before any check runs", async () => {
    let runs = 0;
    const moderation = createModeration({
      checks: [
        {
          name: "count",
          moments: ["publish", "transcoded", "comment", "report", "engagement"],
          run: () => {
            runs++;
            return [];
          },
        },
      ],
    });
    const bad: Array<Promise<unknown>> = [
      moderation.beforePublish({ id: "", uploader } as never),
      moderation.beforePublish({ id: "v", uploader: {} } as never),
      moderation.beforePublish({ id: "v", uploader, caption: "x".repeat(10_001) }),
      moderation.beforePublish({ id: "v", uploader, extra: 1 } as never),
      moderation.afterTranscode({ id: "v" }),
      moderation.afterTranscode({ id: "v", frames: [{ hash: "zz", quality: 100 }] }),
      moderation.onComment({ id: "c", videoId: "v", author: { id: "u" } } as never),
      moderation.onReport({ subject: { kind: "Video", id: "v" }, reporter: { id: "u" }, reason: "spam" }),
      moderation.onEngagement({ subject: { kind: "video", id: "v" }, actor: { id: "u", createdAt: -1 }, type: "like" }),
      moderation.check("nope" as "publish", publish("x")),
    ];
    for (const p of bad) expect(await codeOf(p)).toBe(ModerationErrorCode.INVALID_INPUT);
    expect(runs).toBe(0);
  });

  it("validates options with INVALID_OPTIONS", async () => {
    const check = fixed("a", []);
    for (const options of [
      { checks: [check, { ...check }] }, // duplicate names
      { checks: [{ ...check, name: "bad name" }] },
      { checks: [{ ...check, moments: [] }] },
      { checks: [{ ...check, moments: ["upload"] }] },
      { checks: [{ ...check, run: "x" }] },
      { checks: [check], timeoutMs: 0 },
      { checks: [check], failMode: "maybe" },
      { checks: [check], policy: { thresholds: { x: { limit: 2 } } } },
      {},
    ]) {
      expect(await codeOf(() => createModeration(options as never)), JSON.stringify(options)).toBe(
        ModerationErrorCode.INVALID_OPTIONS,
      );
    }
  });

  it("takes a custom policy, and holds when the policy throws or answers nonsense", async () => {
    const signals = [{ category: "spam", score: 0.3 }];
    const strict = createModeration({
      checks: [fixed("s", signals)],
      policy: { decide: ({ signals: s }) => ({ decision: s.length > 0 ? "block" : "allow", reasonCodes: ["custom"] }) },
    });
    expect(await strict.beforePublish(publish("x"))).toMatchObject({ decision: "block", reasonCodes: ["custom"] });
    const tuned = createModeration({ checks: [fixed("s", signals)], policy: { thresholds: { spam: { limit: 0.3 } } } });
    expect((await tuned.beforePublish(publish("x"))).decision).toBe("limit");
    const onWarning = () => {};
    process.on("warning", onWarning);
    try {
      const broken = createModeration({
        checks: [],
        policy: {
          decide: () => {
            throw new Error("policy bug");
          },
        },
      });
      expect(await broken.beforePublish(publish("x"))).toMatchObject({
        decision: "hold",
        reasonCodes: ["policy_failed"],
      });
      const nonsense = createModeration({ checks: [], policy: { decide: () => ({ decision: "maybe" }) as never } });
      expect((await nonsense.beforePublish(publish("x"))).decision).toBe("hold");
    } finally {
      process.off("warning", onWarning);
    }
  });

  it("gives reason codes the review queue accepts: decisions can be enqueued as they are", async () => {
    const queue = createReviewQueue();
    const moderation = createModeration({
      checks: [
        createTextCheck(),
        { name: "slow", moments: ["comment"], timeoutMs: 20, run: () => sleep(200).then(() => []) },
      ],
    });
    const enqueued: Array<Promise<unknown>> = [];
    moderation.on("decision", (d) => {
      if (d.decision !== "allow")
        enqueued.push(queue.enqueue({ subject: d.subject, reasons: d.reasonCodes, severity: 0.5 }));
    });
    const d = await moderation.onComment({ id: "c1", videoId: "v1", author: { id: "u" }, text: "k y s" });
    expect(d.reasonCodes).toEqual(["check_failed:slow", "text:harassment"]);
    await Promise.all(enqueued);
    const [item] = await queue.list({ subject: { kind: "comment", id: "c1" } });
    expect(item?.reasons).toEqual(["check_failed:slow", "text:harassment"]);
  });

  it("uses the input's time, or the clock", async () => {
    const ats: number[] = [];
    const moderation = createModeration({
      checks: [
        {
          name: "t",
          moments: ["publish"],
          run: (ctx) => {
            ats.push(ctx.at);
            return [];
          },
        },
      ],
      now: () => 1234,
    });
    expect((await moderation.beforePublish(publish("x"))).at).toBe(1234);
    expect((await moderation.beforePublish({ ...publish("x"), at: 99 })).at).toBe(99);
    expect(ats).toEqual([1234, 99]);
  });

  it("scores uploader signals: strikes and new accounts", async () => {
    const now = 10 * 86_400_000;
    const moderation = createModeration({ checks: [createAccountCheck()], now: () => now });
    const run = (u: { id: string; createdAt?: number; strikes?: number; verified?: boolean }) =>
      moderation.beforePublish({ id: "v", uploader: u });
    expect((await run({ id: "a", createdAt: 0 })).decision).toBe("allow");
    expect((await run({ id: "a", createdAt: now - 1000 })).signals[0]).toMatchObject({
      score: 0.3,
      reasonCodes: ["account:new"],
    });
    expect(await run({ id: "a", createdAt: now - 1000, strikes: 1 })).toMatchObject({
      decision: "limit",
      reasonCodes: ["account:new", "account:strikes"],
    });
    expect((await run({ id: "a", strikes: 3 })).decision).toBe("hold");
    expect((await run({ id: "a", strikes: 3, verified: true })).decision).toBe("allow");
  });
});
