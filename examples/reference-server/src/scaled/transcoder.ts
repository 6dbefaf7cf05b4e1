// A transcode worker process of scaled mode (REELKIT_ROLE=transcoder): claims jobs from the Redis
// job queue the API enqueues on and runs them with ffmpeg. Job specs carry absolute paths under
// the API's DATA_DIR (uploads in, ladders out), so transcoders share that directory: the same
// machine, or a shared volume mounted at the same path. Run as many as the cores allow; a worker
// that dies mid-job loses its lease and another one retries the job.
import { processTranscodes } from "@reelkit/transcode";
import { createRedisJobQueue } from "@reelkit/transcode/redis";
import type { Config } from "../config.js";
import type { Log } from "../platform.js";
import { namesOf, openEngines } from "./engines.js";

export interface RunningProcess {
  stop(): Promise<void>;
}

export async function startTranscoder(config: Config, log: Log, concurrency = 1): Promise<RunningProcess> {
  const engines = await openEngines(config, "transcoder", log);
  const queue = createRedisJobQueue({ client: engines.redis, keyPrefix: namesOf(config).transcodeJobs });
  queue.on("error", ({ error }) => log("transcode queue error", { error: String(error) }));
  queue.on("completed", ({ id, attempt }) => log("transcode completed", { videoId: id, attempt }));
  queue.on("failed", ({ id, attempt, error, retryInMs }) =>
    log("transcode attempt failed", { videoId: id, attempt, code: error.code, error: error.message, retryInMs }),
  );
  queue.on("dead", ({ id, error }) => log("transcode dead", { videoId: id, code: error.code, error: error.message }));
  const worker = processTranscodes(queue, { concurrency });
  log("transcoder ready", { concurrency, queue: namesOf(config).transcodeJobs });
  return {
    async stop() {
      // A job still running after the grace period is aborted; its lease lapses and it is retried.
      await worker.close({ timeoutMs: 10_000 });
      await queue.close({ timeoutMs: 1000 });
      await engines.close();
    },
  };
}
