// The Kafka pipeline: players' events go into a topic (the sink), and a consumer group applies
// them to one or more `Engagement` instances (the aggregator). This file is the only one that
// knows kafkajs, and only its types: the caller creates the `Kafka` client and passes it in, so
// the package never loads kafkajs itself and another client can replace it here alone.
import type { Batch, Consumer, EachBatchPayload, Kafka, KafkaMessage, Producer } from "kafkajs";
import { z } from "zod";
import type { Engagement, RecordResult } from "../engagement.js";
import { EngagementError, EngagementErrorCode } from "../errors.js";
import { eventProblem } from "../schema.js";
import { serialQueue } from "../serial.js";
import { parseWith } from "../validate.js";

/** The topic both ends use unless told otherwise. */
export const defaultEngagementTopic = "reelkit.engagement.events";

export interface KafkaEventSinkOptions {
  /** A kafkajs `Kafka` client, created and owned by the caller. */
  kafka: Kafka;
  /** @default "reelkit.engagement.events" */
  topic?: string;
  /**
   * Check every event against `engagementEventSchema` (and that a like or unlike has a userId)
   * before producing it, rejecting bad ones with the same reasons `record()` gives. Clock rules
   * (too old, too far in the future) are left to the aggregator, whose clock decides. Turn it off
   * only for events already validated upstream; an event still needs a string `videoId` (its key).
   * @default true
   */
  validate?: boolean;
}

export interface SendResult {
  /** Events produced (acknowledged by every in-sync replica). */
  accepted: number;
  /** Events refused before producing, by index in the array passed to `send`. */
  rejected: RecordResult["rejected"];
}

export interface KafkaEventSink {
  /** Validate and produce an array of events, keyed by `videoId`, in order. Resolves once Kafka acknowledged them. */
  send(events: unknown): Promise<SendResult>;
  /** Wait for pending sends and disconnect the producer. */
  close(): Promise<void>;
}

/** A message the aggregator could not apply; its offset is committed all the same. */
export interface KafkaRejection {
  topic: string;
  partition: number;
  offset: string;
  /** The event id, when the message held one. */
  id?: string;
  reason: string;
  /** Index (in `engagements`) of the instance whose `record()` refused the event; absent for a message that is not JSON. */
  engagement?: number;
}

/** What one applied and committed slice of a partition did. */
export interface KafkaBatchReport {
  topic: string;
  partition: number;
  firstOffset: string;
  lastOffset: string;
  /** Messages in the slice, including malformed ones. */
  messages: number;
  /** Messages that were not JSON (reported through `onReject`). */
  malformed: number;
  /** `record()`'s result per engagement, in the order given. */
  results: RecordResult[];
  /** Messages of the partition after this slice, as of the fetch. */
  lag: number;
}

export interface KafkaAggregatorOptions {
  /** A kafkajs `Kafka` client, created and owned by the caller. */
  kafka: Kafka;
  /** @default "reelkit-engagement-aggregator" */
  groupId?: string;
  /** @default "reelkit.engagement.events" */
  topic?: string;
  /** Every instance gets every event (say, one on Redis for serving and one on another store). */
  engagements: Engagement[] | Engagement;
  /** Most events per `record()` call; a fetched batch is applied and committed in slices of this size. @default 1000 */
  batchSize?: number;
  /**
   * Called after each slice is applied to every engagement and its offsets committed. Exceptions
   * thrown by `onBatch`, `onReject` and `onError` are ignored, so a callback cannot stall a partition.
   */
  onBatch?: (report: KafkaBatchReport) => void;
  /**
   * Called for each message that is not JSON, and each event a `record()` refused (too old, …).
   * Delivery is at least once: a slice re-read after a crash reports its rejections again.
   */
  onReject?: (rejection: KafkaRejection) => void;
  /** Called when the consumer crashed (after its retries); `restarting` says whether it restarts itself. */
  onError?: (error: EngagementError, restarting: boolean) => void;
  /** A group with no committed offsets starts at the oldest retained event (`false`: only new ones). @default true */
  fromBeginning?: boolean;
  /** Partitions processed at once by this member; each partition stays in order. @default 1 */
  concurrency?: number;
  /** How long the group waits for a silent member before moving its partitions elsewhere. @default 30000 */
  sessionTimeoutMs?: number;
  /** @default 3000 */
  heartbeatIntervalMs?: number;
}

export interface KafkaAggregator {
  /** Join the group and start applying events; resolves once consuming has started. */
  start(): Promise<void>;
  /** Finish the slice in flight (committing it), leave the group and disconnect. */
  stop(): Promise<void>;
}

const kafkaClient = z.custom<Kafka>(
  (v) =>
    typeof v === "object" &&
    v !== null &&
    typeof (v as Kafka).producer === "function" &&
    typeof (v as Kafka).consumer === "function",
  "kafka must be a kafkajs Kafka instance",
);
// Kafka's own rule for topic names.
const topicName = z
  .string()
  .regex(/^[a-zA-Z0-9._-]{1,249}$/, "a topic name is 1–249 of a-z A-Z 0-9 . _ -")
  .default(defaultEngagementTopic);
const callback = <T>(name: string) =>
  z.custom<T>((v) => typeof v === "function", `${name} must be a function`).optional();
const engagement = z.custom<Engagement>(
  (v) => typeof v === "object" && v !== null && typeof (v as Engagement).record === "function",
  "not an Engagement (from createEngagement)",
);

const sinkOptionsSchema = z.strictObject({
  kafka: kafkaClient,
  topic: topicName,
  validate: z.boolean().default(true),
});

const aggregatorOptionsSchema = z.strictObject({
  kafka: kafkaClient,
  groupId: z.string().min(1).max(255).default("reelkit-engagement-aggregator"),
  topic: topicName,
  engagements: z.union([engagement.transform((e) => [e]), z.array(engagement).min(1)]),
  batchSize: z.number().int().min(1).max(1_000_000).default(1000),
  onBatch: callback<(report: KafkaBatchReport) => void>("onBatch"),
  onReject: callback<(rejection: KafkaRejection) => void>("onReject"),
  onError: callback<(error: EngagementError, restarting: boolean) => void>("onError"),
  fromBeginning: z.boolean().default(true),
  concurrency: z.number().int().min(1).max(1024).default(1),
  sessionTimeoutMs: z.number().int().min(1000).max(3_600_000).optional(),
  heartbeatIntervalMs: z.number().int().min(100).max(3_600_000).optional(),
});

/** A Kafka failure as the package's error, the driver's error attached. */
function backendFailed(what: string, cause: unknown): EngagementError {
  if (cause instanceof EngagementError) return cause;
  const detail = cause instanceof Error ? `: ${cause.message}` : "";
  return new EngagementError(EngagementErrorCode.BACKEND_FAILED, `[kafka] ${what} failed${detail}`, { cause });
}

// Kafka refuses a record batch over `message.max.bytes` (1 MiB by default): produce in slices well under it.
const maxRequestBytes = 512 * 1024;
const maxRequestMessages = 5000;

/** Validate and serialise one `send`'s input: the messages to produce and the rejections. */
function toMessages(input: unknown, validate: boolean): { messages: Message[]; rejected: SendResult["rejected"] } {
  if (!Array.isArray(input)) {
    throw new EngagementError(EngagementErrorCode.INVALID_INPUT, "send takes an array of events");
  }
  const rejected: SendResult["rejected"] = [];
  const messages: Message[] = [];
  for (const [index, raw] of (input as unknown[]).entries()) {
    const rawId = typeof raw === "object" && raw !== null ? (raw as { id?: unknown }).id : undefined;
    let reason: string | undefined;
    let event: unknown = raw;
    if (validate) {
      const checked = eventProblem(raw);
      if (typeof checked === "string") reason = checked;
      else event = checked;
    }
    const videoId = typeof event === "object" && event !== null ? (event as { videoId?: unknown }).videoId : undefined;
    if (reason === undefined && typeof videoId !== "string") reason = "videoId: an event needs a videoId";
    if (reason !== undefined) {
      rejected.push(typeof rawId === "string" ? { index, id: rawId, reason } : { index, reason });
      continue;
    }
    let value: string;
    try {
      value = JSON.stringify(event);
    } catch (error) {
      const why = `not serializable as JSON: ${error instanceof Error ? error.message : String(error)}`;
      rejected.push(typeof rawId === "string" ? { index, id: rawId, reason: why } : { index, reason: why });
      continue;
    }
    messages.push({ key: videoId as string, value });
  }
  return { messages, rejected };
}

type Message = { key: string; value: string };

interface PendingSend {
  messages: Message[];
  result: SendResult;
  resolve(result: SendResult): void;
  reject(error: unknown): void;
}

/**
 * Produce engagement events to Kafka, keyed by `videoId` so each video's events stay in order in
 * one partition. The producer is idempotent (acks from all in-sync replicas, one request in flight),
 * so a retried request never writes an event twice or out of order; `send` calls are applied in
 * the order they were made. Sends made while a produce is in flight are grouped into the next
 * one (a group commit): many concurrent small sends cost a few round trips, not one each. A
 * failed produce rejects the sends whose events did not all reach Kafka; the others resolve.
 */
export function createKafkaEventSink(options: KafkaEventSinkOptions): KafkaEventSink {
  const config = parseWith(sinkOptionsSchema, options, EngagementErrorCode.INVALID_OPTIONS, "options");
  let producer: Producer | undefined;
  let connecting: Promise<Producer> | undefined;
  let closed = false;
  const serial = serialQueue();
  let pending: PendingSend[] = [];
  let draining = false;

  const connected = (): Promise<Producer> => {
    if (producer !== undefined) return Promise.resolve(producer);
    connecting ??= (async () => {
      try {
        // kafkajs refuses (synchronously) an idempotent producer on a client configured with no retries.
        const created = config.kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
        await created.connect();
        producer = created;
        return created;
      } catch (cause) {
        connecting = undefined;
        throw backendFailed("connecting the producer", cause);
      }
    })();
    return connecting;
  };

  /** Produce `messages` in slices under Kafka's request limits, in order; `done` counts what landed. */
  const produce = async (messages: readonly Message[], done: { count: number }) => {
    if (messages.length === 0) return; // nothing to produce: no connection needed
    const client = await connected();
    let start = 0;
    while (start < messages.length) {
      let end = start;
      let bytes = 0;
      while (end < messages.length && end - start < maxRequestMessages) {
        const m = messages[end] as Message;
        bytes += m.key.length + m.value.length + 64;
        if (bytes > maxRequestBytes && end > start) break;
        end++;
      }
      try {
        await client.send({ topic: config.topic, acks: -1, messages: messages.slice(start, end) });
      } catch (cause) {
        throw backendFailed(`producing to ${config.topic}`, cause);
      }
      done.count = end;
      start = end;
    }
  };

  /** Everything queued, a group at a time, until nothing is left. */
  const drain = async () => {
    if (draining) return;
    draining = true;
    try {
      while (pending.length > 0) {
        const group = pending;
        pending = [];
        if (closed) {
          const error = new EngagementError(EngagementErrorCode.CLOSED, "this Kafka event sink is closed");
          for (const send of group) send.reject(error);
          continue;
        }
        const done = { count: 0 };
        try {
          await produce(
            group.flatMap((send) => send.messages),
            done,
          );
          for (const send of group) send.resolve(send.result);
        } catch (error) {
          // Sends whose events all landed before the failure succeeded; the rest did not.
          let end = 0;
          for (const send of group) {
            end += send.messages.length;
            if (end <= done.count) send.resolve(send.result);
            else send.reject(error);
          }
        }
      }
    } finally {
      draining = false;
    }
  };

  return {
    send(input) {
      if (closed)
        return Promise.reject(new EngagementError(EngagementErrorCode.CLOSED, "this Kafka event sink is closed"));
      let parsed: ReturnType<typeof toMessages>;
      try {
        parsed = toMessages(input, config.validate);
      } catch (error) {
        return Promise.reject(error);
      }
      const result: SendResult = { accepted: parsed.messages.length, rejected: parsed.rejected };
      return new Promise<SendResult>((resolve, reject) => {
        // All rejected by validation: the answer needs no broker.
        if (parsed.messages.length === 0) {
          resolve(result);
          return;
        }
        pending.push({ messages: parsed.messages, result, resolve, reject });
        void serial(drain);
      });
    },

    close: () =>
      serial(async () => {
        if (closed) return;
        closed = true;
        const pendingProducer = connecting;
        producer = undefined;
        connecting = undefined;
        if (pendingProducer === undefined) return;
        try {
          await (await pendingProducer).disconnect();
        } catch (cause) {
          // A producer that never connected has nothing to close.
          if (cause instanceof EngagementError) return;
          throw backendFailed("disconnecting the producer", cause);
        }
      }),
  };
}

const next = (offset: string) => (BigInt(offset) + 1n).toString();

/**
 * A consumer-group member that applies the topic's events to every engagement given.
 *
 * Exactly once, from at-least-once: a slice's offsets are committed only after `record()`
 * resolved on every engagement, so a crash, a restart or a rebalance can only make a slice be
 * read again, never skipped. Reading it again is harmless: every store remembers the ids it
 * applied (for the dedupe window, which `record()` also enforces on event age) and applies an id
 * at most once, together with the pair state and counters it moves. So each event moves the
 * totals exactly once across crashes, restarts and rebalances; and since a video's events share a
 * partition and are applied in partition order, a re-read applies the missing ones in the order
 * the first read would have. (With several engagements, one may have applied a slice that another
 * failed on: the re-read is a no-op for the first and completes the second.)
 */
export function createKafkaAggregator(options: KafkaAggregatorOptions): KafkaAggregator {
  const config = parseWith(aggregatorOptionsSchema, options, EngagementErrorCode.INVALID_OPTIONS, "options");
  const { engagements, batchSize, topic } = config;
  let consumer: Consumer | undefined;
  const serial = serialQueue();
  // Bumped whenever the group rebalances: a slice that started in an older generation may have
  // lost its partition to another member, so it must not commit (the new owner re-reads it).
  let generation = 0;

  // A callback that throws must not stall a partition (its slice would be re-read forever): ignore it.
  const quietly = <T>(callback: ((arg: T) => void) | undefined, arg: T) => {
    try {
      callback?.(arg);
    } catch {}
  };
  const report = (rejection: KafkaRejection) => quietly(config.onReject, rejection);

  async function applySlice(
    payload: EachBatchPayload,
    messages: readonly KafkaMessage[],
    last: boolean,
    startedIn: number,
  ): Promise<boolean> {
    const { batch } = payload;
    const { partition } = batch;
    const events: unknown[] = [];
    const offsets: string[] = [];
    let malformed = 0;
    for (const message of messages) {
      let event: unknown;
      try {
        event = JSON.parse(message.value === null ? "" : message.value.toString("utf8"));
      } catch (error) {
        malformed++;
        report({
          topic,
          partition,
          offset: message.offset,
          reason: `not valid JSON: ${error instanceof Error ? error.message : String(error)}`,
        });
        continue;
      }
      events.push(event);
      offsets.push(message.offset);
    }
    const results: RecordResult[] =
      events.length === 0 ? [] : await Promise.all(engagements.map((e) => e.record(events)));
    results.forEach((result, engagementIndex) => {
      for (const r of result.rejected) {
        report({
          topic,
          partition,
          offset: offsets[r.index] ?? "",
          ...(r.id !== undefined && { id: r.id }),
          reason: r.reason,
          engagement: engagementIndex,
        });
      }
    });
    // Checked and committed in one synchronous step: no rebalance can slip in between.
    if (generation !== startedIn || payload.isStale()) return false;
    const first = messages[0] as KafkaMessage;
    const lastMessage = messages[messages.length - 1] as KafkaMessage;
    // The batch's own last offset may lie past its last message (transaction markers): commit past those too.
    const through = last ? batch.lastOffset() : lastMessage.offset;
    payload.resolveOffset(through);
    await payload.commitOffsetsIfNecessary({
      topics: [{ topic: batch.topic, partitions: [{ partition, offset: next(through) }] }],
    });
    quietly(config.onBatch, {
      topic: batch.topic,
      partition,
      firstOffset: first.offset,
      lastOffset: lastMessage.offset,
      messages: messages.length,
      malformed,
      results,
      lag: lagAfter(batch, through),
    });
    return true;
  }

  async function eachBatch(payload: EachBatchPayload): Promise<void> {
    const startedIn = generation;
    const { messages } = payload.batch;
    for (let start = 0; start < messages.length; start += batchSize) {
      // Stopping, seeking or rebalancing: leave the rest unresolved; it is fetched again from the committed offset.
      if (!payload.isRunning() || payload.isStale() || generation !== startedIn) return;
      const slice = messages.slice(start, start + batchSize);
      const committed = await applySlice(payload, slice, start + batchSize >= messages.length, startedIn);
      if (!committed) return;
      await payload.heartbeat();
    }
  }

  return {
    start: () =>
      serial(async () => {
        if (consumer !== undefined) return;
        let created: Consumer;
        try {
          created = config.kafka.consumer({
            groupId: config.groupId,
            ...(config.sessionTimeoutMs !== undefined && { sessionTimeout: config.sessionTimeoutMs }),
            ...(config.heartbeatIntervalMs !== undefined && { heartbeatInterval: config.heartbeatIntervalMs }),
          });
        } catch (cause) {
          throw backendFailed("creating the consumer", cause);
        }
        const bump = () => {
          generation++;
        };
        created.on(created.events.GROUP_JOIN, bump);
        created.on(created.events.REBALANCING, bump);
        created.on(created.events.CRASH, (event) => {
          bump();
          try {
            config.onError?.(backendFailed("consuming", event.payload.error), event.payload.restart);
          } catch {}
        });
        try {
          await created.connect();
          await created.subscribe({ topics: [topic], fromBeginning: config.fromBeginning });
          await created.run({
            autoCommit: false,
            eachBatchAutoResolve: false,
            partitionsConsumedConcurrently: config.concurrency,
            eachBatch,
          });
        } catch (cause) {
          await created.disconnect().catch(() => {});
          throw backendFailed(`consuming ${topic} as group ${config.groupId}`, cause);
        }
        consumer = created;
      }),

    stop: () =>
      serial(async () => {
        const running = consumer;
        consumer = undefined;
        if (running === undefined) return;
        try {
          await running.disconnect();
        } catch (cause) {
          throw backendFailed("stopping the consumer", cause);
        }
      }),
  };
}

function lagAfter(batch: Batch, through: string): number {
  const lag = BigInt(batch.highWatermark) - BigInt(through) - 1n;
  return lag > 0n ? Number(lag) : 0;
}
