import type { JobQueue, ProcessOptions, Worker } from "./queue.js";
import { type TranscodeOptions, transcode } from "./transcode.js";

export interface TranscodeWorkerOptions extends ProcessOptions {
  /** Options every job's transcode gets (a job's own `force` and `preset` win). */
  transcode?: Omit<TranscodeOptions, "signal" | "plan">;
}

/**
 * Run the queue's jobs through `transcode`: progress goes to the job record and the queue's
 * `progress` events, the job's signal aborts ffmpeg, and the result (the measured ladder) is stored.
 * Input errors (not media, too long…) go to the dead-letter state at once; others are retried.
 */
export function processTranscodes(queue: JobQueue, options: TranscodeWorkerOptions = {}): Worker {
  const { transcode: defaults = {}, ...processOptions } = options;
  return queue.process(async (job) => {
    const { force, preset } = job.spec.options ?? {};
    const run = transcode(job.spec.input, job.spec.outDir, {
      ...defaults,
      ...(force !== undefined && { force }),
      ...(preset !== undefined && { preset }),
      // A retry of a job whose earlier attempt published (then lost its lease) must not fail on its own output.
      ...(job.attempt > 1 && { force: true }),
      signal: job.signal,
    });
    run.on("progress", (p) => job.progress(p.percent));
    return run;
  }, processOptions);
}
