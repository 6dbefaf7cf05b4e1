// Helpers of ladder.bench.ts: run ffmpeg and measure its wall and CPU time, and derive the
// "one ffmpeg run per rung" peer from our own single-pass command, so both use the same settings.
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";

export interface Timed {
  /** Wall time from spawn to exit, seconds. */
  wallS: number;
  /** user + sys CPU of ffmpeg (and its threads), seconds, from bash's `times` after it exited. */
  cpuS: number;
  /** The same from this process's `cutime + cstime` in /proc/self/stat (a cross-check; 10 ms ticks). */
  procCpuS: number;
  stderr: string;
}

const clockTicks = 100; // getconf CLK_TCK on Linux

/** CPU seconds of every waited-for child of this process so far (`cutime + cstime`). */
export function childrenCpuSeconds(): number {
  const stat = readFileSync("/proc/self/stat", "utf8");
  // Fields after "pid (comm) ": state is field 3; cutime and cstime are fields 16 and 17.
  const fields = stat.slice(stat.lastIndexOf(") ") + 2).split(" ");
  return (Number(fields[13]) + Number(fields[14])) / clockTicks;
}

/** Parse bash's `times` output: its second line is the children's user and sys time. */
export function parseTimes(text: string): number {
  const line = text.trim().split("\n")[1] ?? "";
  const parts = [...line.matchAll(/(\d+)m([\d.]+)s/g)].map((m) => Number(m[1]) * 60 + Number(m[2]));
  if (parts.length !== 2) throw new Error(`unexpected output of bash times: ${JSON.stringify(text)}`);
  return (parts[0] ?? 0) + (parts[1] ?? 0);
}

/**
 * Run `ffmpeg args` as `bash -c 'ffmpeg "$@"; times >&3'`: the shell waits for ffmpeg and `times`
 * prints its children's user and sys CPU (getrusage RUSAGE_CHILDREN) on fd 3, a pipe of ours.
 * (`process.resourceUsage()` cannot do this: it is RUSAGE_SELF and never counts children.)
 */
export function runTimed(ffmpeg: string, args: readonly string[]): Promise<Timed> {
  const cpuBefore = childrenCpuSeconds();
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn("bash", ["-c", '"$@"; rc=$?; times >&3; exit $rc', "bash", ffmpeg, ...args], {
      stdio: ["ignore", "ignore", "pipe", "pipe"],
    });
    let stderr = "";
    let times = "";
    child.stderr?.setEncoding("utf8").on("data", (text: string) => {
      stderr += text;
    });
    const fd3 = child.stdio[3];
    if (fd3 === null || fd3 === undefined || !("on" in fd3)) throw new Error("no fd 3 pipe");
    fd3.on("data", (chunk: Buffer) => {
      times += chunk.toString("utf8");
    });
    child.on("error", reject);
    child.on("close", (code) => {
      const wallS = (performance.now() - started) / 1000;
      if (code !== 0) {
        reject(new Error(`ffmpeg exited with ${code}: ${stderr.trim().split("\n").slice(-15).join("\n")}`));
        return;
      }
      try {
        resolve({ wallS, cpuS: parseTimes(times), procCpuS: childrenCpuSeconds() - cpuBefore, stderr });
      } catch (error) {
        reject(error);
      }
    });
  });
}

function optionValue(args: readonly string[], flag: string): string {
  const i = args.indexOf(flag);
  const value = args[i + 1];
  if (i < 0 || value === undefined) throw new Error(`our ffmpeg command has no ${flag}: encodeArgs changed`);
  return value;
}

/**
 * Our command without the poster and storyboard-sprite outputs: the `split` loses its two extra
 * branches and the last two outputs go. Throws if encodeArgs no longer has the shape this expects,
 * so a change there cannot silently skew the comparison.
 */
export function withoutPosterAndSprite(args: readonly string[], rungs: number): string[] {
  const graph = optionValue(args, "-filter_complex");
  const lines = graph.split(";");
  const head = lines[0] ?? "";
  if (!head.includes(`split=${rungs + 2}`) || !head.endsWith("[sposter][ssprite]")) {
    throw new Error(`unexpected filter graph head: ${head}`);
  }
  const kept = [
    head.replace(`split=${rungs + 2}`, `split=${rungs}`).replace("[sposter][ssprite]", ""),
    ...lines.slice(1).filter((line) => !line.startsWith("[sposter]") && !line.startsWith("[ssprite]")),
  ];
  if (kept.length !== rungs + 1) throw new Error(`unexpected filter graph: ${graph}`);
  const posterMap = args.findIndex((a, i) => a === "-map" && args[i + 1] === "[poster]");
  if (posterMap < 0 || !args.slice(posterMap).includes("[sprite]")) throw new Error("no poster/sprite outputs found");
  const out = args.slice(0, posterMap);
  out[out.indexOf("-filter_complex") + 1] = kept.join(";");
  return out;
}

const globalFlags = [
  "-preset",
  "-sc_threshold",
  "-force_key_frames",
  "-pix_fmt",
  "-color_primaries",
  "-color_trc",
  "-colorspace",
];
const hlsFlags = ["-hls_time", "-hls_playlist_type", "-hls_segment_type", "-hls_flags", "-hls_fmp4_init_filename"];

/**
 * The peer of our single pass: one ffmpeg run for rung `i`, decoding the source itself, with
 * exactly the settings our command gives that rung (its per-stream `-x:v:i` options renamed to
 * stream 0, the shared encoder options, its filter chain after the same decode head) and the
 * same HLS fMP4 muxer options. `withAudio` adds the audio rendition as our command encodes it.
 */
export function oneRungArgs(
  ours: readonly string[],
  input: string,
  i: number,
  name: string,
  outDir: string,
  withAudio: boolean,
): string[] {
  const graph = optionValue(ours, "-filter_complex").split(";");
  const head = (graph[0] ?? "").replace(/,split=\d+(\[[^\]]+\])+$/, "");
  const chain = graph.find((line) => line.startsWith(`[s${i}]`));
  if (!head.startsWith("[0:v]") || chain === undefined || !chain.endsWith(`[v${i}]`)) {
    throw new Error(`unexpected filter graph: ${graph.join(";")}`);
  }
  const filter = `${head},${chain.slice(`[s${i}]`.length, -`[v${i}]`.length)}[v]`;
  const perStream: string[] = [];
  ours.forEach((flag, k) => {
    const match = /^-([a-z_]+):v:(\d+)$/.exec(flag);
    if (match && Number(match[2]) === i) perStream.push(`-${match[1]}:v:0`, ours[k + 1] ?? "");
  });
  if (perStream.length < 16) throw new Error(`too few per-stream options for rung ${i}: ${perStream.join(" ")}`);
  const audio = withAudio
    ? ["-map", "0:a:0", ...["-c:a", "-b:a", "-ac", "-ar"].flatMap((f) => [f, optionValue(ours, f)])]
    : [];
  return [
    "-hide_banner",
    "-nostdin",
    "-y",
    "-i",
    input,
    "-filter_complex",
    filter,
    "-map",
    "[v]",
    ...perStream,
    ...globalFlags.flatMap((f) => [f, optionValue(ours, f)]),
    ...audio,
    "-map_metadata",
    "-1",
    "-map_chapters",
    "-1",
    "-f",
    "hls",
    ...hlsFlags.flatMap((f) => [f, optionValue(ours, f)]),
    "-hls_segment_filename",
    `${outDir}/%v/seg_%03d.m4s`,
    "-var_stream_map",
    withAudio ? `v:0,agroup:audio,name:${name} a:0,agroup:audio,name:audio` : `v:0,name:${name}`,
    `${outDir}/%v/index.m3u8`,
  ];
}
