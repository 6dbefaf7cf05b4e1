// The ladder planner: pure arithmetic from a probed source to the rungs the encoder writes.
// Sizes follow the displayed picture (rotation and sample aspect ratio already applied by `probe`),
// frame rates land on a whole number so every rung has a keyframe exactly on each boundary, and
// bitrates come from a bits-per-pixel model scaled by a per-title complexity factor.
import { z } from "zod";
import { TranscodeError, TranscodeErrorCode } from "./errors.js";
import type { AudioRendition, Ladder, MediaInfo, Rendition } from "./schema.js";
import { mediaInfoSchema } from "./schema.js";
import { parseWith } from "./validate.js";

/**
 * Short-side classes of the default ladder, adapted from Apple's HLS Authoring Specification
 * (1920x1080, 1280x720, 960x540, 640x360, 416x234 → their short sides, 234 rounded to 240).
 */
export const defaultRungs: readonly number[] = [1080, 720, 540, 360, 240];

/** A rung whose short side is at most this is a "bottom" rung: it gets half the frame rate (see {@link bottomFrameRate}). */
export const bottomRungShortSide = 240;

/** Highest frame rate of bottom rungs when the top rungs run at 30 fps or more. */
export const bottomMaxFrameRate = 15;

/**
 * Bits per pixel per frame at 30 fps, by short side (linear in log(short side) between the points,
 * constant outside). Chosen so a 9:16 ladder at 30 fps lands near Apple's table: 1080x1920 ≈ 6.5
 * Mb/s, 720x1280 ≈ 3.0, 540x960 ≈ 2.0, 360x640 ≈ 1.0, and 240x426 at 15 fps ≈ 0.37 Mb/s. Smaller
 * pictures need more bits per pixel (less spatial redundancy).
 */
export const bitsPerPixelTable: ReadonlyArray<readonly [shortSide: number, bpp: number]> = [
  [240, 0.2],
  [360, 0.145],
  [540, 0.13],
  [720, 0.11],
  [1080, 0.105],
];

/** Peak (VBV maxrate) as a multiple of the average. Apple allows 2× for VOD; 1.5× keeps segments well inside it. */
export const peakToAverage = 1.5;

/** Seconds of peak-rate bits the VBV buffer holds: bufferSize = maxBitrate × this. */
export const bufferSeconds = 1;

/** The complexity factor is clamped to this range. */
export const complexityRange = { min: 0.5, max: 2 } as const;

export interface LadderOptions {
  /**
   * Short sides of the rungs, in pixels (even). Rungs above the source's short side are dropped; a
   * source between two classes also gets a rung at its own size when it is at least 1.2× the next
   * class down (a 480x854 upload gets 480p, 360p, 240p); a source smaller than every class gets one
   * rung at its own size.
   * @default [1080, 720, 540, 360, 240]
   */
  rungs?: number[];
  /**
   * Highest output frame rate. Faster sources are divided down evenly when they can be (60 → 30,
   * 50 → 25, 120 → 30), else capped. Raise it to 60 to keep 60 fps sources at 60.
   * @default 30
   */
  maxFrameRate?: number;
  /**
   * Bitrate multiplier, usually `(await measureComplexity(input)).factor`; clamped to 0.5–2.
   * @default 1
   */
  complexity?: number;
  /** Keyframe interval and segment length, whole seconds (Apple: 2 s IDR, 6 s or less segments). @default 2 */
  keyframeSeconds?: number;
}

const optionsSchema = z.strictObject({
  rungs: z
    .array(z.number().int().min(2).max(4320).multipleOf(2, "rung short sides must be even"))
    .min(1)
    .max(12)
    .optional(),
  maxFrameRate: z.number().int().min(1).max(120).default(30),
  complexity: z.number().positive().optional(),
  keyframeSeconds: z.number().int().min(1).max(10).default(2),
});

/**
 * Plan the HLS ladder for a probed source. Pure and synchronous: the same input gives the same
 * ladder, nothing runs.
 *
 * - Sizes: each rung's short side is a class from `rungs` no larger than the source's (displayed)
 *   short side; the long side keeps the displayed aspect ratio, rounded to even; pixels are square.
 * - Frame rate: see {@link topFrameRate} and {@link bottomFrameRate}; always a whole number, so
 *   `frameRate × keyframeSeconds` is whole and every rung has a frame exactly on every keyframe
 *   boundary.
 * - Bitrate: width × height × frameRate × bits per pixel ({@link bitsPerPixel}) × complexity,
 *   rounded to 1 kb/s; maxBitrate = 1.5 × bitrate; bufferSize = maxBitrate × 1 s.
 * - H.264 profile high for short sides ≥ 540, main below; level: the lowest of 3.0 … 5.2 whose
 *   limits (macroblocks per frame and per second, bitrate, buffer, frame dimensions) fit.
 * - Audio: none without source audio; else AAC stereo 128 kb/s (mono sources stay mono at 64 kb/s),
 *   48 kHz unless the source is 44.1 kHz.
 *
 * @throws TranscodeError `INVALID_OPTIONS` for bad options; `INVALID_INPUT` when `info` is not a MediaInfo.
 */
export function planLadder(info: MediaInfo, options: LadderOptions = {}): Ladder {
  const source = parseWith(mediaInfoSchema, info, TranscodeErrorCode.INVALID_INPUT, "media info");
  const config = parseWith(optionsSchema, options, TranscodeErrorCode.INVALID_OPTIONS, "ladder options");
  const { width, height, frameRate: sourceRate, variableFrameRate, hdr } = source.video;
  const complexityFactor = clampComplexity(config.complexity ?? 1);

  const shortSides = rungShortSides(Math.min(width, height), config.rungs ?? defaultRungs);
  const top = topFrameRate(sourceRate, config.maxFrameRate, variableFrameRate);
  const renditions = shortSides.map((shortSide, i): Rendition => {
    const size = rungSize(width, height, shortSide);
    const isBottom = i > 0 && shortSide <= bottomRungShortSide;
    const frameRate = isBottom ? bottomFrameRate(top) : top;
    const bitrate = Math.max(
      32_000,
      round1000(size.width * size.height * frameRate * bitsPerPixel(shortSide, frameRate) * complexityFactor),
    );
    const maxBitrate = round1000(bitrate * peakToAverage);
    const bufferSize = round1000(maxBitrate * bufferSeconds);
    const profile = shortSide >= 540 ? "high" : "main";
    return {
      name: `${shortSide}p`,
      width: size.width,
      height: size.height,
      frameRate,
      bitrate,
      maxBitrate,
      bufferSize,
      profile,
      level: h264Level({ ...size, frameRate, maxBitrate, bufferSize, profile }),
    };
  });

  return {
    orientation: width < height ? "vertical" : width > height ? "horizontal" : "square",
    renditions,
    audio: planAudio(source.audio),
    keyframeSeconds: config.keyframeSeconds,
    segmentSeconds: config.keyframeSeconds,
    source: { width, height, frameRate: sourceRate, hdr, durationMs: source.durationMs },
    complexityFactor,
  };
}

export function clampComplexity(factor: number): number {
  return Math.min(complexityRange.max, Math.max(complexityRange.min, factor));
}

const round1000 = (n: number) => Math.round(n / 1000) * 1000;
const even = (n: number) => Math.max(2, 2 * Math.round(n / 2));

/**
 * The short sides of the rungs, largest first: the classes that fit the source, plus the source's
 * own short side on top when it is at least 1.2× the largest class that fits (and below the
 * largest class), or alone when no class fits.
 */
export function rungShortSides(sourceShortSide: number, classes: readonly number[]): number[] {
  const sorted = [...new Set(classes)].sort((a, b) => b - a);
  const own = Math.max(2, 2 * Math.floor(sourceShortSide / 2));
  const fitting = sorted.filter((c) => c <= own);
  const largest = fitting[0];
  if (largest === undefined) return [own];
  const belowTopClass = own < (sorted[0] ?? 0);
  return belowTopClass && own >= largest * 1.2 ? [own, ...fitting] : fitting;
}

/** A rung's size: `shortSide` on the short side, the long side from the displayed aspect ratio, both even. */
export function rungSize(
  displayWidth: number,
  displayHeight: number,
  shortSide: number,
): { width: number; height: number } {
  const short = Math.min(displayWidth, displayHeight);
  const long = Math.max(displayWidth, displayHeight);
  const scaledLong = Math.min(even((shortSide * long) / short), Math.max(2, 2 * Math.floor(long / 2)));
  return displayWidth < displayHeight
    ? { width: shortSide, height: scaledLong }
    : displayWidth > displayHeight
      ? { width: scaledLong, height: shortSide }
      : { width: shortSide, height: shortSide };
}

/**
 * A measured average rate as a whole number of frames per second: rounded up, forgiving 1 % of
 * timestamp jitter (the tolerance of the VFR decision). 29.97 → 30, 23.976 → 24, 59.94 → 60,
 * 30.02 → 30, 25 → 25, a VFR average of 7.22 → 8. Rounding up means the fps filter only ever
 * repeats a frame now and then, it never drops source frames.
 */
export function wholeFrameRate(rate: number): number {
  return Math.max(1, Math.ceil(rate * 0.99 - 1e-9));
}

/**
 * Frame rate of the top rungs: the source's whole rate ({@link wholeFrameRate}) when it is at most
 * `maxFrameRate`; else, for a constant-rate source, the rate divided by the smallest whole number
 * that brings it under the cap while dividing it exactly and keeping at least ¾ of the cap (60 → 30,
 * 50 → 25, 120 → 30, 48 → 24: every kept frame is a source frame, evenly spaced); else the cap.
 */
export function topFrameRate(sourceRate: number, maxFrameRate: number, variableFrameRate = false): number {
  const rate = wholeFrameRate(sourceRate);
  if (rate <= maxFrameRate) return rate;
  if (!variableFrameRate) {
    for (let n = Math.ceil(rate / maxFrameRate); rate / n >= maxFrameRate * 0.75; n++) {
      if (rate % n === 0) return rate / n;
    }
  }
  return maxFrameRate;
}

/**
 * Frame rate of the bottom (≤ 240p) rungs below the top one: the top rate when it is under 30;
 * else the top rate divided by the smallest whole number that gives at most 15 fps exactly
 * (30 → 15, 60 → 15), else 15.
 */
export function bottomFrameRate(topRate: number): number {
  if (topRate < 30) return topRate;
  for (let n = 2; n <= topRate; n++) {
    if (topRate % n === 0 && topRate / n <= bottomMaxFrameRate) return topRate / n;
  }
  return bottomMaxFrameRate;
}

/**
 * Bits per pixel per frame for a rung: the table value for its short side ({@link bitsPerPixelTable}),
 * times (30 / frameRate)^¼ — frames further apart share less, so each costs a little more
 * (15 fps: ×1.19, 60 fps: ×0.84).
 */
export function bitsPerPixel(shortSide: number, frameRate: number): number {
  return bitsPerPixelAt30(shortSide) * frameRateFactor(frameRate);
}

/** (30 / frameRate)^¼: how bits per pixel per frame change with the frame rate. */
export function frameRateFactor(frameRate: number): number {
  return (30 / frameRate) ** 0.25;
}

function bitsPerPixelAt30(shortSide: number): number {
  const first = bitsPerPixelTable[0];
  const last = bitsPerPixelTable.at(-1);
  if (first === undefined || last === undefined) return 0.1;
  if (shortSide <= first[0]) return first[1];
  if (shortSide >= last[0]) return last[1];
  for (let i = 1; i < bitsPerPixelTable.length; i++) {
    const [s1, b1] = bitsPerPixelTable[i] ?? last;
    const [s0, b0] = bitsPerPixelTable[i - 1] ?? first;
    if (shortSide <= s1) {
      const t = Math.log(shortSide / s0) / Math.log(s1 / s0);
      return b0 + t * (b1 - b0);
    }
  }
  return last[1];
}

/**
 * H.264 level limits (ITU-T H.264 Table A-1) from 3.0 up: max macroblocks per second and per frame,
 * max video bitrate (kb/s) and CPB size (kbit) for Main; High allows 1.25× the bitrate and CPB.
 * Nothing below 3.0: every target device decodes it, and the tiny DPB of lower levels would force
 * the encoder down to one or two reference frames.
 */
export const h264Levels: ReadonlyArray<{
  level: string;
  mbps: number;
  frameMbs: number;
  bitrate: number;
  cpb: number;
}> = [
  { level: "3.0", mbps: 40_500, frameMbs: 1_620, bitrate: 10_000, cpb: 10_000 },
  { level: "3.1", mbps: 108_000, frameMbs: 3_600, bitrate: 14_000, cpb: 14_000 },
  { level: "3.2", mbps: 216_000, frameMbs: 5_120, bitrate: 20_000, cpb: 20_000 },
  { level: "4.0", mbps: 245_760, frameMbs: 8_192, bitrate: 20_000, cpb: 25_000 },
  { level: "4.1", mbps: 245_760, frameMbs: 8_192, bitrate: 50_000, cpb: 62_500 },
  { level: "4.2", mbps: 522_240, frameMbs: 8_704, bitrate: 50_000, cpb: 62_500 },
  { level: "5.0", mbps: 589_824, frameMbs: 22_080, bitrate: 135_000, cpb: 135_000 },
  { level: "5.1", mbps: 983_040, frameMbs: 36_864, bitrate: 240_000, cpb: 240_000 },
  { level: "5.2", mbps: 2_073_600, frameMbs: 36_864, bitrate: 240_000, cpb: 240_000 },
];

/**
 * The lowest H.264 level ("3.0", "3.1", "4.0"…) whose limits fit a stream: macroblocks per frame
 * and per second, each frame side at most √(8 × max frame macroblocks), peak bitrate and buffer.
 * @throws TranscodeError `INVALID_OPTIONS` when even 5.2 is too small.
 */
export function h264Level(stream: {
  width: number;
  height: number;
  frameRate: number;
  maxBitrate: number;
  bufferSize: number;
  profile: Rendition["profile"];
}): string {
  const mbWide = Math.ceil(stream.width / 16);
  const mbHigh = Math.ceil(stream.height / 16);
  const frameMbs = mbWide * mbHigh;
  const mbps = frameMbs * stream.frameRate;
  const scale = stream.profile === "high" ? 1.25 : 1;
  const fits = h264Levels.find(
    (l) =>
      frameMbs <= l.frameMbs &&
      mbps <= l.mbps &&
      Math.max(mbWide, mbHigh) <= Math.sqrt(8 * l.frameMbs) &&
      stream.maxBitrate <= l.bitrate * 1000 * scale &&
      stream.bufferSize <= l.cpb * 1000 * scale,
  );
  if (fits === undefined) {
    throw new TranscodeError(
      TranscodeErrorCode.INVALID_OPTIONS,
      `${stream.width}x${stream.height} at ${stream.frameRate} fps and ${stream.maxBitrate} b/s exceeds H.264 level 5.2`,
    );
  }
  return fits.level;
}

function planAudio(audio: MediaInfo["audio"]): AudioRendition | null {
  if (audio === null) return null;
  const mono = audio.channels === 1;
  return {
    bitrate: mono ? 64_000 : 128_000,
    channels: mono ? 1 : 2,
    sampleRate: audio.sampleRate === 44_100 ? 44_100 : 48_000,
  };
}
