import { type ChildProcess, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { fileURLToPath } from "node:url";
import { Redis } from "ioredis";
import { type Admin, Kafka, logLevel } from "kafkajs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { serviceEnv } from "../../../../test/services.js";
import { createKafkaAggregator, createKafkaEventSink, type KafkaRejection } from "../adapters/kafka.js";
import { createRedisStore } from "../adapters/redis-store.js";
import { createEngagement, type Engagement, type VideoCounts } from "../engagement.js";
import { EngagementErrorCode } from "../errors.js";
import type { EngagementEvent } from "../schema.js";
import { T0 } from "./engagement.contract.js";

// kafkajs warns once that its default partitioner changed in 2.0; we key by videoId with it on purpose.
process.env.KAFKAJS_NO_PARTITIONER_WARNING = "1";

const brokers = serviceEnv("KAFKA_BROKERS").split(",");
const redisUrl = serviceEnv("REDIS_URL");
// kafkajs logs every expected rebalance ("The group is rebalancing") as an error: keep the output to the figures.
const kafka = new Kafka({ clientId: "reelkit-engagement-test", brokers, logLevel: logLevel.NOTHING });
const redis = new Redis(redisUrl);
let admin: Admin;
beforeAll(async () => {
  admin = kafka.admin();
  await admin.connect();
});
afterAll(async () => {
  await admin.disconnect();
  redis.disconnect();
});

const repoRoot = fileURLToPath(new URL("../../../../", import.meta.url));
const fixture = fileURLToPath(new URL("./fixtures/aggregator-process.ts", import.meta.url));
const tallies = ["impressions", "completions", "replays", "skips", "shares", "comments"] as const;
const exact = [...tallies, "views", "likes", "watchMs"] as const;

/** A fresh 3-partition topic and group name; the topic and the group are deleted afterwards. */
async function withTopic(work: (topic: string, groupId: string) => Promise<void>): Promise<void> {
  const run = randomUUID();
  const topic = `reelkit-test-${run}`;
  const groupId = `reelkit-test-group-${run}`;
  await admin.createTopics({ topics: [{ topic, numPartitions: 3, replicationFactor: 1 }], waitForLeaders: true });
  try {
    await work(topic, groupId);
  } finally {
    await admin.deleteGroups([groupId]).catch(() => {});
    await admin.deleteTopics({ topics: [topic] });
  }
}

/** Messages of the topic the group has not committed yet. */
async function lag(topic: string, groupId: string): Promise<number> {
  const [ends, [committed]] = await Promise.all([
    admin.fetchTopicOffsets(topic),
    admin.fetchOffsets({ groupId, topics: [topic] }),
  ]);
  const at = new Map((committed?.partitions ?? []).map((p) => [p.partition, BigInt(p.offset)]));
  let total = 0n;
  for (const end of ends) {
    const done = at.get(end.partition) ?? -1n;
    total += BigInt(end.high) - (done < 0n ? BigInt(end.low) : done);
  }
  return Number(total);
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs: number, everyMs = 100) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

/**
 * Seeded traffic: mixed event types over `videos` videos and `users` users, random like/unlike
 * sequences per (user, video), and 10 % re-sent copies of earlier events (same id).
 */
function traffic(options: { count: number; videos: number; users: number; seed: number; run: string }) {
  let seed = options.seed;
  const random = () => {
    seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  const below = (n: number) => Math.floor(random() * n);
  const videos = Array.from({ length: options.videos }, (_, i) => `${options.run}-v${i}`);
  const users = Array.from({ length: options.users }, (_, i) => `u${i}`);
  const events: EngagementEvent[] = [];
  const fresh: EngagementEvent[] = [];
  for (let i = 0; i < options.count; i++) {
    if (fresh.length > 0 && random() < 0.1) {
      events.push(fresh[below(fresh.length)] as EngagementEvent); // a client retry: same id, same event
      continue;
    }
    const r = random();
    const type =
      r < 0.25
        ? "impression"
        : r < 0.33
          ? "view"
          : r < 0.53
            ? "watch"
            : r < 0.6
              ? "complete"
              : r < 0.63
                ? "replay"
                : r < 0.67
                  ? "skip"
                  : r < 0.8
                    ? "like"
                    : r < 0.9
                      ? "unlike"
                      : r < 0.96
                        ? "share"
                        : "comment";
    const user = users[below(users.length)] as string;
    const event: EngagementEvent = {
      id: `${options.run}:${i}`,
      type,
      videoId: videos[below(videos.length)] as string,
      sessionId: `${user}-s${below(3)}`,
      ts: T0 + i,
      durationMs: 15_000,
      positionMs: below(15_000),
    };
    // Likes need a user; other events are anonymous one time in five.
    if (type === "like" || type === "unlike" || random() < 0.8) event.userId = user;
    if (type === "watch" || type === "complete" || type === "skip") event.watchMs = 200 + below(2500);
    fresh.push(event);
    events.push(event);
  }
  return { events, videos, users, now: T0 + options.count + 60_000 };
}

async function recordAll(engagement: Engagement, events: readonly EngagementEvent[]): Promise<void> {
  for (let i = 0; i < events.length; i += 5000) await engagement.record(events.slice(i, i + 5000));
}

const tallyOf = (counts: Record<string, VideoCounts>) =>
  Object.values(counts).reduce((sum, c) => sum + tallies.reduce((s, field) => s + c[field], 0), 0);

/** Every video's counters exactly, unique viewers within HyperLogLog error, and every (user, video) like. */
async function expectSameState(ours: Engagement, oracle: Engagement, videos: string[], users: string[]) {
  const [got, want] = await Promise.all([ours.counts(videos), oracle.counts(videos)]);
  for (const v of videos) {
    const g = got[v] as VideoCounts;
    const w = want[v] as VideoCounts;
    for (const field of exact)
      expect({ video: v, field, value: g[field] }).toEqual({ video: v, field, value: w[field] });
    expect(Math.abs(g.uniqueViewers - w.uniqueViewers)).toBeLessThanOrEqual(Math.max(1, 0.03 * w.uniqueViewers));
  }
  for (const user of users) expect(await ours.hasLiked(user, videos)).toEqual(await oracle.hasLiked(user, videos));
}

describe("Kafka pipeline", () => {
  it("carries events from the sink through Kafka into a Redis-backed engagement, as recording them directly would", async () => {
    await withTopic(async (topic, groupId) => {
      const { events, videos, users, now } = traffic({
        count: 6000,
        videos: 12,
        users: 40,
        seed: 1,
        run: randomUUID(),
      });
      const ours = await createEngagement({
        store: createRedisStore({ client: redis, keyPrefix: `test:${randomUUID()}:` }),
        now: () => now,
      });
      const oracle = await createEngagement({ now: () => now });
      const rejections: KafkaRejection[] = [];
      const aggregator = createKafkaAggregator({
        kafka,
        groupId,
        topic,
        engagements: ours,
        batchSize: 400,
        sessionTimeoutMs: 6000,
        heartbeatIntervalMs: 500,
        onReject: (r) => rejections.push(r),
      });
      const sink = createKafkaEventSink({ kafka, topic });
      try {
        await aggregator.start();
        for (let i = 0; i < events.length; i += 1000) {
          const slice = events.slice(i, i + 1000);
          expect(await sink.send(slice)).toEqual({ accepted: slice.length, rejected: [] });
        }
        await recordAll(oracle, events);

        // The sink refuses what the schema refuses, with record()'s reasons; clock rules are the aggregator's.
        const base = events[0] as EngagementEvent;
        const invalid = [
          { ...base, id: "bad-type", type: "poke" },
          "not an event",
          { ...base, id: "x", type: "like", userId: undefined },
        ];
        const tooOld = { ...base, id: `old-${randomUUID()}`, ts: T0 - 30 * 86_400_000 };
        const sent = await sink.send([...invalid, tooOld]);
        expect(sent.accepted).toBe(1);
        expect(sent.rejected).toEqual((await oracle.record(invalid)).rejected);
        // A message that is not JSON (another producer's bug) must not block its partition.
        const raw = kafka.producer();
        await raw.connect();
        await raw.send({
          topic,
          messages: [
            { key: base.videoId, value: "{not json" },
            { key: "x", value: null },
          ],
        });
        await raw.disconnect();

        await waitFor("the aggregator to commit everything", async () => (await lag(topic, groupId)) === 0, 45_000);
        expect(rejections.map((r) => [r.id, r.reason.replace(/:.*/s, "")]).sort()).toEqual(
          [
            [tooOld.id, `ts is older than the 604800000 ms dedupe window`],
            [undefined, "not valid JSON"],
            [undefined, "not valid JSON"],
          ].sort(),
        );
        await expectSameState(ours, oracle, videos, users);
        expect(tallyOf(await ours.counts(videos))).toBeGreaterThan(0);
      } finally {
        await aggregator.stop();
        await sink.close();
      }
    });
  });

  it("stays exact when group members come and go (rebalances)", async () => {
    await withTopic(async (topic, groupId) => {
      const { events, videos, users, now } = traffic({
        count: 20_000,
        videos: 30,
        users: 100,
        seed: 2,
        run: randomUUID(),
      });
      const keyPrefix = `test:${randomUUID()}:`;
      const ours = await createEngagement({ store: createRedisStore({ client: redis, keyPrefix }), now: () => now });
      const oracle = await createEngagement({ now: () => now });
      await recordAll(oracle, events);
      const member = () =>
        createKafkaAggregator({
          kafka,
          groupId,
          topic,
          engagements: ours,
          batchSize: 200,
          sessionTimeoutMs: 6000,
          heartbeatIntervalMs: 300,
        });
      const [a, b] = [member(), member()];
      const sink = createKafkaEventSink({ kafka, topic });
      try {
        await a.start();
        await sink.send(events.slice(0, 7000));
        await b.start(); // takes over some partitions from a
        await sink.send(events.slice(7000, 14_000));
        await a.stop(); // hands its partitions to b
        await sink.send(events.slice(14_000));
        await waitFor("the group to commit everything", async () => (await lag(topic, groupId)) === 0, 50_000);
        await expectSameState(ours, oracle, videos, users);
      } finally {
        await Promise.all([a.stop(), b.stop()]);
        await sink.close();
      }
    });
  }, 90_000);

  // THE crash test. 100,000 events through the real broker and Redis: well under a minute here.
  it("counts every event exactly once across a SIGKILL of the aggregator process and a restart", async () => {
    await withTopic(async (topic, groupId) => {
      const started = performance.now();
      const total = 100_000;
      const { events, videos, users, now } = traffic({
        count: total,
        videos: 50,
        users: 300,
        seed: 3,
        run: randomUUID(),
      });
      const keyPrefix = `test:${randomUUID()}:`;
      const oracle = await createEngagement({ now: () => now });
      await recordAll(oracle, events);
      const target = tallyOf(await oracle.counts(videos));

      const sink = createKafkaEventSink({ kafka, topic });
      expect((await sink.send(events)).accepted).toBe(total);
      await sink.close();

      const ours = await createEngagement({ store: createRedisStore({ client: redis, keyPrefix }), now: () => now });
      const env = {
        KAFKA_BROKERS: brokers.join(","),
        REDIS_URL: redisUrl,
        TOPIC: topic,
        GROUP_ID: groupId,
        KEY_PREFIX: keyPrefix,
        NOW: String(now),
        BATCH_SIZE: "500",
      };

      // First process: killed without warning once about half the events reached Redis — right after
      // it applied a slice and before it committed it (SLOW_RECORD_MS holds that window open), so the
      // restart must re-read events the store already has.
      const first = aggregatorProcess({ ...env, SLOW_RECORD_MS: "50" });
      let appliedAtKill = 0;
      try {
        await waitFor(
          "half the events in Redis",
          async () => {
            appliedAtKill = tallyOf(await ours.counts(videos));
            return appliedAtKill >= target / 2;
          },
          60_000,
          20,
        );
        await first.next("applied");
      } finally {
        first.child.kill("SIGKILL");
      }
      await first.exited;
      const committedAtKill = total - (await lag(topic, groupId));
      const appliedByFirst = first.sum("applied");
      expect(committedAtKill).toBeGreaterThan(0);
      expect(committedAtKill).toBeLessThan(appliedByFirst);

      // A fresh process in the same group picks up from the committed offsets.
      const second = aggregatorProcess(env);
      try {
        await waitFor("consumer lag 0", async () => (await lag(topic, groupId)) === 0, 90_000, 200);
      } finally {
        second.child.kill("SIGTERM");
      }
      expect(await second.exited).toBe(0);
      const consumedBySecond = second.sum("committed");
      // (More only if a rebalance made it re-read a slice of its own.)
      expect(consumedBySecond).toBeGreaterThanOrEqual(total - committedAtKill);

      await expectSameState(ours, oracle, videos, users);
      const seconds = (performance.now() - started) / 1000;
      console.log(
        `crash test: ${total} events (${total - new Set(events.map((e) => e.id)).size} re-sent copies); ` +
          `killed with ${((appliedAtKill / target) * 100).toFixed(1)} % of the tallies in Redis, ` +
          `${appliedByFirst} events applied by the first process, ${committedAtKill} committed; ` +
          `the second process read ${consumedBySecond}, of which ${appliedByFirst - committedAtKill} again ` +
          `(${second.sum("duplicates")} duplicates seen, re-sent copies included); ${seconds.toFixed(1)} s`,
      );
    });
  }, 180_000);
});

function aggregatorProcess(env: Record<string, string>) {
  const child: ChildProcess = spawn(process.execPath, ["--import", "tsx", "--conditions=@reelkit/source", fixture], {
    cwd: repoRoot,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const lines: Array<Record<string, unknown>> = [];
  const waiting: Array<{ field: string; resolve: () => void }> = [];
  let pending = "";
  child.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
    pending += chunk;
    const complete = pending.split("\n");
    pending = complete.pop() ?? "";
    for (const line of complete) {
      if (line.trim() === "") continue;
      const parsed = JSON.parse(line) as Record<string, unknown>;
      lines.push(parsed);
      for (const w of waiting.splice(0)) {
        if (w.field in parsed) w.resolve();
        else waiting.push(w);
      }
    }
  });
  /** Resolves on the next line that has `field`. */
  const next = (field: string) => new Promise<void>((resolve) => waiting.push({ field, resolve }));
  let stderr = "";
  child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
    stderr += chunk;
  });
  const exited = new Promise<number | null>((resolve) => {
    child.on("exit", (code) => {
      if (code !== 0 && code !== null && stderr !== "") console.error(stderr);
      resolve(code);
    });
  });
  const sum = (field: string) =>
    lines.reduce((s, l) => s + (typeof l[field] === "number" ? (l[field] as number) : 0), 0);
  return { child, exited, lines, sum, next };
}

describe("Kafka pipeline errors", () => {
  it("reports a broker it cannot reach as BACKEND_FAILED with the cause attached", async () => {
    const dead = new Kafka({
      brokers: ["127.0.0.1:1"],
      connectionTimeout: 200,
      retry: { retries: 1, initialRetryTime: 50, maxRetryTime: 100 },
      logLevel: logLevel.NOTHING,
    });
    const sink = createKafkaEventSink({ kafka: dead, topic: "nowhere" });
    const error = await sink
      .send([{ id: "e1", type: "share", videoId: "v", sessionId: "s", ts: T0 }])
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ code: EngagementErrorCode.BACKEND_FAILED });
    expect((error as Error).cause).toBeInstanceOf(Error);
    await sink.close();
    const engagement = await createEngagement();
    const aggregator = createKafkaAggregator({ kafka: dead, groupId: "nobody", engagements: engagement });
    const failed = await aggregator.start().catch((e: unknown) => e);
    expect(failed).toMatchObject({ code: EngagementErrorCode.BACKEND_FAILED });
    expect((failed as Error).cause).toBeInstanceOf(Error);
  });
});
