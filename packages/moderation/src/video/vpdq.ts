// vPDQ: a video as the PDQ hashes of its frames, matched as a bag of frames (Meta's video
// similarity scheme, facebook/ThreatExchange `vpdq`). ffmpeg decodes and converts frames to RGB
// and streams them through a pipe; each frame is hashed as it arrives and dropped, so a video is
// never held in memory, only its hashes. Frames within a small distance of the last kept frame are
// pruned ("near-identical consecutive frames"), as vPDQ's description suggests.
import { spawn } from "node:child_process";
import { access, constants } from "node:fs/promises";
import { resolve } from "node:path";
import { z } from "zod";
import { ModerationError, ModerationErrorCode } from "../errors.js";
import { hashToWords, PDQ_MATCH_DISTANCE, type PdqHash, pdqHashSchema, wordsDistance } from "../pdq/hamming.js";
import { createHashIndex } from "../pdq/index.js";
import { pdqHash } from "../pdq/pdq.js";
import { parseWith } from "../queue/validate.js";

/** One sampled frame's hash. */
export interface VpdqFrame {
  /** Index of the frame among those sampled (every decoded frame when no `fps` is given), from 0. */
  frame: number;
  /** PDQ quality, 0–100. */
  quality: number;
  hash: PdqHash;
  /** Presentation time in seconds. */
  timestamp: number;
}

export interface VideoHash {
  /** Kept frames, in order (pruned of near-identical consecutive frames unless `dedupeDistance: false`). */
  frames: VpdqFrame[];
  /** Frames ffmpeg delivered and were hashed, before pruning. */
  sampledFrames: number;
  /** Size of the hashed frames (after rotation and any `maxSide` scaling). */
  width: number;
  height: number;
}

export interface HashVideoOptions {
  /** Frames sampled per second (ffmpeg's `fps` filter). Omitted: every decoded frame, like Meta's reference hashes. */
  fps?: number;
  /**
   * Drop a frame whose hash is within this distance of the last kept frame. `false` keeps every
   * sampled frame. @default 2
   */
  dedupeDistance?: number | false;
  /** Scale frames down (area averaging) so neither side exceeds this, before hashing. Omitted: full size, as vPDQ. */
  maxSide?: number;
  /** The ffmpeg executable. @default $FFMPEG_PATH, else `ffmpeg` on PATH */
  ffmpegPath?: string;
  /** Stops ffmpeg and rejects with `ABORTED`. */
  signal?: AbortSignal;
  /** Called with each kept frame as it is hashed. */
  onFrame?: (frame: VpdqFrame) => void;
}

const hashVideoSchema = z.strictObject({
  fps: z.number().positive().max(1000).optional(),
  dedupeDistance: z.union([z.int().min(0).max(256), z.literal(false)]).default(2),
  maxSide: z.int().min(8).max(65536).optional(),
  ffmpegPath: z.string().min(1).optional(),
  signal: z.instanceof(AbortSignal).optional(),
  onFrame: z
    .custom<(frame: VpdqFrame) => void>((v) => typeof v === "function", "onFrame must be a function")
    .optional(),
});

// How ffmpeg converts decoded YUV to RGB. vPDQ asks libswscale for SWS_AREA; ffmpeg's filter graph
// takes its flags from -sws_flags.
const SWS_FLAGS = "bicubic+accurate_rnd";

const showinfoLine = /\bn:\s*(\d+)\s+pts:\s*\S+\s+pts_time:(\S+).*?\bs:(\d+)x(\d+)/;

/**
 * Hash a video file the vPDQ way: sample frames with ffmpeg (every frame, or `fps` per second),
 * hash each with PDQ at its full size (or scaled to `maxSide`), and prune near-identical
 * consecutive frames. Rotation metadata is applied (frames are hashed upright).
 *
 * @throws ModerationError `INVALID_OPTIONS`; `INVALID_INPUT` when the file does not exist;
 *   `FFMPEG_MISSING` when ffmpeg cannot be started; `DECODE_FAILED` when ffmpeg fails (its last
 *   stderr lines in the message); `ABORTED` when `signal` fires.
 */
export async function hashVideo(path: string, options: HashVideoOptions = {}): Promise<VideoHash> {
  const config = parseWith(hashVideoSchema, options, ModerationErrorCode.INVALID_OPTIONS, "hashVideo options");
  if (typeof path !== "string" || path === "") {
    throw new ModerationError(ModerationErrorCode.INVALID_INPUT, "path must be a non-empty string");
  }
  const file = resolve(path);
  try {
    await access(file, constants.R_OK);
  } catch (cause) {
    throw new ModerationError(ModerationErrorCode.INVALID_INPUT, `cannot read video ${file}`, { cause });
  }
  if (config.signal?.aborted) {
    throw new ModerationError(ModerationErrorCode.ABORTED, `hashing ${file} was aborted`, {
      cause: config.signal.reason,
    });
  }

  const filters: string[] = [];
  if (config.fps !== undefined) filters.push(`fps=${config.fps}`);
  if (config.maxSide !== undefined) {
    const m = config.maxSide;
    filters.push(`scale=w='min(iw,${m})':h='min(ih,${m})':force_original_aspect_ratio=decrease:flags=area`);
  }
  filters.push("format=rgb24", "showinfo");
  const ffmpeg = config.ffmpegPath ?? (process.env.FFMPEG_PATH || "ffmpeg");
  // `file:` keeps names with a colon from being read as a protocol.
  const args = [
    ...["-hide_banner", "-nostdin", "-nostats", "-loglevel", "info"],
    ...["-i", `file:${file}`, "-map", "0:v:0", "-an", "-sn", "-dn"],
    ...["-vf", filters.join(","), "-sws_flags", SWS_FLAGS, "-fps_mode", "passthrough"],
    ...["-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1"],
  ];

  return new Promise<VideoHash>((resolvePromise, reject) => {
    const child = spawn(ffmpeg, args, { stdio: ["ignore", "pipe", "pipe"] });
    const pendingInfo: Array<{ n: number; time: number; width: number; height: number }> = [];
    const stderrTail: string[] = [];
    let stderrBuffer = "";
    const chunks: Buffer[] = [];
    let buffered = 0;
    let frame: Uint8Array | undefined;
    const frames: VpdqFrame[] = [];
    let sampled = 0;
    let width = 0;
    let height = 0;
    let lastKept: Uint32Array | undefined;
    const current = new Uint32Array(8);
    let settled = false;
    let failure: ModerationError | undefined;

    const fail = (error: ModerationError) => {
      if (failure === undefined) failure = error;
      child.kill("SIGKILL");
    };
    const onAbort = () =>
      fail(
        new ModerationError(ModerationErrorCode.ABORTED, `hashing ${file} was aborted`, {
          cause: config.signal?.reason,
        }),
      );
    config.signal?.addEventListener("abort", onAbort, { once: true });

    const hashFrame = (info: { n: number; time: number; width: number; height: number }, rgb: Uint8Array) => {
      const { hash, quality } = pdqHash(rgb, info.width, info.height);
      sampled++;
      width = info.width;
      height = info.height;
      hashToWords(hash, current);
      if (
        config.dedupeDistance !== false &&
        lastKept !== undefined &&
        wordsDistance(current, 0, lastKept, 0) <= config.dedupeDistance
      ) {
        return;
      }
      lastKept = current.slice();
      const kept: VpdqFrame = { frame: info.n, quality, hash, timestamp: info.time };
      frames.push(kept);
      config.onFrame?.(kept);
    };

    // Move whole frames out of the byte stream whenever both a frame's size (from showinfo) and
    // its bytes are there.
    const drain = () => {
      while (pendingInfo.length > 0) {
        const info = pendingInfo[0] as (typeof pendingInfo)[number];
        const size = info.width * info.height * 3;
        if (buffered < size) return;
        if (frame === undefined || frame.length !== size) frame = new Uint8Array(size);
        let filled = 0;
        while (filled < size) {
          const chunk = chunks[0] as Buffer;
          const take = Math.min(size - filled, chunk.length);
          frame.set(chunk.subarray(0, take), filled);
          filled += take;
          if (take === chunk.length) chunks.shift();
          else chunks[0] = chunk.subarray(take);
        }
        buffered -= size;
        pendingInfo.shift();
        try {
          hashFrame(info, frame);
        } catch (error) {
          fail(
            error instanceof ModerationError
              ? error
              : new ModerationError(ModerationErrorCode.DECODE_FAILED, `hashing frame ${info.n} failed`, {
                  cause: error,
                }),
          );
          return;
        }
      }
    };

    child.stdout.on("data", (chunk: Buffer) => {
      if (failure !== undefined) return;
      chunks.push(chunk);
      buffered += chunk.length;
      drain();
    });
    const readStderr = (text: string) => {
      stderrBuffer += text;
      let newline = stderrBuffer.indexOf("\n");
      while (newline !== -1) {
        const line = stderrBuffer.slice(0, newline);
        stderrBuffer = stderrBuffer.slice(newline + 1);
        newline = stderrBuffer.indexOf("\n");
        const match = line.includes("showinfo") ? showinfoLine.exec(line) : null;
        if (match) {
          pendingInfo.push({
            n: Number(match[1]),
            time: Number(match[2]),
            width: Number(match[3]),
            height: Number(match[4]),
          });
        } else if (!line.includes("showinfo")) {
          stderrTail.push(line);
          if (stderrTail.length > 12) stderrTail.shift();
        }
      }
      if (failure === undefined) drain();
    };
    child.stderr.setEncoding("utf8");
    child.stderr.on("data", readStderr);
    child.on("error", (cause) => {
      const missing =
        (cause as NodeJS.ErrnoException).code === "ENOENT" || (cause as NodeJS.ErrnoException).code === "EACCES";
      fail(
        missing
          ? new ModerationError(
              ModerationErrorCode.FFMPEG_MISSING,
              `cannot run ffmpeg (${ffmpeg}): install it or set FFMPEG_PATH / the ffmpegPath option`,
              { cause },
            )
          : new ModerationError(ModerationErrorCode.DECODE_FAILED, `ffmpeg (${ffmpeg}) failed to start`, { cause }),
      );
      finish(null);
    });
    const finish = (code: number | null) => {
      if (settled) return;
      settled = true;
      config.signal?.removeEventListener("abort", onAbort);
      if (failure !== undefined) return reject(failure);
      if (code !== 0) {
        return reject(
          new ModerationError(
            ModerationErrorCode.DECODE_FAILED,
            `ffmpeg exited with ${code} on ${file}: ${stderrTail
              .filter((l) => l.trim() !== "")
              .slice(-6)
              .join(" | ")}`,
          ),
        );
      }
      if (pendingInfo.length > 0 || buffered > 0) {
        return reject(
          new ModerationError(
            ModerationErrorCode.DECODE_FAILED,
            `ffmpeg output ended mid-frame on ${file} (${buffered} bytes left)`,
          ),
        );
      }
      resolvePromise({ frames, sampledFrames: sampled, width, height });
    };
    child.on("close", (code) => {
      // Streams are closed by now: everything ffmpeg wrote has been seen.
      if (stderrBuffer !== "") readStderr("\n");
      finish(code);
    });
  });
}

/** Drop frames within `distance` of the last kept frame (vPDQ's pruning), keeping the first. */
export function dedupeFrames(frames: readonly VpdqFrame[], distance: number): VpdqFrame[] {
  if (!Number.isInteger(distance) || distance < 0 || distance > 256) {
    throw new ModerationError(ModerationErrorCode.INVALID_INPUT, `distance must be an integer 0–256, got ${distance}`);
  }
  const kept: VpdqFrame[] = [];
  const last = new Uint32Array(8);
  const current = new Uint32Array(8);
  for (const f of frames) {
    hashToWords(f.hash, current);
    if (kept.length > 0 && wordsDistance(current, 0, last, 0) <= distance) continue;
    last.set(current);
    kept.push(f);
  }
  return kept;
}

export interface VideoMatchOptions {
  /** Frames match when their hashes are within this Hamming distance (inclusive). @default 31 */
  distance?: number;
  /** Frames under this PDQ quality are left out of both videos. @default 50 */
  qualityThreshold?: number;
  /**
   * Percentages a match needs: `query` of the query's frames found in the compared video, and
   * `compared` of the compared video's frames found in the query. A number sets both.
   * @default { query: 80, compared: 0 } (vPDQ's defaults: most of the query is known content;
   *   the query may be a clip of a longer video)
   */
  matchThreshold?: number | { query: number; compared: number };
}

export interface VideoMatch {
  /** Share (0–100) of the query's distinct, good-quality frames within `distance` of some compared frame. */
  queryMatchPercent: number;
  /** Share (0–100) of the compared video's distinct, good-quality frames within `distance` of some query frame. */
  comparedMatchPercent: number;
  /** Both shares reach their thresholds (false when either video has no frame left after filtering). */
  isMatch: boolean;
  /** Distinct frames of good quality that were compared. */
  queryFrames: number;
  comparedFrames: number;
}

const percent = z.number().min(0).max(100);
const matchOptionsSchema = z.strictObject({
  distance: z.int().min(0).max(256).default(PDQ_MATCH_DISTANCE),
  qualityThreshold: z.int().min(0).max(100).default(50),
  matchThreshold: z
    .union([percent, z.strictObject({ query: percent, compared: percent })])
    .default({ query: 80, compared: 0 }),
});

const frameSchema = z.object({ hash: pdqHashSchema, quality: z.number().min(0).max(100) });
const framesSchema = z.array(frameSchema);

/**
 * Compare two videos the vPDQ way: a bag of frames, ignoring order and time. Each video's frames
 * are filtered by quality and reduced to distinct hashes; each share is the percentage of one
 * video's frames having a frame of the other within `distance`.
 *
 * @throws ModerationError `INVALID_INPUT` for malformed frames, `INVALID_OPTIONS` for bad options.
 */
export function matchVideos(
  query: VideoHash | readonly VpdqFrame[],
  compared: VideoHash | readonly VpdqFrame[],
  options: VideoMatchOptions = {},
): VideoMatch {
  const config = parseWith(matchOptionsSchema, options, ModerationErrorCode.INVALID_OPTIONS, "matchVideos options");
  const prepare = (video: VideoHash | readonly VpdqFrame[], what: string): Uint32Array => {
    const list = Array.isArray(video) ? video : (video as VideoHash)?.frames;
    const frames = parseWith(framesSchema, list, ModerationErrorCode.INVALID_INPUT, `${what} frames`);
    const distinct = [...new Set(frames.filter((f) => f.quality >= config.qualityThreshold).map((f) => f.hash))];
    const words = new Uint32Array(distinct.length * 8);
    distinct.forEach((h, i) => void hashToWords(h, words, i * 8));
    return words;
  };
  const q = prepare(query, "query");
  const c = prepare(compared, "compared");
  const qn = q.length / 8;
  const cn = c.length / 8;
  const threshold =
    typeof config.matchThreshold === "number"
      ? { query: config.matchThreshold, compared: config.matchThreshold }
      : config.matchThreshold;
  if (qn === 0 || cn === 0) {
    return { queryMatchPercent: 0, comparedMatchPercent: 0, isMatch: false, queryFrames: qn, comparedFrames: cn };
  }
  const queryMatchPercent = (countFound(q, c, config.distance) * 100) / qn;
  const comparedMatchPercent = (countFound(c, q, config.distance) * 100) / cn;
  return {
    queryMatchPercent,
    comparedMatchPercent,
    isMatch: queryMatchPercent >= threshold.query && comparedMatchPercent >= threshold.compared,
    queryFrames: qn,
    comparedFrames: cn,
  };
}

/** How many hashes of `a` have one in `b` within `distance`: nested loops, or an index for big pairs. */
function countFound(a: Uint32Array, b: Uint32Array, distance: number): number {
  const an = a.length / 8;
  const bn = b.length / 8;
  let found = 0;
  if (an * bn <= 4_000_000 || distance >= 64) {
    for (let i = 0; i < an; i++) {
      for (let j = 0; j < bn; j++) {
        if (wordsDistance(a, i * 8, b, j * 8) <= distance) {
          found++;
          break;
        }
      }
    }
    return found;
  }
  const index = createHashIndex<undefined>();
  const hex = (words: Uint32Array, i: number) => {
    let s = "";
    for (let w = 7; w >= 0; w--) s += ((words[i * 8 + w] as number) >>> 0).toString(16).padStart(8, "0");
    return s;
  };
  for (let j = 0; j < bn; j++) index.add(hex(b, j), undefined);
  for (let i = 0; i < an; i++) if (index.query(hex(a, i), distance).length > 0) found++;
  return found;
}

const vpdqLine = z.tuple([
  z.coerce.number().int().min(0),
  z.coerce.number().int().min(0).max(100),
  pdqHashSchema,
  z.coerce.number().min(0),
]);

/**
 * Read vPDQ features as Meta's tools write them: one frame per line, `frame,quality,hash,seconds`.
 * Blank lines are skipped.
 *
 * @throws ModerationError `INVALID_INPUT` naming the first bad line.
 */
export function parseVpdq(text: string): VpdqFrame[] {
  if (typeof text !== "string") throw new ModerationError(ModerationErrorCode.INVALID_INPUT, "text must be a string");
  const frames: VpdqFrame[] = [];
  text.split(/\r?\n/).forEach((line, i) => {
    if (line.trim() === "") return;
    const parsed = vpdqLine.safeParse(line.split(",").map((s) => s.trim()));
    if (!parsed.success) {
      throw new ModerationError(
        ModerationErrorCode.INVALID_INPUT,
        `vPDQ line ${i + 1}: ${z.prettifyError(parsed.error).replace(/\n/g, "; ")}`,
      );
    }
    const [frame, quality, hash, timestamp] = parsed.data;
    frames.push({ frame, quality, hash, timestamp });
  });
  return frames;
}

/** Write frames in the vPDQ text format (`frame,quality,hash,seconds`, seconds to 3 decimals). */
export function formatVpdq(frames: readonly VpdqFrame[]): string {
  return frames.map((f) => `${f.frame},${f.quality},${f.hash},${f.timestamp.toFixed(3)}\n`).join("");
}
