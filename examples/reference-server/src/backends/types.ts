// What differs between embedded and scaled mode, as one object the API-side composition
// (platform.ts) takes: the job queue, engagement, the ranker's ports, the review store, the upload
// locker, rate limits, lifecycle events and readiness probes. Everything else (the database, the
// pipeline from upload to publishing, moderation) is the same code in both modes.
import type { Engagement } from "@reelkit/engagement";
import type { SignalsPort, StatePort } from "@reelkit/feed-ranker";
import type { ReviewStore } from "@reelkit/moderation";
import type { JobQueue, Worker } from "@reelkit/transcode";
import type { Locker } from "@reelkit/upload";
import type { Mode } from "../config.js";
import type { VideoStatus } from "../db.js";
import type { Check } from "../health.js";
import type { AppContext } from "../routes.js";

/** One status change of a video, as published on `<prefix>.videos.lifecycle` (key: videoId). */
export interface LifecycleEvent {
  videoId: string;
  ownerId: string;
  status: VideoStatus;
  /** Epoch milliseconds of the change. */
  at: number;
  /**
   * The status version (1 at creation, +1 per change). Delivery is at least once and a change a
   * crash kept off the stream is sent later with the video's then current status: keep the
   * highest version per video and ignore the rest.
   */
  version: number;
  /** Moderation reason codes (limited, held, rejected) or the transcode error (failed). */
  reasons?: string[];
}

export interface Backends {
  mode: Mode;
  /** Transcode jobs: in memory (embedded) or on Redis, shared with the transcoder processes (scaled). */
  queue: JobQueue;
  /** The in-process transcode worker (embedded); scaled mode runs workers in their own processes. */
  worker?: Worker;
  /** Engagement as the API sees it: `record` feeds it, the reads serve counts and analytics. */
  engagement: Engagement;
  /** The ranker's signal and state ports (in memory when absent). */
  ranker: { signals?: SignalsPort; state?: StatePort };
  /** The moderation review queue's store (in memory when absent). */
  reviewStore?: ReviewStore;
  /** Upload locks (in-process when absent). */
  locker?: Locker;
  /** Rate limits shared by every API process (the server's in-process buckets when absent). */
  limiter?: AppContext["limiter"];
  /**
   * How often the API compares videos still in the pipeline with the job queue's records. Set when
   * the queue's events may be missed (Redis pub/sub is at most once); the records are the truth.
   */
  reconcileEveryMs?: number;
  /**
   * Publishes a status change: resolves once it is on the stream, rejects when it could not be
   * sent (the platform then sends it later from the database). The platform never awaits it in
   * the pipeline.
   */
  lifecycle?(event: LifecycleEvent): Promise<void>;
  /** Readiness probes of the engines, by name. */
  checks(): Promise<Record<string, Check>>;
  close(): Promise<void>;
}
