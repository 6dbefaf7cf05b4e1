import { randomUUID } from "node:crypto";
import { Cluster, Redis } from "ioredis";
import { afterAll, describe, expect, it } from "vitest";
import { clusterNodes, serviceEnv } from "../../../../test/services.js";
import { createRedisReviewStore } from "../adapters/redis.js";
import { ModerationErrorCode } from "../errors.js";
import { createReviewQueue } from "../queue/review-queue.js";
import { failsWith, report, reviewQueueContract, T0 } from "./review-queue.contract.js";

const redis = new Redis(serviceEnv("REDIS_URL"));
const cluster = new Cluster(clusterNodes());
const extra: Array<Redis | Cluster> = [];
afterAll(() => {
  for (const client of [redis, cluster, ...extra]) client.disconnect();
});

// A fresh prefix per store keeps tests apart on the shared servers.
const prefix = () => `test:${randomUUID()}:`;
reviewQueueContract("redis", () => createRedisReviewStore({ client: redis, keyPrefix: prefix() }));
reviewQueueContract("redis cluster", () => createRedisReviewStore({ client: cluster, keyPrefix: prefix() }));

describe("createRedisReviewStore", () => {
  it.each([
    ["a single server", () => new Redis(serviceEnv("REDIS_URL"))],
    ["a cluster", () => new Cluster(clusterNodes())],
  ])("never gives one item to two reviewers claiming from two processes (%s)", async (_label, connect) => {
    const keyPrefix = prefix();
    const [a, b] = [connect(), connect()];
    extra.push(a, b);
    const now = () => T0;
    const queues = [a, b].map((client) =>
      createReviewQueue({ store: createRedisReviewStore({ client, keyPrefix }), now }),
    );
    const [first, second] = queues as [(typeof queues)[0], (typeof queues)[0]];
    const ids = new Set<string>();
    // Reports arrive through both processes, some for the same subjects.
    const subjects = Array.from({ length: 40 }, (_, k) => ({ kind: "video", id: `v${k}` }));
    const results = await Promise.all(
      subjects.flatMap((subject, k) => [
        first.enqueue(report({ subject, severity: (k % 7) / 6 })),
        second.enqueue(report({ subject, reasons: ["scam"], severity: (k % 5) / 4 })),
      ]),
    );
    for (const { item } of results) ids.add(item.id);
    expect(ids.size).toBe(40);
    expect(results.filter((r) => r.created)).toHaveLength(40);

    const reviewers = Array.from({ length: 12 }, (_, k) => `reviewer-${k}`);
    const batches = await Promise.all(
      reviewers.map((reviewer, k) => (k % 2 === 0 ? first : second).claim(reviewer, { limit: 5 })),
    );
    const claimed = batches.flat().map((item) => item.id);
    expect(claimed).toHaveLength(40);
    expect(new Set(claimed)).toEqual(ids);
    batches.forEach((batch, k) => {
      for (const item of batch) expect(item.claim?.reviewer).toBe(reviewers[k]);
    });
    expect(await second.claim("late")).toEqual([]);

    // Chosen-item claims race across the processes too: exactly one wins each item.
    const [target] = claimed;
    const holder = (await first.get(target ?? ""))?.claim?.reviewer ?? "";
    await first.release(target ?? "", holder);
    const race = await Promise.allSettled([first.claimItem(target ?? "", "x1"), second.claimItem(target ?? "", "x2")]);
    expect(race.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    expect(race.find((r) => r.status === "rejected")).toMatchObject({ reason: { code: "ALREADY_CLAIMED" } });
  });

  it("keeps every key of a queue in one cluster slot, and separate queues apart", async () => {
    const keyPrefix = prefix();
    const queue = createReviewQueue({ store: createRedisReviewStore({ client: redis, keyPrefix }), now: () => T0 });
    const { item } = await queue.enqueue(report());
    await queue.claim("r1");
    await queue.action(item.id, "r1", { decision: "block", reasonCodes: ["x"] });
    await queue.appeal(item.id, { by: "u", statement: "please" });
    const keys = await redis.keys(`${keyPrefix}*`);
    // item, audit, ready (the appeal), all, status:appealed, subject
    expect(keys.length).toBe(6);
    const slots = new Set(await Promise.all(keys.map((key) => cluster.cluster("KEYSLOT", key))));
    expect(slots.size).toBe(1);
    expect(keys.every((key) => key.startsWith(`${keyPrefix}{review}:`))).toBe(true);

    const other = createRedisReviewStore({ client: redis, keyPrefix, queue: "appeals-de" });
    expect(await createReviewQueue({ store: other }).list()).toEqual([]);
  });

  it("shares one queue between processes: a decision made in one is seen in the other", async () => {
    const keyPrefix = prefix();
    const client = new Redis(serviceEnv("REDIS_URL"));
    extra.push(client);
    const clock = { now: T0 };
    const a = createReviewQueue({ store: createRedisReviewStore({ client: redis, keyPrefix }), now: () => clock.now });
    const b = createReviewQueue({ store: createRedisReviewStore({ client, keyPrefix }), now: () => clock.now });
    const { item } = await a.enqueue(report());
    await b.claim("r1");
    clock.now += 60 * 60_000;
    await failsWith(b.action(item.id, "r1", { decision: "block", reasonCodes: ["x"] }), "LEASE_EXPIRED");
    const [taken] = await a.claim("r2");
    expect(taken?.id).toBe(item.id);
    await a.action(item.id, "r2", { decision: "limit", reasonCodes: ["borderline"] });
    expect(await b.get(item.id)).toMatchObject({ status: "actioned", decision: "limit" });
    expect((await b.audit(item.id)).map((e) => e.action)).toEqual(["enqueue", "claim", "expire", "claim", "action"]);
  });

  it("rejects bad options with INVALID_OPTIONS", () => {
    const prefixed = new Redis(serviceEnv("REDIS_URL"), { keyPrefix: "app:", lazyConnect: true });
    for (const options of [
      { client: {} as Redis },
      { client: redis, keyPrefix: "a{b}:" },
      { client: redis, queue: "" },
      { client: redis, queue: "q}" },
      { client: redis, bogus: 1 } as never,
      { client: prefixed },
    ]) {
      expect(() => createRedisReviewStore(options)).toThrow(
        expect.objectContaining({ code: ModerationErrorCode.INVALID_OPTIONS }),
      );
    }
    prefixed.disconnect();
  });

  it("reports a dead connection as BACKEND_FAILED with the cause attached", async () => {
    const dead = new Redis({ port: 1, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    dead.on("error", () => {});
    const queue = createReviewQueue({ store: createRedisReviewStore({ client: dead }) });
    const error = await queue.enqueue(report()).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: ModerationErrorCode.BACKEND_FAILED });
    expect((error as Error).cause).toBeInstanceOf(Error);
    await expect(queue.claim("r1")).rejects.toMatchObject({ code: ModerationErrorCode.BACKEND_FAILED });
    dead.disconnect();
  });
});
