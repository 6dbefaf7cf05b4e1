// End-to-end throughput of the Kafka pipeline, next to Kafka's own ceiling through the same client.
//
//   node scripts/services.mjs up redis kafka cassandra && npm run bench -- engagement
//
// Ours: events go into `createKafkaEventSink` (validated, idempotent producer, acks all) while a
// `createKafkaAggregator` consumes them into an engagement on the Redis store (record() per slice
// of 1,000, then commit). Timed from the first send until every event is applied and committed.
// Peer: the same messages (same keys, same JSON, same request sizes, same producer settings)
// through a raw kafkajs producer and a consumer that only counts them.
// Mixed traffic over 2,000 videos with 10 % retried duplicates, 3 partitions. The maximum lag
// (events acknowledged by Kafka but not yet applied and committed) goes to stderr.
import { randomUUID } from "node:crypto";
import { Client } from "cassandra-driver";
import { Redis } from "ioredis";
import { type Admin, Kafka, logLevel } from "kafkajs";
import { serviceEnv } from "../../../test/services.js";
import { createCassandraStore } from "../src/adapters/cassandra.js";
import { createKafkaAggregator, createKafkaEventSink } from "../src/adapters/kafka.js";
import { createRedisStore } from "../src/adapters/redis-store.js";
import { createEngagement, type EngagementEvent, type EngagementStore } from "../src/index.js";
import { mixedTraffic, seededRandom } from "./traffic.js";

process.env.KAFKAJS_NO_PARTITIONER_WARNING = "1";

const total = 200_000;
const cassandraTotal = 20_000;
const sendSize = 5000; // events per sink.send, as an ingest service would batch them
const partitions = 3;
const concurrency = 3; // partitions this aggregator processes at once

const random = seededRandom(11);

const kafka = new Kafka({
  clientId: "reelkit-engagement-bench",
  brokers: serviceEnv("KAFKA_BROKERS").split(","),
  logLevel: logLevel.ERROR,
});
const redis = new Redis(serviceEnv("REDIS_URL"));
const admin: Admin = kafka.admin();

async function freshTopic(): Promise<string> {
  const topic = `reelkit-bench-${randomUUID()}`;
  await admin.createTopics({
    topics: [{ topic, numPartitions: partitions, replicationFactor: 1 }],
    waitForLeaders: true,
  });
  return topic;
}

async function until(done: () => boolean): Promise<void> {
  while (!done()) await new Promise((resolve) => setTimeout(resolve, 5));
}

/** Ours: sink → Kafka → aggregator → the stores given. Events per second, and the largest lag seen. */
async function pipeline(
  events: EngagementEvent[],
  stores: EngagementStore[],
): Promise<{ perSecond: number; maxLag: number }> {
  const topic = await freshTopic();
  const groupId = `reelkit-bench-${randomUUID()}`;
  const engagement = await Promise.all(stores.map((store) => createEngagement({ store })));
  let acknowledged = 0;
  let applied = 0;
  let maxLag = 0;
  const aggregator = createKafkaAggregator({
    kafka,
    groupId,
    topic,
    engagements: engagement,
    concurrency,
    onBatch: (report) => {
      applied += report.messages;
      maxLag = Math.max(maxLag, acknowledged - applied);
    },
  });
  const sink = createKafkaEventSink({ kafka, topic });
  try {
    await sink.send(events.slice(0, 1)); // connect and warm up: counted as applied below
    acknowledged = 1;
    await aggregator.start();
    await until(() => applied >= 1);
    const started = performance.now();
    for (let i = 1; i < events.length; i += sendSize) {
      const slice = events.slice(i, i + sendSize);
      await sink.send(slice);
      acknowledged += slice.length;
      maxLag = Math.max(maxLag, acknowledged - applied);
    }
    await until(() => applied >= events.length);
    return { perSecond: (events.length - 1) / ((performance.now() - started) / 1000), maxLag };
  } finally {
    await aggregator.stop();
    await sink.close();
    await admin.deleteTopics({ topics: [topic] });
    await admin.deleteGroups([groupId]).catch(() => {});
  }
}

/** The peer: the same messages through plain kafkajs, consumed with no processing. */
async function rawKafka(events: EngagementEvent[]): Promise<number> {
  const topic = await freshTopic();
  const groupId = `reelkit-bench-${randomUUID()}`;
  const messages = events.map((e) => ({ key: e.videoId, value: JSON.stringify(e) }));
  // The sink's request sizes: at most 5,000 messages and about 512 KiB per request.
  const requests: Array<typeof messages> = [];
  for (let i = 0; i < messages.length; i += sendSize) {
    const slice = messages.slice(i, i + sendSize);
    let current: typeof messages = [];
    let bytes = 0;
    for (const m of slice) {
      bytes += m.key.length + m.value.length + 64;
      if (bytes > 512 * 1024 && current.length > 0) {
        requests.push(current);
        current = [];
        bytes = m.key.length + m.value.length + 64;
      }
      current.push(m);
    }
    if (current.length > 0) requests.push(current);
  }
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  const consumer = kafka.consumer({ groupId });
  let consumed = 0;
  try {
    await producer.connect();
    const [first, ...rest] = requests;
    await producer.send({ topic, acks: -1, messages: (first ?? []).slice(0, 1) });
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({
      partitionsConsumedConcurrently: concurrency,
      eachBatch: async ({ batch }) => {
        consumed += batch.messages.length;
      },
    });
    await until(() => consumed >= 1);
    const started = performance.now();
    for (const request of [(first ?? []).slice(1), ...rest]) {
      await producer.send({ topic, acks: -1, messages: request });
    }
    await until(() => consumed >= messages.length);
    return (messages.length - 1) / ((performance.now() - started) / 1000);
  } finally {
    await consumer.disconnect();
    await producer.disconnect();
    await admin.deleteTopics({ topics: [topic] });
    await admin.deleteGroups([groupId]).catch(() => {});
  }
}

const cassandra = new Client({
  contactPoints: serviceEnv("CASSANDRA_CONTACT_POINTS").split(","),
  localDataCenter: process.env.CASSANDRA_LOCAL_DATACENTER ?? "datacenter1",
});
const keyspace = `engagement_bench_${process.pid}`;

try {
  await admin.connect();
  const events = mixedTraffic(total, random);
  const peer = await rawKafka(events);
  const redisStore = () => createRedisStore({ client: redis, keyPrefix: `bench:${randomUUID()}:` });
  const ours = await pipeline(events, [redisStore()]);
  process.stderr.write(
    `pipeline: ${total} events, max lag ${ours.maxLag} events (acknowledged by Kafka, not yet applied and committed)\n`,
  );
  // Redis and Cassandra together, on fewer events: every video's batch is a Paxos round in Cassandra.
  const both = events.slice(0, cassandraTotal);
  const peerBoth = await rawKafka(both);
  const oursBoth = await pipeline(both, [redisStore(), await createCassandraStore({ client: cassandra, keyspace })]);
  process.stderr.write(`pipeline to Redis + Cassandra: ${cassandraTotal} events, max lag ${oursBoth.maxLag}\n`);
  console.log(
    JSON.stringify({
      results: [
        {
          name: "Kafka pipeline: sink → Kafka → aggregator → Redis",
          unit: "per s",
          ours: ours.perSecond,
          peer: "kafkajs produce+consume, no processing",
          peerValue: peer,
        },
        {
          name: "Kafka pipeline: … → aggregator → Redis + Cassandra",
          unit: "per s",
          ours: oursBoth.perSecond,
          peer: "kafkajs produce+consume, no processing",
          peerValue: peerBoth,
        },
      ],
    }),
  );
} finally {
  await admin.disconnect();
  redis.disconnect();
  await cassandra.execute(`DROP KEYSPACE IF EXISTS ${keyspace}`).catch(() => {});
  await cassandra.shutdown();
}
