// The ffmpeg command line for a ladder, built by pure code so it can be read and tested without
// running ffmpeg. One process decodes the source once and writes every rung, the audio rendition,
// the poster and the storyboard sprite.
import type { Ladder, MediaInfo, Rendition } from "./schema.js";

/** Where each output goes, relative to the work folder. */
export const layout = {
  playlist: "index.m3u8",
  init: "init.mp4",
  segment: "seg_%03d.m4s",
  poster: "poster.jpg",
  sprite: "storyboard.jpg",
  audioDir: "audio",
} as const;

/** Thumbnails of the storyboard: at most this many, one every `interval` seconds. */
export const storyboardLimit = 100;

export interface Storyboard {
  intervalSeconds: number;
  count: number;
  columns: number;
  rows: number;
  width: number;
  height: number;
}

/** How many storyboard thumbnails, how far apart, and how they are tiled. */
export function planStoryboard(ladder: Ladder): Storyboard {
  const seconds = ladder.source.durationMs / 1000;
  const intervalSeconds = Math.max(1, Math.ceil(seconds / storyboardLimit));
  const count = Math.max(1, Math.ceil(seconds / intervalSeconds));
  const columns = Math.min(10, count);
  const rows = Math.ceil(count / columns);
  // The long side is 160 px, the other follows the picture, both even.
  const { width: w, height: h } = ladder.source;
  const scale = 160 / Math.max(w, h);
  const even = (n: number) => Math.max(2, 2 * Math.round(n / 2));
  return { intervalSeconds, count, columns, rows, width: even(w * scale), height: even(h * scale) };
}

/** The tone-mapping chain from an HDR transfer to SDR BT.709 (zimg), or nothing for SDR sources. */
export function toneMap(hdr: MediaInfo["video"]["hdr"]): string[] {
  if (hdr === "sdr") return [];
  const transfer = hdr === "hlg" ? "arib-std-b67" : "smpte2084";
  return [
    `zscale=tin=${transfer}:pin=bt2020:min=bt2020nc:t=linear:npl=100`,
    "format=gbrpf32le",
    "zscale=p=bt709",
    "tonemap=tonemap=hable:desat=0",
    "zscale=t=bt709:m=bt709:r=tv",
  ];
}

/** The filter graph: decode once, tone-map once, split to every rung, the poster and the sprite. */
export function filterGraph(info: MediaInfo, ladder: Ladder, storyboard: Storyboard): string {
  const n = ladder.renditions.length;
  const head = [...toneMap(info.video.hdr), "format=yuv420p"].join(",");
  const branches = [...ladder.renditions.map((_, i) => `[s${i}]`), "[sposter]", "[ssprite]"].join("");
  const top = ladder.renditions[0];
  const lines = [`[0:v]${head},split=${n + 2}${branches}`];
  ladder.renditions.forEach((r, i) => {
    // fps first so the scaler works on the frames kept; CFR at a rate with a frame on every 2 s boundary.
    lines.push(`[s${i}]fps=${r.frameRate},scale=${r.width}:${r.height}:flags=bicubic,setsar=1[v${i}]`);
  });
  lines.push(`[sposter]scale=${top?.width ?? 2}:${top?.height ?? 2},setsar=1[poster]`);
  lines.push(
    // The first frame, then one per interval (fps=1/n would give none for a clip shorter than n/2).
    `[ssprite]select='isnan(prev_selected_t)+gte(t-prev_selected_t,${storyboard.intervalSeconds})',` +
      `scale=${storyboard.width}:${storyboard.height},setsar=1,` +
      `tile=${storyboard.columns}x${storyboard.rows}[sprite]`,
  );
  return lines.join(";");
}

function videoArgs(r: Rendition, i: number, ladder: Ladder): string[] {
  const gop = String(Math.round(r.frameRate * ladder.keyframeSeconds));
  return [
    "-map",
    `[v${i}]`,
    `-c:v:${i}`,
    "libx264",
    `-profile:v:${i}`,
    r.profile,
    `-level:v:${i}`,
    r.level,
    `-b:v:${i}`,
    String(r.bitrate),
    `-maxrate:v:${i}`,
    String(r.maxBitrate),
    `-bufsize:v:${i}`,
    String(r.bufferSize),
    // Keyframes by time on every boundary and nowhere else: rungs stay aligned, segments start on IDRs.
    `-g:v:${i}`,
    gop,
    `-keyint_min:v:${i}`,
    gop,
  ];
}

export interface EncodeArgsOptions {
  /** x264 preset: speed against size. @default "veryfast" */
  preset?: string;
}

/** The whole ffmpeg argument list (without the executable). `workDir` must exist. */
export function encodeArgs(
  input: string,
  workDir: string,
  info: MediaInfo,
  ladder: Ladder,
  options: EncodeArgsOptions = {},
): string[] {
  const storyboard = planStoryboard(ladder);
  const names = ladder.renditions.map((r) => r.name);
  const audio = ladder.audio;
  const streamMap = [
    ...names.map((name, i) => `v:${i},${audio ? "agroup:audio," : ""}name:${name}`),
    ...(audio ? [`a:0,agroup:audio,name:${layout.audioDir}`] : []),
  ].join(" ");
  return [
    "-hide_banner",
    "-nostdin",
    "-y",
    "-progress",
    "pipe:1",
    "-nostats",
    "-i",
    input,
    "-filter_complex",
    filterGraph(info, ladder, storyboard),
    ...ladder.renditions.flatMap((r, i) => videoArgs(r, i, ladder)),
    "-preset",
    options.preset ?? "veryfast",
    "-sc_threshold",
    "0",
    "-force_key_frames",
    `expr:gte(t,n_forced*${ladder.keyframeSeconds})`,
    "-pix_fmt",
    "yuv420p",
    "-color_primaries",
    "bt709",
    "-color_trc",
    "bt709",
    "-colorspace",
    "bt709",
    ...(audio
      ? [
          "-map",
          "0:a:0",
          "-c:a",
          "aac",
          "-b:a",
          String(audio.bitrate),
          "-ac",
          String(audio.channels),
          "-ar",
          String(audio.sampleRate),
        ]
      : []),
    // Nothing of the source's metadata survives: no GPS, no creation tags, no chapters, no data tracks.
    "-map_metadata",
    "-1",
    "-map_chapters",
    "-1",
    "-f",
    "hls",
    "-hls_time",
    String(ladder.segmentSeconds),
    "-hls_playlist_type",
    "vod",
    "-hls_segment_type",
    "fmp4",
    "-hls_flags",
    "independent_segments",
    "-hls_fmp4_init_filename",
    layout.init,
    "-hls_segment_filename",
    `${workDir}/%v/${layout.segment}`,
    "-var_stream_map",
    streamMap,
    "-master_pl_name",
    "ffmpeg-master.m3u8",
    `${workDir}/%v/${layout.playlist}`,
    "-map",
    "[poster]",
    "-frames:v",
    "1",
    "-q:v",
    "3",
    "-map_metadata",
    "-1",
    `${workDir}/${layout.poster}`,
    "-map",
    "[sprite]",
    "-frames:v",
    "1",
    "-q:v",
    "5",
    "-map_metadata",
    "-1",
    `${workDir}/${layout.sprite}`,
  ];
}

const timestamp = (seconds: number) => {
  const ms = Math.round(seconds * 1000);
  const h = Math.floor(ms / 3_600_000);
  const m = Math.floor((ms % 3_600_000) / 60_000);
  const s = Math.floor((ms % 60_000) / 1000);
  const pad = (n: number, w = 2) => String(n).padStart(w, "0");
  return `${pad(h)}:${pad(m)}:${pad(s)}.${pad(ms % 1000, 3)}`;
};

/** The WebVTT storyboard: one cue per thumbnail, pointing into the sprite with a media fragment. */
export function storyboardVtt(ladder: Ladder, spriteUri = layout.sprite): string {
  const board = planStoryboard(ladder);
  const seconds = ladder.source.durationMs / 1000;
  const cues = Array.from({ length: board.count }, (_, i) => {
    const start = i * board.intervalSeconds;
    const end = Math.min(seconds, (i + 1) * board.intervalSeconds);
    const x = (i % board.columns) * board.width;
    const y = Math.floor(i / board.columns) * board.height;
    return `${timestamp(start)} --> ${timestamp(end)}\n${spriteUri}#xywh=${x},${y},${board.width},${board.height}`;
  });
  return `WEBVTT\n\n${cues.join("\n\n")}\n`;
}

/** Parse one `-progress` block's `out_time_us` (microseconds encoded so far), if the line carries it. */
export function progressTime(line: string): number | undefined {
  const match = /^out_time_us=(\d+)$/.exec(line.trim());
  return match ? Number(match[1]) / 1000 : undefined;
}
