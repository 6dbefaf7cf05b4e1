import { randomUUID } from "node:crypto";
import { Cluster, Redis } from "ioredis";
import { afterAll, describe, expect, it } from "vitest";
import { clusterNodes, serviceEnv } from "../../../../test/services.js";
import { createRedisStore } from "../adapters/redis-store.js";
import { createEngagement } from "../engagement.js";
import { EngagementErrorCode } from "../errors.js";
import { engagementContract, eventFactory, T0 } from "./engagement.contract.js";

const redis = new Redis(serviceEnv("REDIS_URL"));
const cluster = new Cluster(clusterNodes());
afterAll(() => {
  redis.disconnect();
  cluster.disconnect();
});

// A fresh prefix per store keeps tests apart on the shared servers (trending is global per prefix).
const prefix = () => `test:${randomUUID()}:`;
engagementContract("redis", () => createRedisStore({ client: redis, keyPrefix: prefix() }));
engagementContract("redis cluster", () => createRedisStore({ client: cluster, keyPrefix: prefix() }));

describe("createRedisStore", () => {
  it("rejects a client that is not an ioredis client", () => {
    expect(() => createRedisStore({ client: {} as Redis })).toThrow(
      expect.objectContaining({ code: EngagementErrorCode.INVALID_OPTIONS }),
    );
  });

  it.each([
    ["redis", () => redis],
    ["cluster", () => cluster],
  ])("renews a session's cell pin with every event (%s)", async (_label, client) => {
    const keyPrefix = prefix();
    const engagement = await createEngagement({
      store: createRedisStore({ client: client(), keyPrefix }),
      now: () => T0,
    });
    const e = eventFactory("pinned");
    await engagement.record([e("view", { sessionId: "long" })]);
    const pin = `${keyPrefix}dir:pinned:s:long`;
    await client().expire(pin, 5);
    await engagement.record([e("watch", { sessionId: "long", watchMs: 500 })]);
    expect(await client().ttl(pin)).toBeGreaterThan(7 * 86_400);
  });

  it("rejects a client with an ioredis keyPrefix (its scripts name keys themselves)", () => {
    const prefixed = new Redis(serviceEnv("REDIS_URL"), { keyPrefix: "app:", lazyConnect: true });
    expect(() => createRedisStore({ client: prefixed })).toThrow(
      expect.objectContaining({ code: EngagementErrorCode.INVALID_OPTIONS }),
    );
    prefixed.disconnect();
  });

  it("reports a dead connection as BACKEND_FAILED with the cause attached", async () => {
    const dead = new Redis({ port: 1, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    dead.on("error", () => {});
    const engagement = await createEngagement({ store: createRedisStore({ client: dead }) });
    const error = await engagement.counts(["v"]).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: EngagementErrorCode.BACKEND_FAILED });
    expect((error as Error).cause).toBeInstanceOf(Error);
    dead.disconnect();
  });

  it("shares state between two processes' stores (two clients, one prefix)", async () => {
    const keyPrefix = prefix();
    const other = new Redis(serviceEnv("REDIS_URL"));
    try {
      const a = await createEngagement({ store: createRedisStore({ client: redis, keyPrefix }), now: () => T0 });
      const b = await createEngagement({ store: createRedisStore({ client: other, keyPrefix }), now: () => T0 });
      const like = eventFactory("v")("like", { userId: "u1" });
      await a.record([like]);
      expect(await b.record([like])).toMatchObject({ duplicates: 1 });
      expect((await b.counts(["v"])).v?.likes).toBe(1);
      expect(await b.hasLiked("u1", ["v"])).toEqual({ v: true });
    } finally {
      other.disconnect();
    }
  });

  it("fans a hot video's writes out over more shards on different cluster nodes, and stays exact", async () => {
    const keyPrefix = prefix();
    const store = createRedisStore({ client: cluster, keyPrefix, hotEventsPerSecond: 200, maxShards: 16 });
    const engagement = await createEngagement({ store, now: () => T0 + 60_000 });
    const e = eventFactory("hot");
    let sent = 0;
    for (let batch = 0; batch < 10; batch++) {
      const events = Array.from({ length: 500 }, (_, i) =>
        e("complete", { sessionId: `s${batch}-${i}`, userId: `u${(batch * 500 + i) % 3000}` }),
      );
      sent += events.length;
      await engagement.record(events);
    }
    const shards = Number(await cluster.get(`${keyPrefix}shards:hot`));
    expect(shards).toBeGreaterThanOrEqual(8);
    // Each shard's counter hash sits on some master; the hot video's writes reached every master.
    const masters = new Set<string>();
    for (let k = 0; k < shards; k++) {
      const key = `${keyPrefix}{hot#${k}}:c`;
      if ((await cluster.exists(key)) === 1) {
        const slot = Number(await cluster.cluster("KEYSLOT", key));
        const owner = (cluster.slots[slot] ?? [])[0];
        if (owner !== undefined) masters.add(owner);
      }
    }
    expect(masters.size).toBe(3);
    const counts = (await engagement.counts(["hot"])).hot;
    expect(counts).toMatchObject({ views: sent, completions: sent });
    // 3000 distinct users: the merged HyperLogLog of every shard is within its error.
    expect(Math.abs((counts?.uniqueViewers ?? 0) - 3000) / 3000).toBeLessThan(0.03);
  });
});
