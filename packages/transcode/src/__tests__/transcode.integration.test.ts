import { execFile } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { Parser } from "m3u8-parser";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sharedDataDir } from "../../../../test/services.js";
import { TranscodeErrorCode } from "../errors.js";
import { probe } from "../probe.js";
import type { MediaInfo, TranscodeResult } from "../schema.js";
import { transcode } from "../transcode.js";

const exec = promisify(execFile);
const media = join(sharedDataDir(), "media");
let root: string;
beforeAll(async () => {
  if (!existsSync(media)) throw new Error(`shared media not found at ${media}: set REELKIT_SHARED_DATA`);
  root = await mkdtemp(join(tmpdir(), "reelkit-transcode-"));
});
afterAll(() => rm(root, { recursive: true, force: true }));

interface Playlist {
  segments: Array<{ duration: number; uri: string; byterange?: { length: number; offset: number } }>;
  playlists?: Array<{ uri: string; attributes: Record<string, unknown> }>;
  iFramePlaylists?: Array<{ uri: string; attributes: Record<string, unknown> }>;
  mediaGroups?: { AUDIO?: Record<string, Record<string, { uri: string }>> };
  targetDuration?: number;
  independentSegments?: boolean;
}

async function parsePlaylist(path: string): Promise<Playlist> {
  const parser = new Parser();
  parser.push(await readFile(path, "utf8"));
  parser.end();
  return parser.manifest as Playlist;
}

async function ffprobe(args: string[]): Promise<Record<string, unknown>> {
  const { stdout } = await exec("ffprobe", ["-v", "error", "-print_format", "json", ...args]);
  return JSON.parse(stdout) as Record<string, unknown>;
}

/** The first frame of init + segment, decoded by ffprobe: it must be a keyframe. */
async function firstFrame(dir: string, init: string, segment: string) {
  const joined = join(root, `probe-${Math.random().toString(36).slice(2)}.mp4`);
  await writeFile(joined, Buffer.concat([await readFile(join(dir, init)), await readFile(join(dir, segment))]));
  try {
    const out = await ffprobe(["-select_streams", "v:0", "-read_intervals", "%+#1", "-show_frames", joined]);
    return (out.frames as Array<{ key_frame: number; pict_type: string }>)[0];
  } finally {
    await rm(joined, { force: true });
  }
}

const sources = readdirSync(existsSync(media) ? media : ".").filter((f) => /\.(mp4|mov|webm)$/.test(f));

describe.each(sources)("transcode %s", (file) => {
  let info: MediaInfo;
  let result: TranscodeResult;
  let out: string;
  let master: Playlist;
  const progress: number[] = [];

  beforeAll(async () => {
    info = await probe(join(media, file));
    out = join(root, file.replace(/\W/g, "_"));
    const job = transcode(join(media, file), out);
    job.on("progress", (p) => progress.push(p.percent));
    result = await job;
    master = await parsePlaylist(join(out, "master.m3u8"));
  }, 180_000);

  it("reports progress up to 100 %", () => {
    expect(progress.at(-1)).toBe(100);
    expect(progress.every((p, i) => i === 0 || p >= (progress[i - 1] ?? 0))).toBe(true);
  });

  it("writes a master playlist an independent parser reads, with Apple's attributes", () => {
    const variants = master.playlists ?? [];
    expect(variants.length).toBeGreaterThan(0);
    for (const v of variants) {
      const a = v.attributes as {
        BANDWIDTH: number;
        "AVERAGE-BANDWIDTH": number;
        CODECS: string;
        RESOLUTION: { width: number; height: number };
        "FRAME-RATE": number;
        AUDIO?: string;
      };
      expect(Number(a.BANDWIDTH)).toBeGreaterThanOrEqual(Number(a["AVERAGE-BANDWIDTH"]));
      expect(Number(a["AVERAGE-BANDWIDTH"])).toBeGreaterThan(0);
      expect(a.CODECS).toMatch(/^avc1\.[0-9a-f]{6}(,mp4a\.40\.2)?$/i);
      expect(a["FRAME-RATE"]).toBeGreaterThan(0);
      // Audio plays from its own rendition, present exactly when the source has audio.
      expect(a.AUDIO !== undefined).toBe(info.audio !== null);
      expect(a.CODECS.includes("mp4a")).toBe(info.audio !== null);
    }
    expect(master.iFramePlaylists?.length).toBe(variants.length);
    expect(master.independentSegments).toBe(true);
  });

  it("keeps every rung upright, even, square-pixelled and no larger than the source", () => {
    const video = result.renditions.filter((r) => r.kind === "video");
    const shortSide = Math.min(info.video.width, info.video.height);
    for (const r of video) {
      const { width = 0, height = 0 } = r;
      expect(width % 2).toBe(0);
      expect(height % 2).toBe(0);
      expect(Math.min(width, height)).toBeLessThanOrEqual(shortSide);
      // Same orientation as the displayed source (a rotated landscape-coded clip comes out 9:16).
      expect(Math.sign(width - height)).toBe(Math.sign(info.video.width - info.video.height));
      expect(Math.abs(width / height - info.video.width / info.video.height)).toBeLessThan(0.02);
    }
  });

  it("starts every segment of every rung on a keyframe, at the same boundaries in every rung", async () => {
    const video = result.renditions.filter((r) => r.kind === "video");
    // Every boundary but the end falls on the 2 s grid in every rung; the last segment ends with the
    // source, within a frame of the slowest rung.
    const boundaries = video.map((r) =>
      r.segments
        .slice(0, -1)
        .map((s) => s.durationSeconds.toFixed(3))
        .join(","),
    );
    expect(new Set(boundaries).size).toBe(1);
    const slowest = Math.min(...video.map((r) => r.frameRate ?? 30));
    const lasts = video.map((r) => r.segments.at(-1)?.durationSeconds ?? 0);
    expect(Math.max(...lasts) - Math.min(...lasts)).toBeLessThanOrEqual(1 / slowest + 0.001);
    for (const r of video) {
      for (const segment of r.segments) {
        const frame = await firstFrame(join(out, r.dir), r.init.uri, segment.uri);
        expect(frame?.key_frame).toBe(1);
        expect(frame?.pict_type).toBe("I");
      }
    }
  });

  it("ends with the source's video, within one frame", async () => {
    // The output timeline starts at 0 like the source's; a video track that starts late (the rotated
    // clip's starts at 83 ms) is filled from its first frame, so compare with where the source's video ends.
    const source = await ffprobe([
      "-select_streams",
      "v:0",
      "-show_entries",
      "stream=start_time,duration:format=duration",
      join(media, file),
    ]);
    const stream = (source.streams as Array<{ start_time?: string; duration?: string }>)[0];
    const end =
      stream?.duration !== undefined
        ? Math.max(0, Number(stream.start_time ?? 0)) + Number(stream.duration)
        : Number((source.format as { duration: string }).duration);
    for (const r of result.renditions.filter((x) => x.kind === "video")) {
      const seconds = r.segments.reduce((t, s) => t + s.durationSeconds, 0);
      const frame = 1 / (r.frameRate ?? 30);
      expect(Math.abs(seconds - end)).toBeLessThanOrEqual(frame + 0.001);
    }
  });

  it("writes SDR BT.709 with no rotation and none of the source's metadata", async () => {
    const top = result.renditions.find((r) => r.kind === "video");
    if (top === undefined) throw new Error("no video rendition");
    const out1 = await ffprobe(["-show_streams", "-show_format", join(out, top.dir, "index.m3u8")]);
    const stream = (out1.streams as Array<Record<string, unknown>>)[0] ?? {};
    expect(stream.pix_fmt).toBe("yuv420p");
    expect(stream.color_transfer).toBe("bt709");
    expect(stream.sample_aspect_ratio ?? "1:1").toBe("1:1");
    expect(JSON.stringify(stream.side_data_list ?? [])).not.toMatch(/rotation/i);
    const tags = JSON.stringify([(out1.format as { tags?: unknown }).tags ?? {}, stream.tags ?? {}]).toLowerCase();
    expect(tags).not.toMatch(/location|iso6709|com\.apple|creation_time|make|model/);
  });

  it("writes a poster, a storyboard sprite and its WebVTT", async () => {
    expect(existsSync(join(out, "poster.jpg"))).toBe(true);
    expect(existsSync(join(out, "storyboard.jpg"))).toBe(true);
    const vtt = await readFile(join(out, "storyboard.vtt"), "utf8");
    expect(vtt.startsWith("WEBVTT")).toBe(true);
    expect(vtt).toMatch(/storyboard\.jpg#xywh=\d+,\d+,\d+,\d+/);
  });
});

describe("transcode outcomes", () => {
  const clip = () => join(media, "portrait-1080x1920.mp4");
  const leftovers = (dir: string) => readdirSync(dir).filter((f) => f.includes(".part-"));

  it.each([
    ["a text file", "notes.txt", Buffer.from("hello, not a video\n".repeat(100)), TranscodeErrorCode.NOT_MEDIA],
    ["an empty file", "empty.mp4", Buffer.alloc(0), TranscodeErrorCode.EMPTY_FILE],
  ])("refuses %s with its code and publishes nothing", async (_label, name, bytes, code) => {
    const dir = await mkdtemp(join(root, "bad-"));
    await writeFile(join(dir, name), bytes);
    await expect(transcode(join(dir, name), join(dir, "out"))).rejects.toMatchObject({ code });
    expect(existsSync(join(dir, "out"))).toBe(false);
    expect(leftovers(dir)).toEqual([]);
  });

  it("refuses an audio-only file", async () => {
    const dir = await mkdtemp(join(root, "audio-"));
    const input = join(dir, "tone.m4a");
    await exec("ffmpeg", ["-v", "error", "-f", "lavfi", "-i", "sine=duration=2", "-c:a", "aac", input]);
    await expect(transcode(input, join(dir, "out"))).rejects.toMatchObject({ code: TranscodeErrorCode.AUDIO_ONLY });
    expect(existsSync(join(dir, "out"))).toBe(false);
  });

  it("aborts on its signal: ffmpeg is killed and nothing appears", async () => {
    const dir = await mkdtemp(join(root, "abort-"));
    const controller = new AbortController();
    const job = transcode(join(media, "vfr-no-audio.mp4"), join(dir, "out"), { signal: controller.signal });
    job.on("progress", (p) => {
      if (p.stage === "encode") controller.abort();
    });
    await expect(job).rejects.toMatchObject({ code: TranscodeErrorCode.ABORTED });
    expect(existsSync(join(dir, "out"))).toBe(false);
    expect(leftovers(dir)).toEqual([]);
  });

  it("refuses an existing output folder unless forced, then replaces it whole", async () => {
    const dir = await mkdtemp(join(root, "exists-"));
    const target = join(dir, "out");
    await mkdir(target);
    await writeFile(join(target, "old.txt"), "old");
    await expect(transcode(clip(), target)).rejects.toMatchObject({ code: TranscodeErrorCode.OUTPUT_EXISTS });
    expect(existsSync(join(target, "old.txt"))).toBe(true);
    await transcode(clip(), target, { force: true });
    expect(existsSync(join(target, "old.txt"))).toBe(false);
    expect(existsSync(join(target, "master.m3u8"))).toBe(true);
    expect(leftovers(dir)).toEqual([]);
  }, 60_000);

  it("with fastStart, publishes the lowest rung alone first, then the whole ladder", async () => {
    const dir = await mkdtemp(join(root, "fast-"));
    const target = join(dir, "out");
    const seen: Array<{ full: boolean; variants: number }> = [];
    const job = transcode(clip(), target, { fastStart: true });
    job.on("playable", (e) => {
      const master = readFileSync(join(target, "master.m3u8"), "utf8");
      seen.push({ full: e.full, variants: master.split("#EXT-X-STREAM-INF").length - 1 });
    });
    const result = await job;
    const rungs = result.renditions.filter((r) => r.kind === "video").length;
    expect(seen).toEqual([
      { full: false, variants: 1 },
      { full: true, variants: rungs },
    ]);
    expect(rungs).toBeGreaterThan(1);
    expect(leftovers(dir)).toEqual([]);
  }, 120_000);

  it("with fastStart over an existing folder, keeps the old ladder whole until the new one is", async () => {
    const dir = await mkdtemp(join(root, "fast-force-"));
    const target = join(dir, "out");
    await mkdir(target);
    await writeFile(join(target, "old.txt"), "old ladder");
    const controller = new AbortController();
    const full: boolean[] = [];
    const job = transcode(clip(), target, { force: true, fastStart: true, signal: controller.signal });
    job.on("playable", (e) => full.push(e.full));
    job.on("progress", (p) => {
      if (p.stage === "encode" && p.percent > 30) controller.abort();
    });
    await expect(job).rejects.toMatchObject({ code: TranscodeErrorCode.ABORTED });
    expect(full).toEqual([]);
    expect(existsSync(join(target, "old.txt"))).toBe(true);
    expect(leftovers(dir)).toEqual([]);
  }, 60_000);

  it("refuses an outDir with '%' (ffmpeg would read it as a pattern)", async () => {
    await expect(transcode(clip(), join(root, "out%d"))).rejects.toMatchObject({
      code: TranscodeErrorCode.INVALID_INPUT,
    });
  });

  it("rejects unknown options with INVALID_OPTIONS", async () => {
    await expect(transcode(clip(), join(root, "x"), { bogus: 1 } as never)).rejects.toMatchObject({
      code: TranscodeErrorCode.INVALID_OPTIONS,
    });
  });
});
