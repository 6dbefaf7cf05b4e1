import { describe, expect, it } from "vitest";
import {
  createPolicy,
  decisionFor,
  defaultThresholds,
  isModerationError,
  ModerationErrorCode,
  type Signal,
} from "../index.js";

const sig = (category: string, score: number, reasonCodes = [`test:${category}`]): Signal => ({
  check: "t",
  category,
  score,
  reasonCodes,
});

describe("createPolicy (default thresholds)", () => {
  const policy = createPolicy();
  const decide = (signals: Signal[]) => policy.decide({ moment: "publish", signals, failures: [] });

  it("allows when nothing reaches a threshold, and gives no reasons", () => {
    expect(decide([])).toEqual({ decision: "allow", reasonCodes: [] });
    expect(decide([sig("profanity", 0.49), sig("hate", 0.49), sig("spam", 0.2)])).toEqual({
      decision: "allow",
      reasonCodes: [],
    });
  });

  it("applies each category's thresholds and lets the most severe decision win", () => {
    expect(decide([sig("profanity", 1)]).decision).toBe("limit"); // profanity never holds or blocks
    expect(decide([sig("self_harm", 1)]).decision).toBe("hold"); // a human, never an automatic block
    expect(decide([sig("hate", 0.5)]).decision).toBe("hold");
    expect(decide([sig("hate", 0.97)]).decision).toBe("block");
    expect(decide([sig("known_media", 0.9)]).decision).toBe("block");
    expect(decide([sig("known_media", 0.89)]).decision).toBe("hold");
    expect(decide([sig("child_safety", 0.3)]).decision).toBe("hold");
    expect(decide([sig("spam", 0.5)]).decision).toBe("limit");
    expect(decide([sig("spam", 0.9)]).decision).toBe("hold");
    // unknown category: the fallback (limit 0.6, hold 0.9, never block)
    expect(decide([sig("made_up", 0.6)]).decision).toBe("limit");
    expect(decide([sig("made_up", 1)]).decision).toBe("hold");
    const mixed = decide([sig("profanity", 0.6), sig("hate", 0.6), sig("spam", 0.1)]);
    expect(mixed).toEqual({ decision: "hold", reasonCodes: ["test:hate", "test:profanity"] });
  });

  it("holds on a fail-closed failure, ignores a fail-open one, and names the check", () => {
    const result = policy.decide({
      moment: "comment",
      signals: [sig("profanity", 0.6)],
      failures: [
        { check: "classifier", code: "CHECK_TIMEOUT", message: "slow", failMode: "closed" },
        { check: "other", code: "CHECK_FAILED", message: "boom", failMode: "open" },
      ],
    });
    expect(result).toEqual({ decision: "hold", reasonCodes: ["check_failed:classifier", "test:profanity"] });
    // a block still wins over a fail-closed hold
    const block = policy.decide({
      moment: "comment",
      signals: [sig("hate", 1)],
      failures: [{ check: "c", code: "CHECK_FAILED", message: "", failMode: "closed" }],
    });
    expect(block.decision).toBe("block");
  });
});

describe("createPolicy (overrides)", () => {
  it("replaces a category's thresholds, sets the fallback and the fail-closed decision", () => {
    const policy = createPolicy({
      thresholds: { profanity: { hold: 0.5 }, brand_safety: { limit: 0.2 } },
      fallback: { block: 0.99 },
      failClosed: "limit",
    });
    const decide = (signals: Signal[]) => policy.decide({ moment: "publish", signals, failures: [] });
    expect(decide([sig("profanity", 0.5)]).decision).toBe("hold");
    expect(decide([sig("brand_safety", 0.2)]).decision).toBe("limit");
    expect(decide([sig("unknown", 0.98)]).decision).toBe("allow");
    expect(decide([sig("unknown", 0.99)]).decision).toBe("block");
    expect(decide([sig("hate", 0.5)]).decision).toBe("hold"); // untouched defaults stay
    expect(
      policy.decide({
        moment: "publish",
        signals: [],
        failures: [{ check: "c", code: "CHECK_FAILED", message: "", failMode: "closed" }],
      }).decision,
    ).toBe("limit");
    expect(defaultThresholds.profanity).toEqual({ limit: 0.5 }); // the shared table is not changed
  });

  it("uses the category as the reason when a signal has none", () => {
    expect(
      createPolicy().decide({ moment: "publish", signals: [sig("hate", 0.6, [])], failures: [] }).reasonCodes,
    ).toEqual(["hate"]);
  });

  it("rejects decreasing or out-of-range thresholds with INVALID_OPTIONS", () => {
    for (const options of [
      { thresholds: { x: { limit: 0.8, hold: 0.5 } } },
      { thresholds: { x: { hold: 0.9, block: 0.5 } } },
      { thresholds: { x: { limit: 1.5 } } },
      { fallback: { limit: -0.1 } },
      { failClosed: "allow" },
      { unknown: true },
    ]) {
      let code: string | undefined;
      try {
        createPolicy(options as never);
      } catch (error) {
        code = isModerationError(error) ? error.code : "other";
      }
      expect(code, JSON.stringify(options)).toBe(ModerationErrorCode.INVALID_OPTIONS);
    }
  });

  it("decisionFor treats thresholds as inclusive lower bounds", () => {
    const t = { limit: 0.3, hold: 0.6, block: 0.9 };
    expect([0, 0.29, 0.3, 0.59, 0.6, 0.89, 0.9, 1].map((s) => decisionFor(s, t))).toEqual([
      "allow",
      "allow",
      "limit",
      "limit",
      "hold",
      "hold",
      "block",
      "block",
    ]);
  });
});
