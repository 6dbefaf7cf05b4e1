import type { JobQueue, ProcessOptions, Worker } from "./queue.js";
import { type TranscodeOptions, transcode } from "./transcode.js";

export interface TranscodeWorkerOptions extends ProcessOptions {
  /** Options every job's transcode gets (a job's own `force` and `preset` win). */
  transcode?: Omit<TranscodeOptions, "signal" | "plan">;
}

/**
 * Run the queue's jobs through `transcode`: progress goes to the job record and the queue's
 * `progress` events, the job's signal aborts ffmpeg, and the result (the measured ladder) is stored.
 * Input errors (not media, too long…) and an existing `outDir` without `force` go to the dead-letter
 * state at once; others are retried. (An attempt that published and then lost its lease leaves its
 * retry with OUTPUT_EXISTS unless the job asked for `force`: the ladder is there, the record says dead.)
 */
export function processTranscodes(queue: JobQueue, options: TranscodeWorkerOptions = {}): Worker {
  const { transcode: defaults = {}, ...processOptions } = options;
  return queue.process(async (job) => {
    const { force, preset } = job.spec.options ?? {};
    const run = transcode(job.spec.input, job.spec.outDir, {
      ...defaults,
      ...(force !== undefined && { force }),
      ...(preset !== undefined && { preset }),
      signal: job.signal,
    });
    run.on("progress", (p) => job.progress(p.percent));
    return run;
  }, processOptions);
}
