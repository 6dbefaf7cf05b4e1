import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { ModerationErrorCode } from "../errors.js";
import { createReviewQueue, type EnqueueInput, type ReviewQueueOptions } from "../queue/review-queue.js";
import type { ReviewStore } from "../queue/store.js";
import type { AuditEntry, ReviewItem } from "../queue/types.js";

export const T0 = Date.UTC(2026, 10, 20, 12, 0, 0);
export const leaseMs = 60_000;

/** A queue over a fresh store, with a clock the test moves by hand. */
export async function queueHarness(
  makeStore: () => ReviewStore | Promise<ReviewStore>,
  options: Omit<ReviewQueueOptions, "store" | "now"> = {},
) {
  const clock = { now: T0 };
  const store = await makeStore();
  const queue = createReviewQueue({ store, leaseMs, now: () => clock.now, ...options });
  return {
    queue,
    store,
    clock,
    tick(ms = 1) {
      clock.now += ms;
    },
  };
}

export const video = () => ({ kind: "video", id: `v-${randomUUID()}` });

export const report = (fields: Partial<EnqueueInput> = {}): EnqueueInput => ({
  subject: video(),
  reasons: ["spam"],
  severity: 0.5,
  ...fields,
});

export const failsWith = (promise: Promise<unknown>, code: ModerationErrorCode) =>
  expect(promise).rejects.toMatchObject({ name: "ModerationError", code });

/** The parts of audit entries a test compares. */
const steps = (log: AuditEntry[]) => log.map((e) => `${e.action}:${e.actor}:${e.from}->${e.to}`);

/**
 * The behaviour every `ReviewStore` must share, checked through `createReviewQueue`. The memory
 * store defines it; every adapter runs this suite. Each test uses a fresh store.
 */
export function reviewQueueContract(name: string, makeStore: () => ReviewStore | Promise<ReviewStore>): void {
  const setup = (options: Omit<ReviewQueueOptions, "store" | "now"> = {}) => queueHarness(makeStore, options);

  /** A queued item claimed and actioned by `reviewer`. */
  async function actioned(q: Awaited<ReturnType<typeof setup>>, reviewer = "r1", decision = "block" as const) {
    const { item } = await q.queue.enqueue(report());
    await q.queue.claimItem(item.id, reviewer);
    return q.queue.action(item.id, reviewer, { decision, reasonCodes: ["policy:violence"] });
  }

  describe(`review queue contract: ${name}`, () => {
    describe("enqueue and priority", () => {
      it("queues a report with its computed priority and an audit entry", async () => {
        const { queue } = await setup();
        const subject = video();
        const { item, created } = await queue.enqueue({
          subject,
          reasons: ["nudity", "spam"],
          severity: "high",
          reach: { views: 999, velocity: 9 },
          by: "user-7",
          note: "reported from the feed",
        });
        expect(created).toBe(true);
        expect(item).toMatchObject({
          subject,
          reasons: ["nudity", "spam"],
          severity: 0.75,
          reach: { views: 999, velocity: 9 },
          status: "queued",
          stage: "review",
          createdAt: T0,
          updatedAt: T0,
          version: 1,
        });
        expect(item.priority).toBeCloseTo(0.75 * (1 + 3 / 2 + 1), 12);
        expect(item.claim).toBeUndefined();
        expect(await queue.get(item.id)).toEqual(item);
        expect(await queue.audit(item.id)).toEqual([
          {
            seq: 1,
            at: T0,
            actor: "user-7",
            action: "enqueue",
            from: null,
            to: "queued",
            reasons: ["nudity", "spam"],
            note: "reported from the feed",
          },
        ]);
      });

      it("hands out the highest priority first, equal priorities in enqueue order", async () => {
        const q = await setup();
        const ids: Record<string, string> = {};
        for (const [label, fields] of [
          ["low", { severity: "low" }],
          ["critical", { severity: "critical" }],
          ["viral", { severity: "medium", reach: { views: 1_000_000, velocity: 0 } }],
          ["critical2", { severity: 1 }],
          ["harmless", { severity: 0, reach: { views: 5_000_000, velocity: 100_000 } }],
        ] as const) {
          ids[label] = (await q.queue.enqueue(report(fields))).item.id;
          q.tick();
        }
        const order = ["viral", "critical", "critical2", "low", "harmless"].map((l) => ids[l]);
        expect((await q.queue.list({ status: "queued" })).map((i) => i.id)).toEqual(order);
        const first = await q.queue.claim("r1", { limit: 2 });
        expect(first.map((i) => i.id)).toEqual(order.slice(0, 2));
        const rest = await q.queue.claim("r2", { limit: 10 });
        expect(rest.map((i) => i.id)).toEqual(order.slice(2));
        expect(await q.queue.claim("r3")).toEqual([]);
      });

      it("uses a priority function, and an explicit priority over it", async () => {
        const q = await setup({ priority: ({ reasons }) => (reasons.includes("csam") ? 100 : 1) });
        const spam = (await q.queue.enqueue(report({ reasons: ["spam"] }))).item;
        const csam = (await q.queue.enqueue(report({ reasons: ["csam"], severity: 0.1 }))).item;
        const pinned = (await q.queue.enqueue(report({ reasons: ["spam"], priority: 50 }))).item;
        expect([spam.priority, csam.priority, pinned.priority]).toEqual([1, 100, 50]);
        expect((await q.queue.claim("r1", { limit: 3 })).map((i) => i.id)).toEqual([csam.id, pinned.id, spam.id]);
      });

      it("merges a report of an open subject into its item, raising but never lowering priority", async () => {
        const q = await setup();
        const subject = video();
        const first = await q.queue.enqueue({ subject, reasons: ["spam"], severity: "low", reach: { views: 10 } });
        q.tick();
        const second = await q.queue.enqueue({
          subject,
          reasons: ["scam", "spam"],
          severity: "high",
          reach: { views: 5, velocity: 99 },
          by: "user-2",
        });
        expect(second.created).toBe(false);
        expect(second.item.id).toBe(first.item.id);
        expect(second.item).toMatchObject({
          reasons: ["spam", "scam"],
          severity: 0.75,
          reach: { views: 10, velocity: 99 },
          status: "queued",
          version: 2,
        });
        const raised = second.item.priority;
        expect(raised).toBeCloseTo(0.75 * (1 + Math.log10(11) / 2 + 2), 12);
        q.tick();
        const third = await q.queue.enqueue({ subject, reasons: ["other"], severity: 0, priority: 0 });
        expect(third.item.priority).toBe(raised);
        expect(third.item.reasons).toEqual(["spam", "scam", "other"]);
        expect(await q.queue.list({ subject })).toHaveLength(1);
        const log = await q.queue.audit(first.item.id);
        expect(steps(log)).toEqual([
          "enqueue:system:null->queued",
          "enqueue:user-2:queued->queued",
          "enqueue:system:queued->queued",
        ]);
        expect(log.map((e) => e.reasons)).toEqual([["spam"], ["scam", "spam"], ["other"]]);
      });

      it("merges into a claimed item, and opens a new item once the subject was actioned", async () => {
        const q = await setup();
        const subject = video();
        const { item } = await q.queue.enqueue({ subject, reasons: ["spam"], severity: 0.5 });
        await q.queue.claim("r1");
        const merged = await q.queue.enqueue({ subject, reasons: ["scam"], severity: 0.5 });
        expect(merged).toMatchObject({ created: false, item: { id: item.id, status: "claimed" } });
        expect(merged.item.claim?.reviewer).toBe("r1");
        await q.queue.action(item.id, "r1", { decision: "allow", reasonCodes: ["no_violation"] });
        const again = await q.queue.enqueue({ subject, reasons: ["spam"], severity: 0.5 });
        expect(again.created).toBe(true);
        expect(again.item.id).not.toBe(item.id);
        expect((await q.queue.list({ subject })).map((i) => i.status).sort()).toEqual(["actioned", "queued"]);
      });

      it("never opens two items for one subject reported concurrently", async () => {
        const q = await setup();
        const subject = video();
        const results = await Promise.all(
          Array.from({ length: 12 }, (_, k) =>
            q.queue.enqueue({ subject, reasons: [`reason_${k}`], severity: k / 12, by: `user-${k}` }),
          ),
        );
        expect(results.filter((r) => r.created)).toHaveLength(1);
        expect(new Set(results.map((r) => r.item.id)).size).toBe(1);
        const [item] = await q.queue.list({ subject });
        expect(item?.reasons.slice().sort()).toEqual(Array.from({ length: 12 }, (_, k) => `reason_${k}`).sort());
        expect(item?.severity).toBe(11 / 12);
        expect(await q.queue.audit(item?.id ?? "")).toHaveLength(12);
      });
    });

    describe("claims and leases", () => {
      it("never gives one item to two reviewers claiming at once", async () => {
        const q = await setup();
        const ids = new Set<string>();
        for (let k = 0; k < 24; k += 1) ids.add((await q.queue.enqueue(report({ severity: (k % 5) / 4 }))).item.id);
        const reviewers = Array.from({ length: 8 }, (_, k) => `reviewer-${k}`);
        const batches = await Promise.all(reviewers.map((r) => q.queue.claim(r, { limit: 4 })));
        const claimed = batches.flat();
        expect(claimed).toHaveLength(24);
        expect(new Set(claimed.map((i) => i.id))).toEqual(ids);
        batches.forEach((batch, k) => {
          for (const item of batch) expect(item.claim?.reviewer).toBe(reviewers[k]);
        });
        expect(await q.queue.claim("late")).toEqual([]);
        for (const id of ids) {
          const claims = (await q.queue.audit(id)).filter((e) => e.action === "claim");
          expect(claims).toHaveLength(1);
        }
      });

      it("lets exactly one of two reviewers claim a chosen item", async () => {
        const q = await setup();
        const { item } = await q.queue.enqueue(report());
        const results = await Promise.allSettled([q.queue.claimItem(item.id, "r1"), q.queue.claimItem(item.id, "r2")]);
        expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
        const rejected = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
        expect(rejected?.reason).toMatchObject({ code: ModerationErrorCode.ALREADY_CLAIMED });
        // A queue claim racing a chosen-item claim for the only item: one of them gets it.
        const other = (await q.queue.enqueue(report())).item;
        const [bulk, chosen] = await Promise.allSettled([q.queue.claim("r3"), q.queue.claimItem(other.id, "r4")]);
        const bulkGot = bulk.status === "fulfilled" ? bulk.value.length : 0;
        const chosenGot = chosen.status === "fulfilled" ? 1 : 0;
        expect(bulkGot + chosenGot).toBe(1);
        const holder = (await q.queue.get(other.id))?.claim?.reviewer;
        expect(holder).toBe(chosenGot === 1 ? "r4" : "r3");
        // Claiming what you hold changes nothing.
        const held = await q.queue.claimItem(other.id, holder ?? "");
        expect(held.version).toBe((await q.queue.get(other.id))?.version);
      });

      it("lets another reviewer claim an item whose lease expired, and audits the expiry", async () => {
        const q = await setup();
        const { item } = await q.queue.enqueue(report());
        const [mine] = await q.queue.claim("r1");
        expect(mine?.claim).toEqual({ reviewer: "r1", claimedAt: T0, expiresAt: T0 + leaseMs });
        q.tick(leaseMs - 1);
        expect(await q.queue.claim("r2")).toEqual([]);
        q.tick(1);
        const [taken] = await q.queue.claim("r2");
        expect(taken?.id).toBe(item.id);
        expect(taken?.claim).toEqual({ reviewer: "r2", claimedAt: T0 + leaseMs, expiresAt: T0 + 2 * leaseMs });
        expect(taken?.expiredClaim).toBeUndefined();
        const log = await q.queue.audit(item.id);
        expect(steps(log)).toEqual([
          "enqueue:system:null->queued",
          "claim:r1:queued->claimed",
          "expire:system:claimed->queued",
          "claim:r2:queued->claimed",
        ]);
        expect(log[2]).toEqual({
          seq: 3,
          at: T0 + leaseMs,
          actor: "system",
          action: "expire",
          from: "claimed",
          to: "queued",
          reviewer: "r1",
          expiresAt: T0 + leaseMs,
        });
        await failsWith(q.queue.action(item.id, "r1", { decision: "block", reasonCodes: ["x"] }), "NOT_CLAIMANT");
        await failsWith(q.queue.renew(item.id, "r1"), "NOT_CLAIMANT");
        expect((await q.queue.action(item.id, "r2", { decision: "limit", reasonCodes: ["x"] })).status).toBe(
          "actioned",
        );
      });

      it("refuses a claimant whose lease expired with LEASE_EXPIRED and records the expiry", async () => {
        const q = await setup();
        const { item } = await q.queue.enqueue(report());
        await q.queue.claim("r1");
        q.tick(leaseMs);
        await failsWith(q.queue.action(item.id, "r1", { decision: "block", reasonCodes: ["x"] }), "LEASE_EXPIRED");
        const back = await q.queue.get(item.id);
        expect(back).toMatchObject({ status: "queued", expiredClaim: { reviewer: "r1", expiresAt: T0 + leaseMs } });
        expect(back?.claim).toBeUndefined();
        expect(steps(await q.queue.audit(item.id)).at(-1)).toBe("expire:system:claimed->queued");
        await failsWith(q.queue.renew(item.id, "r1"), "LEASE_EXPIRED");
        await failsWith(q.queue.release(item.id, "r1"), "LEASE_EXPIRED");
        expect(await q.queue.audit(item.id)).toHaveLength(3); // failed calls append nothing
        // Claiming again starts a fresh lease.
        await q.queue.claimItem(item.id, "r1");
        expect((await q.queue.action(item.id, "r1", { decision: "block", reasonCodes: ["x"] })).decision).toBe("block");
      });

      it("detects an expired lease on read and in lists", async () => {
        const q = await setup();
        const { item } = await q.queue.enqueue(report());
        const other = (await q.queue.enqueue(report())).item;
        await q.queue.claim("r1", { limit: 2 });
        q.tick(leaseMs + 5);
        expect(await q.queue.get(item.id)).toMatchObject({ status: "queued", updatedAt: T0 + leaseMs + 5 });
        expect(await q.queue.list({ status: "claimed" })).toEqual([]);
        expect((await q.queue.list({ status: "queued" })).map((i) => i.id).sort()).toEqual([item.id, other.id].sort());
        for (const id of [item.id, other.id]) {
          expect((await q.queue.audit(id)).filter((e) => e.action === "expire")).toHaveLength(1);
        }
      });

      it("sweeps expired leases back into the queue, in their priority order", async () => {
        const q = await setup();
        const ids: string[] = [];
        for (const severity of [0.9, 0.6, 0.3, 0.1]) ids.push((await q.queue.enqueue(report({ severity }))).item.id);
        expect((await q.queue.claim("r1", { limit: 2 })).map((i) => i.id)).toEqual(ids.slice(0, 2));
        expect((await q.queue.list({ status: "claimed" })).map((i) => i.id)).toEqual(ids.slice(0, 2));
        q.tick(leaseMs - 1);
        expect(await q.queue.sweep()).toBe(0);
        q.tick(1);
        expect(await q.queue.sweep()).toBe(2);
        expect(await q.queue.sweep()).toBe(0);
        expect((await q.queue.list({ status: "queued" })).map((i) => i.id)).toEqual(ids);
        expect((await q.queue.claim("r2", { limit: 4 })).map((i) => i.id)).toEqual(ids);
      });

      it("renews a live lease, so the claimant keeps the item past the first lease", async () => {
        const q = await setup();
        const { item } = await q.queue.enqueue(report());
        await q.queue.claim("r1");
        q.tick(leaseMs - 1);
        const renewed = await q.queue.renew(item.id, "r1");
        expect(renewed.claim).toEqual({ reviewer: "r1", claimedAt: T0, expiresAt: T0 + 2 * leaseMs - 1 });
        q.tick(leaseMs - 1);
        expect(await q.queue.claim("r2")).toEqual([]);
        await failsWith(q.queue.renew(item.id, "r2"), "NOT_CLAIMANT");
        await q.queue.action(item.id, "r1", { decision: "allow", reasonCodes: ["no_violation"] });
        expect(steps(await q.queue.audit(item.id))).toEqual([
          "enqueue:system:null->queued",
          "claim:r1:queued->claimed",
          "renew:r1:claimed->claimed",
          "action:r1:claimed->actioned",
        ]);
      });

      it("releases an item back to the queue for someone else", async () => {
        const q = await setup();
        const { item } = await q.queue.enqueue(report());
        await q.queue.claim("r1");
        await failsWith(q.queue.release(item.id, "r2"), "NOT_CLAIMANT");
        const released = await q.queue.release(item.id, "r1", { note: "conflict of interest" });
        expect(released.status).toBe("queued");
        expect(released.claim).toBeUndefined();
        expect((await q.queue.claim("r2")).map((i) => i.id)).toEqual([item.id]);
        const log = await q.queue.audit(item.id);
        expect(log[2]).toMatchObject({ action: "release", actor: "r1", note: "conflict of interest", to: "queued" });
      });

      it("lets only the live claimant decide", async () => {
        const q = await setup();
        const { item } = await q.queue.enqueue(report());
        const decide = (reviewer: string) =>
          q.queue.action(item.id, reviewer, { decision: "block", reasonCodes: ["x"] });
        await failsWith(decide("r1"), "NOT_CLAIMANT");
        await q.queue.claimItem(item.id, "r1");
        await failsWith(decide("r2"), "NOT_CLAIMANT");
        await failsWith(q.queue.claimItem(item.id, "r2"), "ALREADY_CLAIMED");
        await failsWith(q.queue.action("no-such-item", "r1", { decision: "block", reasonCodes: ["x"] }), "NOT_FOUND");
        const done = await decide("r1");
        expect(done).toMatchObject({
          status: "actioned",
          decision: "block",
          action: { reviewer: "r1", decision: "block", reasonCodes: ["x"], at: T0 },
        });
        expect(done.claim).toBeUndefined();
        await failsWith(decide("r1"), "INVALID_TRANSITION");
        await failsWith(q.queue.claimItem(item.id, "r2"), "INVALID_TRANSITION");
        await failsWith(q.queue.renew(item.id, "r1"), "INVALID_TRANSITION");
        expect(await q.queue.claim("r2")).toEqual([]);
      });
    });

    describe("appeals", () => {
      it("upholds an appeal decided by a second reviewer, never by the first", async () => {
        const q = await setup();
        const item = await actioned(q, "r1", "block");
        q.tick();
        const appealed = await q.queue.appeal(item.id, { by: "uploader-1", statement: "It is a news report." });
        expect(appealed).toMatchObject({
          status: "appealed",
          stage: "appeal",
          decision: "block",
          appeal: { by: "uploader-1", statement: "It is a news report.", at: T0 + 1 },
        });
        expect(await q.queue.claim("r1")).toEqual([]); // the actioner's own appeal is skipped
        await failsWith(q.queue.claimItem(item.id, "r1"), "SAME_REVIEWER");
        const [claimed] = await q.queue.claim("r2");
        expect(claimed?.id).toBe(item.id);
        await failsWith(
          q.queue.resolveAppeal(item.id, "r1", { outcome: "overturned", decision: "allow", reasonCodes: ["x"] }),
          "SAME_REVIEWER",
        );
        await failsWith(q.queue.action(item.id, "r2", { decision: "allow", reasonCodes: ["x"] }), "INVALID_TRANSITION");
        q.tick();
        const upheld = await q.queue.resolveAppeal(item.id, "r2", {
          outcome: "upheld",
          reasonCodes: ["policy:violence"],
          note: "graphic, no news context",
        });
        expect(upheld).toMatchObject({
          status: "upheld",
          decision: "block",
          appeal: {
            resolution: {
              reviewer: "r2",
              outcome: "upheld",
              decision: "block",
              reasonCodes: ["policy:violence"],
              note: "graphic, no news context",
              at: T0 + 2,
            },
          },
        });
        expect(upheld.claim).toBeUndefined();
        await failsWith(q.queue.appeal(item.id, { by: "uploader-1", statement: "again" }), "INVALID_TRANSITION");
        await failsWith(
          q.queue.resolveAppeal(item.id, "r2", { outcome: "upheld", reasonCodes: ["x"] }),
          "INVALID_TRANSITION",
        );
        expect(await q.queue.claim("r3")).toEqual([]);
      });

      it("overturns an appeal with a new decision", async () => {
        const q = await setup();
        const item = await actioned(q, "r1", "block");
        await q.queue.appeal(item.id, { by: "uploader-1", statement: "Satire." });
        await q.queue.claimItem(item.id, "r2");
        const resolve = (input: Parameters<typeof q.queue.resolveAppeal>[2]) =>
          q.queue.resolveAppeal(item.id, "r2", input);
        await failsWith(resolve({ outcome: "overturned", reasonCodes: ["x"] }), "INVALID_INPUT");
        await failsWith(resolve({ outcome: "overturned", decision: "block", reasonCodes: ["x"] }), "INVALID_INPUT");
        await failsWith(resolve({ outcome: "upheld", decision: "allow", reasonCodes: ["x"] }), "INVALID_INPUT");
        const overturned = await resolve({ outcome: "overturned", decision: "limit", reasonCodes: ["satire"] });
        expect(overturned).toMatchObject({
          status: "overturned",
          decision: "limit",
          action: { decision: "block", reviewer: "r1" },
          appeal: { resolution: { outcome: "overturned", decision: "limit", reviewer: "r2" } },
        });
        const log = await q.queue.audit(item.id);
        expect(log.at(-1)).toMatchObject({
          action: "resolve",
          actor: "r2",
          from: "claimed",
          to: "overturned",
          decision: "limit",
          reasons: ["satire"],
        });
      });

      it("accepts appeals only of actioned items", async () => {
        const q = await setup();
        const { item } = await q.queue.enqueue(report());
        const appeal = () => q.queue.appeal(item.id, { by: "u", statement: "please" });
        await failsWith(appeal(), "INVALID_TRANSITION");
        await q.queue.claim("r1");
        await failsWith(appeal(), "INVALID_TRANSITION");
        await failsWith(
          q.queue.resolveAppeal(item.id, "r2", { outcome: "upheld", reasonCodes: ["x"] }),
          "INVALID_TRANSITION",
        );
        await failsWith(q.queue.appeal("no-such-item", { by: "u", statement: "please" }), "NOT_FOUND");
      });

      it("returns an appeal whose lease expired to the appeals, still barred to the actioner", async () => {
        const q = await setup();
        const item = await actioned(q, "r1");
        await q.queue.appeal(item.id, { by: "u", statement: "please" });
        await q.queue.claim("r2");
        q.tick(leaseMs);
        expect(await q.queue.claim("r1")).toEqual([]);
        expect(await q.queue.get(item.id)).toMatchObject({ status: "appealed", stage: "appeal" });
        await failsWith(
          q.queue.resolveAppeal(item.id, "r2", { outcome: "upheld", reasonCodes: ["x"] }),
          "LEASE_EXPIRED",
        );
        expect((await q.queue.claim("r3")).map((i) => i.id)).toEqual([item.id]);
        const log = await q.queue.audit(item.id);
        expect(steps(log).slice(-3)).toEqual([
          "claim:r2:appealed->claimed",
          "expire:system:claimed->appealed",
          "claim:r3:appealed->claimed",
        ]);
      });

      it("skips the actioner's own appeal without holding back the rest of the queue", async () => {
        const q = await setup();
        const { item: top } = await q.queue.enqueue(report({ severity: 1 }));
        await q.queue.claimItem(top.id, "r1");
        await q.queue.action(top.id, "r1", { decision: "block", reasonCodes: ["x"] });
        await q.queue.appeal(top.id, { by: "u", statement: "please" });
        const lower = (await q.queue.enqueue(report({ severity: 0.1 }))).item;
        expect((await q.queue.claim("r1", { limit: 5 })).map((i) => i.id)).toEqual([lower.id]);
        expect((await q.queue.claim("r2", { limit: 5 })).map((i) => i.id)).toEqual([top.id]);
      });
    });

    describe("audit log", () => {
      it("records every transition in order with actor, time and reasons", async () => {
        const q = await setup();
        const subject = video();
        const { item } = await q.queue.enqueue({ subject, reasons: ["spam"], severity: 0.5, by: "reporter-1" });
        q.tick();
        await q.queue.enqueue({ subject, reasons: ["scam"], severity: 0.6, by: "reporter-2" });
        q.tick();
        await q.queue.claim("r1");
        q.tick();
        await q.queue.release(item.id, "r1");
        q.tick();
        await q.queue.claim("r2");
        q.tick(leaseMs);
        await q.queue.claim("r1"); // detects r2's expired lease
        q.tick();
        await q.queue.renew(item.id, "r1");
        q.tick();
        await q.queue.action(item.id, "r1", { decision: "hold", reasonCodes: ["needs_context"], note: "n1" });
        q.tick();
        await q.queue.appeal(item.id, { by: "uploader", statement: "context attached" });
        q.tick();
        await q.queue.claim("r3");
        q.tick();
        await q.queue.resolveAppeal(item.id, "r3", { outcome: "overturned", decision: "allow", reasonCodes: ["ok"] });

        const log = await q.queue.audit(item.id);
        expect(steps(log)).toEqual([
          "enqueue:reporter-1:null->queued",
          "enqueue:reporter-2:queued->queued",
          "claim:r1:queued->claimed",
          "release:r1:claimed->queued",
          "claim:r2:queued->claimed",
          "expire:system:claimed->queued",
          "claim:r1:queued->claimed",
          "renew:r1:claimed->claimed",
          "action:r1:claimed->actioned",
          "appeal:uploader:actioned->appealed",
          "claim:r3:appealed->claimed",
          "resolve:r3:claimed->overturned",
        ]);
        const t = T0;
        expect(log.map((e) => e.at)).toEqual([
          t,
          t + 1,
          t + 2,
          t + 3,
          t + 4,
          t + 4 + leaseMs,
          t + 4 + leaseMs,
          t + 5 + leaseMs,
          t + 6 + leaseMs,
          t + 7 + leaseMs,
          t + 8 + leaseMs,
          t + 9 + leaseMs,
        ]);
        expect(log.map((e) => e.seq)).toEqual(log.map((_, i) => i + 1));
        // A chain: each transition starts where the one before ended.
        log.slice(1).forEach((entry, i) => {
          expect(entry.from).toBe(log[i]?.to);
        });
        expect(log[8]).toMatchObject({ decision: "hold", reasons: ["needs_context"], note: "n1" });
        expect(log[9]).toMatchObject({ note: "context attached" });
        expect(log[11]).toMatchObject({ decision: "allow", reasons: ["ok"] });
        const final = (await q.queue.get(item.id)) as ReviewItem;
        expect(final.status).toBe(log.at(-1)?.to);
        expect(final.version).toBe(log.length);
      });

      it("fails with NOT_FOUND for an unknown item; get resolves undefined", async () => {
        const { queue } = await setup();
        await failsWith(queue.audit("missing"), "NOT_FOUND");
        expect(await queue.get("missing")).toBeUndefined();
      });
    });

    describe("lists", () => {
      it("lists by status and by subject in queue order", async () => {
        const q = await setup();
        const subject = video();
        const a = (await q.queue.enqueue({ subject, reasons: ["spam"], severity: 0.2 })).item;
        const b = (await q.queue.enqueue(report({ severity: 0.9 }))).item;
        const c = (await q.queue.enqueue(report({ severity: 0.5 }))).item;
        expect((await q.queue.list()).map((i) => i.id)).toEqual([b.id, c.id, a.id]);
        expect((await q.queue.list({ limit: 2 })).map((i) => i.id)).toEqual([b.id, c.id]);
        await q.queue.claimItem(a.id, "r1");
        await q.queue.action(a.id, "r1", { decision: "limit", reasonCodes: ["borderline"] });
        const a2 = (await q.queue.enqueue({ subject, reasons: ["spam"], severity: 1 })).item;
        expect((await q.queue.list({ status: "queued" })).map((i) => i.id)).toEqual([a2.id, b.id, c.id]);
        expect((await q.queue.list({ status: "actioned" })).map((i) => i.id)).toEqual([a.id]);
        expect((await q.queue.list({ subject })).map((i) => i.id)).toEqual([a2.id, a.id]);
        expect((await q.queue.list({ subject, status: "actioned" })).map((i) => i.id)).toEqual([a.id]);
        expect(await q.queue.list({ status: "upheld" })).toEqual([]);
        expect(await q.queue.list({ subject: video() })).toEqual([]);
      });
    });

    describe("validation", () => {
      it("rejects invalid input with INVALID_INPUT and records nothing", async () => {
        const q = await setup();
        const bad: Array<[string, () => Promise<unknown>]> = [
          ["severity above 1", () => q.queue.enqueue(report({ severity: 1.5 }))],
          ["unknown severity", () => q.queue.enqueue(report({ severity: "extreme" as never }))],
          ["no reasons", () => q.queue.enqueue(report({ reasons: [] }))],
          ["reason with a space", () => q.queue.enqueue(report({ reasons: ["bad reason"] }))],
          ["uppercase kind", () => q.queue.enqueue(report({ subject: { kind: "Video", id: "v" } }))],
          ["empty subject id", () => q.queue.enqueue(report({ subject: { kind: "video", id: "" } }))],
          ["negative views", () => q.queue.enqueue(report({ reach: { views: -1 } }))],
          ["unknown field", () => q.queue.enqueue({ ...report(), extra: 1 } as never)],
          ["NaN priority", () => q.queue.enqueue(report({ priority: Number.NaN }))],
          ["system reviewer", () => q.queue.claim("system")],
          ["empty reviewer", () => q.queue.claim("")],
          ["padded reviewer", () => q.queue.claim(" r1")],
          ["limit 0", () => q.queue.claim("r1", { limit: 0 })],
          ["limit 101", () => q.queue.claim("r1", { limit: 101 })],
          ["list status", () => q.queue.list({ status: "deleted" as never })],
          ["list limit", () => q.queue.list({ limit: 0 })],
        ];
        for (const [label, call] of bad) {
          await expect(call(), label).rejects.toMatchObject({ code: ModerationErrorCode.INVALID_INPUT });
        }
        expect(await q.queue.list()).toEqual([]);
      });

      it("rejects an invalid decision, appeal or resolution without changing the item", async () => {
        const q = await setup();
        const { item } = await q.queue.enqueue(report());
        await q.queue.claim("r1");
        const before = await q.queue.audit(item.id);
        const invalid: Array<() => Promise<unknown>> = [
          () => q.queue.action(item.id, "r1", { decision: "delete" as never, reasonCodes: ["x"] }),
          () => q.queue.action(item.id, "r1", { decision: "block", reasonCodes: [] }),
          () => q.queue.action(item.id, "r1", { decision: "block", reasonCodes: ["x"], note: "" }),
          () => q.queue.action("", "r1", { decision: "block", reasonCodes: ["x"] }),
          () => q.queue.appeal(item.id, { by: "u", statement: "" }),
          () => q.queue.resolveAppeal(item.id, "r2", { outcome: "maybe" as never, reasonCodes: ["x"] }),
          () => q.queue.release(item.id, "r1", { bogus: true } as never),
        ];
        for (const call of invalid) await failsWith(call(), "INVALID_INPUT");
        expect(await q.queue.audit(item.id)).toEqual(before);
        expect((await q.queue.get(item.id))?.status).toBe("claimed");
      });
    });
  });
}
