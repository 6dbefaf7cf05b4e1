// Scaled mode end to end against the real engines: the API, a transcoder and the engagement
// aggregator as processes of their own (as `npm run start:scaled` runs them), with a prefix, topic
// names and a keyspace of this run. A creator uploads a real clip; it is transcoded by the other
// process and published; it shows in both feeds and plays; telemetry goes API → Kafka → aggregator
// → Cassandra and shows in the counts, exactly once; every status change is on the lifecycle
// topic. Then the API is stopped while a transcode finishes unseen, and on restart the
// reconciliation against the job records publishes it; the ranker's state (Redis) survived.
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { processTranscodes } from "@reelkit/transcode";
import { createRedisJobQueue } from "@reelkit/transcode/redis";
import { createUploadClient } from "@reelkit/upload/client";
import { Client as CassandraClient } from "cassandra-driver";
import { Redis } from "ioredis";
import { type Admin, type Consumer, Kafka, logLevel } from "kafkajs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { repoRoot, sourceArgs, tsxPath } from "../../../../test/run.js";
import { serviceEnv } from "../../../../test/services.js";
import { createRedisLimiters } from "../scaled/limiter.js";

process.env.KAFKAJS_NO_PARTITIONER_WARNING = "1";

// A missing engine fails here, loudly, like every integration test of the repository.
const engines = {
  REDIS_URL: serviceEnv("REDIS_URL"),
  KAFKA_BROKERS: serviceEnv("KAFKA_BROKERS"),
  CASSANDRA_CONTACT_POINTS: serviceEnv("CASSANDRA_CONTACT_POINTS"),
  CASSANDRA_LOCAL_DATACENTER: process.env.CASSANDRA_LOCAL_DATACENTER ?? "datacenter1",
};
const run = randomUUID().replaceAll("-", "").slice(0, 12);
const names = {
  REDIS_PREFIX: `reelkit-test-${run}`,
  KAFKA_TOPIC_PREFIX: `reelkit-test-${run}`,
  CASSANDRA_KEYSPACE: `reelkit_test_${run}`,
};
const lifecycleTopic = `${names.KAFKA_TOPIC_PREFIX}.videos.lifecycle`;
const eventsTopic = `${names.KAFKA_TOPIC_PREFIX}.engagement.events`;
const aggregatorGroup = `${names.KAFKA_TOPIC_PREFIX}-engagement-aggregator`;
const main = fileURLToPath(new URL("../main.ts", import.meta.url));

const redis = new Redis(engines.REDIS_URL);
const kafka = new Kafka({
  clientId: "reelkit-scaled-test",
  brokers: engines.KAFKA_BROKERS.split(","),
  logLevel: logLevel.NOTHING,
});
let admin: Admin | undefined;
let lifecycle: Consumer | undefined;
const statusEvents: Array<{ videoId: string; ownerId: string; status: string; at: number; reasons?: string[] }> = [];

let root: string;
let clip: Buffer;
const processes = new Map<string, Proc>();

interface Proc {
  child: ChildProcess;
  lines: string[];
  /** Resolves with the first line matching, bounded. */
  line(match: RegExp, timeoutMs: number): Promise<string>;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

function start(role: "api" | "transcoder" | "aggregator", extra: Record<string, string> = {}): Proc {
  const child = spawn(tsxPath, sourceArgs(main), {
    cwd: repoRoot,
    env: {
      ...process.env,
      ...engines,
      ...names,
      DATA_DIR: join(root, "data"),
      TOKEN_SECRET: "a-test-secret-of-at-least-32-characters!",
      TRANSCODE_PRESET: "ultrafast",
      PORT: "0",
      HOST: "127.0.0.1",
      REELKIT_ROLE: role,
      ...extra,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const lines: string[] = [];
  const waiting = new Set<{ match: RegExp; resolve: (line: string) => void }>();
  for (const stream of [child.stdout, child.stderr]) {
    createInterface({ input: stream }).on("line", (line) => {
      lines.push(line);
      for (const w of waiting)
        if (w.match.test(line)) {
          waiting.delete(w);
          w.resolve(line);
        }
    });
  }
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const proc: Proc = {
    child,
    lines,
    line(match, timeoutMs) {
      const seen = lines.find((l) => match.test(l));
      if (seen !== undefined) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const entry = { match, resolve };
        waiting.add(entry);
        const timer = setTimeout(() => {
          waiting.delete(entry);
          reject(
            new Error(
              `${role}: no line matching ${match} within ${timeoutMs} ms; its output:\n${lines.slice(-30).join("\n")}`,
            ),
          );
        }, timeoutMs);
        child.once("exit", (code) => {
          if (!waiting.has(entry)) return;
          waiting.delete(entry);
          clearTimeout(timer);
          reject(new Error(`${role} exited (${code}) before ${match}; its output:\n${lines.slice(-30).join("\n")}`));
        });
        void exited.then(() => clearTimeout(timer));
      });
    },
    async stop(signal = "SIGTERM") {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill(signal);
      const killer = setTimeout(() => child.kill("SIGKILL"), 20_000);
      await exited;
      clearTimeout(killer);
    },
  };
  processes.set(role, proc);
  return proc;
}

let base = "";
async function startApi(): Promise<void> {
  const api = start("api");
  const listening = JSON.parse(await api.line(/"message":"listening"/, 120_000)) as { url: string; mode: string };
  expect(listening.mode).toBe("scaled");
  base = listening.url;
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number, everyMs = 250) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

const signIn = async (user: string) => {
  const res = await fetch(`${base}/auth/sign-in`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ user }),
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as { token: string }).token;
};
const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });

interface VideoRow {
  id: string;
  status: string;
}
const myVideos = async (token: string) =>
  ((await (await fetch(`${base}/me/videos`, { headers: bearer(token) })).json()) as { videos: VideoRow[] }).videos;
const waitForStatus = (token: string, id: string, statuses: readonly string[], timeoutMs: number) =>
  until(
    `video ${id} to reach ${statuses.join("/")}`,
    async () => (await myVideos(token)).find((v) => v.id === id && statuses.includes(v.status)),
    timeoutMs,
    300,
  );

async function upload(token: string, title: string): Promise<string> {
  const client = createUploadClient({ endpoint: `${base}/uploads/`, headers: bearer(token), chunkSize: 256 * 1024 });
  const done = await client.upload(new Uint8Array(clip), {
    metadata: { title, filename: "clip.mp4" },
    fingerprint: false,
  }).done;
  return done.url.split("/").pop() ?? "";
}

/** Events of the topic the aggregator's group has not committed yet. */
async function aggregatorLag(): Promise<number> {
  const a = admin as Admin;
  const [ends, [committed]] = await Promise.all([
    a.fetchTopicOffsets(eventsTopic),
    a.fetchOffsets({ groupId: aggregatorGroup, topics: [eventsTopic] }),
  ]);
  const at = new Map((committed?.partitions ?? []).map((p) => [p.partition, BigInt(p.offset)]));
  let total = 0n;
  for (const end of ends) {
    const done = at.get(end.partition) ?? -1n;
    total += BigInt(end.high) - (done < 0n ? BigInt(end.low) : done);
  }
  return Number(total);
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "reelkit-scaled-"));
  const file = join(root, "clip.mp4");
  const generate = promisify(execFile)(process.env.FFMPEG_PATH ?? "ffmpeg", [
    ...["-v", "error", "-nostdin", "-y", "-f", "lavfi", "-i", "testsrc2=size=360x640:rate=30"],
    ...["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", "3"],
    ...["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", file],
  ]);
  // The three processes start together, as the launcher starts them.
  const transcoder = start("transcoder");
  const aggregator = start("aggregator");
  await Promise.all([
    generate,
    startApi(),
    transcoder.line(/"message":"transcoder ready"/, 120_000),
    aggregator.line(/"message":"aggregator ready"/, 120_000),
  ]);
  clip = await readFile(file);
  admin = kafka.admin();
  await admin.connect();
  // The API created the topics before listening; read the lifecycle from its beginning.
  lifecycle = kafka.consumer({ groupId: `reelkit-test-lifecycle-${run}` });
  await lifecycle.connect();
  await lifecycle.subscribe({ topics: [lifecycleTopic], fromBeginning: true });
  await lifecycle.run({
    eachMessage: async ({ message }) => {
      statusEvents.push(JSON.parse(message.value?.toString("utf8") ?? "null"));
    },
  });
}, 180_000);

afterAll(async () => {
  await Promise.all([...processes.values()].map((p) => p.stop()));
  await lifecycle?.disconnect().catch(() => {});
  if (admin !== undefined) {
    await admin.deleteGroups([aggregatorGroup, `reelkit-test-lifecycle-${run}`]).catch(() => {});
    await admin.deleteTopics({ topics: [eventsTopic, lifecycleTopic] }).catch(() => {});
    await admin.disconnect();
  }
  const cassandra = new CassandraClient({
    contactPoints: engines.CASSANDRA_CONTACT_POINTS.split(","),
    localDataCenter: engines.CASSANDRA_LOCAL_DATACENTER,
  });
  await cassandra.execute(`DROP KEYSPACE IF EXISTS ${names.CASSANDRA_KEYSPACE}`).catch(() => {});
  await cassandra.shutdown();
  let cursor = "0";
  do {
    const [next, keys] = await redis.scan(cursor, "MATCH", `${names.REDIS_PREFIX}:*`, "COUNT", 1000);
    cursor = next;
    if (keys.length > 0) await redis.del(...keys);
  } while (cursor !== "0");
  redis.disconnect();
  if (root !== undefined) await rm(root, { recursive: true, force: true });
}, 120_000);

let videoId = "";
const viewerSession = randomUUID();

describe("reference server, scaled mode", () => {
  it("is ready when its engines answer, and says it is scaled", async () => {
    const ready = await fetch(`${base}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({
      status: "ready",
      mode: "scaled",
      checks: { database: { ok: true }, redis: { ok: true }, kafka: { ok: true }, cassandra: { ok: true } },
    });
    expect(await (await fetch(`${base}/healthz`)).json()).toMatchObject({ status: "ok", mode: "scaled" });
    const openapi = (await (await fetch(`${base}/openapi.json`)).json()) as { paths: Record<string, unknown> };
    expect(Object.keys(openapi.paths)).toContain("/readyz");
  });

  it("transcodes in the transcoder process, publishes, and serves the video in both feeds", async () => {
    const creator = await signIn("creator");
    videoId = await upload(creator, "Scaled clip");
    await waitForStatus(creator, videoId, ["published", "limited", "held", "rejected", "failed"], 120_000);
    expect((await myVideos(creator)).find((v) => v.id === videoId)?.status).toBe("published");
    // The transcoder process ran it (the API runs no worker in scaled mode).
    expect((processes.get("transcoder") as Proc).lines.some((l) => l.includes(videoId))).toBe(true);

    const anonymous = (await (await fetch(`${base}/feed`)).json()) as { items: Array<{ id: string; src: string }> };
    expect(anonymous.items[0]).toMatchObject({ id: videoId, src: `/media/${videoId}/master.m3u8` });
    const ranked = (await (await fetch(`${base}/feed`, { headers: bearer(await signIn("viewer")) })).json()) as {
      items: Array<{ id: string }>;
      cursor: string | null;
    };
    expect(ranked.items.map((i) => i.id)).toContain(videoId);
    const master = await fetch(`${base}/media/${videoId}/master.m3u8`);
    expect(master.status).toBe(200);
    expect(master.headers.get("content-type")).toBe("application/vnd.apple.mpegurl");
    expect(await master.text()).toContain("#EXTM3U");
  }, 150_000);

  it("counts telemetry through Kafka and the aggregator into Cassandra, exactly once", async () => {
    const viewer = await signIn("viewer");
    const now = Date.now();
    const event = (id: string, type: string, extra: Record<string, unknown> = {}) => ({
      id: `${run}-${id}`,
      type,
      videoId,
      sessionId: viewerSession,
      ts: now,
      ...extra,
    });
    const batch = [
      event("impression", "impression"),
      event("view", "view"),
      event("complete", "complete", { watchMs: 3000, positionMs: 3000, durationMs: 3000 }),
      event("like", "like", { userId: "u-viewer" }),
    ];
    const post = () =>
      fetch(`${base}/events`, {
        method: "POST",
        headers: { "content-type": "application/json", ...bearer(viewer) },
        body: JSON.stringify(batch),
      });
    const first = await post();
    expect(first.status).toBe(202);
    expect(await first.json()).toMatchObject({ accepted: 4, rejected: [] });
    const counts = async () =>
      ((await (await fetch(`${base}/videos/${videoId}`)).json()) as { counts: Record<string, number> }).counts;
    await until("the aggregated counts", async () => ((await counts()).likes === 1 ? true : undefined), 60_000, 500);
    expect(await counts()).toMatchObject({ views: 1, likes: 1, completions: 1, impressions: 1, watchMs: 3000 });

    // The same batch again (a client retry): produced again, applied never.
    expect((await post()).status).toBe(202);
    await until(
      "the aggregator to catch up",
      async () => ((await aggregatorLag()) === 0 ? true : undefined),
      60_000,
      500,
    );
    expect(await counts()).toMatchObject({ views: 1, likes: 1, completions: 1, impressions: 1, watchMs: 3000 });

    // The limit the API applied lives in Redis, where every API process draws from it.
    expect(await redis.exists(`${names.REDIS_PREFIX}:ratelimit:events:127.0.0.1`)).toBe(1);
  }, 150_000);

  it("publishes every status change on the lifecycle topic", async () => {
    const statuses = () => statusEvents.filter((e) => e.videoId === videoId).map((e) => e.status);
    await until("the lifecycle events", async () => (statuses().includes("published") ? true : undefined), 30_000);
    expect(statuses()).toEqual(["uploaded", "transcoding", "moderation", "published"]);
    const published = statusEvents.find((e) => e.videoId === videoId && e.status === "published");
    expect(published).toMatchObject({ ownerId: "u-creator" });
    expect(published?.at).toBeGreaterThan(0);
  });

  it("shares rate limits between processes through Redis", async () => {
    // Two limiters on two connections stand for two API processes.
    const other = new Redis(engines.REDIS_URL);
    try {
      const prefix = `${names.REDIS_PREFIX}:ratelimit-test:`;
      const a = createRedisLimiters(redis, { prefix, log: () => {} })("events", 5);
      const b = createRedisLimiters(other, { prefix, log: () => {} })("events", 5);
      const answers = [];
      for (const limiter of [a, b, a, b, a, b, a]) answers.push(await limiter("203.0.113.7"));
      expect(answers).toEqual([true, true, true, true, true, false, false]);
      expect(await b("203.0.113.8")).toBe(true); // another client has its own bucket
    } finally {
      other.disconnect();
    }
  });

  it("publishes a transcode that completed while the API was down (reconciled from the job records)", async () => {
    // No transcoder: the job waits in Redis.
    await (processes.get("transcoder") as Proc).stop();
    const creator = await signIn("creator");
    const missed = await upload(creator, "Finished while the API was down");
    await waitForStatus(creator, missed, ["transcoding"], 30_000);
    await (processes.get("api") as Proc).stop();

    // A worker runs the job while no API listens: its completion event reaches nobody.
    const client = new Redis(engines.REDIS_URL);
    const queue = createRedisJobQueue({ client, keyPrefix: `${names.REDIS_PREFIX}:transcode:` });
    const worker = processTranscodes(queue, { concurrency: 1 });
    try {
      await until(
        "the job to complete",
        async () => ((await queue.get(missed))?.state === "completed" ? true : undefined),
        90_000,
        500,
      );
    } finally {
      await worker.close({ timeoutMs: 5000 });
      await queue.close();
      client.disconnect();
    }

    await startApi();
    const viewer = await signIn("viewer");
    expect((await myVideos(creator)).find((v) => v.id === missed)?.status).toBe("published");
    // The counts and the ranker's memory (Redis) survived the restart: the viewer has seen the first clip.
    const ranked = (await (await fetch(`${base}/feed`, { headers: bearer(viewer) })).json()) as {
      items: Array<{ id: string }>;
    };
    expect(ranked.items.map((i) => i.id)).toContain(missed);
    expect(ranked.items.map((i) => i.id)).not.toContain(videoId);
    const video = (await (await fetch(`${base}/videos/${videoId}`)).json()) as { counts: Record<string, number> };
    expect(video.counts).toMatchObject({ views: 1, likes: 1 });
    await until(
      "the lifecycle of the reconciled video",
      async () => (statusEvents.some((e) => e.videoId === missed && e.status === "published") ? true : undefined),
      30_000,
    );
  }, 240_000);
});
