import { randomUUID } from "node:crypto";
import { Kafka, logLevel } from "kafkajs";
import { describe, expect, it } from "vitest";
import { hostPorts } from "../services.js";

describe("Kafka from Node (kafkajs)", () => {
  it("produces messages and consumes them in a consumer group", async () => {
    const brokers = hostPorts("KAFKA_BROKERS").map(({ host, port }) => `${host}:${port}`);
    const kafka = new Kafka({ clientId: "reelkit-smoke", brokers, logLevel: logLevel.NOTHING });
    const topic = `smoke-${randomUUID()}`;
    const admin = kafka.admin();
    const producer = kafka.producer();
    const consumer = kafka.consumer({ groupId: `smoke-group-${randomUUID()}` });
    try {
      await admin.connect();
      await admin.createTopics({ topics: [{ topic, numPartitions: 3, replicationFactor: 1 }], waitForLeaders: true });
      await producer.connect();
      const sent = Array.from({ length: 20 }, (_, i) => ({ key: `video-${i % 4}`, value: `event-${i}` }));
      await producer.send({ topic, messages: sent });

      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: true });
      const received: string[] = [];
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`only ${received.length} of ${sent.length} arrived`)), 30_000);
        void consumer.run({
          eachMessage: async ({ message }) => {
            received.push(message.value?.toString() ?? "");
            if (received.length === sent.length) {
              clearTimeout(timer);
              resolve();
            }
          },
        });
      });
      expect(received.sort()).toEqual(sent.map((m) => m.value).sort());
    } finally {
      await consumer.disconnect();
      await producer.disconnect();
      await admin.deleteTopics({ topics: [topic] }).catch(() => {});
      await admin.disconnect();
    }
  });
});
