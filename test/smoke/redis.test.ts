import { randomUUID } from "node:crypto";
import { Cluster, Redis } from "ioredis";
import { describe, expect, it } from "vitest";
import { clusterNodes, serviceEnv } from "../services.js";

describe("Redis from Node (ioredis)", () => {
  it("round-trips a value on the single server", async () => {
    const redis = new Redis(serviceEnv("REDIS_URL"));
    try {
      const key = `smoke:${randomUUID()}`;
      await redis.set(key, "hello", "EX", 60);
      expect(await redis.get(key)).toBe("hello");
      expect(await redis.incrby(`${key}:n`, 5)).toBe(5);
      await redis.del(key, `${key}:n`);
    } finally {
      redis.disconnect();
    }
  });

  it("spreads keys over the three masters of the cluster", async () => {
    const cluster = new Cluster(clusterNodes());
    try {
      await cluster.set(`smoke:warm:${randomUUID()}`, "x", "EX", 60);
      const masters = cluster.nodes("master");
      expect(masters).toHaveLength(3);
      const prefix = `smoke:${randomUUID()}:`;
      const keys = Array.from({ length: 30 }, (_, i) => `${prefix}${i}`);
      await Promise.all(keys.map((k) => cluster.set(k, k, "EX", 60)));
      // Ask each master directly which of the keys it stores.
      const perMaster = await Promise.all(masters.map(async (node) => (await node.keys(`${prefix}*`)).length));
      // Every master holds some of the keys, and together they hold all of them exactly once.
      expect(perMaster.every((n) => n > 0)).toBe(true);
      expect(perMaster.reduce((a, b) => a + b, 0)).toBe(keys.length);
    } finally {
      cluster.disconnect();
    }
  });
});
