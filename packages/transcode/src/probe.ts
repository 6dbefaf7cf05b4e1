// What a source is: one ffprobe call (plus a look at the container's top-level structure, which
// ffprobe does not check), turned into a validated MediaInfo or a TranscodeError with a stable code.
import { constants } from "node:fs";
import { access, type FileHandle, open, stat } from "node:fs/promises";
import { z } from "zod";
import { TranscodeError, TranscodeErrorCode } from "./errors.js";
import { resolveFfprobe, run } from "./ffmpeg.js";
import { type MediaInfo, mediaInfoSchema } from "./schema.js";
import { parseWith } from "./validate.js";

export interface ProbeOptions {
  /** ffprobe to run: a path, or a name looked up on PATH. @default $FFPROBE_PATH, else `ffprobe` on PATH */
  ffprobePath?: string;
  /** Aborting kills ffprobe and rejects with `ABORTED`. */
  signal?: AbortSignal;
  /** Longest accepted duration; longer sources fail with `TOO_LONG`. @default 600000 (10 minutes) */
  maxDurationMs?: number;
  /** Largest accepted file; larger files fail with `TOO_LARGE` before ffprobe runs. @default 2147483648 (2 GiB) */
  maxBytes?: number;
  /**
   * Most pixels per stored frame (width × height); more fails with `TOO_LARGE`. The default
   * admits 8K UHD (7680x4320) and anything up to 4096x8192.
   * @default 33554432 (4096 * 4096 * 2)
   */
  maxPixels?: number;
}

const optionsSchema = z.strictObject({
  ffprobePath: z.string().min(1).optional(),
  signal: z.custom<AbortSignal>((v) => v instanceof AbortSignal, "not an AbortSignal").optional(),
  maxDurationMs: z.number().positive().default(600_000),
  maxBytes: z
    .number()
    .int()
    .positive()
    .default(2 * 1024 ** 3),
  maxPixels: z
    .number()
    .int()
    .positive()
    .default(4096 * 4096 * 2),
});

const inputSchema = z.string().min(1, "the input path is empty");

// The subset of ffprobe's JSON we read. Numbers come as strings in ffprobe's JSON writer.
const numeric = z.union([z.string(), z.number()]).optional();
const tagsSchema = z.record(z.string(), z.unknown()).optional();
const streamSchema = z.looseObject({
  index: z.number().optional(),
  codec_type: z.string().optional(),
  codec_name: z.string().optional(),
  codec_tag_string: z.string().optional(),
  width: z.number().optional(),
  height: z.number().optional(),
  sample_aspect_ratio: z.string().optional(),
  pix_fmt: z.string().optional(),
  bits_per_raw_sample: numeric,
  r_frame_rate: z.string().optional(),
  avg_frame_rate: z.string().optional(),
  nb_frames: numeric,
  duration: numeric,
  bit_rate: numeric,
  color_transfer: z.string().optional(),
  channels: z.number().optional(),
  sample_rate: numeric,
  disposition: z.record(z.string(), z.unknown()).optional(),
  side_data_list: z.array(z.looseObject({ side_data_type: z.string().optional(), rotation: numeric })).optional(),
  tags: tagsSchema,
});
const ffprobeSchema = z.looseObject({
  streams: z.array(streamSchema).default([]),
  format: z
    .looseObject({
      format_name: z.string().optional(),
      duration: numeric,
      probe_score: z.number().optional(),
      tags: tagsSchema,
    })
    .optional(),
});
type FfprobeStream = z.infer<typeof streamSchema>;
type FfprobeOutput = z.infer<typeof ffprobeSchema>;

/** Text and "binary art" demuxers ffprobe will open almost any file with: not video. */
const pseudoVideoFormats = new Set(["tty", "bin", "xbin", "adf", "idf"]);
const pseudoVideoCodecs = new Set(["ansi", "bintext", "xbin", "idf"]);

/** ffprobe's complaints that mean the data stops before the container says it should. */
const truncationMessages = /partial file|ended prematurely|unexpected end of/i;

/**
 * Probe a source with ffprobe (`-show_format -show_streams`, no decoding beyond ffprobe's own
 * stream-info pass) and return what the ladder planner needs, validated against `mediaInfoSchema`.
 * Nothing is written anywhere.
 *
 * - Display size: the sample aspect ratio widens the stored width (640x360 at SAR 2:1 → 1280x360),
 *   then a 90°/270° rotation swaps the sides; both rounded to even.
 * - Rotation: clockwise degrees a player applies, from the display matrix (ffprobe's counter-clockwise
 *   `rotation: -90` → 90) or the legacy `rotate` tag.
 * - `frameRate` is the average (`avg_frame_rate`, else `nb_frames` / duration, else packets counted
 *   with a second, demux-only `-count_packets` run); `variableFrameRate` is true when `r_frame_rate`
 *   differs from it by more than 1 %.
 * - Truncation: ffprobe reads a faststart MP4 cut in half as whole, so the top-level MP4 boxes and
 *   the Matroska Segment size are first checked against the file size (a few small reads).
 * - `durationMs` is the container's duration (the longest stream).
 * - A cover picture (`attached_pic`) is not video; it counts in `otherStreams`.
 *
 * @throws TranscodeError `INPUT_NOT_FOUND`, `EMPTY_FILE`, `NOT_MEDIA`, `TRUNCATED`, `AUDIO_ONLY`,
 *   `NO_VIDEO`, `TOO_LONG`, `TOO_LARGE`, `FFMPEG_MISSING`, `ABORTED`, `INVALID_INPUT`, `INVALID_OPTIONS`.
 */
export async function probe(input: string, options: ProbeOptions = {}): Promise<MediaInfo> {
  const path = parseWith(inputSchema, input, TranscodeErrorCode.INVALID_INPUT, "input");
  const config = parseWith(optionsSchema, options, TranscodeErrorCode.INVALID_OPTIONS, "probe options");
  const { signal } = config;

  const sizeBytes = await fileSize(path);
  if (sizeBytes === 0) throw new TranscodeError(TranscodeErrorCode.EMPTY_FILE, `${path} is empty (0 bytes)`);
  if (sizeBytes > config.maxBytes) {
    throw new TranscodeError(
      TranscodeErrorCode.TOO_LARGE,
      `${path} is ${sizeBytes} bytes; at most ${config.maxBytes} are accepted (maxBytes)`,
    );
  }
  const structure = await inspectContainer(path, sizeBytes);
  if (structure.truncated !== undefined) {
    throw new TranscodeError(TranscodeErrorCode.TRUNCATED, `${path} is cut short: ${structure.truncated}`);
  }

  const ffprobe = await resolveFfprobe(config.ffprobePath);
  const args = ["-v", "error", "-hide_banner", "-print_format", "json", "-show_format", "-show_streams", path];
  const result = await run(ffprobe, args, { allowFailure: true, ...(signal !== undefined && { signal }) });
  const said = result.stderrTail.join("\n");
  if (result.exitCode !== 0) {
    if (/permission denied/i.test(said)) {
      throw new TranscodeError(TranscodeErrorCode.INPUT_NOT_FOUND, `${path} cannot be read: ${said}`);
    }
    // A recognisable container that ffprobe cannot open is an incomplete one (an MP4 cut before its
    // moov index, a recording never finalised); anything else is not media at all.
    if (structure.kind !== "unknown" || truncationMessages.test(said)) {
      throw new TranscodeError(
        TranscodeErrorCode.TRUNCATED,
        `${path} looks like ${structure.kind === "unknown" ? "media" : structure.kind} but cannot be read, ` +
          `it is cut short or damaged: ${said || `ffprobe exited with ${result.exitCode}`}`,
      );
    }
    throw new TranscodeError(
      TranscodeErrorCode.NOT_MEDIA,
      `${path} is not a media file ffprobe can read: ${said || `ffprobe exited with ${result.exitCode}`}`,
    );
  }
  if (truncationMessages.test(said)) {
    throw new TranscodeError(TranscodeErrorCode.TRUNCATED, `${path} is cut short: ${said}`);
  }

  let output: FfprobeOutput;
  try {
    output = ffprobeSchema.parse(JSON.parse(result.stdout));
  } catch (error) {
    throw new TranscodeError(TranscodeErrorCode.NOT_MEDIA, `${path}: ffprobe printed no usable description`, {
      cause: error,
    });
  }
  const info = describe(path, sizeBytes, output, config);
  if (info.video.frameRateUnknown) {
    info.media.video.frameRate = await countFrameRate(ffprobe, path, info.media.durationMs, signal);
  }
  return parseWith(mediaInfoSchema, info.media, TranscodeErrorCode.NOT_MEDIA, `description of ${path}`);
}

async function fileSize(path: string): Promise<number> {
  try {
    const info = await stat(path);
    if (!info.isFile()) throw new TranscodeError(TranscodeErrorCode.INPUT_NOT_FOUND, `${path} is not a file`);
    await access(path, constants.R_OK);
    return info.size;
  } catch (error) {
    if (error instanceof TranscodeError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === "ENOENT" || code === "ENOTDIR" ? "does not exist" : `cannot be read (${code ?? "error"})`;
    throw new TranscodeError(TranscodeErrorCode.INPUT_NOT_FOUND, `${path} ${why}`, { cause: error });
  }
}

type Limits = z.infer<typeof optionsSchema>;

/** Turn ffprobe's JSON into a MediaInfo draft, throwing the classification errors. */
function describe(
  path: string,
  sizeBytes: number,
  output: FfprobeOutput,
  limits: Limits,
): { media: MediaInfo; video: { frameRateUnknown: boolean } } {
  const format = output.format ?? {};
  const formatName = format.format_name ?? "";
  const streams = output.streams;
  if (
    formatName === "" ||
    pseudoVideoFormats.has(formatName) ||
    streams.some((s) => pseudoVideoCodecs.has(s.codec_name ?? ""))
  ) {
    throw new TranscodeError(
      TranscodeErrorCode.NOT_MEDIA,
      `${path} is not media (ffprobe guessed "${formatName || "nothing"}")`,
    );
  }
  if (/_pipe$|^image2$/.test(formatName)) {
    throw new TranscodeError(TranscodeErrorCode.NOT_MEDIA, `${path} is a still image (${formatName}), not a video`);
  }

  const isCover = (s: FfprobeStream) => s.disposition?.attached_pic === 1;
  const videoStream = streams.find((s) => s.codec_type === "video" && !isCover(s));
  const audioStream = streams.find((s) => s.codec_type === "audio");
  if (videoStream === undefined) {
    if (audioStream !== undefined) {
      throw new TranscodeError(
        TranscodeErrorCode.AUDIO_ONLY,
        `${path} has audio (${audioStream.codec_name}) but no video`,
      );
    }
    throw new TranscodeError(TranscodeErrorCode.NO_VIDEO, `${path} has no video stream`);
  }
  const otherStreams = streams.filter(
    (s) => (s.codec_type !== "video" && s.codec_type !== "audio") || isCover(s),
  ).length;

  const durationSeconds = positive(format.duration) ?? positive(videoStream.duration) ?? tagDuration(videoStream.tags);
  if (durationSeconds === undefined) {
    throw new TranscodeError(TranscodeErrorCode.NOT_MEDIA, `${path} has no duration: not a playable video`);
  }
  const durationMs = Math.max(1, Math.round(durationSeconds * 1000));

  const codedWidth = videoStream.width ?? 0;
  const codedHeight = videoStream.height ?? 0;
  const codec = videoStream.codec_name ?? "";
  if (codedWidth <= 0 || codedHeight <= 0 || codec === "" || videoStream.pix_fmt === undefined) {
    throw new TranscodeError(
      TranscodeErrorCode.NOT_MEDIA,
      `${path}: ffprobe cannot decode its video (${codec || videoStream.codec_tag_string || "unknown codec"}, ` +
        `${codedWidth}x${codedHeight}, pixel format ${videoStream.pix_fmt ?? "unknown"})`,
    );
  }
  if (codedWidth * codedHeight > limits.maxPixels) {
    throw new TranscodeError(
      TranscodeErrorCode.TOO_LARGE,
      `${path} is ${codedWidth}x${codedHeight}; at most ${limits.maxPixels} pixels per frame are accepted (maxPixels)`,
    );
  }
  if (durationMs > limits.maxDurationMs) {
    throw new TranscodeError(
      TranscodeErrorCode.TOO_LONG,
      `${path} lasts ${durationMs} ms; at most ${limits.maxDurationMs} ms are accepted (maxDurationMs)`,
    );
  }

  const sampleAspectRatio = parseSampleAspectRatio(videoStream.sample_aspect_ratio);
  const rotation = rotationOf(videoStream);
  const displayWidth = even((codedWidth * sampleAspectRatio.num) / sampleAspectRatio.den);
  const displayHeight = even(codedHeight);
  const swap = rotation === 90 || rotation === 270;

  const average = parseRate(videoStream.avg_frame_rate);
  const frames = positive(videoStream.nb_frames);
  const streamSeconds = positive(videoStream.duration) ?? durationSeconds;
  const frameRate = average ?? (frames !== undefined ? frames / streamSeconds : undefined);
  const declared = parseRate(videoStream.r_frame_rate);
  const variableFrameRate =
    frameRate !== undefined && declared !== undefined && Math.abs(declared - frameRate) / frameRate > 0.01;

  const videoBitrate = positiveInt(videoStream.bit_rate);
  const media: MediaInfo = {
    container: formatName,
    durationMs,
    sizeBytes,
    video: {
      codec,
      codedWidth,
      codedHeight,
      width: swap ? displayHeight : displayWidth,
      height: swap ? displayWidth : displayHeight,
      rotation,
      sampleAspectRatio,
      // Filled in by counting frames when ffprobe gives no rate (see countFrameRate).
      frameRate: frameRate ?? 0,
      variableFrameRate,
      pixelFormat: videoStream.pix_fmt,
      bitDepth: bitDepthOf(videoStream.pix_fmt, videoStream.bits_per_raw_sample),
      hdr: hdrOf(videoStream.color_transfer),
      ...(videoBitrate !== undefined && { bitrate: videoBitrate }),
    },
    audio: audioOf(audioStream),
    otherStreams,
    hasLocation: hasLocationTags(format.tags) || streams.some((s) => hasLocationTags(s.tags)),
  };
  return { media, video: { frameRateUnknown: frameRate === undefined } };
}

function audioOf(stream: FfprobeStream | undefined): MediaInfo["audio"] {
  if (stream === undefined) return null;
  const channels = stream.channels ?? 0;
  const sampleRate = positiveInt(stream.sample_rate);
  // An audio stream without channels or a sample rate cannot be decoded; the ladder treats it as absent.
  if (channels <= 0 || sampleRate === undefined) return null;
  const bitrate = positiveInt(stream.bit_rate);
  return {
    codec: stream.codec_name ?? stream.codec_tag_string ?? "unknown",
    channels,
    sampleRate,
    ...(bitrate !== undefined && { bitrate }),
  };
}

/** No usable average rate: count the video packets (demux only, no decode) over the duration. */
async function countFrameRate(
  ffprobe: string,
  path: string,
  durationMs: number,
  signal: AbortSignal | undefined,
): Promise<number> {
  const args = ["-v", "error", "-select_streams", "v:0", "-count_packets", "-show_entries", "stream=nb_read_packets"];
  const { stdout } = await run(ffprobe, [...args, "-print_format", "json", path], {
    ...(signal !== undefined && { signal }),
  });
  const packets = positive(
    z.object({ streams: z.array(z.object({ nb_read_packets: numeric })) }).safeParse(JSON.parse(stdout)).data
      ?.streams[0]?.nb_read_packets,
  );
  if (packets === undefined) {
    throw new TranscodeError(TranscodeErrorCode.NOT_MEDIA, `${path}: its video stream has no frames`);
  }
  return packets / (durationMs / 1000);
}

const even = (n: number) => Math.max(2, 2 * Math.round(n / 2));

function positive(value: string | number | undefined): number | undefined {
  const n = typeof value === "number" ? value : value === undefined ? Number.NaN : Number(value);
  return Number.isFinite(n) && n > 0 ? n : undefined;
}

function positiveInt(value: string | number | undefined): number | undefined {
  const n = positive(value);
  return n === undefined ? undefined : Math.max(1, Math.round(n));
}

/** Matroska keeps per-stream durations in a `DURATION` tag, "00:00:03.333000000". */
function tagDuration(tags: Record<string, unknown> | undefined): number | undefined {
  const value = tags?.DURATION ?? tags?.duration;
  if (typeof value !== "string") return undefined;
  const match = /^(\d+):(\d+):(\d+(?:\.\d+)?)$/.exec(value.trim());
  if (!match) return undefined;
  return positive(Number(match[1]) * 3600 + Number(match[2]) * 60 + Number(match[3]));
}

/** "30000/1001" → 29.97; "0/0" and garbage → undefined. */
export function parseRate(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const [num, den = "1"] = value.split("/");
  return positive(Number(num) / Number(den));
}

const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));

/** "2:1" → { num: 2, den: 1 }, reduced; missing, "0:1" or "N/A" → 1:1. */
export function parseSampleAspectRatio(value: string | undefined): { num: number; den: number } {
  const match = /^(\d+):(\d+)$/.exec(value ?? "");
  const num = Number(match?.[1] ?? 0);
  const den = Number(match?.[2] ?? 0);
  if (num <= 0 || den <= 0) return { num: 1, den: 1 };
  const d = gcd(num, den);
  return { num: num / d, den: den / d };
}

/**
 * Clockwise degrees a player rotates the picture: 0, 90, 180 or 270. ffprobe reports the display
 * matrix as a counter-clockwise angle (`rotation: -90` = turn 90° clockwise); the legacy `rotate`
 * tag is already clockwise. Odd angles snap to the nearest quarter turn.
 */
export function rotationOf(stream: Pick<FfprobeStream, "side_data_list" | "tags">): 0 | 90 | 180 | 270 {
  const matrix = stream.side_data_list?.find((d) => d.rotation !== undefined && Number.isFinite(Number(d.rotation)));
  const tag = stream.tags?.rotate;
  let clockwise = 0;
  if (matrix !== undefined) clockwise = -Number(matrix.rotation);
  else if ((typeof tag === "string" || typeof tag === "number") && Number.isFinite(Number(tag)))
    clockwise = Number(tag);
  const quarter = ((Math.round(clockwise / 90) % 4) + 4) % 4;
  return ([0, 90, 180, 270] as const)[quarter] ?? 0;
}

/** Bits per component from the pixel format name ("yuv420p10le" → 10, "p010le" → 10), else the stream's field, else 8. */
export function bitDepthOf(pixelFormat: string, bitsPerRawSample?: string | number): number {
  const match = /^p0(\d\d)|(?:p|gray)(\d{1,2})(?:le|be)?$/.exec(pixelFormat);
  const digits = match?.[1] ?? match?.[2];
  if (digits !== undefined) return Number(digits);
  return positiveInt(bitsPerRawSample) ?? 8;
}

/** HLG and PQ by their transfer characteristic; everything else is SDR. */
export function hdrOf(transfer: string | undefined): MediaInfo["video"]["hdr"] {
  if (transfer === "arib-std-b67") return "hlg";
  if (transfer === "smpte2084") return "pq";
  return "sdr";
}

/** Location metadata: any tag whose key mentions "location" (Apple's `…location.ISO6709`, Android's `location`) or ISO 6709. */
function hasLocationTags(tags: Record<string, unknown> | undefined): boolean {
  return Object.keys(tags ?? {}).some((key) => /location|iso6709/i.test(key));
}

// ---------------------------------------------------------------------------------------------
// Container structure: ffprobe happily reports a faststart MP4 cut in half as whole (its index is
// intact), so the top-level boxes (ISO BMFF) or the Segment element (Matroska/WebM) are checked
// against the file size first. This reads a few bytes per top-level box, nothing more.

interface Structure {
  kind: "MP4/QuickTime" | "Matroska/WebM" | "unknown";
  /** Why the file is cut short, when it is. */
  truncated?: string;
}

const isoTopLevel = new Set([
  "ftyp",
  "styp",
  "moov",
  "mdat",
  "free",
  "skip",
  "wide",
  "pnot",
  "sidx",
  "moof",
  "mfra",
  "uuid",
  "meta",
  "pdin",
  "prft",
  "emsg",
  "junk",
]);

/** Look at the container's top-level structure; never throws (an unreadable file is left to ffprobe). */
export async function inspectContainer(path: string, size: number): Promise<Structure> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(path, "r");
    const head = Buffer.alloc(16);
    const { bytesRead } = await handle.read(head, 0, 16, 0);
    if (bytesRead >= 8 && isoTopLevel.has(head.toString("latin1", 4, 8))) return await walkBoxes(handle, size);
    if (bytesRead >= 4 && head.readUInt32BE(0) === 0x1a45dfa3) return await checkEbml(handle, size);
    return { kind: "unknown" };
  } catch {
    return { kind: "unknown" };
  } finally {
    await handle?.close();
  }
}

const maxBoxes = 200_000;

async function walkBoxes(handle: FileHandle, size: number): Promise<Structure> {
  const kind = "MP4/QuickTime";
  const header = Buffer.alloc(16);
  let offset = 0;
  for (let i = 0; i < maxBoxes && offset + 8 <= size; i++) {
    const { bytesRead } = await handle.read(header, 0, 16, offset);
    if (bytesRead < 8) break;
    const type = header.toString("latin1", 4, 8);
    // Past the last real box: padding or junk is ffprobe's business, not a truncation.
    if (!/^[\x20-\x7e]{4}$/.test(type)) return { kind };
    const size32 = header.readUInt32BE(0);
    let boxSize: number;
    if (size32 === 0) return { kind }; // the box runs to the end of the file
    if (size32 === 1) {
      if (bytesRead < 16) return { kind, truncated: `the header of the ${type} box at byte ${offset} is incomplete` };
      boxSize = Number(header.readBigUInt64BE(8));
    } else {
      boxSize = size32;
    }
    if (boxSize < 8) return { kind };
    if (offset + boxSize > size) {
      return {
        kind,
        truncated:
          `its ${type} box at byte ${offset} declares ${boxSize} bytes but the file ends ${size - offset} bytes ` +
          `after it starts (${size} bytes in all)`,
      };
    }
    offset += boxSize;
  }
  return { kind };
}

/** Matroska variable-length integer at `buffer[at]`: its length and value (`undefined` = "unknown size"). */
function readVint(
  buffer: Buffer,
  at: number,
  keepMarker: boolean,
): { length: number; value: number | undefined } | undefined {
  const first = buffer[at];
  if (first === undefined || first === 0) return undefined;
  const length = Math.clz32(first) - 23;
  if (at + length > buffer.length) return undefined;
  let value = keepMarker ? first : first & (0xff >> length);
  let allOnes = value === 0xff >> length;
  for (let i = 1; i < length; i++) {
    const byte = buffer[at + i] ?? 0;
    value = value * 256 + byte;
    if (byte !== 0xff) allOnes = false;
  }
  return { length, value: !keepMarker && allOnes ? undefined : value };
}

async function checkEbml(handle: FileHandle, size: number): Promise<Structure> {
  const kind = "Matroska/WebM";
  const buffer = Buffer.alloc(64);
  const { bytesRead } = await handle.read(buffer, 0, 64, 0);
  const head = buffer.subarray(0, bytesRead);
  // EBML header: ID (4 bytes), size, body; then the Segment: ID 0x18538067, size.
  const headerSize = readVint(head, 4, false);
  if (headerSize?.value === undefined) return { kind };
  const segmentAt = 4 + headerSize.length + headerSize.value;
  if (segmentAt + 4 > size) return { kind, truncated: "it ends inside its EBML header" };
  const segment = Buffer.alloc(12);
  const read = await handle.read(segment, 0, 12, segmentAt);
  const id = read.bytesRead >= 4 ? segment.readUInt32BE(0) : 0;
  if (id !== 0x18538067) return { kind };
  const segmentSize = readVint(segment.subarray(0, read.bytesRead), 4, false);
  if (segmentSize === undefined) return { kind, truncated: "it ends inside its Segment header" };
  if (segmentSize.value === undefined) return { kind }; // live-written: size unknown
  const end = segmentAt + 4 + segmentSize.length + segmentSize.value;
  if (end > size) {
    return { kind, truncated: `its Segment declares ${end} bytes but the file has ${size}` };
  }
  return { kind };
}
