// Scaled mode, API side: the same pipeline as embedded mode, with the package adapters on the real
// engines. Transcode jobs go on the Redis job queue (transcoder processes run them); engagement
// events go to Kafka (the aggregator process applies them to Cassandra) and the reads come from
// that Cassandra store; ranker signals and state, the review queue, upload locks and rate limits
// live in Redis; every status change of a video is published on `<prefix>.videos.lifecycle`.
import { createEngagement, type Engagement, type RecordResult } from "@reelkit/engagement";
import { createCassandraStore } from "@reelkit/engagement/cassandra";
import { createKafkaEventSink, type KafkaEventSink } from "@reelkit/engagement/kafka";
import { createRedisSignals, createRedisState } from "@reelkit/feed-ranker/redis";
import { createRedisReviewStore } from "@reelkit/moderation/redis";
import { createRedisJobQueue } from "@reelkit/transcode/redis";
import { createRedisLocker } from "@reelkit/upload/redis";
import type { Producer } from "kafkajs";
import type { Config } from "../config.js";
import { probe } from "../health.js";
import type { Log } from "../platform.js";
import { ensureTopics, namesOf, openEngines } from "../scaled/engines.js";
import { createRedisLimiters } from "../scaled/limiter.js";
import type { Backends, LifecycleEvent } from "./types.js";

/** The clock rules engagement's `record()` applies (its defaults): checked here too, so the API answers them. */
const MAX_CLOCK_SKEW_MS = 5 * 60_000;
const DEDUPE_WINDOW_MS = 7 * 86_400_000;

/**
 * Engagement for the API process: `record` produces to Kafka (the aggregator applies the events,
 * exactly once per id), every read comes from the shared Cassandra store. `duplicates` is always 0
 * here: whether an id was applied before is only known when the aggregator applies it.
 */
function producingEngagement(reads: Engagement, sink: KafkaEventSink): Engagement {
  return {
    async record(input) {
      if (!Array.isArray(input)) return sink.send(input).then((r) => ({ ...r, duplicates: 0 }));
      const now = Date.now();
      const rejected: RecordResult["rejected"] = [];
      const kept: unknown[] = [];
      const indexOf: number[] = [];
      (input as unknown[]).forEach((raw, index) => {
        const event = typeof raw === "object" && raw !== null ? (raw as { id?: unknown; ts?: unknown }) : {};
        const id = typeof event.id === "string" ? { id: event.id } : {};
        if (typeof event.ts === "number" && event.ts > now + MAX_CLOCK_SKEW_MS)
          rejected.push({
            index,
            ...id,
            reason: `ts is ${event.ts - now} ms in the future; at most ${MAX_CLOCK_SKEW_MS} ms of clock skew is allowed`,
          });
        else if (typeof event.ts === "number" && event.ts < now - DEDUPE_WINDOW_MS)
          rejected.push({ index, ...id, reason: `ts is older than the ${DEDUPE_WINDOW_MS} ms dedupe window` });
        else {
          kept.push(raw);
          indexOf.push(index);
        }
      });
      const sent = kept.length > 0 ? await sink.send(kept) : { accepted: 0, rejected: [] };
      for (const r of sent.rejected) rejected.push({ ...r, index: indexOf[r.index] ?? r.index });
      rejected.sort((a, b) => a.index - b.index);
      return { accepted: sent.accepted, duplicates: 0, rejected };
    },
    counts: (ids) => reads.counts(ids),
    hasLiked: (userId, ids) => reads.hasLiked(userId, ids),
    retention: (videoId) => reads.retention(videoId),
    trending: (options) => reads.trending(options),
    creatorStats: (creatorId, range) => reads.creatorStats(creatorId, range),
    sessionStats: (range) => reads.sessionStats(range),
    // Video facts (creator, duration) are written straight to the store: the aggregator reads them.
    registerVideo: (video) => reads.registerVideo(video),
    async close() {
      await sink.close();
      await reads.close();
    },
  };
}

/** Lifecycle events in order per process; each send's promise says whether it reached Kafka. */
function lifecyclePublisher(producer: Producer, topic: string, log: Log) {
  let chain: Promise<void> = Promise.resolve();
  return {
    publish(event: LifecycleEvent): Promise<void> {
      const sent = chain.then(async () => {
        await producer.send({
          topic,
          acks: -1,
          messages: [{ key: event.videoId, value: JSON.stringify(event) }],
        });
      });
      chain = sent.catch((error: unknown) =>
        log("lifecycle event not published", { videoId: event.videoId, status: event.status, error: String(error) }),
      );
      return sent;
    },
    flushed: () => chain,
  };
}

export async function createScaledBackends(config: Config, log: Log): Promise<Backends> {
  const names = namesOf(config);
  const engines = await openEngines(config, "api", log);
  const { redis, kafka, cassandra } = engines;
  try {
    await ensureTopics(kafka, [names.eventsTopic, names.lifecycleTopic]);
    const queue = createRedisJobQueue({ client: redis, keyPrefix: names.transcodeJobs });
    queue.on("error", ({ error }) => log("transcode queue error", { error: String(error) }));
    const store = await createCassandraStore({ client: cassandra, keyspace: names.keyspace });
    const sink = createKafkaEventSink({ kafka, topic: names.eventsTopic });
    const engagement = producingEngagement(await createEngagement({ store }), sink);
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    let producerConnected = false;
    producer.on(producer.events.CONNECT, () => {
      producerConnected = true;
    });
    producer.on(producer.events.DISCONNECT, () => {
      producerConnected = false;
    });
    await producer.connect();
    const lifecycle = lifecyclePublisher(producer, names.lifecycleTopic, log);
    const admin = kafka.admin();
    await admin.connect();
    const locker = createRedisLocker({ client: redis, keyPrefix: names.uploadLocks });
    return {
      mode: "scaled",
      queue,
      engagement,
      ranker: {
        signals: createRedisSignals({ client: redis, keyPrefix: names.feed }),
        state: createRedisState({ client: redis, keyPrefix: names.feed }),
      },
      reviewStore: createRedisReviewStore({ client: redis, keyPrefix: names.moderation }),
      locker,
      limiter: createRedisLimiters(redis, { prefix: names.rateLimits, log }),
      reconcileEveryMs: 3000,
      lifecycle: (event) => lifecycle.publish(event),
      async checks() {
        const [r, k, c] = await Promise.all([
          probe(() => redis.ping()),
          probe(async () => {
            if (!producerConnected) throw new Error("the lifecycle producer is not connected");
            await admin.describeCluster();
          }),
          probe(() => cassandra.execute("SELECT release_version FROM system.local")),
        ]);
        return { redis: r, kafka: k, cassandra: c };
      },
      async close() {
        await queue.close({ timeoutMs: 2000 }).catch((e: unknown) => log("closing", { error: String(e) }));
        await locker.close().catch(() => {});
        await lifecycle.flushed();
        await engagement.close().catch((e: unknown) => log("closing", { error: String(e) }));
        await producer.disconnect().catch(() => {});
        await admin.disconnect().catch(() => {});
        await engines.close();
      },
    };
  } catch (error) {
    await engines.close();
    throw error;
  }
}
