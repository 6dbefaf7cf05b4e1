import { describe, expect, it } from "vitest";
import { TranscodeError, TranscodeErrorCode } from "../errors.js";
import {
  firstSampleRange,
  iterateBoxes,
  parseInitSegment,
  parseMediaSegment,
  readBoxes,
  segmentDuration,
  type TrackDefaults,
} from "../mp4.js";

// Hand-assembled ISO-BMFF boxes: just the fields the reader looks at, laid out as 14496-12 says.

const concat = (...parts: Uint8Array[]): Uint8Array => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
};
const bytes = (...values: number[]): Uint8Array => Uint8Array.from(values);
const zeros = (n: number): Uint8Array => new Uint8Array(n);
const ascii = (text: string): Uint8Array => Uint8Array.from(text, (c) => c.charCodeAt(0));
const u16 = (v: number): Uint8Array => bytes((v >>> 8) & 0xff, v & 0xff);
const u32 = (v: number): Uint8Array => bytes((v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff);
const u64 = (v: number | bigint): Uint8Array => {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, BigInt(v));
  return out;
};

const box = (type: string, ...payload: Uint8Array[]): Uint8Array => {
  const body = concat(...payload);
  return concat(u32(8 + body.length), ascii(type), body);
};
const largeBox = (type: string, ...payload: Uint8Array[]): Uint8Array => {
  const body = concat(...payload);
  return concat(u32(1), ascii(type), u64(16 + body.length), body);
};
const fullBox = (type: string, version: number, flags: number, ...payload: Uint8Array[]): Uint8Array =>
  box(type, u32(((version << 24) | flags) >>> 0), ...payload);

// --- init segments ------------------------------------------------------------------------------------

const SYNC = 0x02000000; // sample_depends_on = 2 (an I-frame)
const NON_SYNC = 0x01010000; // sample_depends_on = 1, sample_is_non_sync_sample

function track(options: {
  trackId: number;
  handler: "vide" | "soun";
  timescale: number;
  entry: Uint8Array;
  display?: [number, number];
}): Uint8Array {
  const [w, h] = options.display ?? [0, 0];
  const tkhd = fullBox(
    "tkhd",
    0,
    3,
    zeros(8),
    u32(options.trackId),
    zeros(4 + 4 + 8 + 2 + 2 + 2 + 2 + 36),
    u32(w * 65536),
    u32(h * 65536),
  );
  const mdhd = fullBox("mdhd", 0, 0, zeros(8), u32(options.timescale), u32(0), u16(0x55c4), u16(0));
  const hdlr = fullBox("hdlr", 0, 0, u32(0), ascii(options.handler), zeros(12), bytes(0));
  const stbl = box("stbl", fullBox("stsd", 0, 0, u32(1), options.entry), fullBox("stts", 0, 0, u32(0)));
  return box("trak", tkhd, box("mdia", mdhd, hdlr, box("minf", stbl)));
}

function avcEntry(type = "avc1", profile = 0x64, compatibility = 0x00, level = 0x1f, size = [720, 1280]): Uint8Array {
  const [width = 0, height = 0] = size;
  const avcC = box("avcC", bytes(1, profile, compatibility, level, 0xff, 0xe0, 0x00));
  return box(
    type,
    zeros(6),
    u16(1),
    zeros(16),
    u16(width),
    u16(height),
    u32(0x00480000),
    u32(0x00480000),
    u32(0),
    u16(1),
    zeros(32),
    u16(0x18),
    u16(0xffff),
    avcC,
    box("pasp", u32(1), u32(1)),
  );
}

/** A descriptor (14496-1 §8.3.3) with its size in `sizeBytes` 7-bit groups. */
function descriptor(tag: number, payload: Uint8Array, sizeBytes = 1): Uint8Array {
  const size: number[] = [];
  for (let i = sizeBytes - 1; i >= 0; i--) size.push(((payload.length >> (7 * i)) & 0x7f) | (i > 0 ? 0x80 : 0));
  return concat(bytes(tag, ...size), payload);
}

function mp4aEntry(asc: Uint8Array, channels = 2, sampleRate = 44100, sizeBytes = 1): Uint8Array {
  const decoderConfig = descriptor(
    0x04,
    concat(bytes(0x40, 0x15), zeros(3), u32(128000), u32(128000), descriptor(0x05, asc, sizeBytes)),
    sizeBytes,
  );
  const es = descriptor(0x03, concat(u16(1), bytes(0), decoderConfig, descriptor(0x06, bytes(2))), sizeBytes);
  return box(
    "mp4a",
    zeros(6),
    u16(1),
    zeros(8),
    u16(channels),
    u16(16),
    u16(0),
    u16(0),
    u32(sampleRate * 65536),
    fullBox("esds", 0, 0, es),
  );
}

const trex = (d: TrackDefaults): Uint8Array =>
  fullBox("trex", 0, 0, u32(d.trackId), u32(1), u32(d.sampleDuration), u32(d.sampleSize), u32(d.sampleFlags));

function initSegment(trak: Uint8Array, defaults?: TrackDefaults): Uint8Array {
  const mvex = defaults ? [box("mvex", trex(defaults))] : [];
  return concat(
    box("ftyp", ascii("iso6"), u32(0), ascii("iso6cmfc")),
    box("moov", fullBox("mvhd", 0, 0, zeros(96)), trak, ...mvex),
  );
}

const videoInit = (entry = avcEntry(), defaults?: TrackDefaults): Uint8Array =>
  initSegment(track({ trackId: 1, handler: "vide", timescale: 15360, entry, display: [720, 1280] }), defaults);

// --- media segments -----------------------------------------------------------------------------------

interface Sample {
  duration?: number;
  size?: number;
  flags?: number;
}

/** A trun with the flags its samples and options imply; `dataOffset` filled in by `fragment`. */
function trun(samples: Sample[], options: { dataOffset?: number; firstFlags?: number } = {}): Uint8Array {
  const first = samples[0] ?? {};
  let flags = 0;
  if (options.dataOffset !== undefined) flags |= 0x1;
  if (options.firstFlags !== undefined) flags |= 0x4;
  if (first.duration !== undefined) flags |= 0x100;
  if (first.size !== undefined) flags |= 0x200;
  if (first.flags !== undefined) flags |= 0x400;
  const fields: Uint8Array[] = [u32(samples.length)];
  if (options.dataOffset !== undefined) fields.push(u32(options.dataOffset));
  if (options.firstFlags !== undefined) fields.push(u32(options.firstFlags));
  for (const s of samples) {
    if (s.duration !== undefined) fields.push(u32(s.duration));
    if (s.size !== undefined) fields.push(u32(s.size));
    if (s.flags !== undefined) fields.push(u32(s.flags));
  }
  return fullBox("trun", 0, flags, ...fields);
}

function tfhd(
  trackId: number,
  options: { baseIsMoof?: boolean; base?: number; duration?: number; size?: number; flags?: number } = {},
): Uint8Array {
  let flags = options.baseIsMoof === false ? 0 : 0x20000;
  const fields: Uint8Array[] = [u32(trackId)];
  if (options.base !== undefined) {
    flags |= 0x1;
    fields.push(u64(options.base));
  }
  if (options.duration !== undefined) {
    flags |= 0x8;
    fields.push(u32(options.duration));
  }
  if (options.size !== undefined) {
    flags |= 0x10;
    fields.push(u32(options.size));
  }
  if (options.flags !== undefined) {
    flags |= 0x20;
    fields.push(u32(options.flags));
  }
  return fullBox("tfhd", 0, flags, ...fields);
}

/** moof + mdat where `traf(dataOffset)` builds the traf, given the mdat payload's offset from the moof start. */
function fragment(traf: (dataOffset: number) => Uint8Array, payload: Uint8Array): Uint8Array {
  const moofOf = (offset: number) => box("moof", fullBox("mfhd", 0, 0, u32(1)), traf(offset));
  const size = moofOf(0).length;
  return concat(moofOf(size + 8), box("mdat", payload));
}

const prefix = concat(box("styp", ascii("msdh"), u32(0), ascii("msdhmsix")), fullBox("sidx", 1, 0, zeros(32)));

function expectInvalid(run: () => unknown, message: RegExp): void {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(TranscodeError);
    expect((error as TranscodeError).code).toBe(TranscodeErrorCode.INVALID_INPUT);
    expect((error as TranscodeError).message).toMatch(message);
    return;
  }
  throw new Error("expected an INVALID_INPUT TranscodeError");
}

describe("iterateBoxes", () => {
  it("walks top-level boxes with their offsets, sizes and header sizes", () => {
    const data = concat(box("ftyp", ascii("isom")), box("free"), box("mdat", zeros(5)));
    expect(readBoxes(data)).toEqual([
      { type: "ftyp", offset: 0, size: 12, headerSize: 8 },
      { type: "free", offset: 12, size: 8, headerSize: 8 },
      { type: "mdat", offset: 20, size: 13, headerSize: 8 },
    ]);
  });

  it("reads a 64-bit largesize, a size of 0 (to the end) and a uuid user type", () => {
    const uuid = concat(u32(8 + 16 + 2), ascii("uuid"), zeros(16), bytes(1, 2));
    const data = concat(largeBox("mdat", zeros(10)), uuid, u32(0), ascii("mdat"), zeros(7));
    expect(readBoxes(data)).toEqual([
      { type: "mdat", offset: 0, size: 26, headerSize: 16 },
      { type: "uuid", offset: 26, size: 26, headerSize: 24 },
      { type: "mdat", offset: 52, size: 15, headerSize: 8 },
    ]);
  });

  it("reads inside a range and lazily", () => {
    const data = concat(box("moov", box("trak"), box("mvex")), box("free"));
    const inner = iterateBoxes(data, 8, 24);
    expect(inner.next().value).toEqual({ type: "trak", offset: 8, size: 8, headerSize: 8 });
    expect(inner.next().value).toEqual({ type: "mvex", offset: 16, size: 8, headerSize: 8 });
    expect(inner.next().done).toBe(true);
  });

  it("rejects a truncated box, a truncated header, a size below the header and a huge largesize", () => {
    const mdat = box("mdat", zeros(10));
    expectInvalid(() => readBoxes(mdat.subarray(0, 12)), /'mdat' at offset 0 declares 18 bytes but only 12 remain/);
    expectInvalid(() => readBoxes(concat(box("free"), bytes(0, 0, 0))), /box header at offset 8 is truncated/);
    expectInvalid(() => readBoxes(concat(u32(4), ascii("free"))), /declares 4 bytes, less than its header/);
    expectInvalid(() => readBoxes(concat(u32(1), ascii("mdat"), u64(12))), /declares 12 bytes, less than its header/);
    expectInvalid(() => readBoxes(concat(u32(1), ascii("mdat"), u64(2n ** 60n))), /64-bit value too large/);
    expectInvalid(() => readBoxes(concat(u32(1), ascii("mdat"), u32(0))), /truncated/);
    expectInvalid(() => readBoxes(box("free"), 4, 2), /bad range/);
  });

  it("names the file in its errors", () => {
    expectInvalid(() => readBoxes(bytes(0, 0), 0, 2, { label: "720p/seg_001.m4s" }), /720p\/seg_001\.m4s: malformed/);
  });
});

describe("parseInitSegment", () => {
  it("reads an H.264 track: avc1.PPCCLL, sizes, timescale and trex defaults", () => {
    const defaults = { trackId: 1, sampleDuration: 512, sampleSize: 0, sampleFlags: NON_SYNC };
    expect(parseInitSegment(videoInit(avcEntry(), defaults))).toEqual({
      kind: "video",
      trackId: 1,
      timescale: 15360,
      codecs: "avc1.64001f",
      width: 720,
      height: 1280,
      displayWidth: 720,
      displayHeight: 1280,
      defaults,
    });
  });

  it("writes the three avcC bytes as two hex digits each, and keeps an avc3 sample entry's name", () => {
    expect(parseInitSegment(videoInit(avcEntry("avc1", 0x42, 0xc0, 0x0a))).codecs).toBe("avc1.42c00a");
    expect(parseInitSegment(videoInit(avcEntry("avc3", 0x4d, 0x40, 0x28))).codecs).toBe("avc3.4d4028");
  });

  it("reads an AAC track: mp4a.40.<audio object type>, channels and sample rate", () => {
    // AudioSpecificConfig: AOT 2 (LC), frequency index 4 (44100), channel configuration 2.
    const trak = track({ trackId: 2, handler: "soun", timescale: 44100, entry: mp4aEntry(bytes(0x12, 0x10)) });
    expect(parseInitSegment(initSegment(trak))).toEqual({
      kind: "audio",
      trackId: 2,
      timescale: 44100,
      codecs: "mp4a.40.2",
      channels: 2,
      sampleRate: 44100,
    });
  });

  it("reads HE-AAC, an escaped audio object type, long descriptor sizes and the ASC channel configuration", () => {
    const init = (asc: Uint8Array, channels = 2, sizeBytes = 1) =>
      parseInitSegment(
        initSegment(
          track({ trackId: 1, handler: "soun", timescale: 48000, entry: mp4aEntry(asc, channels, 48000, sizeBytes) }),
        ),
      );
    // AOT 5 (SBR), index 3 (48000), mono; sizes written as 80 80 80 nn, as some muxers do.
    expect(init(bytes(0x29, 0x88), 2, 4)).toMatchObject({ codecs: "mp4a.40.5", channels: 1, sampleRate: 48000 });
    // AOT 31 escape + 10 -> 42 (USAC), then index 3, stereo: 11111 001010 0011 0010 0...
    expect(init(bytes(0xf9, 0x46, 0x40), 1)).toMatchObject({ codecs: "mp4a.40.42", channels: 2 });
    expectInvalid(() => init(bytes(0xf9)), /AudioSpecificConfig is truncated/);
  });

  it("takes the first audio or video track, skipping others", () => {
    // A video track whose handler is renamed 'text'.
    const textTrack = track({ trackId: 1, handler: "vide", timescale: 1000, entry: avcEntry() });
    textTrack.set(ascii("text"), Buffer.from(textTrack).indexOf("vide"));
    const audio = track({ trackId: 7, handler: "soun", timescale: 48000, entry: mp4aEntry(bytes(0x11, 0x90)) });
    expect(parseInitSegment(initSegment(concat(textTrack, audio)))).toMatchObject({ kind: "audio", trackId: 7 });
  });

  it("rejects what it cannot describe", () => {
    expectInvalid(() => parseInitSegment(box("ftyp", ascii("isom"))), /'file' has no 'moov' box/);
    expectInvalid(() => parseInitSegment(box("moov")), /'moov' has no 'trak' box/);
    expectInvalid(() => parseInitSegment(videoInit(box("hvc1", zeros(78)))), /unsupported video sample entry 'hvc1'/);
    expectInvalid(() => parseInitSegment(videoInit(box("avc1", zeros(78)))), /'avc1' has no 'avcC' box/);
    expectInvalid(() => parseInitSegment(videoInit(box("avc1", zeros(40)))), /'avc1' box at offset \d+ is truncated/);
    const init = videoInit();
    expectInvalid(() => parseInitSegment(init.subarray(0, init.length - 10)), /declares \d+ bytes but only/);
    const noAudioConfig = track({ trackId: 1, handler: "soun", timescale: 1, entry: box("mp4a", zeros(28)) });
    expectInvalid(() => parseInitSegment(initSegment(noAudioConfig)), /'mp4a' has no 'esds' box/);
  });
});

describe("parseMediaSegment", () => {
  // Three samples: an IDR of 100 bytes, then 30 and 20; default duration 512 in the tfhd.
  const payload = concat(new Uint8Array(100).fill(1), new Uint8Array(30).fill(2), new Uint8Array(20).fill(3));
  const samples: Sample[] = [{ size: 100 }, { size: 30 }, { size: 20 }];

  it("finds the first sample from the moof through its data, after styp and sidx", () => {
    const frag = fragment(
      (dataOffset) =>
        box("traf", tfhd(1, { duration: 512, flags: NON_SYNC }), trun(samples, { dataOffset, firstFlags: SYNC })),
      payload,
    );
    const segment = concat(prefix, frag);
    const moof = readBoxes(segment).find((b) => b.type === "moof");
    const mdat = readBoxes(segment).find((b) => b.type === "mdat");
    const info = parseMediaSegment(segment);
    expect(info).toEqual({
      trackId: 1,
      sampleCount: 3,
      durationTicks: 1536,
      firstSample: {
        dataOffset: (mdat?.offset ?? 0) + 8,
        size: 100,
        sync: true,
        range: { offset: moof?.offset, length: (mdat?.offset ?? 0) + 8 + 100 - (moof?.offset ?? 0) },
      },
    });
    expect(segment.subarray(info.firstSample.dataOffset, info.firstSample.dataOffset + 100)).toEqual(
      new Uint8Array(100).fill(1),
    );
    expect(segmentDuration(segment, 15360)).toBe(0.1);
    expect(firstSampleRange(segment)).toEqual({ ...info.firstSample.range, sync: true });
  });

  it("reports a first sample that is not a sync sample, from per-sample flags or the tfhd default", () => {
    const perSample = samples.map((s) => ({ ...s, flags: NON_SYNC }));
    const a = fragment((o) => box("traf", tfhd(1, { duration: 1 }), trun(perSample, { dataOffset: o })), payload);
    expect(parseMediaSegment(a).firstSample.sync).toBe(false);
    const b = fragment(
      (o) => box("traf", tfhd(1, { duration: 1, flags: NON_SYNC }), trun(samples, { dataOffset: o })),
      payload,
    );
    expect(parseMediaSegment(b).firstSample.sync).toBe(false);
    const c = fragment(
      (o) => box("traf", tfhd(1, { duration: 1, flags: SYNC }), trun(samples, { dataOffset: o })),
      payload,
    );
    expect(parseMediaSegment(c).firstSample.sync).toBe(true);
  });

  it("reads per-sample durations and a tfdt, and sums every moof + mdat pair", () => {
    const timed = samples.map((s, i) => ({ ...s, duration: 500 + i }));
    const traf = (o: number) =>
      box("traf", tfhd(1, { flags: SYNC }), fullBox("tfdt", 1, 0, u64(90000)), trun(timed, { dataOffset: o }));
    const segment = concat(fragment(traf, payload), fragment(traf, payload));
    const info = parseMediaSegment(segment);
    expect(info).toMatchObject({ sampleCount: 6, durationTicks: 2 * 1503, baseMediaDecodeTime: 90000 });
    expect(info.firstSample.range.offset).toBe(0);
  });

  it("multiplies out a trun without per-sample fields, however many samples it claims", () => {
    const segment = fragment(
      (o) =>
        box(
          "traf",
          tfhd(1, { duration: 1000, size: 4, flags: SYNC }),
          fullBox("trun", 0, 0x1, u32(0x7fffffff), u32(o)),
        ),
      zeros(8),
    );
    expect(parseMediaSegment(segment)).toMatchObject({
      sampleCount: 0x7fffffff,
      durationTicks: 0x7fffffff * 1000,
      firstSample: { size: 4, sync: true },
    });
  });

  it("falls back to the init segment's trex for duration, size and flags", () => {
    const bare = [{}, {}, {}] as Sample[];
    const segment = fragment((o) => box("traf", tfhd(1), trun(bare, { dataOffset: o })), new Uint8Array(60));
    const defaults = { trackId: 1, sampleDuration: 1024, sampleSize: 20, sampleFlags: SYNC };
    expect(parseMediaSegment(segment, { defaults })).toMatchObject({
      durationTicks: 3072,
      firstSample: { size: 20, sync: true },
    });
    expectInvalid(() => parseMediaSegment(segment), /sample duration is neither in 'trun', 'tfhd' nor 'trex'/);
    const sized = fragment(
      (o) => box("traf", tfhd(1, { duration: 1, size: 20 }), trun(bare, { dataOffset: o })),
      new Uint8Array(60),
    );
    expectInvalid(() => parseMediaSegment(sized), /sample flags are neither/);
    const noSize = fragment(
      (o) => box("traf", tfhd(1, { duration: 1, flags: SYNC }), trun(bare, { dataOffset: o })),
      zeros(9),
    );
    expectInvalid(() => parseMediaSegment(noSize), /sample size is neither/);
  });

  it("uses an explicit base_data_offset, or the moof start when no base is given", () => {
    const withBase = (moofAt: number) => (o: number) =>
      box("traf", tfhd(1, { baseIsMoof: false, base: moofAt + o, duration: 1, flags: SYNC }), trun(samples));
    const segment = concat(prefix, fragment(withBase(prefix.length), payload));
    expect(parseMediaSegment(segment).firstSample).toMatchObject({ size: 100, range: { offset: prefix.length } });

    const implicit = (o: number) =>
      box("traf", tfhd(1, { baseIsMoof: false, duration: 1, flags: SYNC }), trun(samples, { dataOffset: o }));
    expect(parseMediaSegment(concat(prefix, fragment(implicit, payload))).firstSample.dataOffset).toBe(
      prefix.length + fragment(implicit, payload).length - payload.length,
    );
  });

  it("picks the requested track; a second traf without a base continues after the first one's data", () => {
    const other = [{ size: 10 }, { size: 10 }];
    const ours = [{ size: 7 }];
    const traf = (o: number) =>
      concat(
        box("traf", tfhd(9, { baseIsMoof: false, duration: 1, flags: SYNC }), trun(other, { dataOffset: o })),
        box("traf", tfhd(1, { baseIsMoof: false, duration: 3, flags: SYNC }), trun(ours)),
      );
    const segment = fragment(traf, concat(zeros(20), new Uint8Array(7).fill(5)));
    const info = parseMediaSegment(segment, { trackId: 1 });
    expect(info).toMatchObject({ trackId: 1, sampleCount: 1, durationTicks: 3, firstSample: { size: 7 } });
    expect(segment[info.firstSample.dataOffset]).toBe(5);
    expect(parseMediaSegment(segment).trackId).toBe(9);
    expectInvalid(() => parseMediaSegment(segment, { trackId: 4 }), /no sample of track 4/);
  });

  it("rejects a sample outside the mdat, a trun that lists more samples than it holds, and no moof", () => {
    const beyond = fragment(
      (o) => box("traf", tfhd(1, { duration: 1, flags: SYNC }), trun([{ size: 200 }], { dataOffset: o })),
      payload,
    );
    expectInvalid(() => parseMediaSegment(beyond), /first sample's data \[\d+, \d+\) is not inside an 'mdat'/);
    const before = fragment(
      (o) => box("traf", tfhd(1, { duration: 1, flags: SYNC }), trun([{ size: 4 }], { dataOffset: o - 40 })),
      payload,
    );
    expectInvalid(() => parseMediaSegment(before), /not inside an 'mdat'/);
    const lying = box(
      "moof",
      box("traf", tfhd(1, { duration: 1, flags: SYNC }), fullBox("trun", 0, 0x200, u32(0x7fffffff), u32(5))),
    );
    expectInvalid(() => parseMediaSegment(lying), /lists 2147483647 samples but is too short/);
    expectInvalid(() => parseMediaSegment(concat(prefix, box("mdat", payload))), /no sample of track \(any\)/);
    expectInvalid(() => parseMediaSegment(box("moof", box("traf"))), /'traf' has no 'tfhd' box/);
    const truncated = concat(
      prefix,
      fragment((o) => box("traf", tfhd(1, { duration: 1 }), trun(samples, { dataOffset: o })), payload),
    );
    expectInvalid(
      () => parseMediaSegment(truncated.subarray(0, truncated.length - 1), { label: "a/seg_000.m4s" }),
      /a\/seg_000\.m4s: malformed MP4: box 'mdat'/,
    );
    expectInvalid(() => segmentDuration(truncated, 0), /timescale must be positive/);
  });
});
