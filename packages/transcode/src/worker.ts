import { readdir, rm } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import type { JobQueue, ProcessOptions, Worker } from "./queue.js";
import { type TranscodeOptions, transcode } from "./transcode.js";

/**
 * Remove the hidden work folders (`.<outDir>.part-*`) earlier attempts of this job left behind: the
 * job's lease is ours, so they belong to a worker that crashed or lost its lease, and were never
 * published. Without this a killed worker's partial encode stays on disk for good.
 */
async function removeOrphanedWork(outDir: string): Promise<void> {
  const target = resolve(outDir);
  const prefix = `.${basename(target)}.part-`;
  let names: string[];
  try {
    names = await readdir(dirname(target));
  } catch {
    return;
  }
  await Promise.all(
    names
      .filter((name) => name.startsWith(prefix))
      .map((name) => rm(join(dirname(target), name), { recursive: true, force: true })),
  );
}

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
 * Work folders of earlier attempts of a job are removed before it runs again.
 */
export function processTranscodes(queue: JobQueue, options: TranscodeWorkerOptions = {}): Worker {
  const { transcode: defaults = {}, ...processOptions } = options;
  return queue.process(async (job) => {
    const { force, preset } = job.spec.options ?? {};
    await removeOrphanedWork(job.spec.outDir);
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
