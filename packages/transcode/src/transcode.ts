import { EventEmitter } from "node:events";
import { mkdtemp, rename, rm, stat, writeFile } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import { z } from "zod";
import { encodeArgs, layout, progressTime, storyboardVtt } from "./encode.js";
import { TranscodeError, TranscodeErrorCode } from "./errors.js";
import { resolveTools, run } from "./ffmpeg.js";
import { planLadder } from "./ladder.js";
import { measureRendition } from "./measure.js";
import { dashManifest, iframePlaylist, masterPlaylist, mediaPlaylist } from "./playlists.js";
import { type ProbeOptions, probe } from "./probe.js";
import type { Ladder, MeasuredRendition, TranscodeResult } from "./schema.js";
import { parseWith } from "./validate.js";

export interface TranscodeOptions {
  /** The ladder to encode. @default planLadder(await probe(input)) */
  plan?: Ladder;
  /** Aborting kills ffmpeg; nothing appears at `outDir`. */
  signal?: AbortSignal;
  /**
   * Replace an existing `outDir` (atomically: the old folder stays whole until the new one takes
   * its place). Without it an existing `outDir` fails with `OUTPUT_EXISTS` before any work.
   * @default false
   */
  force?: boolean;
  /** x264 preset. @default "veryfast" */
  preset?: string;
  /**
   * Publish the lowest rung alone first, as its own complete master, then replace it atomically
   * with the full ladder: a clip becomes playable sooner, the whole job takes a little longer.
   * If the full pass fails, the first pass is removed too.
   * @default false
   */
  fastStart?: boolean;
  /** Limits and tool paths for the probe. */
  probe?: ProbeOptions;
  /** @default $FFMPEG_PATH, else `ffmpeg` on PATH */
  ffmpegPath?: string;
  /** @default $FFPROBE_PATH, else `ffprobe` on PATH */
  ffprobePath?: string;
}

export type TranscodeStage = "probe" | "encode" | "package" | "publish";

export interface TranscodeProgress {
  stage: TranscodeStage;
  /** 0–100 over the whole job (the encode is most of it). */
  percent: number;
  /** Source time encoded so far, during `encode`. */
  encodedMs?: number;
}

export interface TranscodeEvents {
  progress: [TranscodeProgress];
  /**
   * A complete, valid ladder is published at `outDir`: with `fastStart` first the lowest rung alone
   * (`full: false`), then the whole ladder (`full: true`, always emitted once).
   */
  playable: [{ elapsedMs: number; full: boolean }];
}

/** A running transcode: await it for the result; listen for progress. */
export interface TranscodeJob extends PromiseLike<TranscodeResult> {
  on<E extends keyof TranscodeEvents>(event: E, listener: (...args: TranscodeEvents[E]) => void): TranscodeJob;
  off<E extends keyof TranscodeEvents>(event: E, listener: (...args: TranscodeEvents[E]) => void): TranscodeJob;
  /** The same promise the job is. */
  readonly result: Promise<TranscodeResult>;
}

const optionsSchema = z.strictObject({
  plan: z.custom<Ladder>((v) => typeof v === "object" && v !== null && "renditions" in v, "not a Ladder").optional(),
  signal: z.custom<AbortSignal>((v) => v instanceof AbortSignal, "not an AbortSignal").optional(),
  force: z.boolean().default(false),
  fastStart: z.boolean().default(false),
  preset: z
    .enum(["ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow"])
    .default("veryfast"),
  probe: z.custom<ProbeOptions>((v) => typeof v === "object" && v !== null).optional(),
  ffmpegPath: z.string().min(1).optional(),
  ffprobePath: z.string().min(1).optional(),
});

const exists = (path: string) =>
  stat(path).then(
    () => true,
    () => false,
  );

/**
 * Transcode `input` into an HLS (and DASH) ladder at `outDir`. The work happens in a hidden sibling
 * folder that is renamed into place only when complete, so `outDir` holds either nothing or a
 * whole, valid ladder — never a partial one, on failure, abort or crash.
 */
export function transcode(input: string, outDir: string, options: TranscodeOptions = {}): TranscodeJob {
  const events = new EventEmitter();
  const emit = (progress: TranscodeProgress) => events.emit("progress", progress);
  const result = (async (): Promise<TranscodeResult> => {
    const config = parseWith(optionsSchema, options, TranscodeErrorCode.INVALID_OPTIONS, "options");
    const { signal } = config;
    const started = Date.now();
    const target = resolve(outDir);
    if (target.includes("%")) {
      // ffmpeg reads % in output paths as a pattern (%d, %v): refuse rather than fail every attempt.
      throw new TranscodeError(TranscodeErrorCode.INVALID_INPUT, `outDir must not contain '%': ${target}`);
    }
    const aborted = () =>
      new TranscodeError(TranscodeErrorCode.ABORTED, "the transcode was aborted; nothing was published");
    if (signal?.aborted) throw aborted();
    if (!config.force && (await exists(target))) {
      throw new TranscodeError(TranscodeErrorCode.OUTPUT_EXISTS, `${target} exists already (pass force to replace it)`);
    }

    emit({ stage: "probe", percent: 0 });
    const tools = await resolveTools({
      ...(config.ffmpegPath !== undefined && { ffmpegPath: config.ffmpegPath }),
      ...(config.ffprobePath !== undefined && { ffprobePath: config.ffprobePath }),
    });
    const info = await probe(input, { ...config.probe, ffprobePath: tools.ffprobe });
    const ladder = config.plan ?? planLadder(info);
    if (ladder.audio !== null && info.audio === null) {
      throw new TranscodeError(
        TranscodeErrorCode.INVALID_OPTIONS,
        "the plan has an audio rendition but the source has no audio",
      );
    }
    if (signal?.aborted) throw aborted();

    const total = info.durationMs;
    /** Encode a ladder into a hidden sibling folder, package it, and publish it; progress spans [from, to]. */
    const build = async (plan: Ladder, from: number, to: number, replace: boolean): Promise<MeasuredRendition[]> => {
      const work = await mkdtemp(join(dirname(target), `.${basename(target)}.part-`));
      const at = (share: number) => from + share * (to - from);
      try {
        emit({ stage: "encode", percent: at(0.01) });
        await run(tools.ffmpeg, encodeArgs(input, work, info, plan, { preset: config.preset }), {
          ...(signal !== undefined && { signal }),
          onStdoutLine: (line) => {
            const encodedMs = progressTime(line);
            if (encodedMs === undefined) return;
            const done = Math.min(1, encodedMs / total);
            emit({ stage: "encode", percent: at(0.01 + done * 0.89), encodedMs: Math.min(encodedMs, total) });
          },
        });
        emit({ stage: "package", percent: at(0.9) });
        const renditions = await packageOutputs(work, plan);
        await writeFile(join(work, "storyboard.vtt"), storyboardVtt(plan));
        if (signal?.aborted) throw aborted();
        emit({ stage: "publish", percent: at(0.98) });
        await publish(work, target, replace);
        return renditions;
      } catch (error) {
        await rm(work, { recursive: true, force: true });
        throw error;
      }
    };

    let renditions: MeasuredRendition[];
    const bottom = ladder.renditions.at(-1);
    // A fast first pass would replace an existing ladder with a single rung long before the full one
    // is ready (and a failure would then leave nothing): with force over an existing folder, skip it.
    const replacing = await exists(target);
    if (config.fastStart && !replacing && bottom !== undefined && ladder.renditions.length > 1) {
      // The lowest rung alone is quick to encode: publish it as a complete ladder of its own first.
      await build({ ...ladder, renditions: [bottom] }, 0, 20, config.force);
      events.emit("playable", { elapsedMs: Date.now() - started, full: false });
      try {
        renditions = await build(ladder, 20, 100, true);
      } catch (error) {
        // The first pass was published by this job: take it back, so a failed job leaves nothing.
        await rm(target, { recursive: true, force: true });
        throw error;
      }
    } else {
      renditions = await build(ladder, 0, 100, config.force);
    }
    events.emit("playable", { elapsedMs: Date.now() - started, full: true });
    emit({ stage: "publish", percent: 100 });
    return {
      outDir: target,
      master: "master.m3u8",
      dash: "manifest.mpd",
      poster: "poster.jpg",
      storyboard: { vtt: "storyboard.vtt", sprite: "storyboard.jpg" },
      renditions,
      durationMs: info.durationMs,
      elapsedMs: Date.now() - started,
    };
  })();
  // A job nobody awaits yet must not crash the process with an unhandled rejection.
  result.catch(() => {});

  const job: TranscodeJob = {
    // biome-ignore lint/suspicious/noThenProperty: a job is awaitable on purpose
    then: (onFulfilled, onRejected) => result.then(onFulfilled, onRejected),
    on: (event, listener) => {
      events.on(event, listener as (...args: unknown[]) => void);
      return job;
    },
    off: (event, listener) => {
      events.off(event, listener as (...args: unknown[]) => void);
      return job;
    },
    result,
  };
  return job;
}

/** Measure what ffmpeg wrote and replace its playlists with ours (plus I-frame playlists, master, DASH). */
async function packageOutputs(work: string, ladder: Ladder): Promise<MeasuredRendition[]> {
  const video = await Promise.all(
    ladder.renditions.map(async (r) => ({ ...(await measureRendition(join(work, r.name), "video")), dir: r.name })),
  );
  const audio =
    ladder.audio === null
      ? []
      : [{ ...(await measureRendition(join(work, layout.audioDir), "audio")), dir: layout.audioDir }];
  const renditions: MeasuredRendition[] = [...video, ...audio];
  await Promise.all(
    renditions.map(async (r) => {
      await writeFile(join(work, r.dir, layout.playlist), mediaPlaylist(r));
      if (r.kind === "video") await writeFile(join(work, r.dir, "iframes.m3u8"), iframePlaylist(r));
    }),
  );
  await writeFile(join(work, "master.m3u8"), masterPlaylist(renditions));
  await writeFile(join(work, "manifest.mpd"), dashManifest(renditions, ladder.source.durationMs));
  await rm(join(work, "ffmpeg-master.m3u8"), { force: true });
  return renditions;
}

/** Move the finished folder into place; with `force`, swap out the old one only once the new is whole. */
async function publish(work: string, target: string, force: boolean): Promise<void> {
  try {
    await rename(work, target);
    return;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== "ENOTEMPTY" && code !== "EEXIST") throw error;
    if (!force) {
      throw new TranscodeError(TranscodeErrorCode.OUTPUT_EXISTS, `${target} appeared while transcoding; not replaced`);
    }
  }
  const old = `${work}.old`;
  await rename(target, old);
  try {
    await rename(work, target);
  } catch (error) {
    // Put the old ladder back rather than leave nothing at outDir.
    await rename(old, target).catch(() => {});
    throw error;
  }
  // Published: failing to delete the old copy must not fail the job.
  await rm(old, { recursive: true, force: true }).catch(() => {});
}
