import { z } from "zod";

/** HDR transfer of a source: SDR, hybrid log-gamma or perceptual quantizer (HDR10 / Dolby Vision base). */
export const hdrTransfers = ["sdr", "hlg", "pq"] as const;
export type HdrTransfer = (typeof hdrTransfers)[number];

const positiveInt = z.number().int().positive();

/**
 * What `probe(input)` learns of a source, validated. Display dimensions are what a viewer sees:
 * after the rotation matrix and the sample aspect ratio are applied.
 */
export const mediaInfoSchema = z.strictObject({
  /** Container format names as ffprobe reports them, e.g. "mov,mp4,m4a,3gp,3g2,mj2". */
  container: z.string().min(1),
  durationMs: z.number().positive(),
  sizeBytes: z.number().int().nonnegative(),
  video: z.strictObject({
    codec: z.string().min(1),
    /** Stored frame size, before rotation and sample aspect ratio. */
    codedWidth: positiveInt,
    codedHeight: positiveInt,
    /** Displayed size: rotated, sample aspect ratio applied, rounded to even. */
    width: positiveInt,
    height: positiveInt,
    /** Clockwise rotation a player applies, 0, 90, 180 or 270. */
    rotation: z.union([z.literal(0), z.literal(90), z.literal(180), z.literal(270)]),
    sampleAspectRatio: z.strictObject({ num: positiveInt, den: positiveInt }),
    /** Average frame rate (frames / duration). */
    frameRate: z.number().positive(),
    /** The declared rate differs from the average: frames arrive irregularly. */
    variableFrameRate: z.boolean(),
    pixelFormat: z.string().min(1),
    bitDepth: positiveInt,
    hdr: z.enum(hdrTransfers),
    /** bits per second, when the container says. */
    bitrate: positiveInt.optional(),
  }),
  audio: z
    .strictObject({
      codec: z.string().min(1),
      channels: positiveInt,
      sampleRate: positiveInt,
      bitrate: positiveInt.optional(),
    })
    .nullable(),
  /** Streams that are neither video nor audio (timed metadata, `mebx`, subtitles…); never copied. */
  otherStreams: z.number().int().nonnegative(),
  /** The container carries location tags (e.g. `com.apple.quicktime.location.ISO6709`); never copied. */
  hasLocation: z.boolean(),
});

export type MediaInfo = z.infer<typeof mediaInfoSchema>;

/** One video rung of a ladder. */
export interface Rendition {
  /** e.g. "1080p" — the short side of the picture. */
  name: string;
  width: number;
  height: number;
  /** Output frame rate, constant; `frameRate * keyframeSeconds` is a whole number. */
  frameRate: number;
  /** Target average bitrate, bits per second. */
  bitrate: number;
  /** VBV peak (maxrate), bits per second. */
  maxBitrate: number;
  /** VBV buffer, bits. */
  bufferSize: number;
  /** H.264 profile and level written into the stream (and `CODECS`). */
  profile: "baseline" | "main" | "high";
  level: string;
}

export interface AudioRendition {
  /** bits per second */
  bitrate: number;
  channels: 1 | 2;
  sampleRate: number;
}

/** What `planLadder` returns and `transcode` encodes. Pure data: serialisable, comparable. */
export interface Ladder {
  orientation: "vertical" | "horizontal" | "square";
  renditions: Rendition[];
  /** Present exactly when the source has audio. */
  audio: AudioRendition | null;
  /** Keyframe cadence and segment length, seconds (Apple: 2 s IDR, segments start on IDRs). */
  keyframeSeconds: number;
  segmentSeconds: number;
  /** The source facts the plan relies on (rotation is applied once; HDR is tone-mapped). */
  source: { width: number; height: number; frameRate: number; hdr: HdrTransfer; durationMs: number };
  /** Bitrate multiplier from `measureComplexity` (1 when none was given). */
  complexityFactor: number;
}

/** One written media segment, as measured after the encode. */
export interface MeasuredSegment {
  /** File name relative to the rendition's folder. */
  uri: string;
  durationSeconds: number;
  bytes: number;
  /** Byte range of the segment's first (key) frame inside the file: moof through that sample's data. */
  keyframe: { offset: number; length: number };
}

/** A rendition as written: its playlist, init segment and measured segments. */
export interface MeasuredRendition {
  kind: "video" | "audio";
  /** Folder relative to the output root, e.g. "1080p" or "audio". */
  dir: string;
  /** RFC 6381 codec string, e.g. "avc1.640028" or "mp4a.40.2". */
  codecs: string;
  /** Init segment file name relative to `dir`, and its size. */
  init: { uri: string; bytes: number };
  segments: MeasuredSegment[];
  width?: number;
  height?: number;
  frameRate?: number;
  /** Audio only. */
  channels?: number;
  sampleRate?: number;
  /** Ticks per second of the track's media timeline (the init segment's `mdhd`): DASH `SegmentTemplate@timescale`. */
  timescale?: number;
}

/** The result of a finished transcode. */
export interface TranscodeResult {
  outDir: string;
  /** Relative to `outDir`. */
  master: "master.m3u8";
  dash: "manifest.mpd";
  poster: "poster.jpg";
  storyboard: { vtt: "storyboard.vtt"; sprite: "storyboard.jpg" };
  renditions: MeasuredRendition[];
  durationMs: number;
  /** Wall time of the whole job. */
  elapsedMs: number;
}
