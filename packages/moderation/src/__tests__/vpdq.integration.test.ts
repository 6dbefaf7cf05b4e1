// hashVideo runs ffmpeg: Meta's vPDQ sample videos (shared data) and small clips made here with
// ffmpeg's lavfi sources.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sharedDataDir } from "../../../../test/services.js";
import {
  dedupeFrames,
  hammingDistance,
  hashVideo,
  ModerationErrorCode,
  matchVideos,
  parseVpdq,
  pdqHash,
  type VideoHash,
} from "../index.js";

const names = [
  "chair-orig-22-sd-bar",
  "chair-22-sd-grey-bar",
  "chair-22-sd-sepia-bar",
  "chair-19-sd-bar",
  "chair-20-sd-bar",
];
const vpdqDir = () => join(sharedDataDir(), "vpdq");
const sameVideo = { matchThreshold: 100 };

describe("hashVideo on Meta's vPDQ samples", () => {
  const hashed = new Map<string, VideoHash>();

  beforeAll(async () => {
    // Every frame, unpruned, to line up with the reference files frame by frame. Two at a time.
    for (let i = 0; i < names.length; i += 2) {
      await Promise.all(
        names.slice(i, i + 2).map(async (name) => {
          hashed.set(name, await hashVideo(join(vpdqDir(), `${name}.mp4`), { dedupeDistance: false }));
        }),
      );
    }
  }, 300_000);

  it("hashes every frame within a few bits of Meta's reference per-frame hashes", () => {
    const report: string[] = [];
    for (const name of names) {
      const ours = hashed.get(name)?.frames ?? [];
      const reference = parseVpdq(readFileSync(join(vpdqDir(), `${name}.vpdq.txt`), "utf8"));
      expect(ours.length, name).toBe(reference.length);
      const distances = ours.map((f, i) => hammingDistance(f.hash, reference[i]?.hash as string));
      const histogram = new Map<number, number>();
      for (const d of distances) histogram.set(d, (histogram.get(d) ?? 0) + 1);
      const exact = histogram.get(0) ?? 0;
      const mean = distances.reduce((a, b) => a + b, 0) / distances.length;
      report.push(
        `  ${name.padEnd(24)} ${ours.length} frames: ${exact} identical (${((exact * 100) / ours.length).toFixed(1)} %), mean ${mean.toFixed(2)}, max ${Math.max(...distances)}; ` +
          [...histogram.entries()]
            .sort((a, b) => a[0] - b[0])
            .map(([d, n]) => `${d}:${n}`)
            .join(" "),
      );
      for (const [i, f] of ours.entries()) {
        expect(f.frame).toBe(i);
        expect(f.quality).toBe(reference[i]?.quality);
        expect(Math.abs(f.timestamp - (reference[i]?.timestamp as number))).toBeLessThan(0.002);
      }
      expect(Math.max(...distances), name).toBeLessThanOrEqual(8);
      expect(exact / ours.length, name).toBeGreaterThanOrEqual(0.9);
    }
    console.log(`vPDQ per-frame distance to Meta's reference hashes:\n${report.join("\n")}`);
  });

  it("matches the grey and sepia edits with the original, and not chair-19 or chair-20 as the same video", () => {
    const pruned = (name: string) => dedupeFrames(hashed.get(name)?.frames ?? [], 2); // hashVideo's default
    const original = pruned("chair-orig-22-sd-bar");
    const lines: string[] = [];
    for (const name of names.slice(1)) {
      const frames = pruned(name);
      const forward = matchVideos(original, frames, sameVideo);
      const backward = matchVideos(frames, original, sameVideo);
      lines.push(
        `  original → ${name.padEnd(22)} ${forward.queryMatchPercent.toFixed(1)} % / ${forward.comparedMatchPercent.toFixed(1)} %`,
      );
      if (name.includes("grey") || name.includes("sepia")) {
        expect(forward.isMatch, name).toBe(true);
        expect(backward.isMatch, name).toBe(true);
        expect(matchVideos(frames, original).isMatch, name).toBe(true); // vPDQ defaults too
      } else {
        expect(forward.isMatch, name).toBe(false);
        expect(backward.isMatch, name).toBe(false);
        expect(forward.queryMatchPercent, name).toBeLessThan(99.5);
        // They are trimmed cuts of the original: all of their frames are in it.
        expect(forward.comparedMatchPercent, name).toBe(100);
      }
    }
    console.log(`vPDQ shares (query / compared), our hashes, distance 31, quality ≥ 50:\n${lines.join("\n")}`);
  });
});

describe("hashVideo on generated clips", () => {
  const dir = mkdtempSync(join(tmpdir(), "reelkit-vpdq-"));
  const clip = (name: string, args: string[]) => {
    const path = join(dir, name);
    execFileSync("ffmpeg", ["-v", "error", "-y", ...args, path]);
    return path;
  };
  let moving: string;
  let still: string;

  beforeAll(() => {
    moving = clip("moving.mp4", [
      "-f",
      "lavfi",
      "-i",
      "testsrc2=size=320x240:rate=10:duration=3",
      "-pix_fmt",
      "yuv420p",
    ]);
    still = clip("still.mp4", [
      "-f",
      "lavfi",
      "-i",
      "color=c=0x3366aa:size=96x64:rate=10:duration=2",
      "-pix_fmt",
      "yuv420p",
    ]);
  }, 60_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("samples `fps` frames per second with their timestamps, at the source size", async () => {
    const video = await hashVideo(moving, { fps: 2, dedupeDistance: false });
    expect(video.sampledFrames).toBe(6);
    expect(video.frames.map((f) => f.frame)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(video.frames.map((f) => f.timestamp)).toEqual([0, 0.5, 1, 1.5, 2, 2.5]);
    expect([video.width, video.height]).toEqual([320, 240]);
    const all = await hashVideo(moving, { dedupeDistance: false });
    expect(all.sampledFrames).toBe(30);
  });

  it("hashes each frame exactly as pdqHash hashes the same RGB frame", async () => {
    const video = await hashVideo(moving, { dedupeDistance: false });
    const rgb = execFileSync(
      "ffmpeg",
      [
        "-v",
        "error",
        "-i",
        moving,
        "-vf",
        "select=eq(n\\,7)",
        "-frames:v",
        "1",
        "-sws_flags",
        "bicubic+accurate_rnd",
        "-f",
        "rawvideo",
        "-pix_fmt",
        "rgb24",
        "pipe:1",
      ],
      { maxBuffer: 1 << 24 },
    );
    expect(video.frames[7]?.hash).toBe(pdqHash(new Uint8Array(rgb), 320, 240).hash);
  });

  it("prunes near-identical consecutive frames by default and keeps every frame with dedupeDistance: false", async () => {
    const pruned = await hashVideo(still);
    expect(pruned.sampledFrames).toBe(20);
    expect(pruned.frames).toHaveLength(1);
    const moved = await hashVideo(moving);
    expect(moved.frames.length).toBeGreaterThan(1);
    expect(moved.frames.length).toBeLessThanOrEqual(30);
    expect((await hashVideo(still, { dedupeDistance: false })).frames).toHaveLength(20);
  });

  it("applies rotation metadata and scales to maxSide", async () => {
    // 1920×1080 H.264 with a −90° display matrix: hashed upright, 9:16, scaled to fit 128.
    const upright = await hashVideo(join(sharedDataDir(), "media", "rotated-90-h264.mp4"), { fps: 2, maxSide: 128 });
    expect([upright.width, upright.height]).toEqual([72, 128]);
    const small = await hashVideo(moving, { maxSide: 100, fps: 1 });
    expect(Math.max(small.width, small.height)).toBeLessThanOrEqual(100);
    expect(small.width / small.height).toBeCloseTo(4 / 3, 1);
  });

  it("streams frames to onFrame and stops ffmpeg when aborted", async () => {
    const seen: number[] = [];
    await hashVideo(moving, { dedupeDistance: false, onFrame: (f) => seen.push(f.frame) });
    expect(seen).toHaveLength(30);

    const controller = new AbortController();
    const aborted = hashVideo(moving, {
      dedupeDistance: false,
      signal: controller.signal,
      onFrame: (f) => {
        if (f.frame === 2) controller.abort(new Error("enough"));
      },
    });
    await expect(aborted).rejects.toMatchObject({ code: ModerationErrorCode.ABORTED });
    await expect(hashVideo(moving, { signal: AbortSignal.abort() })).rejects.toMatchObject({
      code: ModerationErrorCode.ABORTED,
    });
  });

  it("reports a missing ffmpeg, a missing file, an undecodable file and bad options with their codes", async () => {
    await expect(hashVideo(moving, { ffmpegPath: join(dir, "no-such-ffmpeg") })).rejects.toMatchObject({
      code: ModerationErrorCode.FFMPEG_MISSING,
    });
    await expect(hashVideo(join(dir, "missing.mp4"))).rejects.toMatchObject({
      code: ModerationErrorCode.INVALID_INPUT,
    });
    const junk = join(dir, "junk.mp4");
    writeFileSync(junk, "this is not a video");
    await expect(hashVideo(junk)).rejects.toMatchObject({ code: ModerationErrorCode.DECODE_FAILED });
    await expect(hashVideo(moving, { fps: -1 })).rejects.toMatchObject({ code: ModerationErrorCode.INVALID_OPTIONS });
    await expect(hashVideo(moving, { frames: 3 } as object)).rejects.toMatchObject({
      code: ModerationErrorCode.INVALID_OPTIONS,
    });
  });
});
