import { Cluster, Redis } from "ioredis";
import { afterAll, describe, expect, it } from "vitest";
import { clusterNodes, serviceEnv } from "../../../../test/services.js";
import { createRedisCounterStore } from "../adapters/redis.js";
import { EngagementErrorCode } from "../errors.js";
import { counterStoreContract } from "./counter-store.contract.js";

const redis = new Redis(serviceEnv("REDIS_URL"));
const cluster = new Cluster(clusterNodes());
afterAll(() => {
  redis.disconnect();
  cluster.disconnect();
});

counterStoreContract("redis", () => createRedisCounterStore({ client: redis }));
counterStoreContract("redis cluster", () => createRedisCounterStore({ client: cluster }));

describe("createRedisCounterStore", () => {
  it("rejects a client that is not an ioredis client", () => {
    expect(() => createRedisCounterStore({ client: {} as Redis })).toThrow(
      expect.objectContaining({ code: EngagementErrorCode.INVALID_OPTIONS }),
    );
  });

  it("reports a dead connection as BACKEND_FAILED with the cause attached", async () => {
    const dead = new Redis({ port: 1, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    dead.on("error", () => {});
    const store = createRedisCounterStore({ client: dead });
    const error = await store.read(["x"]).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: EngagementErrorCode.BACKEND_FAILED });
    expect((error as Error).cause).toBeInstanceOf(Error);
    dead.disconnect();
  });

  it("writes under the key prefix", async () => {
    const store = createRedisCounterStore({ client: redis, keyPrefix: "prefix-test:" });
    await store.increment([{ key: "k", field: "views", by: 4 }]);
    expect(await redis.hget("prefix-test:k", "views")).toBe("4");
    await redis.del("prefix-test:k");
  });
});
