import { TranscodeError, TranscodeErrorCode } from "./errors.js";

// A small ISO base media file format (ISO/IEC 14496-12) reader for what measuring a CMAF rendition needs:
// the codec, timescale and picture/audio facts of an init segment, and, per media segment, its duration and
// the byte range of its first sample. Every read is bounds-checked against the enclosing box, so malformed
// input throws a `TranscodeError` (INVALID_INPUT) and nothing is ever read past the end of a buffer.

/** One box: `offset` is where its header starts, `size` covers header and payload. */
export interface Box {
  /** Four-character code, e.g. "moof". */
  type: string;
  offset: number;
  size: number;
  /** 8, 16 with a 64-bit largesize, plus 16 for a `uuid` box's user type. */
  headerSize: number;
}

/** Where a box's payload starts and ends. */
export const payloadStart = (box: Box): number => box.offset + box.headerSize;
export const boxEnd = (box: Box): number => box.offset + box.size;

/** Defaults a fragmented track declares in its init segment (`moov/mvex/trex`). */
export interface TrackDefaults {
  trackId: number;
  sampleDuration: number;
  sampleSize: number;
  sampleFlags: number;
}

/** What an init segment (`init.mp4`) says about its one audio or video track. */
export interface InitSegmentInfo {
  kind: "video" | "audio";
  trackId: number;
  /** Ticks per second of the track's media timeline (`mdhd`). */
  timescale: number;
  /** RFC 6381 codec string, e.g. "avc1.64001f" or "mp4a.40.2". */
  codecs: string;
  /** Video: the coded picture size from the sample entry (`avc1`). */
  width?: number;
  height?: number;
  /** Video: the presentation size from `tkhd` (0 when the writer left it out). */
  displayWidth?: number;
  displayHeight?: number;
  /** Audio. */
  channels?: number;
  sampleRate?: number;
  /** From `trex`, when the init segment declares them. */
  defaults?: TrackDefaults;
}

/** What one media segment (`.m4s`: optional styp/sidx, then moof + mdat pairs) says about a track. */
export interface MediaSegmentInfo {
  trackId: number;
  /** Samples of the track over every fragment of the segment. */
  sampleCount: number;
  /** Sum of the sample durations, in the track's timescale. */
  durationTicks: number;
  /** `tfdt` of the first fragment, when present. */
  baseMediaDecodeTime?: number;
  /** The segment's first sample. */
  firstSample: {
    /** Absolute byte range of the sample's data. */
    dataOffset: number;
    size: number;
    /** `sample_is_non_sync_sample` is clear: the sample is a sync sample (an IDR for H.264). */
    sync: boolean;
    /** From the start of its moof box through the end of its data: what an I-frame playlist byte range names. */
    range: { offset: number; length: number };
  };
}

export interface ParseOptions {
  /** Names the file in error messages, e.g. "720p/seg_003.m4s". */
  label?: string;
}

export interface SegmentOptions extends ParseOptions {
  /** The track to read; the init segment's `trex` track, else the first track fragment's. */
  trackId?: number;
  /** `trex` defaults from the init segment, used where the fragment declares none. */
  defaults?: TrackDefaults;
}

function malformed(options: ParseOptions | undefined, detail: string): TranscodeError {
  const where = options?.label ? `${options.label}: ` : "";
  return new TranscodeError(TranscodeErrorCode.INVALID_INPUT, `${where}malformed MP4: ${detail}`);
}

/** Bounds-checked big-endian reads inside [start, end) of a buffer. */
class Reader {
  private readonly view: DataView;
  pos: number;

  constructor(
    readonly data: Uint8Array,
    start: number,
    readonly end: number,
    private readonly what: string,
    private readonly options: ParseOptions | undefined,
  ) {
    this.view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    this.pos = start;
  }

  private need(bytes: number): number {
    const at = this.pos;
    if (at + bytes > this.end) {
      throw malformed(this.options, `${this.what} is truncated: needs ${at + bytes - this.end} more byte(s)`);
    }
    this.pos = at + bytes;
    return at;
  }

  remaining(): number {
    return this.end - this.pos;
  }
  skip(bytes: number): void {
    this.need(bytes);
  }
  u8(): number {
    return this.view.getUint8(this.need(1));
  }
  u16(): number {
    return this.view.getUint16(this.need(2));
  }
  u32(): number {
    return this.view.getUint32(this.need(4));
  }
  i32(): number {
    return this.view.getInt32(this.need(4));
  }
  u64(): number {
    const value = this.view.getBigUint64(this.need(8));
    if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw malformed(this.options, `${this.what}: 64-bit value too large`);
    return Number(value);
  }
  /** FullBox header: version (8 bits) and flags (24 bits). */
  fullBox(): { version: number; flags: number } {
    const word = this.u32();
    return { version: word >>> 24, flags: word & 0xffffff };
  }
  bytes(length: number): Uint8Array {
    const at = this.need(length);
    return this.data.subarray(at, at + length);
  }
}

const fourcc = (data: Uint8Array, at: number): string =>
  String.fromCharCode(data[at] as number, data[at + 1] as number, data[at + 2] as number, data[at + 3] as number);

/**
 * The boxes laid end to end in `data[start, end)` (the top level of a file by default, or a box's payload).
 * Handles 64-bit `largesize` (size 1), size 0 (the box runs to `end`) and `uuid` user types; throws
 * INVALID_INPUT on a header that is cut short, a size smaller than its header, or a box that overruns `end`.
 */
export function* iterateBoxes(data: Uint8Array, start = 0, end = data.length, options?: ParseOptions): Generator<Box> {
  if (start < 0 || end > data.length || start > end) throw malformed(options, `bad range [${start}, ${end})`);
  let offset = start;
  while (offset < end) {
    const r = new Reader(data, offset, end, `box header at offset ${offset}`, options);
    let size = r.u32();
    const type = fourcc(data, r.pos);
    r.skip(4);
    if (size === 1) size = r.u64();
    else if (size === 0) size = end - offset;
    if (type === "uuid") r.skip(16);
    const headerSize = r.pos - offset;
    if (size < headerSize) {
      throw malformed(options, `box '${type}' at offset ${offset} declares ${size} bytes, less than its header`);
    }
    if (size > end - offset) {
      throw malformed(
        options,
        `box '${type}' at offset ${offset} declares ${size} bytes but only ${end - offset} remain (truncated)`,
      );
    }
    yield { type, offset, size, headerSize };
    offset += size;
  }
}

/** The boxes of `iterateBoxes`, as an array. */
export function readBoxes(data: Uint8Array, start = 0, end = data.length, options?: ParseOptions): Box[] {
  return [...iterateBoxes(data, start, end, options)];
}

/** The children of a container box. */
const children = (data: Uint8Array, box: Box, options?: ParseOptions): Box[] =>
  readBoxes(data, payloadStart(box), boxEnd(box), options);

function only(boxes: readonly Box[], type: string, parent: string, options?: ParseOptions): Box {
  const found = boxes.find((box) => box.type === type);
  if (!found) throw malformed(options, `'${parent}' has no '${type}' box`);
  return found;
}

/** `data[box]` read from its payload. */
const readerOf = (data: Uint8Array, box: Box, options?: ParseOptions): Reader =>
  new Reader(data, payloadStart(box), boxEnd(box), `'${box.type}' box at offset ${box.offset}`, options);

const hex2 = (value: number): string => value.toString(16).padStart(2, "0");

// ----------------------------------------------------------------------------------------------------------
// Init segment

/**
 * Read an init segment (`ftyp` + `moov`): the first audio or video track's codec string (RFC 6381), timescale,
 * picture size or channel count and sample rate, and its `trex` defaults. H.264 (`avc1`/`avc3` + `avcC`)
 * and MPEG-4 audio (`mp4a` + `esds`) are understood; another sample entry throws INVALID_INPUT.
 */
export function parseInitSegment(data: Uint8Array, options?: ParseOptions): InitSegmentInfo {
  const moov = only(readBoxes(data, 0, data.length, options), "moov", "file", options);
  const moovChildren = children(data, moov, options);
  const traks = moovChildren.filter((box) => box.type === "trak");
  if (traks.length === 0) throw malformed(options, "'moov' has no 'trak' box");

  const trexes = new Map<number, TrackDefaults>();
  const mvex = moovChildren.find((box) => box.type === "mvex");
  if (mvex) {
    for (const box of children(data, mvex, options)) {
      if (box.type !== "trex") continue;
      const r = readerOf(data, box, options);
      r.fullBox();
      const trackId = r.u32();
      r.u32(); // default_sample_description_index
      trexes.set(trackId, { trackId, sampleDuration: r.u32(), sampleSize: r.u32(), sampleFlags: r.u32() });
    }
  }

  for (const trak of traks) {
    const trakChildren = children(data, trak, options);
    const mdia = only(trakChildren, "mdia", "trak", options);
    const mdiaChildren = children(data, mdia, options);
    const hdlr = readerOf(data, only(mdiaChildren, "hdlr", "mdia", options), options);
    hdlr.fullBox();
    hdlr.u32(); // pre_defined
    const handler = fourcc(data, hdlr.pos);
    hdlr.skip(4);
    if (handler !== "vide" && handler !== "soun") continue;

    const tkhd = readerOf(data, only(trakChildren, "tkhd", "trak", options), options);
    const { version: tkhdVersion } = tkhd.fullBox();
    tkhd.skip(tkhdVersion === 1 ? 16 : 8); // creation and modification times
    const trackId = tkhd.u32();
    // reserved, duration, reserved[2], layer, alternate_group, volume, reserved, matrix[9]
    tkhd.skip(4 + (tkhdVersion === 1 ? 8 : 4) + 8 + 2 + 2 + 2 + 2 + 36);
    const displayWidth = Math.round(tkhd.u32() / 65536);
    const displayHeight = Math.round(tkhd.u32() / 65536);

    const mdhd = readerOf(data, only(mdiaChildren, "mdhd", "mdia", options), options);
    const { version: mdhdVersion } = mdhd.fullBox();
    mdhd.skip(mdhdVersion === 1 ? 16 : 8);
    const timescale = mdhd.u32();
    if (timescale === 0) throw malformed(options, "'mdhd' timescale is 0");

    const minf = only(mdiaChildren, "minf", "mdia", options);
    const stbl = only(children(data, minf, options), "stbl", "minf", options);
    const stsd = only(children(data, stbl, options), "stsd", "stbl", options);
    const r = readerOf(data, stsd, options);
    r.fullBox();
    if (r.u32() < 1) throw malformed(options, "'stsd' has no sample entry");
    const entry = readBoxes(data, r.pos, boxEnd(stsd), options)[0];
    if (!entry) throw malformed(options, "'stsd' has no sample entry");

    const defaults = trexes.get(trackId);
    const base = { trackId, timescale, ...(defaults ? { defaults } : {}) };
    if (handler === "vide") {
      return { kind: "video", ...base, ...videoSampleEntry(data, entry, options), displayWidth, displayHeight };
    }
    return { kind: "audio", ...base, ...audioSampleEntry(data, entry, timescale, options) };
  }
  throw malformed(options, "no audio or video track");
}

/** VisualSampleEntry (14496-12 §12.1.3) with an `avcC` (14496-15 §5.3.3.1) child. */
function videoSampleEntry(
  data: Uint8Array,
  entry: Box,
  options?: ParseOptions,
): { codecs: string; width: number; height: number } {
  if (entry.type !== "avc1" && entry.type !== "avc3") {
    throw malformed(options, `unsupported video sample entry '${entry.type}' (expected 'avc1' or 'avc3')`);
  }
  const r = readerOf(data, entry, options);
  r.skip(8 + 16); // SampleEntry reserved + data_reference_index, pre_defined/reserved
  const width = r.u16();
  const height = r.u16();
  r.skip(4 + 4 + 4 + 2 + 32 + 2 + 2); // resolutions, reserved, frame_count, compressorname, depth, pre_defined
  const avcC = only(readBoxes(data, r.pos, boxEnd(entry), options), "avcC", entry.type, options);
  const c = readerOf(data, avcC, options);
  const configurationVersion = c.u8();
  if (configurationVersion !== 1) throw malformed(options, `'avcC' configurationVersion ${configurationVersion}`);
  const profile = c.u8();
  const compatibility = c.u8();
  const level = c.u8();
  // RFC 6381 §3.3: avc1.PPCCLL, the three bytes after configurationVersion in hex.
  return { codecs: `${entry.type}.${hex2(profile)}${hex2(compatibility)}${hex2(level)}`, width, height };
}

/** AudioSampleEntry (14496-12 §12.2.3) with an `esds` (14496-14 §5.6) child. */
function audioSampleEntry(
  data: Uint8Array,
  entry: Box,
  timescale: number,
  options?: ParseOptions,
): { codecs: string; channels: number; sampleRate: number } {
  if (entry.type !== "mp4a") {
    throw malformed(options, `unsupported audio sample entry '${entry.type}' (expected 'mp4a')`);
  }
  const r = readerOf(data, entry, options);
  r.skip(8); // SampleEntry reserved + data_reference_index
  const soundVersion = r.u16(); // 0 in ISO files; QuickTime sound descriptions v1/v2 carry more fields
  r.skip(6);
  let channels = r.u16();
  r.skip(2 + 2 + 2); // samplesize, pre_defined, reserved
  let sampleRate = r.u32() >>> 16;
  r.skip(soundVersion === 1 ? 16 : soundVersion === 2 ? 36 : 0);
  const esds = only(readBoxes(data, r.pos, boxEnd(entry), options), "esds", "mp4a", options);
  const config = esdsConfig(data, esds, options);
  if (config.channels > 0) channels = config.channels;
  if (sampleRate === 0) sampleRate = config.sampleRate || timescale;
  if (channels === 0) throw malformed(options, "'mp4a' declares no channels");
  // RFC 6381 §3.3: mp4a.OO[.A], objectTypeIndication in hex and, for MPEG-4 audio (0x40), the decimal
  // audio object type of the AudioSpecificConfig (2 = AAC LC).
  const codecs =
    config.objectType === 0x40 && config.audioObjectType > 0
      ? `mp4a.40.${config.audioObjectType}`
      : `mp4a.${hex2(config.objectType)}`;
  return { codecs, channels, sampleRate };
}

const SAMPLING_FREQUENCIES = [96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350];
const CHANNEL_CONFIGURATIONS = [0, 1, 2, 3, 4, 5, 6, 8];

/** objectTypeIndication and, for MPEG-4 audio, the AudioSpecificConfig (14496-3 §1.6.2.1) of an `esds`. */
function esdsConfig(
  data: Uint8Array,
  esds: Box,
  options?: ParseOptions,
): { objectType: number; audioObjectType: number; sampleRate: number; channels: number } {
  const r = readerOf(data, esds, options);
  r.fullBox();
  /** A descriptor header (14496-1 §8.3.3): tag, then a size in up to four 7-bit groups; returns its end. */
  const descriptor = (expected: number): number => {
    const tag = r.u8();
    if (tag !== expected) throw malformed(options, `'esds': expected descriptor tag ${expected}, found ${tag}`);
    let size = 0;
    for (let i = 0; i < 4; i++) {
      const byte = r.u8();
      size = size * 128 + (byte & 0x7f);
      if ((byte & 0x80) === 0) break;
      if (i === 3) throw malformed(options, "'esds': descriptor size longer than 4 bytes");
    }
    if (size > r.remaining()) throw malformed(options, `'esds': descriptor ${tag} overruns its box`);
    return r.pos + size;
  };

  descriptor(0x03); // ES_Descriptor
  r.u16(); // ES_ID
  const esFlags = r.u8();
  if (esFlags & 0x80) r.skip(2); // dependsOn_ES_ID
  if (esFlags & 0x40) r.skip(r.u8()); // URL
  if (esFlags & 0x20) r.skip(2); // OCR_ES_Id
  const configEnd = descriptor(0x04); // DecoderConfigDescriptor
  const objectType = r.u8();
  r.skip(1 + 3 + 4 + 4); // streamType/upStream, bufferSizeDB, maxBitrate, avgBitrate
  if (objectType !== 0x40 || r.pos >= configEnd) return { objectType, audioObjectType: 0, sampleRate: 0, channels: 0 };
  const asc = r.bytes(descriptor(0x05) - r.pos); // DecoderSpecificInfo: the AudioSpecificConfig
  const bits = new BitReader(asc, () => malformed(options, "AudioSpecificConfig is truncated"));
  let audioObjectType = bits.read(5);
  if (audioObjectType === 31) audioObjectType = 32 + bits.read(6);
  const frequencyIndex = bits.read(4);
  const sampleRate = frequencyIndex === 15 ? bits.read(24) : (SAMPLING_FREQUENCIES[frequencyIndex] ?? 0);
  const channels = CHANNEL_CONFIGURATIONS[bits.read(4)] ?? 0;
  return { objectType, audioObjectType, sampleRate, channels };
}

class BitReader {
  private bit = 0;
  constructor(
    private readonly bytes: Uint8Array,
    private readonly truncated: () => Error,
  ) {}
  read(count: number): number {
    let value = 0;
    for (let i = 0; i < count; i++) {
      const byte = this.bytes[this.bit >> 3];
      if (byte === undefined) throw this.truncated();
      value = value * 2 + ((byte >> (7 - (this.bit & 7))) & 1);
      this.bit++;
    }
    return value;
  }
}

// ----------------------------------------------------------------------------------------------------------
// Media segment

/** `sample_is_non_sync_sample` in the 32-bit sample flags (14496-12 §8.8.3.1). */
const NON_SYNC_SAMPLE = 0x10000;

// tfhd flags (14496-12 §8.8.7.1)
const TFHD_BASE_DATA_OFFSET = 0x1;
const TFHD_SAMPLE_DESCRIPTION_INDEX = 0x2;
const TFHD_DEFAULT_DURATION = 0x8;
const TFHD_DEFAULT_SIZE = 0x10;
const TFHD_DEFAULT_FLAGS = 0x20;
const TFHD_DEFAULT_BASE_IS_MOOF = 0x20000;
// trun flags (14496-12 §8.8.8.1)
const TRUN_DATA_OFFSET = 0x1;
const TRUN_FIRST_SAMPLE_FLAGS = 0x4;
const TRUN_DURATION = 0x100;
const TRUN_SIZE = 0x200;
const TRUN_FLAGS = 0x400;
const TRUN_COMPOSITION_OFFSET = 0x800;

interface Tfhd {
  trackId: number;
  baseDataOffset?: number;
  defaultDuration?: number;
  defaultSize?: number;
  defaultFlags?: number;
  baseIsMoof: boolean;
}

function readTfhd(data: Uint8Array, box: Box, options?: ParseOptions): Tfhd {
  const r = readerOf(data, box, options);
  const { flags } = r.fullBox();
  const tfhd: Tfhd = { trackId: r.u32(), baseIsMoof: (flags & TFHD_DEFAULT_BASE_IS_MOOF) !== 0 };
  if (flags & TFHD_BASE_DATA_OFFSET) tfhd.baseDataOffset = r.u64();
  if (flags & TFHD_SAMPLE_DESCRIPTION_INDEX) r.u32();
  if (flags & TFHD_DEFAULT_DURATION) tfhd.defaultDuration = r.u32();
  if (flags & TFHD_DEFAULT_SIZE) tfhd.defaultSize = r.u32();
  if (flags & TFHD_DEFAULT_FLAGS) tfhd.defaultFlags = r.u32();
  return tfhd;
}

/**
 * Read a media segment: the duration of its samples (per-sample `trun` durations, else the `tfhd` default,
 * else the init segment's `trex`) and the byte range of its first sample, from the start of that sample's
 * `moof` through the end of its data in `mdat` (`trun` data_offset from the `tfhd` base_data_offset, or from
 * the moof when default-base-is-moof is set or no base is given). The sample's data must lie inside an
 * `mdat` of the file. Throws INVALID_INPUT on malformed input or a segment without a fragment of the track.
 */
export function parseMediaSegment(data: Uint8Array, options?: SegmentOptions): MediaSegmentInfo {
  const top = readBoxes(data, 0, data.length, options);
  const mdats = top.filter((box) => box.type === "mdat");
  let trackId = options?.trackId ?? options?.defaults?.trackId;
  const trex = options?.defaults && options.defaults.trackId === trackId ? options.defaults : undefined;
  let sampleCount = 0;
  let durationTicks = 0;
  let baseMediaDecodeTime: number | undefined;
  let firstSample: MediaSegmentInfo["firstSample"] | undefined;

  for (const moof of top) {
    if (moof.type !== "moof") continue;
    // Without a base offset or default-base-is-moof, the first track fragment's data starts at the moof and
    // each next one's right after the data of the one before (14496-12 §8.8.7.1).
    let previousEnd: number | undefined = moof.offset;
    for (const traf of children(data, moof, options)) {
      if (traf.type !== "traf") continue;
      const trafChildren = children(data, traf, options);
      const tfhd = readTfhd(data, only(trafChildren, "tfhd", "traf", options), options);
      trackId ??= tfhd.trackId;
      const ours = tfhd.trackId === trackId;
      const defaults = ours ? trex : undefined;
      let cursor: number | undefined = tfhd.baseDataOffset ?? (tfhd.baseIsMoof ? moof.offset : previousEnd);
      const base: number | undefined = cursor;

      if (ours && baseMediaDecodeTime === undefined) {
        const tfdt = trafChildren.find((box) => box.type === "tfdt");
        if (tfdt) {
          const r = readerOf(data, tfdt, options);
          baseMediaDecodeTime = r.fullBox().version === 1 ? r.u64() : r.u32();
        }
      }

      for (const trun of trafChildren) {
        if (trun.type !== "trun") continue;
        const r = readerOf(data, trun, options);
        const { flags } = r.fullBox();
        const count = r.u32();
        if (flags & TRUN_DATA_OFFSET) {
          const dataOffset = r.i32();
          if (base === undefined) throw malformed(options, "'trun' data_offset without a known base offset");
          cursor = base + dataOffset;
        }
        const firstFlags = flags & TRUN_FIRST_SAMPLE_FLAGS ? r.u32() : undefined;
        const recordSize =
          4 * [TRUN_DURATION, TRUN_SIZE, TRUN_FLAGS, TRUN_COMPOSITION_OFFSET].filter((bit) => flags & bit).length;
        if (count * recordSize > r.remaining()) {
          throw malformed(options, `'trun' at offset ${trun.offset} lists ${count} samples but is too short`);
        }
        const defaultDuration = tfhd.defaultDuration ?? defaults?.sampleDuration;
        const defaultSize = tfhd.defaultSize ?? defaults?.sampleSize;
        let runBytes: number | undefined = 0;
        // Without per-sample fields every sample is alike: read one, multiply for the rest (no loop over a
        // count the file may have made up).
        const read = recordSize === 0 ? Math.min(count, 1) : count;
        for (let i = 0; i < read; i++) {
          const duration = flags & TRUN_DURATION ? r.u32() : defaultDuration;
          const size = flags & TRUN_SIZE ? r.u32() : defaultSize;
          const sampleFlags = flags & TRUN_FLAGS ? r.u32() : undefined;
          if (flags & TRUN_COMPOSITION_OFFSET) r.skip(4);
          runBytes = size === undefined || runBytes === undefined ? undefined : runBytes + size;
          if (!ours) continue;
          if (duration === undefined) {
            throw malformed(options, `track ${trackId}: sample duration is neither in 'trun', 'tfhd' nor 'trex'`);
          }
          sampleCount++;
          durationTicks += duration;
          if (firstSample || i !== 0) continue;
          if (cursor === undefined) throw malformed(options, "cannot locate the first sample's data");
          if (size === undefined) {
            throw malformed(options, `track ${trackId}: sample size is neither in 'trun', 'tfhd' nor 'trex'`);
          }
          // first_sample_flags, else the sample's own flags, else the tfhd default, else trex.
          const flagsOrTrex = firstFlags ?? sampleFlags ?? tfhd.defaultFlags ?? defaults?.sampleFlags;
          if (flagsOrTrex === undefined) {
            throw malformed(options, `track ${trackId}: sample flags are neither in 'trun', 'tfhd' nor 'trex'`);
          }
          const start = cursor;
          const end = start + size;
          if (!mdats.some((mdat) => start >= payloadStart(mdat) && end <= boxEnd(mdat))) {
            throw malformed(options, `first sample's data [${start}, ${end}) is not inside an 'mdat'`);
          }
          if (start < boxEnd(moof)) throw malformed(options, "first sample's data starts before its 'moof' ends");
          firstSample = {
            dataOffset: start,
            size,
            sync: (flagsOrTrex & NON_SYNC_SAMPLE) === 0,
            range: { offset: moof.offset, length: end - moof.offset },
          };
        }
        if (read < count) {
          const rest = count - read;
          runBytes = defaultSize === undefined || runBytes === undefined ? undefined : runBytes + rest * defaultSize;
          if (ours && defaultDuration !== undefined) {
            sampleCount += rest;
            durationTicks += rest * defaultDuration;
          }
        }
        cursor = cursor === undefined || runBytes === undefined ? undefined : cursor + runBytes;
      }
      previousEnd = cursor;
    }
  }
  if (trackId === undefined || !firstSample) {
    throw malformed(options, `no sample of track ${trackId ?? "(any)"} in any 'moof'`);
  }
  return {
    trackId,
    sampleCount,
    durationTicks,
    ...(baseMediaDecodeTime === undefined ? {} : { baseMediaDecodeTime }),
    firstSample,
  };
}

/** Duration of a media segment in seconds: its sample durations over the track's `timescale`. */
export function segmentDuration(data: Uint8Array, timescale: number, options?: SegmentOptions): number {
  if (!(timescale > 0)) throw new TranscodeError(TranscodeErrorCode.INVALID_INPUT, "timescale must be positive");
  return parseMediaSegment(data, options).durationTicks / timescale;
}

/** The segment's first sample: moof-through-data byte range and whether it is a sync sample. */
export function firstSampleRange(
  data: Uint8Array,
  options?: SegmentOptions,
): { offset: number; length: number; sync: boolean } {
  const { firstSample } = parseMediaSegment(data, options);
  return { ...firstSample.range, sync: firstSample.sync };
}
