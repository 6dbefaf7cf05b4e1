import { describe, expect, it } from "vitest";
import { ModerationErrorCode } from "../errors.js";
import { createMemoryReviewStore, createReviewQueue, defaultPriority, type ReviewStore } from "../index.js";
import { failsWith, queueHarness, report, reviewQueueContract, T0 } from "./review-queue.contract.js";

reviewQueueContract("memory", () => createMemoryReviewStore());

describe("createReviewQueue options", () => {
  it("rejects unknown or out-of-range options with INVALID_OPTIONS", () => {
    for (const options of [
      { leaseMs: 10 },
      { leaseMs: 1.5e3 + 0.5 },
      { now: 5 },
      { priority: "high" },
      { store: {} },
      { bogus: true },
    ]) {
      expect(() => createReviewQueue(options as never), JSON.stringify(options)).toThrow(
        expect.objectContaining({ name: "ModerationError", code: ModerationErrorCode.INVALID_OPTIONS }),
      );
    }
  });

  it("defaults to an in-process store, five-minute leases and the real clock", async () => {
    const queue = createReviewQueue();
    const before = Date.now();
    await queue.enqueue(report());
    const [item] = await queue.claim("r1");
    const claim = item?.claim;
    expect(claim?.claimedAt).toBeGreaterThanOrEqual(before);
    expect(claim && claim.expiresAt - claim.claimedAt).toBe(5 * 60_000);
  });

  it("refuses a priority function's non-number with INVALID_OPTIONS and stores nothing", async () => {
    const queue = createReviewQueue({ priority: () => Number.POSITIVE_INFINITY });
    await failsWith(queue.enqueue(report()), "INVALID_OPTIONS");
    expect(await queue.list()).toEqual([]);
  });

  it("hands out copies: changing a returned item changes nothing stored", async () => {
    const { queue } = await queueHarness(() => createMemoryReviewStore());
    const { item } = await queue.enqueue(report({ reasons: ["spam"] }));
    item.reasons.push("tampered");
    item.status = "upheld";
    expect(await queue.get(item.id)).toMatchObject({ reasons: ["spam"], status: "queued" });
  });

  it("gives up with CONFLICT when the item keeps changing under it", async () => {
    const store = createMemoryReviewStore();
    const racing: ReviewStore = { ...store, update: async () => false };
    const queue = createReviewQueue({ store: racing, now: () => T0 });
    const { item } = await queue.enqueue(report());
    await failsWith(queue.claimItem(item.id, "r1"), "CONFLICT");
    expect((await queue.get(item.id))?.status).toBe("queued");
  });
});

describe("defaultPriority", () => {
  const p = (severity: number, views: number, velocity: number) =>
    defaultPriority({ subject: { kind: "video", id: "v" }, severity, reach: { views, velocity }, reasons: [] });

  it("keeps severity for unseen content and scales it up with reach", () => {
    expect(p(1, 0, 0)).toBe(1);
    expect(p(0, 1e9, 1e9)).toBe(0);
    expect(p(0.25, 999_999, 9_999)).toBeCloseTo(2, 12);
    expect(p(0.75, 999, 9)).toBeCloseTo(2.625, 12);
    expect(p(1, 999_999, 9_999)).toBeCloseTo(8, 12);
  });

  it("weighs a tenfold of velocity twice as much as a tenfold of views", () => {
    const base = p(0.5, 99, 99);
    expect(p(0.5, 99, 999) - base).toBeCloseTo(2 * (p(0.5, 999, 99) - base), 12);
  });
});
