// The engagement contract, end to end through the Kafka pipeline: every `record` goes through the
// sink, the broker and the aggregator into a Redis-backed engagement, and must give the results a
// direct `record` gives (same accepted, duplicates and rejected reasons at the same indexes).
import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import { Kafka, logLevel } from "kafkajs";
import { afterAll } from "vitest";
import { serviceEnv } from "../../../../test/services.js";
import { createKafkaAggregator, createKafkaEventSink, type KafkaBatchReport } from "../adapters/kafka.js";
import { createRedisStore } from "../adapters/redis-store.js";
import type { Engagement, RecordResult } from "../engagement.js";
import { engagementContract } from "./engagement.contract.js";

process.env.KAFKAJS_NO_PARTITIONER_WARNING = "1";
const kafka = new Kafka({
  clientId: "reelkit-engagement-contract",
  brokers: serviceEnv("KAFKA_BROKERS").split(","),
  logLevel: logLevel.NOTHING,
});
const redis = new Redis(serviceEnv("REDIS_URL"));
const admin = kafka.admin();
const cleanups: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const cleanup of cleanups) await cleanup();
  await admin.disconnect();
  redis.disconnect();
});

/** An engagement whose `record` travels sink → Kafka → aggregator → `inner`; reads go to `inner`. */
async function viaKafka(inner: Engagement): Promise<Engagement> {
  await admin.connect();
  const topic = `reelkit-contract-${randomUUID()}`;
  const groupId = `reelkit-contract-${randomUUID()}`;
  // One partition: offsets count the messages sent, so a slice's events map back to `record`'s indexes.
  await admin.createTopics({ topics: [{ topic, numPartitions: 1, replicationFactor: 1 }], waitForLeaders: true });
  const reports: KafkaBatchReport[] = [];
  let waiting: (() => void) | undefined;
  const aggregator = createKafkaAggregator({
    kafka,
    topic,
    groupId,
    engagements: inner,
    onBatch: (report) => {
      reports.push(report);
      waiting?.();
    },
  });
  const sink = createKafkaEventSink({ kafka, topic });
  await aggregator.start();
  let produced = 0;
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await aggregator.stop();
    await sink.close();
    await admin.deleteTopics({ topics: [topic] }).catch(() => {});
    await admin.deleteGroups([groupId]).catch(() => {});
  };
  cleanups.push(stop);

  return {
    ...inner,
    async record(events: unknown): Promise<RecordResult> {
      const sent = await sink.send(events);
      const first = produced;
      produced += sent.accepted;
      const applied = () => reports.reduce((n, r) => n + (Number(r.lastOffset) >= first ? r.messages : 0), 0);
      while (applied() < sent.accepted) await new Promise<void>((resolve) => (waiting = resolve));
      // Which of the events passed in became which offset.
      const rejectedBySink = new Set(sent.rejected.map((r) => r.index));
      const indexAt = (events as unknown[]).map((_, i) => i).filter((i) => !rejectedBySink.has(i));
      const rejected = [...sent.rejected];
      let duplicates = 0;
      let rejectedLater = 0;
      for (const report of reports.filter((r) => Number(r.firstOffset) >= first)) {
        const [result] = report.results;
        if (result === undefined) continue;
        duplicates += result.duplicates;
        rejectedLater += result.rejected.length;
        for (const r of result.rejected) {
          const offset = Number(report.firstOffset) + r.index;
          rejected.push({ ...r, index: indexAt[offset - first] ?? -1 });
        }
      }
      return {
        accepted: sent.accepted - rejectedLater,
        duplicates,
        rejected: rejected.sort((a, b) => a.index - b.index),
      };
    },
    async close() {
      await stop();
      await inner.close();
    },
  };
}

engagementContract(
  "kafka pipeline → redis",
  () => createRedisStore({ client: redis, keyPrefix: `test:${randomUUID()}:` }),
  {
    through: viaKafka,
  },
);
