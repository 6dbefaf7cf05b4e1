// Per-title complexity: a fast constant-quality encode of the first seconds at 360p tells how many
// bits this content needs compared with typical footage; the ladder scales its bitrates by that.
import { z } from "zod";
import { TranscodeErrorCode } from "./errors.js";
import { resolveTools, run } from "./ffmpeg.js";
import { clampComplexity, frameRateFactor, rungSize, topFrameRate } from "./ladder.js";
import { probe } from "./probe.js";
import { type MediaInfo, mediaInfoSchema } from "./schema.js";
import { parseWith } from "./validate.js";

/**
 * Bits per pixel per frame (30 fps equivalent) that x264 `-preset ultrafast -crf 23 -g 2s` spends
 * at 360p on demanding footage: complexity factor 1, where the fixed ladder's bitrates are meant to
 * be enough. Per-title encoding then spends less on easier content (the common case) and more only
 * on content harder than that. Measured on the shared test clips (30-fps-equivalent values:
 * anamorphic 0.205, portrait 0.192, rotated-90 0.124, VFR 0.099, square VP9 0.040); the reference
 * sits at the hardest real footage among them. For scale, lavfi `testsrc` measures 0.029, a flat
 * colour 0.001 and per-pixel random noise 3.9.
 */
export const referenceBitsPerPixel = 0.2;

/**
 * Exponent from the bits-per-pixel ratio to the factor. A CRF encode's rate varies much more from
 * title to title than the bitrate an equal-quality capped encode needs; with the square root the
 * shared clips span 0.6–1.4 instead of hitting both clamps, while flat content still reaches 0.5
 * and noise 2.
 */
export const complexityExponent = 0.5;

/** Short side of the probe encode (or the source's, when smaller). */
export const sampleShortSide = 360;

export interface ComplexityOptions {
  /** Aborting kills ffmpeg and rejects with `ABORTED`. */
  signal?: AbortSignal;
  /** How much of the start of the source to encode, seconds. @default 10 */
  seconds?: number;
  /** The source's `probe` result, when known; saves a probe. */
  info?: MediaInfo;
  /** @default $FFMPEG_PATH, else `ffmpeg` on PATH */
  ffmpegPath?: string;
  /** @default $FFPROBE_PATH, else `ffprobe` on PATH */
  ffprobePath?: string;
}

export interface Complexity {
  /** Bitrate multiplier for `planLadder({ complexity })`: measured / reference, clamped to 0.5–2. */
  factor: number;
  /** What the probe encode spent per pixel per frame, at the rate it was encoded at (not normalised). */
  bitsPerPixel: number;
  /** Seconds of source the measurement covers (frames encoded / frame rate). */
  sampledSeconds: number;
}

const optionsSchema = z.strictObject({
  signal: z.custom<AbortSignal>((v) => v instanceof AbortSignal, "not an AbortSignal").optional(),
  seconds: z.number().positive().max(600).default(10),
  info: mediaInfoSchema.optional(),
  ffmpegPath: z.string().min(1).optional(),
  ffprobePath: z.string().min(1).optional(),
});

/**
 * Measure how hard a source is to compress. Encodes up to the first `seconds` of video with
 * libx264 `-preset ultrafast -crf 23` at 360p (short side; smaller sources at their own size),
 * square pixels, 8-bit 4:2:0, at the top rung's frame rate (`topFrameRate(source, 30)`), no audio,
 * and counts the bytes of the encoded packets (ffmpeg's `framecrc` muxer lists every packet's size
 * on stdout: nothing is written to disk, there are no temp files to clean).
 *
 * bits per pixel = encoded bits / (width × height × frames); normalised to 30 fps with the
 * ladder's `frameRateFactor`, divided by {@link referenceBitsPerPixel}, square-rooted
 * ({@link complexityExponent}) and clamped to 0.5–2. Static or flat content gives less than 1,
 * grain, noise and fast motion more. A source of less than one keyframe interval (2 s) is
 * dominated by its first keyframe and measures high, as its real encode will.
 *
 * @throws TranscodeError: the `probe` codes (unless `info` is given), `FFMPEG_MISSING`,
 *   `FFMPEG_FAILED`, `ABORTED`, `INVALID_OPTIONS`.
 */
export async function measureComplexity(input: string, options: ComplexityOptions = {}): Promise<Complexity> {
  const path = parseWith(z.string().min(1), input, TranscodeErrorCode.INVALID_INPUT, "input");
  const config = parseWith(optionsSchema, options, TranscodeErrorCode.INVALID_OPTIONS, "complexity options");
  const { signal } = config;
  const signalOption = signal !== undefined ? { signal } : {};
  const tools = await resolveTools({
    ...(config.ffmpegPath !== undefined && { ffmpegPath: config.ffmpegPath }),
    ...(config.ffprobePath !== undefined && { ffprobePath: config.ffprobePath }),
  });
  const info = config.info ?? (await probe(path, { ffprobePath: tools.ffprobe, ...signalOption }));

  const { width: displayWidth, height: displayHeight, frameRate: sourceRate, variableFrameRate } = info.video;
  const shortSide = Math.min(sampleShortSide, 2 * Math.floor(Math.min(displayWidth, displayHeight) / 2));
  const { width, height } = rungSize(displayWidth, displayHeight, Math.max(2, shortSide));
  const frameRate = topFrameRate(sourceRate, 30, variableFrameRate);

  // ffmpeg applies the rotation before the filters, so width x height is the upright picture.
  const args = [
    "-nostdin",
    "-hide_banner",
    "-v",
    "error",
    "-t",
    String(config.seconds),
    "-i",
    path,
    "-map",
    "0:v:0",
    "-an",
    "-sn",
    "-dn",
    "-vf",
    `fps=${frameRate},scale=${width}:${height}:flags=bilinear,setsar=1,format=yuv420p`,
    "-c:v",
    "libx264",
    "-preset",
    "ultrafast",
    "-crf",
    "23",
    // A keyframe every 2 s, as in the ladder: the sample pays for its I-frames in the same proportion.
    "-g",
    String(frameRate * 2),
    "-f",
    "framecrc",
    "-",
  ];
  const { stdout } = await run(tools.ffmpeg, args, signalOption);
  const { frames, bytes } = countPackets(stdout);
  // ffmpeg encoded nothing (a stream that yields no frames): no evidence, no adjustment.
  if (frames === 0) return { factor: 1, bitsPerPixel: 0, sampledSeconds: 0 };
  const bitsPerPixel = (bytes * 8) / (width * height * frames);
  return {
    factor: complexityFactor(bitsPerPixel / frameRateFactor(frameRate)),
    bitsPerPixel,
    sampledSeconds: frames / frameRate,
  };
}

/** The factor for a measured 30-fps-equivalent bits per pixel: (bpp / reference)^½, clamped to 0.5–2. */
export function complexityFactor(bitsPerPixelAt30: number): number {
  return clampComplexity((bitsPerPixelAt30 / referenceBitsPerPixel) ** complexityExponent);
}

/** Sum the packet sizes of a `framecrc` listing: `stream, dts, pts, duration, size, crc` per line. */
export function countPackets(listing: string): { frames: number; bytes: number } {
  let frames = 0;
  let bytes = 0;
  for (const line of listing.split("\n")) {
    if (line.startsWith("#") || line.trim() === "") continue;
    const size = Number(line.split(",")[4]);
    if (!Number.isFinite(size)) continue;
    frames++;
    bytes += size;
  }
  return { frames, bytes };
}
