import { randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { processTranscodes } from "@reelkit/transcode";
import { createRedisJobQueue } from "@reelkit/transcode/redis";
import { createUploadClient } from "@reelkit/upload/client";
import { Redis } from "ioredis";
import { type Admin, type Consumer, Kafka, logLevel } from "kafkajs";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRedisLimiters } from "../scaled/limiter.js";
import { bearer, makeClip, signInAt } from "./helpers.js";
import { createScaledHarness, type Proc, type ScaledHarness, until } from "./scaled-harness.js";

let root: string;
let clip: Buffer;
// Created in beforeAll: a missing engine fails there, loudly, like every integration test of the repository.
let harness: ScaledHarness;
let redis: Redis;
let kafka: Kafka;
let admin: Admin | undefined;
let lifecycle: Consumer | undefined;
const statusEvents: Array<{ videoId: string; ownerId: string; status: string; at: number; reasons?: string[] }> = [];
const lifecycleGroup = () => `reelkit-test-lifecycle-${harness.run}`;

let base = "";
async function startApi(): Promise<void> {
  base = await harness.startApi();
}

const signIn = (user: string) => signInAt(base, user);

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
    a.fetchTopicOffsets(harness.eventsTopic),
    a.fetchOffsets({ groupId: harness.aggregatorGroup, topics: [harness.eventsTopic] }),
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
  harness = createScaledHarness({ dataDir: join(root, "data") });
  redis = new Redis(harness.engines.REDIS_URL);
  kafka = new Kafka({
    clientId: "reelkit-scaled-test",
    brokers: harness.engines.KAFKA_BROKERS.split(","),
    logLevel: logLevel.NOTHING,
  });
  const file = join(root, "clip.mp4");
  // The three processes start together, as the launcher starts them.
  const [url, bytes] = await Promise.all([harness.startAll(120_000), makeClip(file, { seconds: 3 })]);
  base = url;
  clip = bytes;
  admin = kafka.admin();
  await admin.connect();
  // The API created the topics before listening; read the lifecycle from its beginning.
  lifecycle = kafka.consumer({ groupId: lifecycleGroup() });
  await lifecycle.connect();
  await lifecycle.subscribe({ topics: [harness.lifecycleTopic], fromBeginning: true });
  await lifecycle.run({
    eachMessage: async ({ message }) => {
      statusEvents.push(JSON.parse(message.value?.toString("utf8") ?? "null"));
    },
  });
}, 180_000);

afterAll(async () => {
  await lifecycle?.disconnect().catch(() => {});
  await admin?.disconnect().catch(() => {});
  redis?.disconnect();
  // Stops the processes, then removes the topics, groups, keyspace and Redis keys of this run.
  await harness?.cleanup([lifecycleGroup()]);
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
    expect((harness.processes.get("transcoder") as Proc).lines.some((l) => l.includes(videoId))).toBe(true);

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
      id: `${harness.run}-${id}`,
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
    expect(await redis.exists(`${harness.names.REDIS_PREFIX}:ratelimit:events:127.0.0.1`)).toBe(1);
  }, 150_000);

  it("publishes every status change on the lifecycle topic", async () => {
    const statuses = () => statusEvents.filter((e) => e.videoId === videoId).map((e) => e.status);
    await until("the lifecycle events", async () => (statuses().includes("published") ? true : undefined), 30_000);
    expect(statuses()).toEqual(["uploaded", "transcoding", "moderation", "published"]);
    const published = statusEvents.find((e) => e.videoId === videoId && e.status === "published");
    expect(published).toMatchObject({ ownerId: "u-creator", version: 4 }); // uploaded 1 … published 4
    expect(published?.at).toBeGreaterThan(0);
  });

  it("serves one PostgreSQL from two API processes: a video uploaded through one plays from the other", async () => {
    const first = harness.processes.get("api") as Proc;
    const firstBase = base;
    const secondBase = await harness.startApi();
    const second = harness.processes.get("api") as Proc;
    try {
      expect(second).not.toBe(first);
      expect(await (await fetch(`${secondBase}/readyz`)).json()).toMatchObject({
        status: "ready",
        checks: { database: { ok: true } },
      });
      // The video the first process published is in the second's feed and page.
      const feedOf = async (at: string) =>
        ((await (await fetch(`${at}/feed`)).json()) as { items: Array<{ id: string }> }).items.map((i) => i.id);
      expect(await feedOf(secondBase)).toContain(videoId);
      expect((await fetch(`${secondBase}/videos/${videoId}`)).status).toBe(200);

      // Uploaded through the second process, it is published and served by the first.
      base = secondBase;
      const creator = await signIn("creator");
      const other = await upload(creator, "Uploaded through the second API");
      await waitForStatus(creator, other, ["published", "limited", "held", "rejected", "failed"], 120_000);
      base = firstBase;
      expect((await myVideos(creator)).find((v) => v.id === other)?.status).toBe("published");
      expect(await feedOf(firstBase)).toContain(other);
      const page = await fetch(`${firstBase}/videos/${other}`);
      expect(page.status).toBe(200);
      expect(await page.json()).toMatchObject({ id: other });
      expect((await fetch(`${firstBase}/media/${other}/master.m3u8`)).status).toBe(200);
      // The first process's ranker follows the database: its personalised feed serves the video
      // the second published, and drops it once a moderator (through the second) limits it.
      const viewer = await signIn("viewer");
      const rankedOf = async (at: string) =>
        (
          (await (await fetch(`${at}/feed?limit=50`, { headers: { authorization: `Bearer ${viewer}` } })).json()) as {
            items: Array<{ id: string }>;
          }
        ).items.map((i) => i.id);
      await until(
        "the first API's ranked feed to serve it",
        async () => ((await rankedOf(firstBase)).includes(other) ? true : undefined),
        30_000,
      );
      base = secondBase;
      const moderator = await signIn("moderator");
      base = firstBase;
      const removed = await fetch(`${secondBase}/moderation/decisions`, {
        method: "POST",
        headers: { authorization: `Bearer ${moderator}`, "content-type": "application/json" },
        // "limit", not "remove": a removal would bank the clip's frames, and later tests upload the same clip.
        body: JSON.stringify({ subject: { kind: "video", id: other }, action: "limit", reason: "reviewed:borderline" }),
      });
      expect(removed.status, await removed.clone().text()).toBe(201);
      await until(
        "the first API's ranked feed to drop it",
        async () => ((await rankedOf(firstBase)).includes(other) ? undefined : true),
        30_000,
      );
      // Both processes heard the completion; one claimed it: the video was moderated once.
      const otherStatuses = () => statusEvents.filter((e) => e.videoId === other).map((e) => e.status);
      await until(
        "the second video's lifecycle",
        async () => (otherStatuses().includes("published") ? true : undefined),
        30_000,
      );
      await new Promise((resolve) => setTimeout(resolve, 1000)); // room for a duplicate to show up
      expect(otherStatuses()).toEqual(["uploaded", "transcoding", "moderation", "published", "limited"]);
      // Both read this run's PostgreSQL database (not a PGlite of their own).
      const db = new pg.Client({ connectionString: harness.database.url });
      await db.connect();
      try {
        const rows = await db.query<{ id: string; status: string }>(
          "select id, status from videos where id = any($1::text[]) order by created_at",
          [[videoId, other]],
        );
        expect(rows.rows).toEqual([
          { id: videoId, status: "published" },
          { id: other, status: "limited" },
        ]);
      } finally {
        await db.end();
      }
    } finally {
      base = firstBase;
      await second.stop();
      harness.processes.set("api", first);
    }
  }, 180_000);

  it("shares rate limits between processes through Redis", async () => {
    // Two limiters on two connections stand for two API processes.
    const other = new Redis(harness.engines.REDIS_URL);
    try {
      const prefix = `${harness.names.REDIS_PREFIX}:ratelimit-test:`;
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
    await (harness.processes.get("transcoder") as Proc).stop();
    const creator = await signIn("creator");
    const missed = await upload(creator, "Finished while the API was down");
    await waitForStatus(creator, missed, ["transcoding"], 30_000);
    await (harness.processes.get("api") as Proc).stop();

    // A worker runs the job while no API listens: its completion event reaches nobody.
    const client = new Redis(harness.engines.REDIS_URL);
    const queue = createRedisJobQueue({ client, keyPrefix: `${harness.names.REDIS_PREFIX}:transcode:` });
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
