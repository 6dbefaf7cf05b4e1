import type { Cluster, Redis } from "ioredis";
import { z } from "zod";
import type { CounterIncrement, CounterStore, CounterTotals } from "../counters.js";
import { EngagementError, EngagementErrorCode } from "../errors.js";
import { parseWith, validateIncrements, validateKeys } from "../validate.js";

export interface RedisCounterStoreOptions {
  /** An ioredis `Redis` or `Cluster` client, created and owned by the caller. */
  client: Redis | Cluster;
  /**
   * Prefix for every key this store writes, so several deployments can share one Redis.
   * @default "reelkit:engagement:"
   */
  keyPrefix?: string;
}

const optionsSchema = z.object({
  client: z.custom<Redis | Cluster>(
    (value) => typeof value === "object" && value !== null && typeof (value as Redis).hincrby === "function",
    "client must be an ioredis Redis or Cluster instance",
  ),
  keyPrefix: z.string().default("reelkit:engagement:"),
});

/**
 * Counters in Redis hashes (HINCRBY). Works on a single server and on Redis Cluster: each counter
 * hash is one key, so a batch touching many videos spreads over the cluster's slots.
 */
export function createRedisCounterStore(options: RedisCounterStoreOptions): CounterStore {
  const { client, keyPrefix } = parseWith(optionsSchema, options, EngagementErrorCode.INVALID_OPTIONS, "options");
  const run = async <T>(what: string, work: () => Promise<T>): Promise<T> => {
    try {
      return await work();
    } catch (cause) {
      throw new EngagementError(EngagementErrorCode.BACKEND_FAILED, `[redis] ${what} failed`, { cause });
    }
  };
  return {
    async increment(increments: readonly CounterIncrement[]) {
      validateIncrements(increments);
      if (increments.length === 0) return;
      await run("increment", async () => {
        // One command per increment, all sent in the same tick: ioredis writes them back to back on
        // each node's socket, and unlike a MULTI pipeline this works across Cluster slots.
        await Promise.all(increments.map(({ key, field, by }) => client.hincrby(keyPrefix + key, field, by)));
      });
    },
    async read(keys: readonly string[]) {
      validateKeys(keys);
      if (keys.length === 0) return [];
      return run("read", async () => {
        const hashes = await Promise.all(keys.map((key) => client.hgetall(keyPrefix + key)));
        return hashes.map(
          (hash): CounterTotals => Object.fromEntries(Object.entries(hash).map(([field, v]) => [field, Number(v)])),
        );
      });
    },
  };
}
