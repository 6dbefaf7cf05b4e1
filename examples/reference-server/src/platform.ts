// The composition root of embedded mode: one process holding the database, the tus endpoint, the
// transcode queue and worker, and engagement. It adapts one package's output to the next one's
// input: upload.completed → transcode job → moderation → published (or failed).
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { createEngagement, type Engagement, type EngagementEvent } from "@reelkit/engagement";
import { Catalog, createFeedRanker, type FeedRanker } from "@reelkit/feed-ranker";
import {
  createModeration,
  createReviewQueue,
  createSpamCheck,
  createTextCheck,
  type Moderation,
  type ReviewQueue,
} from "@reelkit/moderation";
import { createMemoryJobQueue, type JobQueue, processTranscodes, type Worker } from "@reelkit/transcode";
import { createFileStore, createUploadServer, type UploadServer, type UploadStore } from "@reelkit/upload";
import { createTokens, demoUsers, type Tokens } from "./auth.js";
import type { Config } from "./config.js";
import { type Database, openDatabase, type Video, type VideoStatus } from "./db.js";

export interface Metrics {
  inc(name: string, labels?: Record<string, string>, by?: number): void;
  render(): string;
}

function createMetrics(): Metrics {
  const values = new Map<string, number>();
  const key = (name: string, labels: Record<string, string>) => {
    const parts = Object.entries(labels).map(([k, v]) => `${k}="${v.replace(/["\\\n]/g, "_")}"`);
    return parts.length === 0 ? name : `${name}{${parts.join(",")}}`;
  };
  return {
    inc(name, labels = {}, by = 1) {
      const k = key(name, labels);
      values.set(k, (values.get(k) ?? 0) + by);
    },
    render() {
      const names = new Set([...values.keys()].map((k) => k.split("{")[0] ?? k));
      const lines: string[] = [];
      for (const name of [...names].sort()) {
        lines.push(`# TYPE ${name} counter`);
        for (const [k, v] of values) if ((k.split("{")[0] ?? k) === name) lines.push(`${k} ${v}`);
      }
      return `${lines.join("\n")}\n`;
    },
  };
}

export interface Platform {
  config: Config;
  db: Database;
  tokens: Tokens;
  uploads: UploadServer;
  uploadStore: UploadStore;
  queue: JobQueue;
  engagement: Engagement;
  /** Personalised pages for signed-in viewers (its signals and state are in memory: embedded mode). */
  ranker: FeedRanker;
  /** Feed engagement to the ranker (signed-in viewers only), mapping engagement's event types to its own. */
  rankerEngage(userId: string, events: readonly EngagementEvent[]): Promise<void>;
  moderation: Moderation;
  /** Held and blocked videos wait here for a moderator. */
  reviews: ReviewQueue;
  metrics: Metrics;
  /** Published videos the ranker may serve: remove a video here to take it out of every feed. */
  catalog: Catalog;
  log: Log;
  mediaDir: string;
  /** Whether a video's media may be served to anyone. */
  isPublic(videoId: string): Promise<boolean>;
  /** Resolves when a video leaves the pipeline (published, limited, held, rejected or failed). */
  settled(videoId: string): Promise<Video>;
  close(): Promise<void>;
}

export type Log = (message: string, fields?: Record<string, unknown>) => void;

/** A structured log line on stdout (JSON), one per event worth knowing. */
export const jsonLog: Log = (message, fields = {}) => {
  process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), message, ...fields })}\n`);
};

async function secretFor(config: Config): Promise<string> {
  if (config.TOKEN_SECRET !== undefined) return config.TOKEN_SECRET;
  const file = join(config.DATA_DIR, "token-secret");
  if (existsSync(file)) return (await readFile(file, "utf8")).trim();
  const secret = randomBytes(32).toString("base64url");
  await writeFile(file, secret, { mode: 0o600, flag: "wx" }).catch(() => {});
  return (await readFile(file, "utf8")).trim();
}

const FINAL_STATUSES = new Set(["published", "limited", "held", "rejected", "failed"]);

export async function startPlatform(config: Config, log: Log = jsonLog): Promise<Platform> {
  const mediaDir = join(config.DATA_DIR, "media");
  const uploadDir = join(config.DATA_DIR, "uploads");
  await mkdir(mediaDir, { recursive: true });
  await mkdir(uploadDir, { recursive: true });
  const tokens = createTokens(await secretFor(config));
  const db = await openDatabase(join(config.DATA_DIR, "db"));
  for (const user of demoUsers) await db.upsertUser(user);
  const engagement = await createEngagement({ journal: { path: join(config.DATA_DIR, "engagement.jsonl") } });
  const metrics = createMetrics();
  const catalog = new Catalog();
  const toCatalog = (video: Video) => ({
    videoId: video.id,
    creatorId: video.ownerId,
    createdAt: video.publishedAt ?? video.createdAt,
    ...(video.durationMs ? { durationMs: video.durationMs } : {}),
  });
  const published = await db.byStatus(["published"]);
  if (published.length > 0) catalog.upsert(published.map(toCatalog));
  const ranker = createFeedRanker({ catalog, secret: tokens.sign("feed-ranker cursors") });
  const rankerTypes: Record<string, "impression" | "view" | "complete" | "like" | "share" | "skip" | undefined> = {
    impression: "impression",
    view: "view",
    watch: "view",
    complete: "complete",
    replay: "complete",
    like: "like",
    share: "share",
    skip: "skip",
  };
  // Before publishing: the title through the text and spam checks; held and blocked videos go to
  // the review queue for a human (the moderator dashboard is still to come).
  const moderation = createModeration({ checks: [createTextCheck(), createSpamCheck()] });
  const reviews = createReviewQueue();
  const statusOf: Record<string, VideoStatus> = {
    allow: "published",
    limit: "limited",
    hold: "held",
    block: "rejected",
  };
  const waiters = new Map<string, Array<(video: Video) => void>>();

  const settle = async (videoId: string) => {
    const video = await db.getVideo(videoId);
    if (video === undefined || !FINAL_STATUSES.has(video.status)) return;
    for (const resolve of waiters.get(videoId) ?? []) resolve(video);
    waiters.delete(videoId);
  };

  const queue = createMemoryJobQueue();
  const startTranscode = async (videoId: string) => {
    await db.setStatus(videoId, "transcoding");
    await queue.enqueue({
      id: videoId,
      input: join(uploadDir, videoId),
      outDir: join(mediaDir, videoId),
      options: { force: true, preset: config.TRANSCODE_PRESET },
    });
  };
  queue.on("completed", ({ id, result }) => {
    void (async () => {
      const video = await db.getVideo(id);
      if (video === undefined) return;
      const durationMs = (result as { durationMs?: number } | undefined)?.durationMs;
      await db.setStatus(id, "moderation", durationMs !== undefined ? { durationMs: Math.round(durationMs) } : {});
      const decision = await moderation.beforePublish({ id, uploader: { id: video.ownerId }, title: video.title });
      const status = statusOf[decision.decision] ?? "held";
      if (decision.decision === "hold" || decision.decision === "block")
        await reviews.enqueue({
          subject: { kind: "video", id },
          reasons: decision.reasonCodes.length > 0 ? decision.reasonCodes.slice(0, 32) : ["policy"],
          severity: decision.decision === "block" ? "high" : "medium",
        });
      await db.setStatus(id, status, decision.reasonCodes.length > 0 ? { error: decision.reasonCodes.join(", ") } : {});
      if (status === "published") {
        const row = await db.getVideo(id);
        if (row !== undefined) catalog.upsert([toCatalog(row)]);
      }
      metrics.inc("reelkit_moderation_decisions_total", { decision: decision.decision });
      await engagement.registerVideo({
        videoId: id,
        creatorId: video.ownerId,
        ...(durationMs !== undefined ? { durationMs: Math.round(durationMs) } : {}),
      });
      metrics.inc("reelkit_transcodes_total", { result: "completed" });
      log("video moderated", { videoId: id, decision: decision.decision, reasons: decision.reasonCodes });
      await settle(id);
    })().catch((error: unknown) => log("publishing failed", { videoId: id, error: String(error) }));
  });
  queue.on("dead", ({ id, error }) => {
    void (async () => {
      await db.setStatus(id, "failed", { error: `${error.code}: ${error.message}` });
      metrics.inc("reelkit_transcodes_total", { result: "failed" });
      log("transcode failed", { videoId: id, code: error.code, error: error.message });
      await settle(id);
    })();
  });
  const worker: Worker = processTranscodes(queue, { concurrency: 1, closeTimeoutMs: 2000 });

  const uploadStore = createFileStore({ dir: uploadDir });
  const uploads = createUploadServer({
    store: uploadStore,
    path: "/uploads/",
    maxSize: config.MAX_UPLOAD_BYTES,
    tempDir: join(config.DATA_DIR, "tmp"),
    onUploadFinish: async ({ id, info }) => {
      const ownerId = info.metadata.owner;
      if (!ownerId) return; // not created through our endpoint
      const title = (info.metadata.title ?? info.metadata.filename ?? "Untitled").slice(0, 200);
      await db.createVideo({ id, ownerId, title, status: "uploaded" });
      metrics.inc("reelkit_uploads_completed_total");
      log("upload completed", { videoId: id, ownerId, bytes: info.length });
      await startTranscode(id);
    },
  });
  await mkdir(join(config.DATA_DIR, "tmp"), { recursive: true });

  // Restart: re-run transcodes that were running, and pick up uploads that completed just before
  // a crash (their video row was never written). Nothing is duplicated: ids are the upload ids.
  for (const video of await db.byStatus(["uploaded", "transcoding", "moderation"])) {
    log("resuming transcode", { videoId: video.id });
    await startTranscode(video.id);
  }
  for await (const info of uploadStore.list()) {
    const complete = info.length !== undefined && info.offset === info.length && info.concat?.type !== "partial";
    if (!complete || !info.metadata.owner || (await db.getVideo(info.id)) !== undefined) continue;
    const title = (info.metadata.title ?? info.metadata.filename ?? "Untitled").slice(0, 200);
    await db.createVideo({ id: info.id, ownerId: info.metadata.owner, title, status: "uploaded" });
    log("recovered completed upload", { videoId: info.id });
    await startTranscode(info.id);
  }
  const sweep = setInterval(() => void uploads.sweep().catch(() => {}), 10 * 60 * 1000);
  sweep.unref();

  return {
    config,
    db,
    tokens,
    uploads,
    uploadStore,
    queue,
    engagement,
    ranker,
    async rankerEngage(userId, events) {
      const mapped = events.flatMap((event) => {
        const type = rankerTypes[event.type];
        if (type === undefined || catalog.get(event.videoId) === undefined) return [];
        return [
          {
            userId,
            videoId: event.videoId,
            type,
            ts: event.ts,
            ...(event.watchMs !== undefined ? { watchMs: event.watchMs } : {}),
          },
        ];
      });
      if (mapped.length > 0) await ranker.engage(mapped);
    },
    moderation,
    reviews,
    metrics,
    catalog,
    log,
    mediaDir,
    async isPublic(videoId) {
      const video = await db.getVideo(videoId);
      return video !== undefined && (video.status === "published" || video.status === "limited");
    },
    settled(videoId) {
      return new Promise((resolve) => {
        const list = waiters.get(videoId) ?? [];
        list.push(resolve);
        waiters.set(videoId, list);
        void settle(videoId);
      });
    },
    async close() {
      clearInterval(sweep);
      await uploads.close();
      await worker.close({ timeoutMs: 2000 });
      await engagement.close();
      await db.close();
    },
  };
}
