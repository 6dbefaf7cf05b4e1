// The composition root, API side: the database, the tus endpoint, moderation and the ranker, and
// the pipeline that adapts one package's output to the next one's input: upload.completed →
// transcode job → moderation → published (or failed). What differs between modes (the job queue,
// engagement, the ranker's and the review queue's stores, locks, rate limits, lifecycle events)
// comes from a `Backends` object: backends/embedded.ts (one process) or backends/scaled.ts (the
// real engines, with transcoders and the engagement aggregator as processes of their own).
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Engagement, EngagementEvent } from "@reelkit/engagement";
import { Catalog, createFeedRanker, type FeedRanker } from "@reelkit/feed-ranker";
import {
  createModeration,
  createReviewQueue,
  createSpamCheck,
  createTextCheck,
  type Moderation,
  type ReviewQueue,
} from "@reelkit/moderation";
import type { JobError, JobQueue } from "@reelkit/transcode";
import { createFileStore, createUploadServer, type UploadServer, type UploadStore } from "@reelkit/upload";
import { createTokens, demoUsers, type Tokens } from "./auth.js";
import { createEmbeddedBackends } from "./backends/embedded.js";
import type { Backends, LifecycleEvent } from "./backends/types.js";
import { type Config, type Mode, modeOf } from "./config.js";
import { type Database, openDatabase, type Video, type VideoStatus } from "./db.js";
import { type FrameBank, openFrameBank } from "./frames.js";
import { probe, type Readiness } from "./health.js";
import type { AppContext } from "./routes.js";

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
  /** Personalised pages for signed-in viewers (signals and state in memory, or in Redis when scaled). */
  ranker: FeedRanker;
  /** Feed engagement to the ranker (signed-in viewers only), mapping engagement's event types to its own. */
  rankerEngage(userId: string, events: readonly EngagementEvent[]): Promise<void>;
  moderation: Moderation;
  /** Known-media screening: frames of transcoded videos, and the bank of rejected clips. */
  frames: FrameBank;
  /** Held and blocked videos wait here for a moderator (in memory, or in Redis when scaled). */
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
  /** Embedded (one process) or scaled (the real engines; see backends/scaled.ts). */
  mode: Mode;
  /** Readiness: the database and, when scaled, Redis, Kafka and Cassandra answer. */
  ready(): Promise<Readiness>;
  /** Rate limits shared by every API process (scaled mode); absent, the server keeps its own. */
  limiter?: AppContext["limiter"];
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

const severity = { allow: 0, limit: 1, hold: 2, block: 3 } as const;
type Outcome = { decision: keyof typeof severity; reasonCodes: readonly string[] };
/** The stricter of two moderation outcomes, with the reasons of both. */
const moreSevere = (a: Outcome, b: Outcome): { decision: Outcome["decision"]; reasonCodes: string[] } => ({
  decision: severity[b.decision] > severity[a.decision] ? b.decision : a.decision,
  reasonCodes: [...new Set([...a.reasonCodes, ...b.reasonCodes])],
});

const FINAL_STATUSES = new Set(["published", "limited", "held", "rejected", "failed"]);
/** How far back each catalogue sync looks past the previous one (clock skew, writes in flight). */
const CATALOG_SYNC_MARGIN_MS = 30_000;
/** How long `close()` waits for running pipeline handlers. */
const CLOSE_WAIT_MS = 30_000;
/** Statuses of a video still in the pipeline (a transcode completion may move it on). */
const PIPELINE_STATUSES = ["uploaded", "transcoding", "moderation"] as const satisfies readonly VideoStatus[];

/** The lifecycle event of a status change: reason codes for moderation outcomes, the error for a failure. */
function lifecycleOf(video: Video, at: number, version: number): LifecycleEvent {
  const event: LifecycleEvent = { videoId: video.id, ownerId: video.ownerId, status: video.status, at, version };
  if (video.error && (video.status === "limited" || video.status === "held" || video.status === "rejected"))
    event.reasons = video.error.split(", ");
  else if (video.error && video.status === "failed") event.reasons = [video.error];
  return event;
}

/** Status changes younger than this are left to the process that made them before the relay re-sends them. */
const LIFECYCLE_GRACE_MS = 10_000;

/**
 * Lifecycle events with a durable backlog: every status change is sent at once (never awaited by
 * the pipeline) and, once Kafka has it, its version is marked sent in the database. `relay` sends
 * the current status of every video whose latest version is not marked — a change a crash or an
 * outage kept off the stream — at start and every LIFECYCLE_GRACE_MS (then only changes older than that).
 */
function lifecycleOutbox(db: Database, publish: (event: LifecycleEvent) => Promise<void>, log: Log) {
  const marking = new Set<Promise<void>>();
  const send = (event: LifecycleEvent) => {
    const done = publish(event)
      .then(() => db.markLifecycleSent(event.videoId, event.version))
      .catch((error: unknown) =>
        log("lifecycle event left for the relay", {
          videoId: event.videoId,
          version: event.version,
          error: String(error),
        }),
      )
      .finally(() => marking.delete(done));
    marking.add(done);
  };
  return {
    async changed(id: string) {
      const [row, version] = await Promise.all([db.getVideo(id), db.statusVersion(id)]);
      if (row !== undefined && version !== undefined) send(lifecycleOf(row, version.at, version.version));
    },
    /** Send what is not marked sent and older than `graceMs`; resolves how many were sent. */
    async relay(graceMs: number): Promise<number> {
      let sent = 0;
      for (;;) {
        const backlog = await db.lifecycleBacklog(Date.now() - graceMs, 200);
        for (const { video, version, at } of backlog) {
          await publish(lifecycleOf(video, at, version));
          await db.markLifecycleSent(video.id, version);
          sent += 1;
        }
        if (backlog.length < 200) return sent;
      }
    },
    /** Wait for the marks of sends in flight (before the database closes). */
    settled: () => Promise.allSettled([...marking]),
  };
}

/**
 * The database as every module sees it, every status change (whoever makes it: the pipeline, a
 * moderator's decision) handed to `changed`. Only what goes through `createVideo` and `setStatus`
 * is seen at once; a module writing `videos.status` with raw SQL would bypass it (and bump no
 * version, so the relay would not see it either).
 */
function publishingStatuses(db: Database, changed: (id: string) => Promise<void>): Database {
  return {
    ...db,
    async createVideo(video) {
      const existed = (await db.getVideo(video.id)) !== undefined;
      const row = await db.createVideo(video);
      if (!existed) await changed(row.id);
      return row;
    },
    async setStatus(id, status, changes, from) {
      if (!(await db.setStatus(id, status, changes, from))) return false;
      await changed(id);
      return true;
    },
  };
}

/**
 * Starts the API side of the platform. `backends` picks embedded or scaled mode; by default the
 * mode the configuration names (scaled when REDIS_URL, KAFKA_BROKERS, CASSANDRA_CONTACT_POINTS and
 * DATABASE_URL are set; the database is then that PostgreSQL, else PGlite in DATA_DIR/db).
 */
export async function startPlatform(config: Config, log: Log = jsonLog, backends?: Backends): Promise<Platform> {
  const mediaDir = join(config.DATA_DIR, "media");
  const uploadDir = join(config.DATA_DIR, "uploads");
  await mkdir(mediaDir, { recursive: true });
  await mkdir(uploadDir, { recursive: true });
  const tokens = createTokens(await secretFor(config));
  const chosen =
    backends ??
    (modeOf(config) === "scaled"
      ? await (await import("./backends/scaled.js")).createScaledBackends(config, log)
      : await createEmbeddedBackends(config));
  let rawDb: Database;
  try {
    const url = modeOf(config) === "scaled" ? config.DATABASE_URL : undefined;
    rawDb =
      url === undefined
        ? await openDatabase(join(config.DATA_DIR, "db"))
        : // Scaled: PostgreSQL may still be starting, like the other engines (bounded wait, then exit 1).
          await (await import("./scaled/engines.js")).untilReady("postgres", () => openDatabase("", url), log);
  } catch (error) {
    await chosen.close();
    throw error;
  }
  const outbox =
    chosen.lifecycle === undefined ? undefined : lifecycleOutbox(rawDb, chosen.lifecycle.bind(chosen), log);
  const db = outbox === undefined ? rawDb : publishingStatuses(rawDb, outbox.changed);
  // Changes an earlier run (or another process) could not get onto the stream.
  const relayLifecycle = async (graceMs: number) => {
    const sent = (await outbox?.relay(graceMs)) ?? 0;
    if (sent > 0) log("lifecycle events relayed", { sent });
  };
  for (const user of demoUsers) await db.upsertUser(user);
  const { engagement, queue } = chosen;
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
  const ranker = createFeedRanker({ catalog, secret: tokens.sign("feed-ranker cursors"), ...chosen.ranker });
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
  // Before publishing: the title through the text and spam checks, and (after transcoding) the
  // frames matched against the bank of clips moderators rejected; held and blocked videos go to
  // the review queue for a human.
  const frames = await openFrameBank(config.DATA_DIR);
  const moderation = createModeration({ checks: [createTextCheck(), createSpamCheck(), frames.check] });
  const reviews = createReviewQueue(chosen.reviewStore !== undefined ? { store: chosen.reviewStore } : {});
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

  const startTranscode = async (videoId: string) => {
    await db.setStatus(videoId, "transcoding");
    await queue.enqueue({
      id: videoId,
      input: join(uploadDir, videoId),
      outDir: join(mediaDir, videoId),
      options: { force: true, preset: config.TRANSCODE_PRESET },
    });
  };

  // A video is moved on by one handler at a time: a queue event and the reconciliation (scaled
  // mode) may both report the same completion. `close()` waits for the running ones; once it has
  // begun, new ones are left to the next start (which resumes every video still in the pipeline).
  const handling = new Set<string>();
  const running = new Set<Promise<void>>();
  let closing = false;
  const once = async (id: string, work: () => Promise<void>) => {
    if (handling.has(id) || closing) return;
    handling.add(id);
    const run = work().finally(() => handling.delete(id));
    running.add(run);
    try {
      await run;
    } finally {
      running.delete(run);
    }
  };

  const completed = (id: string, result: unknown) =>
    once(id, async () => {
      const video = await db.getVideo(id);
      if (video === undefined || !(PIPELINE_STATUSES as readonly string[]).includes(video.status)) return;
      const durationMs = (result as { durationMs?: number } | undefined)?.durationMs;
      // A claim: every API process hears the completion (scaled mode), one moves the video on.
      const claimed = await db.setStatus(
        id,
        "moderation",
        durationMs !== undefined ? { durationMs: Math.round(durationMs) } : {},
        ["uploaded", "transcoding"],
      );
      if (!claimed) return;
      const byTitle = await moderation.beforePublish({ id, uploader: { id: video.ownerId }, title: video.title });
      const byFrames = await frames
        .screen(id, join(uploadDir, id))
        .then((hashed) => moderation.afterTranscode({ id, frames: hashed, uploader: { id: video.ownerId } }))
        .catch((error: unknown) => {
          log("frame screening failed", { videoId: id, error: String(error) });
          return { decision: "hold" as const, reasonCodes: ["media:screening_failed"] };
        });
      const decision = moreSevere(byTitle, byFrames);
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
    });
  const dead = (id: string, error: JobError | undefined) =>
    once(id, async () => {
      const video = await db.getVideo(id);
      if (video === undefined || !(PIPELINE_STATUSES as readonly string[]).includes(video.status)) return;
      const code = error?.code ?? "UNKNOWN";
      const message = error?.message ?? "the transcode job died";
      if (!(await db.setStatus(id, "failed", { error: `${code}: ${message}` }, PIPELINE_STATUSES))) return;
      metrics.inc("reelkit_transcodes_total", { result: "failed" });
      log("transcode failed", { videoId: id, code, error: message });
      await settle(id);
    });
  queue.on("completed", ({ id, result }) => {
    completed(id, result).catch((error: unknown) => log("publishing failed", { videoId: id, error: String(error) }));
  });
  queue.on("dead", ({ id, error }) => {
    dead(id, error).catch((error: unknown) =>
      log("recording a failed transcode failed", { videoId: id, error: String(error) }),
    );
  });

  /**
   * Scaled mode: the job queue's events are at most once (Redis pub/sub), its records are the truth.
   * Every video still in the pipeline is compared with its job: a completion or death whose event
   * was missed is handled now, a job that is gone (Redis lost it) is enqueued again.
   */
  const reconcile = async () => {
    for (const video of await db.byStatus(PIPELINE_STATUSES)) {
      if (handling.has(video.id)) continue;
      const job = video.status === "uploaded" ? undefined : await queue.get(video.id);
      if (job === undefined) {
        log("enqueueing transcode", { videoId: video.id, status: video.status });
        await startTranscode(video.id);
      } else if (job.state === "completed") {
        await completed(video.id, job.result);
      } else if (job.state === "dead") {
        await dead(video.id, job.error);
      }
    }
  };

  /**
   * Scaled mode: other API processes publish and moderate too, so the ranker's catalogue follows
   * the database (the truth): published videos are served, anything else is taken out. Only rows
   * whose status changed since the last pass are read (`status_at`, with a margin for clocks of
   * other processes and for writes that were in flight); the catalogue was loaded whole at start.
   */
  let syncedFrom = Date.now() - CATALOG_SYNC_MARGIN_MS;
  const syncCatalog = async () => {
    const startedAt = Date.now();
    const changed = await db.statusChangedSince(syncedFrom);
    const added = changed.filter(
      (video) => video.status === "published" && catalog.get(video.id)?.moderation !== "approved",
    );
    if (added.length > 0) catalog.upsert(added.map(toCatalog));
    const gone = changed.flatMap((video) => {
      const entry = catalog.get(video.id);
      if (video.status === "published" || entry === undefined || entry.moderation !== "approved") return [];
      return [
        {
          videoId: video.id,
          creatorId: entry.creatorId,
          createdAt: entry.createdAt,
          durationMs: entry.durationMs,
          moderation: "removed" as const,
        },
      ];
    });
    if (gone.length > 0) catalog.upsert(gone);
    syncedFrom = startedAt - CATALOG_SYNC_MARGIN_MS;
  };

  const uploadStore = createFileStore({ dir: uploadDir });
  const uploads = createUploadServer({
    store: uploadStore,
    path: "/uploads/",
    maxSize: config.MAX_UPLOAD_BYTES,
    tempDir: join(config.DATA_DIR, "tmp"),
    ...(chosen.locker !== undefined ? { locker: chosen.locker } : {}),
    onUploadFinish: async ({ id, info }) => {
      const ownerId = info.metadata.owner;
      if (!ownerId) return; // not created through our endpoint
      const title = (info.metadata.title ?? info.metadata.filename ?? "Untitled").slice(0, 200);
      await once(id, async () => {
        await db.createVideo({ id, ownerId, title, status: "uploaded" });
        metrics.inc("reelkit_uploads_completed_total");
        log("upload completed", { videoId: id, ownerId, bytes: info.length });
        await startTranscode(id);
      });
    },
  });
  await mkdir(join(config.DATA_DIR, "tmp"), { recursive: true });

  // Restart: re-run transcodes that were running (embedded: the in-memory queue forgot them;
  // scaled: compare with the job records), and pick up uploads that completed just before a crash
  // (their video row was never written). Nothing is duplicated: ids are the upload ids.
  if (chosen.reconcileEveryMs === undefined) {
    for (const video of await db.byStatus(PIPELINE_STATUSES)) {
      log("resuming transcode", { videoId: video.id });
      await startTranscode(video.id);
    }
  } else {
    await reconcile();
  }
  for await (const info of uploadStore.list()) {
    const complete = info.length !== undefined && info.offset === info.length && info.concat?.type !== "partial";
    if (!complete || !info.metadata.owner || (await db.getVideo(info.id)) !== undefined) continue;
    const title = (info.metadata.title ?? info.metadata.filename ?? "Untitled").slice(0, 200);
    await db.createVideo({ id: info.id, ownerId: info.metadata.owner, title, status: "uploaded" });
    log("recovered completed upload", { videoId: info.id });
    await startTranscode(info.id);
  }
  await relayLifecycle(0).catch((error: unknown) => log("relaying lifecycle events failed", { error: String(error) }));
  let relaying: Promise<void> = Promise.resolve();
  const relayer =
    outbox === undefined
      ? undefined
      : setInterval(() => {
          relaying = relaying
            .then(() => relayLifecycle(LIFECYCLE_GRACE_MS))
            .catch((error: unknown) => log("relaying lifecycle events failed", { error: String(error) }));
        }, LIFECYCLE_GRACE_MS);
  relayer?.unref();
  const sweep = setInterval(() => void uploads.sweep().catch(() => {}), 10 * 60 * 1000);
  sweep.unref();
  let reconciling: Promise<void> = Promise.resolve();
  const reconciler =
    chosen.reconcileEveryMs === undefined
      ? undefined
      : setInterval(() => {
          reconciling = reconciling
            .then(reconcile)
            .then(syncCatalog)
            .catch((error: unknown) => log("reconciling transcodes failed", { error: String(error) }));
        }, chosen.reconcileEveryMs);
  reconciler?.unref();

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
    frames,
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
    mode: chosen.mode,
    async ready() {
      const [database, engines] = await Promise.all([probe(() => rawDb.sql.query("select 1")), chosen.checks()]);
      const checks = { database, ...engines };
      const ok = Object.values(checks).every((check) => check.ok);
      return { status: ok ? "ready" : "unavailable", mode: chosen.mode, checks };
    },
    ...(chosen.limiter !== undefined ? { limiter: chosen.limiter } : {}),
    async close() {
      clearInterval(sweep);
      if (reconciler !== undefined) clearInterval(reconciler);
      await uploads.close(); // in-flight uploads finish (and hand their videos on) first
      closing = true;
      await reconciling;
      // Let running pipeline handlers (moderation, publishing) finish on open engines; a stuck one
      // is given up after CLOSE_WAIT_MS (its video resumes at the next start).
      if (running.size > 0) {
        let timer: NodeJS.Timeout | undefined;
        const gaveUp = await Promise.race([
          Promise.allSettled([...running]).then(() => false),
          new Promise<boolean>((resolve) => {
            timer = setTimeout(() => resolve(true), CLOSE_WAIT_MS);
          }),
        ]);
        clearTimeout(timer);
        if (gaveUp) log("closing with pipeline handlers still running", { videos: [...handling] });
      }
      if (relayer !== undefined) clearInterval(relayer);
      await relaying;
      await chosen.close(); // flushes lifecycle sends
      await outbox?.settled(); // and their marks land before the database closes
      await rawDb.close();
    },
  };
}
