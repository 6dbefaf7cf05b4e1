// record() throughput with the Redis store, next to Redis's own ceiling on the same server.
//
//   node scripts/services.mjs up redis redis-cluster && npm run bench -- engagement
//
// 1. Mixed traffic (impressions, watch progress, completes, likes/unlikes, shares, 10 % retried
//    duplicates) over 2,000 videos, batches of 500, against `redis-benchmark -t incr -P 16`.
// 2. A hot video (90 % of events) on the 3-master cluster, automatic sharding on vs off.
import { execFileSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { Cluster, Redis } from "ioredis";
import { serviceEnv } from "../../../test/services.js";
import { createRedisStore } from "../src/adapters/redis-store.js";
import { createEngagement, type EngagementEvent } from "../src/index.js";
import { batches, mixedTraffic, seededRandom } from "./traffic.js";

const random = seededRandom(7);
const traffic = (count: number, videoFor: () => string) => batches(mixedTraffic(count, random, videoFor), 500);

async function eventsPerSecond(client: Redis | Cluster, batches: EngagementEvent[][], options = {}): Promise<number> {
  const store = createRedisStore({ client, keyPrefix: `bench:${randomUUID()}:`, ...options });
  const engagement = await createEngagement({ store });
  await engagement.record(batches[0] ?? []); // load the script, warm the connection
  const started = performance.now();
  let events = 0;
  // Four batches in flight, as four request handlers of one server would have.
  const queue = batches.slice(1);
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      for (let batch = queue.shift(); batch !== undefined; batch = queue.shift()) {
        await engagement.record(batch);
        events += batch.length;
      }
    }),
  );
  return events / ((performance.now() - started) / 1000);
}

function redisBenchmark(url: string): number {
  const { hostname, port } = new URL(url);
  const out = execFileSync(
    "redis-benchmark",
    ["-h", hostname, "-p", port || "6379", "-t", "incr", "-P", "16", "-n", "1000000", "-q"],
    { encoding: "utf8" },
  );
  const match = /INCR: ([\d.]+) requests per second/.exec(out);
  if (!match) throw new Error(`unexpected redis-benchmark output: ${out}`);
  return Number(match[1]);
}

const redis = new Redis(serviceEnv("REDIS_URL"));
const nodes = serviceEnv("REDIS_CLUSTER_NODES")
  .split(",")
  .map((hp) => ({ host: hp.split(":")[0] ?? "", port: Number(hp.split(":")[1]) }));
const cluster = new Cluster(nodes);
try {
  const mixed = traffic(100_000, () => `v${Math.floor(random() * 2000)}`);
  const ours = await eventsPerSecond(redis, mixed);
  const ceiling = redisBenchmark(serviceEnv("REDIS_URL"));

  const hot = traffic(60_000, () => (random() < 0.9 ? "hot" : `v${Math.floor(random() * 2000)}`));
  const sharded = await eventsPerSecond(cluster, hot, { hotEventsPerSecond: 2000 });
  const single = await eventsPerSecond(cluster, hot, { maxShards: 1 });

  console.log(
    JSON.stringify({
      results: [
        {
          name: "record, Redis, mixed batches of 500",
          unit: "per s",
          ours,
          peer: "redis-benchmark INCR -P 16",
          peerValue: ceiling,
        },
        {
          name: "record, cluster, 90% one video",
          unit: "per s",
          ours: sharded,
          peer: "same, sharding off",
          peerValue: single,
        },
      ],
    }),
  );
} finally {
  redis.disconnect();
  cluster.disconnect();
}
