import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { type Manifest, Parser } from "m3u8-parser";
import { parse as parseMpd } from "mpd-parser";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { measureRendition, parseFfmpegMediaPlaylist } from "../measure.js";
import { parseInitSegment, parseMediaSegment, readBoxes } from "../mp4.js";
import { dashManifest, iframePlaylist, masterPlaylist, mediaPlaylist } from "../playlists.js";
import type { MeasuredRendition } from "../schema.js";

// A real CMAF HLS ladder from ffmpeg (7 s, 30 fps, two rungs + separate AAC audio, 2 s segments starting on
// forced IDRs), measured, then checked against ffprobe, videojs's m3u8-parser and mpd-parser, and ffmpeg's
// own HLS and DASH demuxers.

const exec = promisify(execFile);
const SECONDS = 7;
const FPS = 30;
const RUNGS = [
  { dir: "720p", width: 720, height: 1280 },
  { dir: "360p", width: 360, height: 640 },
] as const;

let root: string;
let video: MeasuredRendition[];
let audio: MeasuredRendition;
/** The playlists ffmpeg wrote, before ours replace them. */
const ffmpegPlaylists = new Map<string, string>();

async function ffprobe(args: string[]): Promise<Record<string, unknown>> {
  const { stdout } = await exec("ffprobe", ["-v", "error", "-of", "json", ...args], { maxBuffer: 64 << 20 });
  return JSON.parse(stdout) as Record<string, unknown>;
}

interface ProbedStream {
  codec_type: string;
  codec_name: string;
  profile?: string;
  level?: number;
  width?: number;
  height?: number;
  avg_frame_rate?: string;
  channels?: number;
  sample_rate?: string;
  extradata?: string;
  nb_read_packets?: string;
  nb_read_frames?: string;
}

const streamsOf = async (args: string[]): Promise<ProbedStream[]> =>
  ((await ffprobe(["-show_streams", ...args])).streams ?? []) as ProbedStream[];

/** Parse with videojs's m3u8-parser, failing on any warning or error it raises. */
function parseM3u8(text: string): Manifest & { iFramesOnly?: boolean } {
  const parser = new Parser();
  const problems: string[] = [];
  parser.on("warn", (event) => problems.push(event.message));
  parser.on("error", (event) => problems.push(event.message));
  parser.push(text);
  parser.end();
  expect(problems).toEqual([]);
  return parser.manifest;
}

/** RFC 8216 §4.1 peak segment bit rate, recomputed here from file sizes and EXTINF values. */
function rfcPeak(entries: Array<{ bits: number; seconds: number }>, target: number): number {
  let peak = 0;
  for (let i = 0; i < entries.length; i++) {
    let bits = 0;
    let seconds = 0;
    for (const entry of entries.slice(i)) {
      bits += entry.bits;
      seconds += entry.seconds;
      if (seconds > 1.5 * target) break;
      if (seconds >= 0.5 * target) peak = Math.max(peak, bits / seconds);
    }
  }
  return peak;
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "reelkit-playlists-"));
  // ffmpeg 5.1 names the init segments init_<stream>.mp4 when var_stream_map is used; measurements follow
  // whatever #EXT-X-MAP says.
  // biome-ignore format: one ffmpeg option per line
  await exec("ffmpeg", [
    "-hide_banner", "-loglevel", "error",
    "-f", "lavfi", "-i", `testsrc2=size=720x1280:rate=${FPS}:duration=${SECONDS}`,
    "-f", "lavfi", "-i", `sine=frequency=440:duration=${SECONDS}`,
    "-filter_complex", "[0:v]split=2[a][b];[a]scale=720:1280[v0];[b]scale=360:640[v1]",
    "-map", "[v0]", "-map", "[v1]", "-map", "1:a",
    "-c:v", "libx264", "-preset", "veryfast",
    "-force_key_frames", "expr:gte(t,n_forced*2)", "-sc_threshold", "0",
    "-c:a", "aac", "-b:a", "128k",
    "-f", "hls", "-hls_time", "2", "-hls_playlist_type", "vod",
    "-hls_segment_type", "fmp4", "-hls_fmp4_init_filename", "init.mp4",
    "-hls_segment_filename", "%v/seg_%03d.m4s",
    "-var_stream_map", "v:0,agroup:audio,name:720p v:1,agroup:audio,name:360p a:0,agroup:audio,name:audio",
    "-master_pl_name", "ffmpeg-master.m3u8",
    "%v/index.m3u8",
  ], { cwd: root });
  for (const dir of ["720p", "360p", "audio"]) {
    ffmpegPlaylists.set(dir, await readFile(join(root, dir, "index.m3u8"), "utf8"));
  }
  video = await Promise.all(RUNGS.map((r) => measureRendition(join(root, r.dir), "video")));
  audio = await measureRendition(join(root, "audio"), "audio");

  // Publish ours as transcode() does: media playlists replace ffmpeg's, plus I-frame, master and DASH.
  for (const r of [...video, audio]) await writeFile(join(root, r.dir, "index.m3u8"), mediaPlaylist(r));
  for (const r of video) await writeFile(join(root, r.dir, "iframes.m3u8"), iframePlaylist(r));
  await writeFile(join(root, "master.m3u8"), masterPlaylist([...video, audio]));
  await writeFile(join(root, "manifest.mpd"), dashManifest([...video, audio], SECONDS * 1000));
}, 120_000);

afterAll(() => rm(root, { recursive: true, force: true }));

describe("measureRendition on a real ffmpeg CMAF ladder", () => {
  it("measures every rendition with its picture or audio facts", () => {
    expect(video.map((r) => [r.kind, r.dir, r.width, r.height, r.frameRate, r.segments.length])).toEqual(
      RUNGS.map((r) => ["video", r.dir, r.width, r.height, FPS, 4]),
    );
    expect(audio).toMatchObject({ kind: "audio", dir: "audio", channels: 1, sampleRate: 44100, timescale: 44100 });
    for (const r of [...video, audio]) {
      expect(r.init.uri).toMatch(/^init(_\d+)?\.mp4$/);
      expect(r.segments.map((s) => s.uri)).toEqual(["seg_000.m4s", "seg_001.m4s", "seg_002.m4s", "seg_003.m4s"]);
    }
  });

  it("starts every segment with a sync sample whose range lies inside the file, from its moof", async () => {
    for (const r of [...video, audio]) {
      const init = parseInitSegment(await readFile(join(root, r.dir, r.init.uri)));
      expect((await stat(join(root, r.dir, r.init.uri))).size).toBe(r.init.bytes);
      for (const s of r.segments) {
        const bytes = await readFile(join(root, r.dir, s.uri));
        expect(bytes.length).toBe(s.bytes);
        const segment = parseMediaSegment(bytes, {
          trackId: init.trackId,
          ...(init.defaults ? { defaults: init.defaults } : {}),
        });
        expect(segment.firstSample.sync).toBe(true);
        expect(s.keyframe.offset + s.keyframe.length).toBeLessThanOrEqual(s.bytes);
        const boxAtRange = readBoxes(bytes).find((box) => box.offset === s.keyframe.offset);
        expect(boxAtRange?.type).toBe("moof");
      }
    }
  });

  it("sums segment durations to the clip length within one frame, and agrees with ffmpeg's EXTINFs", () => {
    for (const r of [...video, audio]) {
      const total = r.segments.reduce((sum, s) => sum + s.durationSeconds, 0);
      expect(Math.abs(total - SECONDS)).toBeLessThan(1 / FPS);
      const ffmpeg = parseFfmpegMediaPlaylist(ffmpegPlaylists.get(r.dir) ?? "");
      expect(r.segments.map((s) => s.durationSeconds)).toEqual(ffmpeg.segments.map((s) => expect.closeTo(s.extinf, 5)));
    }
  });

  it("writes the codecs strings ffprobe reports", async () => {
    const profiles: Record<string, number> = { Baseline: 0x42, "Constrained Baseline": 0x42, Main: 0x4d, High: 0x64 };
    const hex = (n: number) => n.toString(16).padStart(2, "0");
    for (const r of video) {
      const [stream] = await streamsOf(["-show_data", "-select_streams", "v:0", join(root, r.dir, "index.m3u8")]);
      // The avcC's second to fourth bytes: profile, constraint flags, level. ffprobe prints it as a hex dump.
      const avcC = (stream?.extradata ?? "")
        .split("\n")
        .map((line) => line.slice(10, 50).replaceAll(" ", ""))
        .join("");
      const profile = profiles[stream?.profile ?? ""] ?? -1;
      expect(r.codecs).toBe(`avc1.${hex(profile)}${avcC.slice(4, 6)}${hex(stream?.level ?? -1)}`);
      expect(stream).toMatchObject({ codec_name: "h264", width: r.width, height: r.height, avg_frame_rate: "30/1" });
    }
    const [sound] = await streamsOf(["-select_streams", "a:0", join(root, "audio", "index.m3u8")]);
    expect(sound).toMatchObject({ codec_name: "aac", profile: "LC", channels: audio.channels });
    expect(Number(sound?.sample_rate)).toBe(audio.sampleRate);
    expect(audio.codecs).toBe("mp4a.40.2");
  });
});

describe("our playlists on the real ladder", () => {
  it("master: parses independently with the measured values, and rates recomputed from the files", async () => {
    const master = parseM3u8(await readFile(join(root, "master.m3u8"), "utf8"));
    expect(master.version).toBe(7);
    expect(master.independentSegments).toBe(true);
    expect(master.mediaGroups?.AUDIO).toEqual({
      audio: { default: { default: true, autoselect: true, uri: "audio/index.m3u8" } },
    });
    const variants = master.playlists ?? [];
    expect(variants.map((p) => p.uri)).toEqual(["720p/index.m3u8", "360p/index.m3u8"]);

    // Independently: sizes from the file system, durations from ffmpeg's playlists.
    const entries = async (dir: string) => {
      const listed = parseFfmpegMediaPlaylist(ffmpegPlaylists.get(dir) ?? "").segments;
      return Promise.all(
        listed.map(async (s) => ({ bits: (await stat(join(root, dir, s.uri))).size * 8, seconds: s.extinf })),
      );
    };
    const audioEntries = await entries("audio");
    const audioPeak = rfcPeak(audioEntries, 3); // ceil(2.020) = 3
    const average = (list: Array<{ bits: number; seconds: number }>) =>
      list.reduce((n, e) => n + e.bits, 0) / list.reduce((n, e) => n + e.seconds, 0);
    const audioAverage = average(audioEntries);

    for (const [i, variant] of variants.entries()) {
      const r = video[i] as MeasuredRendition;
      const a = variant.attributes;
      const bandwidth = a.BANDWIDTH ?? 0;
      const averageBandwidth = Number(a["AVERAGE-BANDWIDTH"]);
      expect(bandwidth).toBeGreaterThanOrEqual(averageBandwidth);
      expect(averageBandwidth).toBeGreaterThan(0);
      expect(a.RESOLUTION).toEqual({ width: r.width, height: r.height });
      expect(a["FRAME-RATE"]).toBe(30);
      expect(a.CODECS).toBe(`${r.codecs},mp4a.40.2`);
      expect(a.AUDIO).toBe("audio");
      expect(a["CLOSED-CAPTIONS"]).toBe("NONE");
      const videoEntries = await entries(r.dir);
      // EXTINFs from ffmpeg have 6 decimals, so the two agree to far better than 0.05 %.
      expect(bandwidth / (rfcPeak(videoEntries, 2) + audioPeak)).toBeCloseTo(1, 3);
      expect(averageBandwidth / (average(videoEntries) + audioAverage)).toBeCloseTo(1, 3);
    }

    expect(master.iFramePlaylists.map((p) => p.uri)).toEqual(["720p/iframes.m3u8", "360p/iframes.m3u8"]);
    for (const [i, p] of master.iFramePlaylists.entries()) {
      const r = video[i] as MeasuredRendition;
      expect(p.attributes).toMatchObject({ CODECS: r.codecs, RESOLUTION: { width: r.width, height: r.height } });
      const bandwidth = p.attributes.BANDWIDTH as number;
      const average = p.attributes["AVERAGE-BANDWIDTH"] as number;
      expect(bandwidth).toBeGreaterThanOrEqual(average);
      expect(average).toBeGreaterThan(0);
      // far below the full variant: only one frame in 60
      expect(bandwidth).toBeLessThan(Number((variants[i]?.attributes.BANDWIDTH as number) / 2));
    }
  });

  it("media and I-frame playlists: parse independently, list every file, byte ranges at each moof", async () => {
    for (const r of [...video, audio]) {
      const media = parseM3u8(await readFile(join(root, r.dir, "index.m3u8"), "utf8"));
      expect(media).toMatchObject({ version: 7, playlistType: "VOD", endList: true, independentSegments: true });
      expect(media.segments.map((s) => [s.uri, s.map?.uri])).toEqual(r.segments.map((s) => [s.uri, r.init.uri]));
      for (const s of media.segments) expect(Math.round(s.duration)).toBeLessThanOrEqual(media.targetDuration ?? 0);
      expect(media.segments.reduce((n, s) => n + s.duration, 0)).toBeCloseTo(SECONDS, 1);
    }
    for (const r of video) {
      const iframes = parseM3u8(await readFile(join(root, r.dir, "iframes.m3u8"), "utf8"));
      expect(iframes.iFramesOnly).toBe(true);
      for (const [i, s] of iframes.segments.entries()) {
        const measured = r.segments[i];
        expect(s.uri).toBe(measured?.uri);
        expect(s.map?.uri).toBe(r.init.uri);
        expect(s.byterange).toEqual(measured?.keyframe);
        const file = await readFile(join(root, r.dir, s.uri));
        const offset = s.byterange?.offset ?? -1;
        expect(file.toString("latin1", offset + 4, offset + 8)).toBe("moof");
      }
    }
  });

  it("ffmpeg's own HLS demuxer reads our master and media playlists", async () => {
    const streams = await streamsOf([join(root, "master.m3u8")]);
    expect(streams.map((s) => [s.codec_type, s.width ?? null]).sort()).toEqual(
      [
        ["audio", null],
        ["video", 360],
        ["video", 720],
      ].sort(),
    );
    const [packets] = await streamsOf(["-count_packets", "-select_streams", "v:0", join(root, "720p", "index.m3u8")]);
    expect(Number(packets?.nb_read_packets)).toBe(SECONDS * FPS);
  });

  it("every I-frame byte range decodes on its own after the init segment: one key frame", async () => {
    for (const r of video) {
      const init = await readFile(join(root, r.dir, r.init.uri));
      for (const s of r.segments) {
        const file = await readFile(join(root, r.dir, s.uri));
        const sample = join(root, `${r.dir}-iframe-${s.uri}.mp4`);
        await writeFile(
          sample,
          Buffer.concat([init, file.subarray(s.keyframe.offset, s.keyframe.offset + s.keyframe.length)]),
        );
        const probed = await ffprobe([
          "-count_frames",
          "-select_streams",
          "v:0",
          "-show_entries",
          "stream=nb_read_frames:frame=key_frame,pict_type",
          sample,
        ]);
        expect(probed.streams).toEqual([{ nb_read_frames: "1" }]);
        expect(probed.frames).toMatchObject([{ key_frame: 1, pict_type: "I" }]);
      }
    }
  });

  it("DASH: mpd-parser finds every representation and segment, and ffmpeg's DASH demuxer reads it", async () => {
    const mpd = await readFile(join(root, "manifest.mpd"), "utf8");
    const parsed = parseMpd(mpd, { manifestUri: `file://${root}/manifest.mpd` });
    expect(parsed.duration).toBe(SECONDS);
    expect(parsed.playlists.map((p) => [p.attributes.NAME, p.attributes.CODECS, p.attributes.RESOLUTION])).toEqual(
      video.map((r) => [r.dir, r.codecs, { width: r.width, height: r.height }]),
    );
    const audioPlaylists = Object.values(parsed.mediaGroups.AUDIO).flatMap((group) =>
      Object.values(group).flatMap((g) => g.playlists),
    );
    expect(audioPlaylists.map((p) => p.attributes.CODECS)).toEqual(["mp4a.40.2"]);
    for (const [p, r] of [
      ...parsed.playlists.map((p, i) => [p, video[i]] as const),
      [audioPlaylists[0], audio] as const,
    ]) {
      expect(p?.attributes.BANDWIDTH).toBeGreaterThan(0);
      expect(p?.segments.map((s) => s.uri)).toEqual(r?.segments.map((s) => `${r.dir}/${s.uri}`));
      expect(p?.segments.map((s) => s.duration)).toEqual(r?.segments.map((s) => expect.closeTo(s.durationSeconds, 6)));
      for (const s of p?.segments ?? []) expect(existsSync(join(root, s.uri))).toBe(true);
      expect(p?.segments[0]?.map?.uri).toBe(`${r?.dir}/${r?.init.uri}`);
    }

    // One stream at a time: reading all at once, ffmpeg 5.1's DASH demuxer drops a packet of the second rung.
    const count = async (stream: string) => {
      const [probed] = await streamsOf(["-count_packets", "-select_streams", stream, join(root, "manifest.mpd")]);
      return [probed?.codec_type, probed?.width ?? null, Number(probed?.nb_read_packets)];
    };
    expect(await count("v:0")).toEqual(["video", 720, SECONDS * FPS]);
    expect(await count("v:1")).toEqual(["video", 360, SECONDS * FPS]);
    // As many AAC frames as the segments' truns list.
    let frames = 0;
    for (const s of audio.segments) frames += parseMediaSegment(await readFile(join(root, "audio", s.uri))).sampleCount;
    expect(frames).toBe(Math.ceil((audio.segments.reduce((n, s) => n + s.durationSeconds, 0) * 44100) / 1024));
    expect(await count("a:0")).toEqual(["audio", null, frames]);
  });
});
