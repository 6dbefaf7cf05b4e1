import { type Manifest, Parser } from "m3u8-parser";
import { parse as parseMpd } from "mpd-parser";
import { describe, expect, it } from "vitest";
import { TranscodeError, TranscodeErrorCode } from "../errors.js";
import { parseFfmpegMediaPlaylist } from "../measure.js";
import {
  averageBitrate,
  dashFrameRate,
  dashManifest,
  escapeXml,
  iframePlaylist,
  masterPlaylist,
  mediaPlaylist,
  peakBitrate,
  renditionBitrates,
  requiredBufferSeconds,
  segmentTemplate,
  targetDuration,
} from "../playlists.js";
import type { MeasuredRendition } from "../schema.js";

// Hand-built measurements with round numbers, so every expected rate can be worked out by hand.

function rendition(
  kind: "video" | "audio",
  dir: string,
  codecs: string,
  segments: Array<[seconds: number, bytes: number, keyframeBytes: number]>,
  extra: Partial<MeasuredRendition> = {},
): MeasuredRendition {
  return {
    kind,
    dir,
    codecs,
    init: { uri: "init.mp4", bytes: 800 },
    segments: segments.map(([durationSeconds, bytes, length], i) => ({
      uri: `seg_${String(i).padStart(3, "0")}.m4s`,
      durationSeconds,
      bytes,
      keyframe: { offset: 76, length },
    })),
    ...extra,
  };
}

// 7 s: three 2 s segments and a 1 s one.
const v720 = rendition(
  "video",
  "720p",
  "avc1.64001f",
  [
    [2, 500_000, 20_000],
    [2, 700_000, 24_000],
    [2, 600_000, 22_000],
    [1, 300_000, 21_000],
  ],
  { width: 720, height: 1280, frameRate: 30, timescale: 15360 },
);
const v360 = rendition(
  "video",
  "360p",
  "avc1.64001e",
  [
    [2, 100_000, 6_000],
    [2, 110_000, 7_000],
    [2, 90_000, 6_500],
    [1, 50_000, 6_200],
  ],
  { width: 360, height: 640, frameRate: 30, timescale: 15360 },
);
// AAC segments drift around 2 s (1024-sample frames).
const audio = rendition(
  "audio",
  "audio",
  "mp4a.40.2",
  [
    [2.02, 32_000, 400],
    [1.98, 32_000, 400],
    [2, 32_000, 400],
    [1, 16_000, 400],
  ],
  { channels: 2, sampleRate: 44100, timescale: 44100 },
);

// Peak (RFC 8216 §4.1, runs of 1..3 s for a 2 s target): 720p's second segment, 700 000 B in 2 s;
// audio (3 s target: runs of 1.5..4.5 s): its second segment, 32 000 B in 1.98 s.
const PEAK_720 = (700_000 * 8) / 2;
const PEAK_360 = (110_000 * 8) / 2;
const PEAK_AUDIO = (32_000 * 8) / 1.98;
const AVG_720 = (2_100_000 * 8) / 7;
const AVG_360 = (350_000 * 8) / 7;
const AVG_AUDIO = (112_000 * 8) / 7;
// I-frames: the 1 s last entry alone is a valid run (≥ 0.5 × 2 s) and the densest.
const IFRAME_PEAK_720 = (21_000 * 8) / 1;
const IFRAME_AVG_720 = (87_000 * 8) / 7;
const IFRAME_PEAK_360 = (6_200 * 8) / 1;
const IFRAME_AVG_360 = (25_700 * 8) / 7;

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

/** Parse with videojs's m3u8-parser, failing on any warning it raises. */
function parseM3u8(text: string): Manifest & { iFramesOnly?: boolean } {
  const parser = new Parser();
  const warnings: string[] = [];
  parser.on("warn", (event) => warnings.push(event.message));
  parser.on("error", (event) => warnings.push(event.message));
  parser.push(text);
  parser.end();
  expect(warnings).toEqual([]);
  return parser.manifest;
}

describe("bit-rate formulas", () => {
  it("rounds the target duration up from the EXTINF as written", () => {
    expect(targetDuration([2, 2, 1])).toBe(2);
    expect(targetDuration([2.0000001, 1.9999999])).toBe(2);
    expect(targetDuration([2.0004])).toBe(2); // written 2.000
    expect(targetDuration([2.0006])).toBe(3); // written 2.001
    expect(targetDuration([2.02, 1.98])).toBe(3);
    expect(targetDuration([0.2])).toBe(1);
  });

  it("takes the peak over runs of 0.5 to 1.5 target durations, not over every short segment", () => {
    const entries = [
      { bytes: 100, seconds: 2 },
      { bytes: 100, seconds: 2 },
      { bytes: 90, seconds: 0.4 }, // alone too short for a 2 s target: only counted with a neighbour
    ];
    expect(peakBitrate(entries, 2)).toBeCloseTo((190 * 8) / 2.4, 9);
    expect(peakBitrate([{ bytes: 100, seconds: 0.3 }], 1)).toBeCloseTo((100 * 8) / 0.3, 9); // no run qualifies
    expect(averageBitrate(entries)).toBeCloseTo((290 * 8) / 4.4, 9);
  });

  it("measures a rendition's media and I-frame rates", () => {
    expect(renditionBitrates(v720)).toEqual({ peak: PEAK_720, average: AVG_720 });
    expect(renditionBitrates(v720, "iframes")).toEqual({ peak: IFRAME_PEAK_720, average: IFRAME_AVG_720 });
    expect(renditionBitrates(audio).peak).toBeCloseTo(PEAK_AUDIO, 6);
  });

  it("sizes the DASH buffer for a bandwidth", () => {
    const entries = [
      { bytes: 250, seconds: 1 },
      { bytes: 250, seconds: 1 },
    ];
    expect(requiredBufferSeconds(entries, 1000)).toBe(3); // 4 s to fetch both, 1 s of it playing
    expect(requiredBufferSeconds(entries, 2000)).toBe(1);
  });
});

describe("mediaPlaylist", () => {
  it("writes a VOD media playlist with the init map and three-decimal EXTINFs", () => {
    expect(mediaPlaylist(audio)).toBe(
      [
        "#EXTM3U",
        "#EXT-X-VERSION:7",
        "#EXT-X-TARGETDURATION:3",
        "#EXT-X-PLAYLIST-TYPE:VOD",
        "#EXT-X-INDEPENDENT-SEGMENTS",
        '#EXT-X-MAP:URI="init.mp4"',
        "#EXTINF:2.020,",
        "seg_000.m4s",
        "#EXTINF:1.980,",
        "seg_001.m4s",
        "#EXTINF:2.000,",
        "seg_002.m4s",
        "#EXTINF:1.000,",
        "seg_003.m4s",
        "#EXT-X-ENDLIST",
        "",
      ].join("\n"),
    );
    const parsed = parseM3u8(mediaPlaylist(v720));
    expect(parsed).toMatchObject({ targetDuration: 2, playlistType: "VOD", endList: true, independentSegments: true });
    expect(parsed.segments.map((s) => [s.uri, s.duration, s.map?.uri])).toEqual([
      ["seg_000.m4s", 2, "init.mp4"],
      ["seg_001.m4s", 2, "init.mp4"],
      ["seg_002.m4s", 2, "init.mp4"],
      ["seg_003.m4s", 1, "init.mp4"],
    ]);
  });

  it("keeps every EXTINF, rounded, within the target duration", () => {
    const r = rendition(
      "video",
      "x",
      "avc1.64001f",
      [
        [2.4996, 1000, 100],
        [1.5, 1000, 100],
      ],
      { width: 2, height: 2, frameRate: 1 },
    );
    const text = mediaPlaylist(r);
    expect(text).toContain("#EXT-X-TARGETDURATION:3\n");
    expect(text).toContain("#EXTINF:2.500,\n");
  });
});

describe("iframePlaylist", () => {
  it("names each segment's first IDR by byte range, lasting until the next one", () => {
    expect(iframePlaylist(v360)).toBe(
      [
        "#EXTM3U",
        "#EXT-X-VERSION:7",
        "#EXT-X-TARGETDURATION:2",
        "#EXT-X-PLAYLIST-TYPE:VOD",
        "#EXT-X-INDEPENDENT-SEGMENTS",
        "#EXT-X-I-FRAMES-ONLY",
        '#EXT-X-MAP:URI="init.mp4"',
        "#EXTINF:2.000,",
        "#EXT-X-BYTERANGE:6000@76",
        "seg_000.m4s",
        "#EXTINF:2.000,",
        "#EXT-X-BYTERANGE:7000@76",
        "seg_001.m4s",
        "#EXTINF:2.000,",
        "#EXT-X-BYTERANGE:6500@76",
        "seg_002.m4s",
        "#EXTINF:1.000,",
        "#EXT-X-BYTERANGE:6200@76",
        "seg_003.m4s",
        "#EXT-X-ENDLIST",
        "",
      ].join("\n"),
    );
    const parsed = parseM3u8(iframePlaylist(v720));
    expect(parsed.iFramesOnly).toBe(true);
    expect(parsed.segments.map((s) => [s.uri, s.duration, s.byterange])).toEqual([
      ["seg_000.m4s", 2, { length: 20_000, offset: 76 }],
      ["seg_001.m4s", 2, { length: 24_000, offset: 76 }],
      ["seg_002.m4s", 2, { length: 22_000, offset: 76 }],
      ["seg_003.m4s", 1, { length: 21_000, offset: 76 }],
    ]);
  });

  it("is for video only", () => {
    expectInvalid(() => iframePlaylist(audio), /I-frame playlists are for video/);
  });
});

describe("masterPlaylist", () => {
  it("lists the audio group, then the rungs highest first with video + audio rates, then the I-frame variants", () => {
    expect(masterPlaylist([v360, audio, v720])).toBe(
      [
        "#EXTM3U",
        "#EXT-X-VERSION:7",
        "#EXT-X-INDEPENDENT-SEGMENTS",
        "",
        '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="audio",NAME="default",DEFAULT=YES,AUTOSELECT=YES,CHANNELS="2",URI="audio/index.m3u8"',
        "",
        `#EXT-X-STREAM-INF:BANDWIDTH=${Math.ceil(PEAK_720 + PEAK_AUDIO)},AVERAGE-BANDWIDTH=${Math.ceil(AVG_720 + AVG_AUDIO)},CODECS="avc1.64001f,mp4a.40.2",RESOLUTION=720x1280,FRAME-RATE=30.000,AUDIO="audio",CLOSED-CAPTIONS=NONE`,
        "720p/index.m3u8",
        `#EXT-X-STREAM-INF:BANDWIDTH=${Math.ceil(PEAK_360 + PEAK_AUDIO)},AVERAGE-BANDWIDTH=${Math.ceil(AVG_360 + AVG_AUDIO)},CODECS="avc1.64001e,mp4a.40.2",RESOLUTION=360x640,FRAME-RATE=30.000,AUDIO="audio",CLOSED-CAPTIONS=NONE`,
        "360p/index.m3u8",
        "",
        `#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=${IFRAME_PEAK_720},AVERAGE-BANDWIDTH=${Math.ceil(IFRAME_AVG_720)},CODECS="avc1.64001f",RESOLUTION=720x1280,URI="720p/iframes.m3u8"`,
        `#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=${IFRAME_PEAK_360},AVERAGE-BANDWIDTH=${Math.ceil(IFRAME_AVG_360)},CODECS="avc1.64001e",RESOLUTION=360x640,URI="360p/iframes.m3u8"`,
        "",
      ].join("\n"),
    );
    expect(Math.ceil(PEAK_720 + PEAK_AUDIO)).toBe(2_929_293);
    expect(Math.ceil(AVG_720 + AVG_AUDIO)).toBe(2_528_000);
  });

  it("parses with m3u8-parser into the same values", () => {
    const parsed = parseM3u8(masterPlaylist([v720, v360, audio]));
    expect(parsed.playlists?.map((p) => [p.uri, p.attributes])).toEqual([
      [
        "720p/index.m3u8",
        {
          BANDWIDTH: 2_929_293,
          "AVERAGE-BANDWIDTH": "2528000", // m3u8-parser leaves AVERAGE-BANDWIDTH of a STREAM-INF as text
          CODECS: "avc1.64001f,mp4a.40.2",
          RESOLUTION: { width: 720, height: 1280 },
          "FRAME-RATE": 30,
          AUDIO: "audio",
          "CLOSED-CAPTIONS": "NONE",
        },
      ],
      [
        "360p/index.m3u8",
        {
          BANDWIDTH: Math.ceil(PEAK_360 + PEAK_AUDIO),
          "AVERAGE-BANDWIDTH": String(Math.ceil(AVG_360 + AVG_AUDIO)),
          CODECS: "avc1.64001e,mp4a.40.2",
          RESOLUTION: { width: 360, height: 640 },
          "FRAME-RATE": 30,
          AUDIO: "audio",
          "CLOSED-CAPTIONS": "NONE",
        },
      ],
    ]);
    expect(parsed.mediaGroups?.AUDIO).toEqual({
      audio: { default: { default: true, autoselect: true, uri: "audio/index.m3u8" } },
    });
    expect(parsed.iFramePlaylists.map((p) => [p.uri, p.attributes.BANDWIDTH])).toEqual([
      ["720p/iframes.m3u8", IFRAME_PEAK_720],
      ["360p/iframes.m3u8", IFRAME_PEAK_360],
    ]);
  });

  it("without audio: no media group, video-only codecs and rates", () => {
    const text = masterPlaylist([v720]);
    expect(text).not.toContain("#EXT-X-MEDIA");
    expect(text).toContain(
      `#EXT-X-STREAM-INF:BANDWIDTH=${PEAK_720},AVERAGE-BANDWIDTH=${Math.ceil(AVG_720)},CODECS="avc1.64001f",RESOLUTION=720x1280,FRAME-RATE=30.000,CLOSED-CAPTIONS=NONE\n`,
    );
  });

  it("writes FRAME-RATE with three decimals", () => {
    expect(masterPlaylist([{ ...v720, frameRate: 30000 / 1001 }])).toContain(",FRAME-RATE=29.970,");
  });

  it("refuses what it cannot write correctly", () => {
    expectInvalid(() => masterPlaylist([audio]), /no video rendition/);
    expectInvalid(() => masterPlaylist([v720, audio, { ...audio, dir: "audio2" }]), /2 audio renditions/);
    expectInvalid(() => masterPlaylist([v720, { ...v360, dir: "720p" }]), /share a folder/);
    expectInvalid(() => masterPlaylist([{ ...v720, codecs: 'avc1"' }]), /bad codecs/);
    expectInvalid(() => masterPlaylist([{ ...v720, width: 0 }]), /bad width/);
    expectInvalid(() => masterPlaylist([{ ...v720, frameRate: Number.NaN }]), /bad frameRate/);
    expectInvalid(() => mediaPlaylist({ ...v720, init: { uri: 'in"it.mp4', bytes: 1 } }), /not a plain relative URI/);
    expectInvalid(() => mediaPlaylist({ ...v720, dir: "../up" }), /not a plain relative URI/);
    expectInvalid(() => mediaPlaylist({ ...v720, segments: [] }), /no segments/);
    const seg = v720.segments[0] as MeasuredRendition["segments"][number];
    expectInvalid(() => mediaPlaylist({ ...v720, segments: [{ ...seg, uri: "#x" }] }), /not a plain relative URI/);
    expectInvalid(() => mediaPlaylist({ ...v720, segments: [{ ...seg, uri: "a b" }] }), /not a plain relative URI/);
    expectInvalid(() => mediaPlaylist({ ...v720, segments: [{ ...seg, durationSeconds: 0 }] }), /has duration 0/);
    expectInvalid(
      () => mediaPlaylist({ ...v720, segments: [{ ...seg, keyframe: { offset: 76, length: seg.bytes } }] }),
      /outside its/,
    );
  });
});

describe("dashManifest", () => {
  it("describes both adaptation sets over the same files, and parses with mpd-parser", () => {
    const mpd = dashManifest([v360, audio, v720], 7000);
    expect(mpd.startsWith('<?xml version="1.0" encoding="UTF-8"?>\n<MPD xmlns="urn:mpeg:dash:schema:mpd:2011"')).toBe(
      true,
    );
    expect(mpd).toContain(
      'profiles="urn:mpeg:dash:profile:isoff-live:2011" type="static" mediaPresentationDuration="PT7.000S" minBufferTime="PT2.020S"',
    );
    expect(mpd).toContain(
      [
        `      <Representation id="720p" bandwidth="${PEAK_720}" codecs="avc1.64001f" width="720" height="1280" frameRate="30" sar="1:1">`,
        '        <SegmentTemplate timescale="15360" initialization="720p/init.mp4" media="720p/seg_$Number%03d$.m4s" startNumber="0">',
        "          <SegmentTimeline>",
        '            <S t="0" d="30720" r="2"/>',
        '            <S d="15360"/>',
        "          </SegmentTimeline>",
        "        </SegmentTemplate>",
        "      </Representation>",
      ].join("\n"),
    );
    expect(mpd).toContain(
      '<AudioChannelConfiguration schemeIdUri="urn:mpeg:dash:23003:3:audio_channel_configuration:2011" value="2"/>',
    );
    expect(mpd).toContain(
      '<S t="0" d="89082"/>\n            <S d="87318"/>\n            <S d="88200"/>\n            <S d="44100"/>',
    );

    const parsed = parseMpd(mpd, { manifestUri: "https://cdn.example/v/manifest.mpd" });
    expect(parsed.duration).toBe(7);
    expect(parsed.playlists.map((p) => [p.attributes.NAME, p.attributes.BANDWIDTH, p.attributes.RESOLUTION])).toEqual([
      ["720p", PEAK_720, { width: 720, height: 1280 }],
      ["360p", PEAK_360, { width: 360, height: 640 }],
    ]);
    const first = parsed.playlists[0];
    expect(first?.segments.map((s) => [s.resolvedUri, s.duration, s.number])).toEqual([
      ["https://cdn.example/v/720p/seg_000.m4s", 2, 0],
      ["https://cdn.example/v/720p/seg_001.m4s", 2, 1],
      ["https://cdn.example/v/720p/seg_002.m4s", 2, 2],
      ["https://cdn.example/v/720p/seg_003.m4s", 1, 3],
    ]);
    expect(first?.segments[0]?.map?.resolvedUri).toBe("https://cdn.example/v/720p/init.mp4");
    const audioPlaylists = Object.values(parsed.mediaGroups.AUDIO).flatMap((group) =>
      Object.values(group).flatMap((r) => r.playlists),
    );
    expect(audioPlaylists.map((p) => [p.attributes.CODECS, p.attributes.BANDWIDTH])).toEqual([
      ["mp4a.40.2", Math.ceil(PEAK_AUDIO)],
    ]);
    expect(audioPlaylists[0]?.segments.map((s) => s.duration)).toEqual([89082 / 44100, 87318 / 44100, 2, 1]);
  });

  it("escapes XML and template dollars", () => {
    const mpd = dashManifest([{ ...v720, dir: "a&b$'" }], 7000);
    expect(mpd).toContain(`<Representation id="a&amp;b$&apos;"`);
    expect(mpd).toContain(`media="a&amp;b$$&apos;/seg_$Number%03d$.m4s"`);
    expect(mpd).toContain(`initialization="a&amp;b$$&apos;/init.mp4"`);
    expect(parseMpd(mpd).playlists[0]?.segments[0]?.uri).toBe("a&b$'/seg_000.m4s");
    expect(escapeXml(`<a href="x">'&'</a>`)).toBe("&lt;a href=&quot;x&quot;&gt;&apos;&amp;&apos;&lt;/a&gt;");
  });

  it("writes frame rates as DASH FrameRateType", () => {
    expect(dashFrameRate(30)).toBe("30");
    expect(dashFrameRate(30000 / 1001)).toBe("30000/1001");
    expect(dashFrameRate(29.97)).toBe("30000/1001");
    expect(dashFrameRate(24000 / 1001)).toBe("24000/1001");
    expect(dashFrameRate(12.5)).toBe("25/2");
    expect(dashFrameRate(29.5)).toBe("59/2");
    expect(dashManifest([{ ...v720, frameRate: 60000 / 1001 }], 7000)).toContain('frameRate="60000/1001"');
  });

  it("derives the $Number$ template from the segment names, or refuses", () => {
    expect(segmentTemplate(v720)).toEqual({ media: "720p/seg_$Number%03d$.m4s", startNumber: 0 });
    const named = (uris: string[]): MeasuredRendition => ({
      ...v720,
      segments: uris.map((uri, i) => ({ ...(v720.segments[i] as MeasuredRendition["segments"][number]), uri })),
    });
    expect(segmentTemplate(named(["c1.m4s", "c2.m4s", "c3.m4s"]))).toEqual({
      media: "720p/c$Number$.m4s",
      startNumber: 1,
    });
    expect(segmentTemplate(named(["s08", "s09", "s10"]))).toEqual({ media: "720p/s$Number%02d$", startNumber: 8 });
    expectInvalid(() => segmentTemplate(named(["seg_000.m4s", "seg_002.m4s"])), /not numbered consecutively/);
    expectInvalid(() => segmentTemplate(named(["first.m4s"])), /not numbered consecutively/);
  });

  it("falls back to the sample rate or 90 kHz when a rendition carries no timescale", () => {
    const { timescale: _v, ...video } = v720;
    const { timescale: _a, ...sound } = audio;
    const mpd = dashManifest([video, sound], 7000);
    expect(mpd).toContain('<SegmentTemplate timescale="90000" initialization="720p/init.mp4"');
    expect(mpd).toContain('<SegmentTemplate timescale="44100" initialization="audio/init.mp4"');
  });

  it("refuses a bad duration", () => {
    expectInvalid(() => dashManifest([v720], 0), /durationMs must be positive/);
    expectInvalid(() => dashManifest([v720], Number.NaN), /durationMs must be positive/);
  });
});

describe("parseFfmpegMediaPlaylist", () => {
  const ffmpeg = [
    "#EXTM3U",
    "#EXT-X-VERSION:7",
    "#EXT-X-TARGETDURATION:2",
    "#EXT-X-MEDIA-SEQUENCE:0",
    "#EXT-X-PLAYLIST-TYPE:VOD",
    '#EXT-X-MAP:URI="init_0.mp4"',
    "#EXTINF:2.000000,",
    "seg_000.m4s",
    "#EXTINF:1.009252,",
    "seg_001.m4s",
    "#EXT-X-ENDLIST",
    "",
  ].join("\n");

  it("reads the init map and each EXTINF + URI in order", () => {
    expect(parseFfmpegMediaPlaylist(ffmpeg)).toEqual({
      init: "init_0.mp4",
      segments: [
        { uri: "seg_000.m4s", extinf: 2 },
        { uri: "seg_001.m4s", extinf: 1.009252 },
      ],
    });
    expect(parseFfmpegMediaPlaylist(ffmpeg.replaceAll("\n", "\r\n")).segments).toHaveLength(2);
  });

  it("refuses what a CMAF rendition of ours never has", () => {
    expectInvalid(() => parseFfmpegMediaPlaylist("#EXT-X-VERSION:7\n"), /does not start with #EXTM3U/);
    expectInvalid(() => parseFfmpegMediaPlaylist(ffmpeg.replace(/#EXT-X-MAP.*\n/, "")), /before any #EXT-X-MAP/);
    expectInvalid(() => parseFfmpegMediaPlaylist("#EXTM3U\n#EXTINF:2,\na.ts\n"), /before any #EXT-X-MAP/);
    expectInvalid(() => parseFfmpegMediaPlaylist('#EXTM3U\n#EXT-X-MAP:URI="i.mp4"\n'), /no segments/);
    expectInvalid(() => parseFfmpegMediaPlaylist(ffmpeg.replace("seg_000", "../seg_000")), /not a relative path/);
    expectInvalid(() => parseFfmpegMediaPlaylist(ffmpeg.replace("seg_000", "https://x/seg_000")), /not a relative/);
    expectInvalid(() => parseFfmpegMediaPlaylist(ffmpeg.replace("#EXTINF:2.000000,\n", "")), /has no #EXTINF/);
    expectInvalid(
      () => parseFfmpegMediaPlaylist(ffmpeg.replace("seg_000.m4s", "#EXT-X-BYTERANGE:10@0\nseg_000.m4s")),
      /byte-range segments are not supported/,
    );
    expectInvalid(
      () => parseFfmpegMediaPlaylist(ffmpeg.replace('URI="init_0.mp4"', 'URI="init_0.mp4",BYTERANGE="10@0"')),
      /#EXT-X-MAP with a BYTERANGE/,
    );
  });
});
