// The engines of scaled mode, as every scaled process opens them: one ioredis client, one kafkajs
// client, one cassandra-driver client. The package adapters take these clients injected; names
// (keys, topics, groups, keyspace) all derive from the configured prefixes, so several
// deployments, or test runs, share one set of engines without meeting.
import { Client as CassandraClient } from "cassandra-driver";
import { Redis } from "ioredis";
import { Kafka, logLevel } from "kafkajs";
import type { Config, ProcessRole } from "../config.js";
import type { Log } from "../platform.js";
import { EngineUnavailableError } from "./process.js";

// kafkajs warns once that its default partitioner changed in 2.0; every producer here keys by video id on purpose.
process.env.KAFKAJS_NO_PARTITIONER_WARNING ??= "1";

/** Every name scaled mode gives things in the engines. */
export function namesOf(config: Config) {
  const redis = `${config.REDIS_PREFIX}:`;
  const kafka = config.KAFKA_TOPIC_PREFIX;
  return {
    /** Transcode jobs (@reelkit/transcode/redis), shared by the API and the transcoders. */
    transcodeJobs: `${redis}transcode:`,
    uploadLocks: `${redis}upload:lock:`,
    feed: `${redis}feed:`,
    moderation: `${redis}moderation:`,
    rateLimits: `${redis}ratelimit:`,
    /** Engagement events: the API produces, the aggregators consume. */
    eventsTopic: `${kafka}.engagement.events`,
    /** Video status changes, JSON `{ videoId, ownerId, status, at, reasons? }` keyed by video id. */
    lifecycleTopic: `${kafka}.videos.lifecycle`,
    aggregatorGroup: `${kafka}-engagement-aggregator`,
    keyspace: config.CASSANDRA_KEYSPACE,
  };
}

export interface Engines {
  redis: Redis;
  kafka: Kafka;
  cassandra: CassandraClient;
  close(): Promise<void>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Retries `work` until it succeeds or `timeoutMs` passed (engines may still be starting). */
export async function untilReady<T>(what: string, work: () => Promise<T>, log: Log, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let pause = 250;
  for (let attempt = 1; ; attempt++) {
    try {
      return await work();
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      if (Date.now() + pause > deadline)
        throw new EngineUnavailableError(`${what} did not answer within ${Math.round(timeoutMs / 1000)} s: ${reason}`, {
          cause: error,
        });
      if (attempt === 1 || attempt % 10 === 0) log("waiting for an engine", { engine: what, error: reason });
      await sleep(pause);
      pause = Math.min(pause * 2, 2000);
    }
  }
}

/** Opens the three clients and waits (bounded) until each answers. */
export async function openEngines(config: Config, role: ProcessRole, log: Log, timeoutMs = 60_000): Promise<Engines> {
  const { REDIS_URL: url, KAFKA_BROKERS: brokers, CASSANDRA_CONTACT_POINTS: contactPoints } = config;
  if (url === undefined || brokers === undefined || contactPoints === undefined)
    throw new Error("scaled mode needs REDIS_URL, KAFKA_BROKERS and CASSANDRA_CONTACT_POINTS");
  const redis = new Redis(url, { lazyConnect: true, connectionName: `reelkit-${role}` });
  let redisError = "";
  redis.on("error", (error: Error) => {
    // ioredis reconnects by itself; log each distinct failure once rather than every retry.
    if (error.message !== redisError) log("redis error", { error: error.message });
    redisError = error.message;
  });
  redis.on("ready", () => {
    redisError = "";
  });
  const kafka = new Kafka({
    clientId: `reelkit-${role}`,
    brokers,
    logLevel: logLevel.WARN,
    // kafkajs logs an expected rebalance as an error; its lines go out as our JSON logs, by level.
    logCreator: () => (entry) => {
      const { message, timestamp: _t, logger: _l, ...rest } = entry.log;
      log(`kafka: ${message}`, { level: entry.level === logLevel.ERROR ? "error" : "warn", ...rest });
    },
  });
  const cassandra = new CassandraClient({ contactPoints, localDataCenter: config.CASSANDRA_LOCAL_DATACENTER });
  const close = async () => {
    await cassandra.shutdown().catch(() => {});
    await redis.quit().catch(() => redis.disconnect());
  };
  try {
    await untilReady(
      "redis",
      () =>
        redis.connect().catch(async (error: Error) => {
          redis.disconnect();
          // "Connection is closed" says less than the socket error that closed it.
          throw new Error(redisError || error.message, { cause: error });
        }),
      log,
      timeoutMs,
    );
    await untilReady("cassandra", () => cassandra.connect(), log, timeoutMs);
    await untilReady(
      "kafka",
      async () => {
        const admin = kafka.admin();
        await admin.connect();
        await admin.describeCluster().finally(() => admin.disconnect());
      },
      log,
      timeoutMs,
    );
  } catch (error) {
    await close();
    throw error;
  }
  return { redis, kafka, cassandra, close };
}

/** Creates the topics when missing (3 partitions, keyed by video id), so every consumer group can spread. */
export async function ensureTopics(kafka: Kafka, topics: readonly string[]): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const missing = topics.filter((topic) => !existing.has(topic));
    if (missing.length === 0) return;
    await admin
      .createTopics({ topics: missing.map((topic) => ({ topic, numPartitions: 3 })), waitForLeaders: true })
      .catch((error: unknown) => {
        // Another process created it between our listing and our request.
        if (!/already exists/i.test(String((error as Error).message))) throw error;
      });
  } finally {
    await admin.disconnect();
  }
}
