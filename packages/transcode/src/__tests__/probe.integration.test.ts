import { execFile } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sharedDataDir } from "../../../../test/services.js";
import { TranscodeError } from "../errors.js";
import { resolveTools, run, ToolExitError } from "../ffmpeg.js";
import { bitDepthOf, type ProbeOptions, probe, rotationOf } from "../probe.js";
import { mediaInfoSchema } from "../schema.js";

const exec = promisify(execFile);
const media = join(sharedDataDir(), "media");
let dir: string;

/** ffmpeg with lavfi sources, quietly, into the temp folder. */
async function ffmpeg(args: string[], out: string): Promise<string> {
  const path = join(dir, out);
  await exec("ffmpeg", ["-v", "error", "-nostdin", "-y", ...args, path]);
  return path;
}

/** The first `fraction` of a file, as a new file. */
async function cut(path: string, fraction: number, out: string): Promise<string> {
  const bytes = await readFile(path);
  const target = join(dir, out);
  await writeFile(target, bytes.subarray(0, Math.floor(bytes.length * fraction)));
  return target;
}

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof TranscodeError) return error.code;
    throw error;
  }
  throw new Error("expected a TranscodeError, got a result");
}

const clip = ["-f", "lavfi", "-i", "testsrc2=s=320x240:r=30:d=3", "-f", "lavfi", "-i", "sine=d=3"];
const h264aac = ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest"];
const fixtures: Record<string, string> = {};
/** A generated fixture's path. */
function fx(name: string): string {
  const path = fixtures[name];
  if (path === undefined) throw new Error(`no fixture ${name}`);
  return path;
}

beforeAll(async () => {
  if (!existsSync(media)) throw new Error(`shared media not found at ${media}: set REELKIT_SHARED_DATA`);
  dir = await mkdtemp(join(tmpdir(), "reelkit-probe-"));
  fixtures.mp4 = await ffmpeg([...clip, ...h264aac], "clip.mp4");
  fixtures.faststart = await ffmpeg([...clip, ...h264aac, "-movflags", "+faststart"], "faststart.mp4");
  fixtures.webm = await ffmpeg(
    ["-f", "lavfi", "-i", "testsrc2=s=320x240:r=30:d=3", "-c:v", "libvpx-vp9", "-deadline", "realtime", "-b:v", "300k"],
    "clip.webm",
  );
  fixtures.audioOnly = await ffmpeg(["-f", "lavfi", "-i", "sine=d=2", "-c:a", "aac"], "audio.m4a");
  await writeFile(join(dir, "subs.srt"), "1\n00:00:00,000 --> 00:00:01,000\nhello\n");
  fixtures.subtitlesOnly = await ffmpeg(["-i", join(dir, "subs.srt"), "-c:s", "srt"], "subs.mkv");
  fixtures.text = join(dir, "notes.mp4");
  await writeFile(fixtures.text, "These are my notes, not a video.\n".repeat(40));
  fixtures.empty = join(dir, "empty.mp4");
  await writeFile(fixtures.empty, "");
  fixtures.image = await ffmpeg(["-f", "lavfi", "-i", "testsrc2=s=320x240", "-frames:v", "1"], "still.png");
  fixtures.mono = await ffmpeg(
    [
      "-f",
      "lavfi",
      "-i",
      "testsrc2=s=320x240:r=25:d=1",
      "-f",
      "lavfi",
      "-i",
      "sine=d=1:sample_rate=44100",
      ...h264aac,
      "-ac",
      "1",
    ],
    "mono.mp4",
  );
  // ffmpeg 5 writes a display matrix from the `rotate` metadata when stream-copying (which way it
  // turns differs between ffmpeg versions; the test reads back what ffprobe reports).
  for (const degrees of [90, 180]) {
    fixtures[`rotated${degrees}`] = await ffmpeg(
      ["-i", fx("mp4"), "-c", "copy", "-metadata:s:v:0", `rotate=${degrees}`],
      `rotated${degrees}.mp4`,
    );
  }
  fixtures.location = await ffmpeg(
    [...clip, ...h264aac, "-metadata", "location=+48.8583+002.2945/", "-movflags", "+use_metadata_tags"],
    "location.mp4",
  );
  fixtures.cover = await ffmpeg(
    [
      "-f",
      "lavfi",
      "-i",
      "sine=d=2",
      "-f",
      "lavfi",
      "-i",
      "testsrc2=s=64x64:d=0.1",
      "-frames:v",
      "1",
      "-map",
      "0",
      "-map",
      "1",
    ].concat(["-c:a", "aac", "-c:v", "mjpeg", "-disposition:v", "attached_pic"]),
    "cover.m4a",
  );
}, 60_000);
afterAll(() => rm(dir, { recursive: true, force: true }));

describe("probe: every shared media file", () => {
  const files = existsSync(media) ? readdirSync(media) : [];

  it("finds the shared media", () => {
    expect(files.length).toBeGreaterThan(0);
  });

  it.each(files)("describes %s as a valid MediaInfo", async (file) => {
    const info = await probe(join(media, file));
    expect(mediaInfoSchema.parse(info)).toEqual(info);
    expect(info.sizeBytes).toBe((await stat(join(media, file))).size);
    expect(info.video.width % 2).toBe(0);
    expect(info.video.height % 2).toBe(0);
    expect(info.durationMs).toBeGreaterThan(0);
  });
});

describe("probe: the shared edge cases", () => {
  const at = (file: string) => probe(join(media, file));

  it("rotated-90-h264.mp4: the -90° display matrix turns 1920x1080 upright to 1080x1920", async () => {
    const info = await at("rotated-90-h264.mp4");
    expect(info.video).toMatchObject({ codedWidth: 1920, codedHeight: 1080, width: 1080, height: 1920, rotation: 90 });
    expect(info.video).toMatchObject({
      codec: "h264",
      frameRate: 24,
      variableFrameRate: false,
      hdr: "sdr",
      bitDepth: 8,
    });
    expect(info.audio).toMatchObject({ codec: "aac", channels: 6, sampleRate: 48_000 });
  });

  it("iphone-hevc-hlg-rotated.mov: HLG, 10-bit, rotated, 5 data tracks, location", async () => {
    const info = await at("iphone-hevc-hlg-rotated.mov");
    expect(info.video).toMatchObject({
      codec: "hevc",
      codedWidth: 1920,
      codedHeight: 1080,
      width: 1080,
      height: 1920,
      rotation: 90,
      hdr: "hlg",
      bitDepth: 10,
      pixelFormat: "yuv420p10le",
      frameRate: 60,
      variableFrameRate: false,
    });
    expect(info.otherStreams).toBe(5);
    expect(info.hasLocation).toBe(true);
    expect(info.audio).toMatchObject({ codec: "aac", channels: 2, sampleRate: 48_000 });
    expect(info.durationMs).toBe(92);
  });

  it("portrait-1080x1920.mp4: native vertical, ~29.97 fps, with audio", async () => {
    const info = await at("portrait-1080x1920.mp4");
    expect(info.video).toMatchObject({ width: 1080, height: 1920, rotation: 0, variableFrameRate: false });
    expect(info.video.frameRate).toBeGreaterThan(29.9);
    expect(info.video.frameRate).toBeLessThan(30.1);
    expect(info.audio).toMatchObject({ codec: "aac", channels: 2, sampleRate: 48_000 });
    expect(info.hasLocation).toBe(false);
  });

  it("vfr-no-audio.mp4: variable frame rate around 7.2 fps, no audio", async () => {
    const info = await at("vfr-no-audio.mp4");
    expect(info.video.variableFrameRate).toBe(true);
    expect(info.video.frameRate).toBeCloseTo(7.22, 1);
    expect(info.video).toMatchObject({ width: 3026, height: 1386 });
    expect(info.audio).toBeNull();
  });

  it("anamorphic-sar2-no-audio.mp4: 640x360 at SAR 2:1 displays 1280x360", async () => {
    const info = await at("anamorphic-sar2-no-audio.mp4");
    expect(info.video).toMatchObject({
      codedWidth: 640,
      codedHeight: 360,
      width: 1280,
      height: 360,
      sampleAspectRatio: { num: 2, den: 1 },
    });
    expect(info.audio).toBeNull();
  });

  it("square-vp9-no-audio.webm: VP9 in WebM, square, no bitrate in the container", async () => {
    const info = await at("square-vp9-no-audio.webm");
    expect(info.container).toBe("matroska,webm");
    expect(info.video).toMatchObject({ codec: "vp9", width: 1080, height: 1080, frameRate: 30 });
    expect(info.video.bitrate).toBeUndefined();
    expect(info.audio).toBeNull();
    expect(info.durationMs).toBe(3333);
  });
});

describe("probe: generated fixtures", () => {
  it("reads a plain generated mp4 and webm", async () => {
    for (const path of [fx("mp4"), fx("faststart"), fx("webm")]) {
      const info = await probe(path);
      expect(info.video).toMatchObject({ width: 320, height: 240, frameRate: 30, rotation: 0 });
      expect(info.durationMs).toBeGreaterThanOrEqual(2900);
    }
  });

  it("keeps mono 44.1 kHz audio as it is", async () => {
    const info = await probe(fx("mono"));
    expect(info.audio).toMatchObject({ channels: 1, sampleRate: 44_100 });
    expect(info.video.frameRate).toBe(25);
  });

  it("turns ffprobe's counter-clockwise matrix angle into clockwise quarter turns, swapping sides for 90/270", async () => {
    for (const name of ["rotated90", "rotated180"]) {
      const { stdout } = await exec("ffprobe", ["-v", "error", "-print_format", "json", "-show_streams", fx(name)]);
      const stream = (JSON.parse(stdout) as { streams: Array<{ side_data_list?: Array<{ rotation?: number }> }> })
        .streams[0];
      const counterClockwise = stream?.side_data_list?.find((d) => d.rotation !== undefined)?.rotation;
      expect(counterClockwise).toBeDefined();
      const clockwise = (((-(counterClockwise ?? 0) % 360) + 360) % 360) as 0 | 90 | 180 | 270;
      expect(clockwise).not.toBe(0);
      const swapped = clockwise === 90 || clockwise === 270;
      expect((await probe(fx(name))).video).toMatchObject({
        rotation: clockwise,
        codedWidth: 320,
        codedHeight: 240,
        width: swapped ? 240 : 320,
        height: swapped ? 320 : 240,
      });
    }
  });

  it("reads the legacy clockwise `rotate` tag of older ffprobe builds, and snaps odd angles", () => {
    expect(rotationOf({ tags: { rotate: "90" } })).toBe(90);
    expect(rotationOf({ tags: { rotate: "270" } })).toBe(270);
    expect(rotationOf({ side_data_list: [{ side_data_type: "Display Matrix", rotation: -90 }] })).toBe(90);
    expect(rotationOf({ side_data_list: [{ side_data_type: "Display Matrix", rotation: 90 }] })).toBe(270);
    expect(rotationOf({ side_data_list: [{ side_data_type: "Display Matrix", rotation: -180 }] })).toBe(180);
    expect(rotationOf({ side_data_list: [{ side_data_type: "Display Matrix", rotation: -89.9 }] })).toBe(90);
    expect(rotationOf({})).toBe(0);
  });

  it("reads the bit depth from the pixel format", () => {
    expect(bitDepthOf("yuv420p")).toBe(8);
    expect(bitDepthOf("yuv420p10le")).toBe(10);
    expect(bitDepthOf("yuv422p12be")).toBe(12);
    expect(bitDepthOf("p010le")).toBe(10);
    expect(bitDepthOf("gray10le")).toBe(10);
    expect(bitDepthOf("nv12")).toBe(8);
    expect(bitDepthOf("rgb48le", "16")).toBe(16);
  });

  it("notices a plain `location` tag", async () => {
    expect((await probe(fx("location"))).hasLocation).toBe(true);
    expect((await probe(fx("mp4"))).hasLocation).toBe(false);
  });

  it("classifies what is not a usable video", async () => {
    expect(await codeOf(probe(fx("audioOnly")))).toBe("AUDIO_ONLY");
    // A cover picture is not video.
    expect(await codeOf(probe(fx("cover")))).toBe("AUDIO_ONLY");
    expect(await codeOf(probe(fx("subtitlesOnly")))).toBe("NO_VIDEO");
    expect(await codeOf(probe(fx("text")))).toBe("NOT_MEDIA");
    expect(await codeOf(probe(fx("image")))).toBe("NOT_MEDIA");
    expect(await codeOf(probe(fx("empty")))).toBe("EMPTY_FILE");
    expect(await codeOf(probe(join(dir, "does-not-exist.mp4")))).toBe("INPUT_NOT_FOUND");
    expect(await codeOf(probe(dir))).toBe("INPUT_NOT_FOUND");
  });

  it("says NOT_MEDIA for random bytes, whatever the extension", async () => {
    const noise = Buffer.alloc(4096);
    for (let i = 0; i < noise.length; i++) noise[i] = (i * 2654435761) >>> 24;
    for (const name of ["random.mp4", "random.bin", "random"]) {
      await writeFile(join(dir, name), noise);
      expect(await codeOf(probe(join(dir, name)))).toBe("NOT_MEDIA");
    }
  });

  it.each([
    ["mp4 (moov at the end)", "mp4"],
    ["faststart mp4 (moov first)", "faststart"],
    ["webm", "webm"],
  ])("says TRUNCATED for a %s cut at 50 % and at 90 %, never a bogus MediaInfo", async (_, key) => {
    for (const fraction of [0.5, 0.9]) {
      const path = await cut(fx(key), fraction, `${key}-${fraction * 100}.cut`);
      expect(await codeOf(probe(path))).toBe("TRUNCATED");
    }
  });

  it("says TRUNCATED or NOT_MEDIA for tiny cuts, never a crash", async () => {
    for (const bytes of [1, 7, 8, 24, 100, 1000]) {
      const whole = await readFile(fx("mp4"));
      const path = join(dir, `head-${bytes}.mp4`);
      await writeFile(path, whole.subarray(0, bytes));
      expect(["TRUNCATED", "NOT_MEDIA"]).toContain(await codeOf(probe(path)));
    }
  });
});

describe("probe: limits and options", () => {
  it("says TOO_LONG past maxDurationMs", async () => {
    expect(await codeOf(probe(fx("mp4"), { maxDurationMs: 1000 }))).toBe("TOO_LONG");
    expect((await probe(fx("mp4"), { maxDurationMs: 10_000 })).durationMs).toBeGreaterThan(1000);
  });

  it("says TOO_LARGE past maxBytes or maxPixels", async () => {
    expect(await codeOf(probe(fx("mp4"), { maxBytes: 1000 }))).toBe("TOO_LARGE");
    expect(await codeOf(probe(fx("mp4"), { maxPixels: 320 * 240 - 1 }))).toBe("TOO_LARGE");
    expect(await codeOf(probe(join(media, "vfr-no-audio.mp4"), { maxPixels: 1920 * 1080 }))).toBe("TOO_LARGE");
  });

  it("rejects bad options and inputs", async () => {
    expect(await codeOf(probe(fx("mp4"), { maxDurationMs: -1 }))).toBe("INVALID_OPTIONS");
    expect(await codeOf(probe(fx("mp4"), { nope: true } as ProbeOptions))).toBe("INVALID_OPTIONS");
    expect(await codeOf(probe(""))).toBe("INVALID_INPUT");
  });

  it("says ABORTED for an aborted signal", async () => {
    expect(await codeOf(probe(fx("mp4"), { signal: AbortSignal.abort() }))).toBe("ABORTED");
  });

  it("says FFMPEG_MISSING for a wrong ffprobe path", async () => {
    expect(await codeOf(probe(fx("mp4"), { ffprobePath: join(dir, "no-ffprobe") }))).toBe("FFMPEG_MISSING");
  });
});

describe("resolveTools", () => {
  it("finds ffmpeg and ffprobe with everything the package needs, once per path pair", async () => {
    const tools = await resolveTools();
    expect(tools.ffmpeg).toMatch(/ffmpeg$/);
    expect(tools.ffprobe).toMatch(/ffprobe$/);
    expect(tools.version).toMatch(/^\d+\./);
    expect(resolveTools()).toBe(resolveTools());
    expect(await resolveTools({ ffmpegPath: tools.ffmpeg, ffprobePath: tools.ffprobe })).toEqual(tools);
  });

  /** A fake tool: a shell script printing `version` for -version and the given lists. */
  async function fakeFfmpeg(name: string, version: string, encoders: string[], filters: string[]): Promise<string> {
    const path = join(dir, name);
    const list = (lines: string[]) => lines.map((l) => `echo '${l}'`).join("\n");
    await writeFile(
      path,
      `#!/bin/sh
case "$*" in
  *-version*) echo 'ffmpeg version ${version} Copyright (c) 2000-2024 the FFmpeg developers' ;;
  *-encoders*) echo 'Encoders:'; echo ' ------'
${list(encoders.map((e) => ` V....D ${e}              Some encoder`))} ;;
  *-filters*) echo 'Filters:'
${list(filters.map((f) => ` ..C ${f}             V->V       Some filter.`))} ;;
esac
`,
    );
    await chmod(path, 0o755);
    return path;
  }

  const allFilters = ["scale", "split", "fps", "format", "setsar", "zscale", "tonemap", "tile", "transpose"];

  it("says FFMPEG_MISSING, naming the encoders and filters missing and how to install them", async () => {
    const { ffprobe } = await resolveTools();
    const ffmpegPath = await fakeFfmpeg(
      "ffmpeg-lean",
      "6.1",
      ["aac"],
      allFilters.filter((f) => f !== "zscale"),
    );
    const error = await resolveTools({ ffmpegPath, ffprobePath: ffprobe }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TranscodeError);
    expect((error as TranscodeError).code).toBe("FFMPEG_MISSING");
    expect((error as TranscodeError).message).toMatch(/encoder libx264 and filter zscale/);
    expect((error as TranscodeError).message).toMatch(/apt-get install ffmpeg/);
    expect((error as TranscodeError).message).toMatch(/FFMPEG_PATH/);
  });

  it("says FFMPEG_MISSING for ffmpeg older than 5", async () => {
    const { ffprobe } = await resolveTools();
    const ffmpegPath = await fakeFfmpeg("ffmpeg-old", "4.4.2-0ubuntu0.22.04.1", ["libx264", "aac"], allFilters);
    const error = await resolveTools({ ffmpegPath, ffprobePath: ffprobe }).catch((e: unknown) => e);
    expect((error as TranscodeError).code).toBe("FFMPEG_MISSING");
    expect((error as TranscodeError).message).toMatch(/4\.4\.2.*version 5 or newer/);
  });

  it("accepts a complete (fake) build and reports its version", async () => {
    const { ffprobe } = await resolveTools();
    const ffmpegPath = await fakeFfmpeg("ffmpeg-full", "7.0.1", ["libx264", "aac"], allFilters);
    expect((await resolveTools({ ffmpegPath, ffprobePath: ffprobe })).version).toBe("7.0.1");
  });

  it("says FFMPEG_MISSING for a path that does not exist, and for FFMPEG_PATH", async () => {
    expect(await codeOf(resolveTools({ ffmpegPath: join(dir, "nothing-here") }))).toBe("FFMPEG_MISSING");
    expect(await codeOf(resolveTools({ ffmpegPath: "no-such-ffmpeg-on-path" }))).toBe("FFMPEG_MISSING");
    const saved = process.env.FFMPEG_PATH;
    process.env.FFMPEG_PATH = join(dir, "env-nothing");
    try {
      const error = await resolveTools().catch((e: unknown) => e);
      expect((error as TranscodeError).code).toBe("FFMPEG_MISSING");
      expect((error as TranscodeError).message).toContain("env-nothing");
    } finally {
      if (saved === undefined) delete process.env.FFMPEG_PATH;
      else process.env.FFMPEG_PATH = saved;
    }
  });
});

describe("run", () => {
  it("collects stdout and streams stderr lines", async () => {
    const { ffmpeg } = await resolveTools();
    const lines: string[] = [];
    const result = await run(ffmpeg, ["-hide_banner", "-version"], { onStderrLine: (l) => lines.push(l) });
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toMatch(/^ffmpeg version/);
  });

  it("rejects FFMPEG_FAILED with the stderr tail, the cause carrying the exit code", async () => {
    const { ffmpeg } = await resolveTools();
    const error = await run(ffmpeg, ["-hide_banner", "-i", join(dir, "missing.mp4")]).catch((e: unknown) => e);
    expect((error as TranscodeError).code).toBe("FFMPEG_FAILED");
    expect((error as TranscodeError).message).toContain("missing.mp4: No such file or directory");
    const cause = (error as TranscodeError).cause;
    expect(cause).toBeInstanceOf(ToolExitError);
    expect((cause as ToolExitError).exitCode).not.toBe(0);
    expect((cause as ToolExitError).stderrTail.length).toBeGreaterThan(0);
  });

  it("keeps only the last stderr lines, and resolves failures with allowFailure", async () => {
    const { ffmpeg } = await resolveTools();
    const result = await run(ffmpeg, ["-hide_banner", "-filters"], { stderrLines: 3, allowFailure: true });
    expect(result.exitCode).toBe(0);
    const failed = await run(ffmpeg, ["-hide_banner", "-i", join(dir, "missing.mp4")], { allowFailure: true });
    expect(failed.exitCode).not.toBe(0);
  });

  it("kills the child on abort and rejects ABORTED", async () => {
    const { ffmpeg } = await resolveTools();
    const controller = new AbortController();
    const started = Date.now();
    const running = run(ffmpeg, ["-hide_banner", "-re", "-f", "lavfi", "-i", "testsrc2=d=60", "-f", "null", "-"], {
      signal: controller.signal,
    });
    setTimeout(() => controller.abort(), 300);
    expect(await codeOf(running)).toBe("ABORTED");
    expect(Date.now() - started).toBeLessThan(5000);
    expect(await codeOf(run(ffmpeg, ["-version"], { signal: AbortSignal.abort() }))).toBe("ABORTED");
  });

  it("says FFMPEG_MISSING when the executable cannot start", async () => {
    expect(await codeOf(run(join(dir, "no-such-tool"), []))).toBe("FFMPEG_MISSING");
  });
});
