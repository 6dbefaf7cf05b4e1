// The Kafka adapter against a scripted stand-in for kafkajs: option checks, what the sink
// produces, and how the aggregator resolves and commits (or refuses to, after a rebalance).
// The real broker runs in `kafka.integration.test.ts`.
import type { EachBatchPayload, Kafka, KafkaMessage } from "kafkajs";
import { describe, expect, it, vi } from "vitest";
import { createKafkaAggregator, createKafkaEventSink, type KafkaRejection } from "../adapters/kafka.js";
import { createEngagement, type Engagement, type RecordResult } from "../engagement.js";
import { EngagementErrorCode } from "../errors.js";
import type { EngagementEvent } from "../schema.js";
import { eventFactory, T0 } from "./engagement.contract.js";

function fakeKafka() {
  const producer = {
    connect: vi.fn(async () => {}),
    send: vi.fn(
      async (_record: { topic: string; acks: number; messages: Array<{ key: string; value: string }> }) => [],
    ),
    disconnect: vi.fn(async () => {}),
  };
  const listeners = new Map<string, Array<(event: unknown) => void>>();
  let eachBatch: ((payload: EachBatchPayload) => Promise<void>) | undefined;
  const consumer = {
    events: {
      GROUP_JOIN: "consumer.group_join",
      REBALANCING: "consumer.rebalancing",
      CRASH: "consumer.crash",
      STOP: "consumer.stop",
    },
    on: vi.fn((name: string, listener: (event: unknown) => void) => {
      listeners.set(name, [...(listeners.get(name) ?? []), listener]);
      return () => {};
    }),
    connect: vi.fn(async () => {}),
    subscribe: vi.fn(async () => {}),
    run: vi.fn(async (config: { eachBatch: (payload: EachBatchPayload) => Promise<void> }) => {
      eachBatch = config.eachBatch;
    }),
    disconnect: vi.fn(async () => {}),
  };
  const kafka = {
    producer: vi.fn(() => producer),
    consumer: vi.fn(() => consumer),
  } as unknown as Kafka;
  const emit = (name: string, event: unknown = {}) => {
    for (const listener of listeners.get(name) ?? []) listener(event);
  };
  return {
    kafka,
    producer,
    consumer,
    emit,
    eachBatch: () => eachBatch as (payload: EachBatchPayload) => Promise<void>,
  };
}

/** A fetched batch of `values` starting at `firstOffset`, with the calls the aggregator makes recorded. */
function fakePayload(values: Array<string | null>, firstOffset = 10) {
  const messages = values.map((value, i) => ({
    offset: String(firstOffset + i),
    value: value === null ? null : Buffer.from(value),
  })) as KafkaMessage[];
  const resolved: string[] = [];
  const commits: string[] = [];
  const payload = {
    batch: {
      topic: "events",
      partition: 2,
      highWatermark: String(firstOffset + values.length + 5),
      messages,
      lastOffset: () => String(firstOffset + values.length - 1),
    },
    resolveOffset: (offset: string) => resolved.push(offset),
    commitOffsetsIfNecessary: vi.fn(async (offsets?: { topics: Array<{ partitions: Array<{ offset: string }> }> }) => {
      commits.push(offsets?.topics[0]?.partitions[0]?.offset ?? "none");
    }),
    heartbeat: vi.fn(async () => {}),
    isRunning: () => true,
    isStale: () => false,
  } as unknown as EachBatchPayload;
  return { payload, resolved, commits };
}

/** An engagement that counts what it is given and refuses events of video "refused". */
function countingEngagement(during?: () => void): Engagement & { seen: unknown[][] } {
  const seen: unknown[][] = [];
  return {
    seen,
    async record(events: unknown): Promise<RecordResult> {
      const list = events as Array<{ id: string; videoId: string }>;
      seen.push(list);
      during?.();
      const rejected = list.flatMap((e, index) =>
        e.videoId === "refused" ? [{ index, id: e.id, reason: "ts is older than the window" }] : [],
      );
      return { accepted: list.length - rejected.length, duplicates: 0, rejected };
    },
  } as unknown as Engagement & { seen: unknown[][] };
}

const event = (id: string, videoId = "v1"): EngagementEvent => ({
  id,
  type: "share",
  videoId,
  sessionId: "s1",
  ts: T0,
});

/** Make the producer's next `send` wait until the returned function is called. */
function holdNextProduce(producer: ReturnType<typeof fakeKafka>["producer"]): () => void {
  let release: () => void = () => {};
  producer.send.mockImplementationOnce(
    () =>
      new Promise((resolve) => {
        release = () => resolve([]);
      }),
  );
  return () => release();
}

describe("createKafkaEventSink", () => {
  it("validates its options", () => {
    expect(() => createKafkaEventSink({ kafka: {} as Kafka })).toThrow(
      expect.objectContaining({ code: EngagementErrorCode.INVALID_OPTIONS }),
    );
    const { kafka } = fakeKafka();
    expect(() => createKafkaEventSink({ kafka, topic: "no spaces" })).toThrow(
      expect.objectContaining({ code: EngagementErrorCode.INVALID_OPTIONS }),
    );
  });

  it("produces valid events keyed by videoId with an idempotent producer, and rejects like record()", async () => {
    const { kafka, producer } = fakeKafka();
    const sink = createKafkaEventSink({ kafka });
    const e = eventFactory("v1");
    const good = [e("share"), e("like", { userId: "u1" }), e("share", { videoId: "v2" })];
    const bad = [{ ...e("share"), type: "poke" }, "not an event", e("like"), { ...e("share"), extra: 1 }];
    // Too old for record(), but clock rules are the aggregator's: the sink passes it on.
    const old = e("share", { ts: T0 - 30 * 86_400_000 });
    const result = await sink.send([good[0], bad[0], good[1], bad[1], bad[2], good[2], bad[3], old]);
    const reference = await (await createEngagement({ now: () => T0 })).record(bad);
    expect(result.accepted).toBe(4);
    expect(result.rejected.map((r) => r.index)).toEqual([1, 3, 4, 6]);
    expect(result.rejected.map(({ id, reason }) => ({ id, reason }))).toEqual(
      reference.rejected.map(({ id, reason }) => ({ id, reason })),
    );
    expect(kafka.producer).toHaveBeenCalledWith({ idempotent: true, maxInFlightRequests: 1 });
    const sent = producer.send.mock.calls.flatMap(([record]) => {
      expect(record).toMatchObject({ topic: "reelkit.engagement.events", acks: -1 });
      return record.messages;
    });
    expect(sent.map((m) => ({ key: m.key, value: JSON.parse(m.value) }))).toEqual(
      [...good, old].map((ev) => ({ key: ev.videoId, value: ev })),
    );
    await expect(sink.send("nope")).rejects.toMatchObject({ code: EngagementErrorCode.INVALID_INPUT });
    await sink.close();
    expect(producer.disconnect).toHaveBeenCalledTimes(1);
    await expect(sink.send([good[0]])).rejects.toMatchObject({ code: EngagementErrorCode.CLOSED });
  });

  it("splits a large send into requests under Kafka's message size limit, in order", async () => {
    const { kafka, producer } = fakeKafka();
    const sink = createKafkaEventSink({ kafka, topic: "t" });
    const events = Array.from({ length: 12_000 }, (_, i) => event(`e${i}`, `v${i % 7}`));
    expect(await sink.send(events)).toEqual({ accepted: 12_000, rejected: [] });
    const requests = producer.send.mock.calls.map(([record]) => record.messages);
    expect(requests.length).toBeGreaterThan(2);
    for (const messages of requests) {
      expect(messages.reduce((n, m) => n + m.key.length + m.value.length, 0)).toBeLessThan(1_000_000);
    }
    expect(requests.flat().map((m) => JSON.parse(m.value).id)).toEqual(events.map((e) => e.id));
  });

  it("groups sends made while a produce is in flight into the next one, in order", async () => {
    const { kafka, producer } = fakeKafka();
    const release = holdNextProduce(producer);
    const sink = createKafkaEventSink({ kafka, topic: "t" });
    const first = sink.send([event("a0")]);
    await vi.waitFor(() => expect(producer.send).toHaveBeenCalledTimes(1));
    // Ten sends while the first is on its way: one produce for all of them.
    const queued = Array.from({ length: 10 }, (_, i) => sink.send([event(`b${i}`), "bad", event(`c${i}`, "v2")]));
    release();
    expect(await first).toEqual({ accepted: 1, rejected: [] });
    for (const result of await Promise.all(queued)) {
      expect(result.accepted).toBe(2);
      expect(result.rejected.map((r) => r.index)).toEqual([1]);
    }
    expect(producer.send).toHaveBeenCalledTimes(2);
    expect(producer.send.mock.calls.flatMap(([r]) => r.messages).map((m) => JSON.parse(m.value).id)).toEqual([
      "a0",
      ...Array.from({ length: 10 }, (_, i) => [`b${i}`, `c${i}`]).flat(),
    ]);
  });

  it("in a group whose produce fails part way, resolves the sends that landed and rejects the rest", async () => {
    const { kafka, producer } = fakeKafka();
    const release = holdNextProduce(producer);
    const sink = createKafkaEventSink({ kafka, topic: "t" });
    const first = sink.send([event("x")]);
    await vi.waitFor(() => expect(producer.send).toHaveBeenCalledTimes(1));
    // A send that fills one request exactly (the sink's 512 KiB budget, 64 bytes of overhead per
    // message), then a small one: the group needs two requests, the second holding only the small send.
    const id = (i: number) => `e${String(i).padStart(6, "0")}`;
    const perMessage = "v1".length + JSON.stringify(event(id(0))).length + 64;
    const fill = Math.floor((512 * 1024) / perMessage);
    const big = sink.send(Array.from({ length: fill }, (_, i) => event(id(i))));
    const small = sink.send([event(id(fill))]);
    producer.send.mockResolvedValueOnce([]).mockRejectedValueOnce(new Error("broker gone"));
    release();
    await first;
    expect(await big).toEqual({ accepted: fill, rejected: [] });
    await expect(small).rejects.toMatchObject({ code: EngagementErrorCode.BACKEND_FAILED });
    // The sink keeps working after a failure.
    expect(await sink.send([event("after")])).toEqual({ accepted: 1, rejected: [] });
  });

  it("answers a send whose events were all rejected without touching the broker", async () => {
    const { kafka, producer } = fakeKafka();
    producer.connect.mockRejectedValue(new Error("broker down"));
    const sink = createKafkaEventSink({ kafka });
    const result = await sink.send([{ ...event("e1"), type: "poke" }, "nope"]);
    expect(result.accepted).toBe(0);
    expect(result.rejected.map((r) => r.index)).toEqual([0, 1]);
    expect(producer.connect).not.toHaveBeenCalled();
  });

  it("reports a failed produce as BACKEND_FAILED with the cause", async () => {
    const { kafka, producer } = fakeKafka();
    const cause = new Error("broker gone");
    producer.send.mockRejectedValueOnce(cause);
    const sink = createKafkaEventSink({ kafka });
    const error = await sink.send([event("e1")]).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: EngagementErrorCode.BACKEND_FAILED, cause });
  });
});

describe("createKafkaAggregator", () => {
  it("validates its options", () => {
    const { kafka } = fakeKafka();
    for (const bad of [
      { kafka: {} as Kafka, engagements: countingEngagement() },
      { kafka, engagements: [] },
      { kafka, engagements: {} as Engagement },
      { kafka, engagements: countingEngagement(), batchSize: 0 },
      { kafka, engagements: countingEngagement(), onReject: "log" as unknown as () => void },
    ]) {
      expect(() => createKafkaAggregator(bad)).toThrow(
        expect.objectContaining({ code: EngagementErrorCode.INVALID_OPTIONS }),
      );
    }
  });

  it("applies each slice to every engagement, then resolves and commits it; bad messages are reported and passed", async () => {
    const fake = fakeKafka();
    const [a, b] = [countingEngagement(), countingEngagement()];
    const rejections: KafkaRejection[] = [];
    const reports: number[] = [];
    const aggregator = createKafkaAggregator({
      kafka: fake.kafka,
      topic: "events",
      engagements: [a, b],
      batchSize: 2,
      onReject: (r) => rejections.push(r),
      onBatch: (r) => reports.push(r.lag),
    });
    await aggregator.start();
    expect(fake.consumer.run).toHaveBeenCalledWith(
      expect.objectContaining({ autoCommit: false, eachBatchAutoResolve: false }),
    );
    const { payload, resolved, commits } = fakePayload([
      JSON.stringify(event("e1")),
      "{oops",
      JSON.stringify(event("e2", "refused")),
      null,
      JSON.stringify(event("e3")),
    ]);
    await fake.eachBatch()(payload);
    expect(a.seen).toEqual([[event("e1")], [event("e2", "refused")], [event("e3")]]);
    expect(b.seen).toEqual(a.seen);
    expect(resolved).toEqual(["11", "13", "14"]);
    expect(commits).toEqual(["12", "14", "15"]); // the next offset to read
    expect(reports).toEqual([8, 6, 5]);
    expect(rejections.map((r) => [r.offset, r.id, r.engagement, r.reason.slice(0, 14)])).toEqual([
      ["11", undefined, undefined, "not valid JSON"],
      ["13", undefined, undefined, "not valid JSON"], // found while parsing, before record()
      ["12", "e2", 0, "ts is older th"],
      ["12", "e2", 1, "ts is older th"],
    ]);
    await aggregator.stop();
    expect(fake.consumer.disconnect).toHaveBeenCalledTimes(1);
  });

  it("does not commit a slice whose partition may have moved in a rebalance during record()", async () => {
    const fake = fakeKafka();
    const engagement = countingEngagement(() => fake.emit(fake.consumer.events.REBALANCING));
    const aggregator = createKafkaAggregator({ kafka: fake.kafka, topic: "events", engagements: engagement });
    await aggregator.start();
    const { payload, resolved, commits } = fakePayload([JSON.stringify(event("e1")), JSON.stringify(event("e2"))]);
    await fake.eachBatch()(payload);
    expect(engagement.seen).toHaveLength(1);
    expect(resolved).toEqual([]);
    expect(commits).toEqual([]);
  });

  it("commits nothing when record() fails, and lets the failure reach the consumer (which re-reads)", async () => {
    const fake = fakeKafka();
    const failing = {
      record: async () => {
        throw new Error("redis down");
      },
    } as unknown as Engagement;
    const aggregator = createKafkaAggregator({ kafka: fake.kafka, engagements: [countingEngagement(), failing] });
    await aggregator.start();
    const { payload, resolved, commits } = fakePayload([JSON.stringify(event("e1"))]);
    await expect(fake.eachBatch()(payload)).rejects.toThrow("redis down");
    expect(resolved).toEqual([]);
    expect(commits).toEqual([]);
  });

  it("wraps a failure to join as BACKEND_FAILED", async () => {
    const fake = fakeKafka();
    const cause = new Error("no coordinator");
    fake.consumer.subscribe.mockRejectedValueOnce(cause);
    const aggregator = createKafkaAggregator({ kafka: fake.kafka, engagements: countingEngagement() });
    await expect(aggregator.start()).rejects.toMatchObject({ code: EngagementErrorCode.BACKEND_FAILED, cause });
    expect(fake.consumer.disconnect).toHaveBeenCalled();
  });
});
