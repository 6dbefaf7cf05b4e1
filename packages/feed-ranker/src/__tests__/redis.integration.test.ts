import { randomUUID } from "node:crypto";
import { Cluster, Redis } from "ioredis";
import { afterAll, describe, expect, it } from "vitest";
import { clusterNodes, serviceEnv } from "../../../../test/services.js";
import { createRedisSignals, createRedisState } from "../adapters/redis.js";
import { Catalog } from "../catalog.js";
import { FeedRankerErrorCode } from "../errors.js";
import { createFeedRanker } from "../feed.js";
import { backgroundTraffic, Simulator } from "../simulator.js";
import { portsContract } from "./ports.contract.js";
import { favouriteShare, SECRET } from "./world.js";

const redis = new Redis(serviceEnv("REDIS_URL"));
const cluster = new Cluster(clusterNodes());
afterAll(() => {
  redis.disconnect();
  cluster.disconnect();
});

// A fresh prefix per port keeps tests apart on the shared servers (trending is global per prefix).
const prefix = () => `test:${randomUUID()}:`;
portsContract(
  "redis",
  (options) => createRedisSignals({ client: redis, keyPrefix: prefix(), ...options }),
  () => createRedisState({ client: redis, keyPrefix: prefix() }),
);
portsContract(
  "redis cluster",
  (options) => createRedisSignals({ client: cluster, keyPrefix: prefix(), ...options }),
  () => createRedisState({ client: cluster, keyPrefix: prefix() }),
);

describe("redis adapters", () => {
  it("serve a personalised feed end to end, with a session's pages never repeating", async () => {
    const sim = new Simulator({ users: 20, videos: 600, creators: 40 });
    const catalog = new Catalog();
    catalog.upsert(sim.videos.map(({ topic: _t, quality: _q, ...v }) => v));
    const keyPrefix = prefix();
    const ranker = createFeedRanker({
      catalog,
      secret: SECRET,
      now: () => sim.start,
      signals: createRedisSignals({ client: cluster, keyPrefix }),
      state: createRedisState({ client: cluster, keyPrefix }),
    });
    await ranker.engage(backgroundTraffic(sim, 15, sim.start - 3_600_000));
    const userId = sim.users[0]?.userId as string;
    const first = await ranker.feed({ userId, limit: 20 });
    const second = await ranker.feed({ userId, limit: 20, cursor: first.cursor });
    const ids = [...first.items, ...second.items].map((i) => i.videoId);
    expect(new Set(ids).size).toBe(40);
    expect(favouriteShare(sim, userId, ids)).toBeGreaterThan(0.4);
  });

  it("rejects a client that is not an ioredis client", () => {
    expect(() => createRedisState({ client: {} as Redis })).toThrow(
      expect.objectContaining({ code: FeedRankerErrorCode.INVALID_OPTIONS }),
    );
  });

  it("reports a dead connection as BACKEND_FAILED with the cause attached", async () => {
    const dead = new Redis({ port: 1, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    dead.on("error", () => {});
    const error = await createRedisSignals({ client: dead })
      .trending(5, Date.now())
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ code: FeedRankerErrorCode.BACKEND_FAILED });
    expect((error as Error).cause).toBeInstanceOf(Error);
    dead.disconnect();
  });
});
