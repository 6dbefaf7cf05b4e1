import { describe, expect, it } from "vitest";
import { TranscodeError } from "../errors.js";
import {
  bottomFrameRate,
  h264Level,
  type LadderOptions,
  planLadder,
  rungShortSides,
  topFrameRate,
  wholeFrameRate,
} from "../ladder.js";
import type { Ladder, MediaInfo } from "../schema.js";

type VideoOverrides = Partial<MediaInfo["video"]>;

/** A probed source: 1080x1920 at 30 fps with stereo 48 kHz audio unless overridden. */
function source(video: VideoOverrides = {}, rest: Partial<Omit<MediaInfo, "video">> = {}): MediaInfo {
  const width = video.width ?? 1080;
  const height = video.height ?? 1920;
  return {
    container: "mov,mp4,m4a,3gp,3g2,mj2",
    durationMs: 15_000,
    sizeBytes: 12_000_000,
    video: {
      codec: "h264",
      codedWidth: width,
      codedHeight: height,
      width,
      height,
      rotation: 0,
      sampleAspectRatio: { num: 1, den: 1 },
      frameRate: 30,
      variableFrameRate: false,
      pixelFormat: "yuv420p",
      bitDepth: 8,
      hdr: "sdr",
      ...video,
    },
    audio: { codec: "aac", channels: 2, sampleRate: 48_000 },
    otherStreams: 0,
    hasLocation: false,
    ...rest,
  };
}

const sizes = (ladder: Ladder) => ladder.renditions.map((r) => `${r.width}x${r.height}`);
const rates = (ladder: Ladder) => ladder.renditions.map((r) => r.frameRate);

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    if (error instanceof TranscodeError) return error.code;
    throw error;
  }
  return undefined;
}

describe("planLadder: sizes", () => {
  it("gives a vertical 1080x1920 source the five 9:16 rungs", () => {
    const ladder = planLadder(source());
    expect(ladder.orientation).toBe("vertical");
    expect(ladder.renditions.map((r) => r.name)).toEqual(["1080p", "720p", "540p", "360p", "240p"]);
    expect(sizes(ladder)).toEqual(["1080x1920", "720x1280", "540x960", "360x640", "240x426"]);
    expect(rates(ladder)).toEqual([30, 30, 30, 30, 15]);
    expect(ladder.renditions.map((r) => r.profile)).toEqual(["high", "high", "high", "main", "main"]);
    expect(ladder.renditions.map((r) => r.level)).toEqual(["4.0", "3.1", "3.1", "3.0", "3.0"]);
    expect(ladder.keyframeSeconds).toBe(2);
    expect(ladder.segmentSeconds).toBe(2);
    expect(ladder.complexityFactor).toBe(1);
    expect(ladder.source).toEqual({ width: 1080, height: 1920, frameRate: 30, hdr: "sdr", durationMs: 15_000 });
  });

  it("lands the bitrates near Apple's table and derives peak and buffer from them", () => {
    const [r1080, r720, r540, r360, r240] = planLadder(source()).renditions;
    expect(r1080?.bitrate).toBeGreaterThanOrEqual(5_800_000);
    expect(r1080?.bitrate).toBeLessThanOrEqual(7_800_000);
    expect(r720?.bitrate).toBeGreaterThanOrEqual(2_700_000);
    expect(r720?.bitrate).toBeLessThanOrEqual(3_300_000);
    expect(r540?.bitrate).toBeGreaterThanOrEqual(1_800_000);
    expect(r540?.bitrate).toBeLessThanOrEqual(2_200_000);
    expect(r360?.bitrate).toBeGreaterThanOrEqual(900_000);
    expect(r360?.bitrate).toBeLessThanOrEqual(1_100_000);
    expect(r240?.bitrate).toBeGreaterThanOrEqual(300_000);
    expect(r240?.bitrate).toBeLessThanOrEqual(450_000);
    for (const r of planLadder(source()).renditions) {
      expect(r.bitrate % 1000).toBe(0);
      expect(r.maxBitrate).toBe(Math.round((r.bitrate * 1.5) / 1000) * 1000);
      expect(r.bufferSize).toBe(r.maxBitrate);
    }
  });

  it("gives a horizontal source the same rungs turned 16:9", () => {
    const ladder = planLadder(source({ width: 1920, height: 1080 }));
    expect(ladder.orientation).toBe("horizontal");
    expect(sizes(ladder)).toEqual(["1920x1080", "1280x720", "960x540", "640x360", "426x240"]);
  });

  it("gives a square source square rungs", () => {
    const ladder = planLadder(source({ width: 1080, height: 1080 }));
    expect(ladder.orientation).toBe("square");
    expect(sizes(ladder)).toEqual(["1080x1080", "720x720", "540x540", "360x360", "240x240"]);
  });

  it("never goes above the source's short side (a 480x854 upload tops out at its own 480)", () => {
    const ladder = planLadder(source({ width: 480, height: 854 }));
    for (const r of ladder.renditions) {
      expect(Math.min(r.width, r.height)).toBeLessThanOrEqual(480);
      expect(r.height).toBeLessThanOrEqual(854);
    }
    // 854 / 480 × 240 = 427 exactly: the nearest even sizes are 426 and 428; Math.round picks 428.
    expect(sizes(ladder)).toEqual(["480x854", "360x640", "240x428"]);
    // A source just above a class gets no near-duplicate rung of its own size.
    expect(sizes(planLadder(source({ width: 600, height: 1066 })))).toEqual(["540x960", "360x640", "240x426"]);
    // Sources larger than the top class stop at the top class.
    expect(sizes(planLadder(source({ width: 2160, height: 3840 })))[0]).toBe("1080x1920");
  });

  it("makes every dimension even, odd-sized sources included", () => {
    for (const [width, height] of [
      [1081, 1921],
      [721, 1279],
      [999, 1001],
      [1365, 768],
      [3026, 1386],
    ] as const) {
      for (const r of planLadder(source({ width, height })).renditions) {
        expect(r.width % 2).toBe(0);
        expect(r.height % 2).toBe(0);
        expect(r.width).toBeLessThanOrEqual(width + 1);
        expect(r.height).toBeLessThanOrEqual(height + 1);
        expect(Math.abs(r.width / r.height - width / height)).toBeLessThan(0.02);
      }
    }
  });

  it("gives a source smaller than 240 one rung at its own size", () => {
    const ladder = planLadder(source({ width: 176, height: 144 }));
    expect(sizes(ladder)).toEqual(["176x144"]);
    expect(ladder.renditions[0]?.name).toBe("144p");
    expect(rates(ladder)).toEqual([30]);
    expect(sizes(planLadder(source({ width: 135, height: 241 })))).toEqual(["134x240"]);
  });

  it("plans an anamorphic source from its display size, with square pixels", () => {
    const info = source({
      codedWidth: 640,
      codedHeight: 360,
      width: 1280,
      height: 360,
      sampleAspectRatio: { num: 2, den: 1 },
    });
    const ladder = planLadder(info);
    expect(ladder.orientation).toBe("horizontal");
    expect(sizes(ladder)).toEqual(["1280x360", "854x240"]);
  });

  it("follows the rotated display size, not the coded one", () => {
    const info = source({ codedWidth: 1920, codedHeight: 1080, width: 1080, height: 1920, rotation: 90 });
    expect(sizes(planLadder(info))[0]).toBe("1080x1920");
  });

  it("takes its short sides from the rungs option", () => {
    expect(sizes(planLadder(source(), { rungs: [360, 720] }))).toEqual(["720x1280", "360x640"]);
  });
});

describe("planLadder: frame rates", () => {
  it("caps 60 fps at 30 on top and 15 at 240p", () => {
    const ladder = planLadder(source({ frameRate: 60 }));
    expect(rates(ladder)).toEqual([30, 30, 30, 30, 15]);
    expect(ladder.source.frameRate).toBe(60);
  });

  it("keeps 60 fps when maxFrameRate allows it, with 240p still at 15", () => {
    const ladder = planLadder(source({ frameRate: 60 }), { maxFrameRate: 60 });
    expect(rates(ladder)).toEqual([60, 60, 60, 60, 15]);
    expect(ladder.renditions[0]?.level).toBe("4.2");
  });

  it("rounds NTSC rates up to whole numbers: 29.97 → 30, 23.976 → 24, 59.94 → 60 → 30", () => {
    expect(rates(planLadder(source({ frameRate: 30_000 / 1001 })))).toEqual([30, 30, 30, 30, 15]);
    expect(rates(planLadder(source({ frameRate: 24_000 / 1001 })))).toEqual([24, 24, 24, 24, 24]);
    expect(rates(planLadder(source({ frameRate: 60_000 / 1001 })))).toEqual([30, 30, 30, 30, 15]);
    expect(rates(planLadder(source({ frameRate: 25 })))).toEqual([25, 25, 25, 25, 25]);
    // ffprobe's 45000/1499 for a phone's "29.97" clip
    expect(rates(planLadder(source({ frameRate: 45_000 / 1499 })))[0]).toBe(30);
  });

  it("rounds a variable-rate average up: 7.22 → 8", () => {
    const ladder = planLadder(source({ frameRate: 7.22, variableFrameRate: true }));
    expect(rates(ladder)).toEqual([8, 8, 8, 8, 8]);
  });

  it("divides fast constant rates evenly, and caps variable ones", () => {
    expect(topFrameRate(50, 30)).toBe(25);
    expect(topFrameRate(120, 30)).toBe(30);
    expect(topFrameRate(48, 30)).toBe(24);
    expect(topFrameRate(45, 30)).toBe(30);
    expect(topFrameRate(50, 30, true)).toBe(30);
    expect(bottomFrameRate(30)).toBe(15);
    expect(bottomFrameRate(60)).toBe(15);
    expect(bottomFrameRate(24)).toBe(24);
    expect(wholeFrameRate(30.02)).toBe(30);
    expect(wholeFrameRate(0.4)).toBe(1);
  });

  it("always gives whole frames per keyframe interval", () => {
    for (const frameRate of [0.5, 1, 7.22, 12.5, 14.985, 23.976, 25, 29.97, 30, 47.95, 50, 59.94, 60, 90, 120, 240]) {
      for (const keyframeSeconds of [1, 2, 3, 4]) {
        for (const maxFrameRate of [24, 30, 60]) {
          const ladder = planLadder(source({ frameRate, variableFrameRate: frameRate === 7.22 }), {
            keyframeSeconds,
            maxFrameRate,
          });
          expect(ladder.segmentSeconds).toBe(keyframeSeconds);
          for (const r of ladder.renditions) {
            expect(Number.isInteger(r.frameRate * keyframeSeconds)).toBe(true);
            expect(r.frameRate).toBeLessThanOrEqual(maxFrameRate);
          }
        }
      }
    }
  });
});

describe("planLadder: audio", () => {
  it("has no audio rendition when the source has none", () => {
    expect(planLadder(source({}, { audio: null })).audio).toBeNull();
  });

  it("encodes stereo AAC at 128 kb/s, 48 kHz, downmixing surround", () => {
    expect(planLadder(source()).audio).toEqual({ bitrate: 128_000, channels: 2, sampleRate: 48_000 });
    const surround = source({}, { audio: { codec: "aac", channels: 6, sampleRate: 48_000 } });
    expect(planLadder(surround).audio).toEqual({ bitrate: 128_000, channels: 2, sampleRate: 48_000 });
  });

  it("keeps mono mono at 64 kb/s and 44.1 kHz at 44.1 kHz; other rates go to 48 kHz", () => {
    const mono = source({}, { audio: { codec: "aac", channels: 1, sampleRate: 44_100 } });
    expect(planLadder(mono).audio).toEqual({ bitrate: 64_000, channels: 1, sampleRate: 44_100 });
    const odd = source({}, { audio: { codec: "opus", channels: 2, sampleRate: 22_050 } });
    expect(planLadder(odd).audio?.sampleRate).toBe(48_000);
  });
});

describe("planLadder: complexity", () => {
  it("scales every bitrate by the factor", () => {
    const base = planLadder(source());
    const hard = planLadder(source(), { complexity: 1.5 });
    expect(hard.complexityFactor).toBe(1.5);
    base.renditions.forEach((r, i) => {
      const scaled = hard.renditions[i];
      expect(Math.abs((scaled?.bitrate ?? 0) - r.bitrate * 1.5)).toBeLessThanOrEqual(1500);
      expect(scaled?.maxBitrate).toBeGreaterThan(r.maxBitrate);
    });
  });

  it("clamps the factor to 0.5–2", () => {
    const base = planLadder(source()).renditions[0]?.bitrate ?? 0;
    const high = planLadder(source(), { complexity: 5 });
    const low = planLadder(source(), { complexity: 0.1 });
    expect(high.complexityFactor).toBe(2);
    expect(low.complexityFactor).toBe(0.5);
    expect(Math.abs((high.renditions[0]?.bitrate ?? 0) - base * 2)).toBeLessThanOrEqual(2000);
    expect(Math.abs((low.renditions[0]?.bitrate ?? 0) - base / 2)).toBeLessThanOrEqual(1000);
  });

  it("raises the level when the bitrate needs it", () => {
    // 1080p30 at 2× fits 4.0's frame and macroblock rate but peaks at 19.6 Mb/s: still within 4.0 High (25 Mb/s).
    expect(planLadder(source(), { complexity: 2 }).renditions[0]?.level).toBe("4.0");
    expect(
      h264Level({
        width: 1920,
        height: 1080,
        frameRate: 30,
        maxBitrate: 30_000_000,
        bufferSize: 30_000_000,
        profile: "high",
      }),
    ).toBe("4.1");
    expect(
      h264Level({
        width: 2358,
        height: 1080,
        frameRate: 8,
        maxBitrate: 4_000_000,
        bufferSize: 4_000_000,
        profile: "high",
      }),
    ).toBe("5.0");
  });
});

describe("planLadder: purity and validation", () => {
  it("is pure: same input, same ladder, input untouched", () => {
    const info = source({ frameRate: 59.94 });
    const copy = structuredClone(info);
    expect(planLadder(info, { complexity: 1.2 })).toEqual(planLadder(info, { complexity: 1.2 }));
    expect(info).toEqual(copy);
  });

  it.each<[string, LadderOptions]>([
    ["odd rung", { rungs: [721] }],
    ["empty rungs", { rungs: [] }],
    ["zero frame rate cap", { maxFrameRate: 0 }],
    ["fractional frame rate cap", { maxFrameRate: 29.97 }],
    ["negative complexity", { complexity: -1 }],
    ["infinite complexity", { complexity: Number.POSITIVE_INFINITY }],
    ["fractional keyframe interval", { keyframeSeconds: 1.5 }],
    ["unknown option", { segmentSeconds: 4 } as LadderOptions],
  ])("rejects %s with INVALID_OPTIONS", (_, options) => {
    expect(codeOf(() => planLadder(source(), options))).toBe("INVALID_OPTIONS");
  });

  it("rejects something that is not a MediaInfo with INVALID_INPUT", () => {
    expect(codeOf(() => planLadder({ ...source(), durationMs: -1 }))).toBe("INVALID_INPUT");
    expect(codeOf(() => planLadder(null as unknown as MediaInfo))).toBe("INVALID_INPUT");
  });

  it("chooses rung short sides from the classes", () => {
    expect(rungShortSides(1080, [1080, 720, 540, 360, 240])).toEqual([1080, 720, 540, 360, 240]);
    expect(rungShortSides(480, [1080, 720, 540, 360, 240])).toEqual([480, 360, 240]);
    expect(rungShortSides(400, [1080, 720, 540, 360, 240])).toEqual([360, 240]);
    expect(rungShortSides(1386, [1080, 720, 540, 360, 240])).toEqual([1080, 720, 540, 360, 240]);
    expect(rungShortSides(100, [1080, 720])).toEqual([100]);
  });
});
