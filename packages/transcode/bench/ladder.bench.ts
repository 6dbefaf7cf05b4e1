// The ladder encoder against the obvious alternatives, in one run (2.5 minutes on 2 idle cores):
//
//   npm run bench -- transcode
//
// 1. A 15 s 1080x1920 clip with audio (the shared portrait clip looped by stream copy: real phone
//    footage, its original H.264 High encode), five rungs: our single-pass command (encodeArgs,
//    minus the poster and sprite outputs, which the peer does not make) against five separate
//    ffmpeg runs, one per rung, one after the other, each decoding the source itself with the same
//    settings (derived from our command), the audio encoded once (in the first). Wall and CPU time;
//    CPU is user+sys of each ffmpeg, from bash's `times` after it exited (RUSAGE_CHILDREN),
//    cross-checked against this process's cutime+cstime in /proc/self/stat.
// 2. Time until the clip is playable: transcode({ fastStart: true })'s first `playable` event
//    against a plain transcode's (its master published).
// 3. Per-title against fixed ladders on the six shared clips: total video bitrate over all rungs
//    (measured segment bytes / measured duration), and SSIM of the top rung against the source put
//    through the same decode head, fps and scale (stderr notes).
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { mkdir, mkdtemp, readdir, rm, stat } from "node:fs/promises";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { sharedDataDir } from "../../../test/services.js";
import { toneMap } from "../src/encode.js";
import {
  encodeArgs,
  type Ladder,
  type MediaInfo,
  measureComplexity,
  planLadder,
  probe,
  resolveTools,
  type TranscodeResult,
  transcode,
} from "../src/index.js";
import { childrenCpuSeconds, oneRungArgs, runTimed, withoutPosterAndSprite } from "./ffmpeg-timed.js";

const note = (text: string) => process.stderr.write(`${text}\n`);
const f2 = (n: number) => n.toFixed(2);
const media = join(sharedDataDir(), "media");
const portrait = join(media, "portrait-1080x1920.mp4");
const benchStarted = performance.now();
const loadAverage = () => readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
const treeBytes = async (dir: string): Promise<number> => {
  let total = 0;
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    total += entry.isDirectory() ? await treeBytes(path) : (await stat(path)).size;
  }
  return total;
};

interface Result {
  name: string;
  unit: string;
  ours: number;
  peer: string;
  peerValue: number;
}
const results: Result[] = [];

const tmp = await mkdtemp(join(tmpdir(), "reelkit-transcode-bench-"));
try {
  const { ffmpeg } = await resolveTools();

  // The 15 s clip: the shared 2.2 s portrait clip (1080x1920, 29.97 fps, H.264 High, AAC stereo)
  // looped by stream copy, so the decoder sees the phone's own encode.
  const clip = join(tmp, "portrait-15s.mp4");
  await runTimed(ffmpeg, [
    ...["-hide_banner", "-nostdin", "-v", "error", "-y", "-stream_loop", "-1", "-i", portrait, "-t", "15"],
    ...["-map", "0:v:0", "-map", "0:a:0", "-c", "copy", "-movflags", "+faststart", clip],
  ]);
  const info = await probe(clip);
  const ladder = planLadder(info);
  note(
    `clip: ${portrait} looped (stream copy) to ${f2(info.durationMs / 1000)} s, ${info.video.width}x${info.video.height} ` +
      `@ ${f2(info.video.frameRate)} fps, audio ${info.audio?.codec ?? "none"}; ladder: ` +
      ladder.renditions.map((r) => `${r.name} ${r.width}x${r.height}@${r.frameRate} ${r.bitrate / 1000}k`).join(", "),
  );

  // 1. One process for the ladder against one process per rung.
  note(`load average before: ${loadAverage()} on ${availableParallelism()} cores (wall times assume an idle machine)`);
  // What one decode costs (the most the single pass can save per rung it shares a decode with).
  const decode = await runTimed(ffmpeg, [
    ...["-hide_banner", "-nostdin", "-v", "error", "-i", clip, "-map", "0:v:0"],
    ...["-vf", "format=yuv420p", "-f", "null", "-"],
  ]);
  const oursDir = join(tmp, "single-pass");
  await mkdir(oursDir);
  const ours = withoutPosterAndSprite(
    encodeArgs(clip, oursDir, info, ladder, { preset: "veryfast" }),
    ladder.renditions.length,
  );
  const single = await runTimed(ffmpeg, ours);
  note(
    `single pass (encodeArgs without poster/sprite): wall ${f2(single.wallS)} s, CPU ${f2(single.cpuS)} s ` +
      `(/proc cutime+cstime: ${f2(single.procCpuS)} s)`,
  );
  const perRung = [];
  for (const [i, r] of ladder.renditions.entries()) {
    const dir = join(tmp, `separate-${r.name}`);
    await mkdir(dir);
    const run = await runTimed(ffmpeg, oneRungArgs(ours, clip, i, r.name, dir, i === 0 && ladder.audio !== null));
    note(`  separate run ${r.name}${i === 0 ? " (+ audio)" : ""}: wall ${f2(run.wallS)} s, CPU ${f2(run.cpuS)} s`);
    perRung.push(run);
  }
  const sameBytes = await Promise.all(
    [...ladder.renditions.map((r) => r.name), ...(ladder.audio ? ["audio"] : [])].map(async (name) => {
      const separate = join(tmp, `separate-${name === "audio" ? ladder.renditions[0]?.name : name}`, name);
      return `${name} ${f2((await treeBytes(join(oursDir, name))) / (await treeBytes(separate)))}`;
    }),
  );
  note(`  output bytes single / separate (same settings check): ${sameBytes.join(", ")}`);
  const separateWall = perRung.reduce((s, r) => s + r.wallS, 0);
  const separateCpu = perRung.reduce((s, r) => s + r.cpuS, 0);
  const separateProc = perRung.reduce((s, r) => s + r.procCpuS, 0);
  note(
    `5 separate runs (sequential): wall ${f2(separateWall)} s, CPU ${f2(separateCpu)} s (/proc: ${f2(separateProc)} s)` +
      `\n=> single pass / separate: wall ${f2(single.wallS / separateWall)}x, CPU ${f2(single.cpuS / separateCpu)}x` +
      " (goal: CPU <= 0.6x)" +
      `\n   decoding the source alone costs ${f2(decode.cpuS)} s CPU, so saving 4 of 5 decodes bounds the single ` +
      `pass at ~${f2((separateCpu - 4 * decode.cpuS) / separateCpu)}x CPU for this clip; ` +
      `load average after: ${loadAverage()}`,
  );
  results.push(
    {
      name: "5-rung ladder, 15 s 1080x1920 + audio: wall time",
      unit: "s",
      ours: single.wallS,
      peer: "5 separate ffmpeg runs, sequential",
      peerValue: separateWall,
    },
    {
      name: "5-rung ladder, 15 s 1080x1920 + audio: CPU user+sys",
      unit: "s",
      ours: single.cpuS,
      peer: "5 separate ffmpeg runs",
      peerValue: separateCpu,
    },
  );
  await Promise.all(
    [oursDir, ...ladder.renditions.map((r) => join(tmp, `separate-${r.name}`))].map((d) =>
      rm(d, { recursive: true, force: true }),
    ),
  );

  // 2. Time to the first playable rendition: fastStart against a plain transcode.
  const timeToPlayable = async (fastStart: boolean) => {
    const out = join(tmp, fastStart ? "fast-start" : "plain");
    const cpuBefore = childrenCpuSeconds();
    const job = transcode(clip, out, { fastStart });
    const playable: Array<{ elapsedMs: number; full: boolean; variants: number }> = [];
    job.on("playable", (e) => {
      const master = join(out, "master.m3u8");
      const variants = existsSync(master) ? readFileSync(master, "utf8").split("#EXT-X-STREAM-INF").length - 1 : 0;
      playable.push({ ...e, variants });
    });
    const result = await job;
    const cpuS = childrenCpuSeconds() - cpuBefore;
    await rm(out, { recursive: true, force: true });
    return { playable, result, cpuS };
  };
  const fast = await timeToPlayable(true);
  const plain = await timeToPlayable(false);
  const first = fast.playable[0];
  const plainPlayable = plain.playable.find((e) => e.full);
  if (first === undefined) {
    note("NOTE: no playable event from transcode({ fastStart: true }); using its full elapsed time instead");
  } else {
    note(
      `fastStart: first playable at ${f2(first.elapsedMs / 1000)} s (full: ${first.full}, ${first.variants} variant(s) in its master), ` +
        `full ladder at ${f2((fast.playable.find((e) => e.full)?.elapsedMs ?? Number.NaN) / 1000)} s, ` +
        `job ${f2(fast.result.elapsedMs / 1000)} s, CPU ${f2(fast.cpuS)} s`,
    );
  }
  const oursMs = first?.elapsedMs ?? fast.result.elapsedMs;
  const peerMs = plainPlayable?.elapsedMs ?? plain.result.elapsedMs;
  note(
    `plain transcode: playable (master published, ${plainPlayable?.variants ?? "?"} variants) at ${f2(peerMs / 1000)} s, ` +
      `job ${f2(plain.result.elapsedMs / 1000)} s, CPU ${f2(plain.cpuS)} s (goal for fastStart: <= 5 s)`,
  );
  results.push({
    name: "time to first playable rendition, 15 s 1080x1920 (fastStart)",
    unit: "s",
    ours: oursMs / 1000,
    peer: "transcode without fastStart",
    peerValue: peerMs / 1000,
  });

  // 3. Per-title against fixed ladders on the shared clips.
  const videoBytesPerSecond = (result: TranscodeResult) =>
    result.renditions
      .filter((r) => r.kind === "video")
      .reduce((sum, r) => {
        const bytes = r.segments.reduce((s, seg) => s + seg.bytes, 0);
        const seconds = r.segments.reduce((s, seg) => s + seg.durationSeconds, 0);
        return sum + bytes / seconds;
      }, 0);
  // The reference goes through what the encoder's input went through: decode (auto-rotated),
  // tone-map for HDR, 4:2:0, the rung's fps and scale; both sides then start at 0.
  const topSsim = async (source: string, sourceInfo: MediaInfo, plan: Ladder, result: TranscodeResult) => {
    const top = plan.renditions[0];
    if (top === undefined) throw new Error("empty ladder");
    const reference = [
      ...toneMap(sourceInfo.video.hdr),
      "format=yuv420p",
      `fps=${top.frameRate}`,
      `scale=${top.width}:${top.height}:flags=bicubic`,
      "setsar=1",
      "setpts=PTS-STARTPTS",
    ].join(",");
    const graph = `[0:v]format=yuv420p,setpts=PTS-STARTPTS[out];[1:v]${reference}[ref];[out][ref]ssim`;
    const playlist = join(result.outDir, top.name, "index.m3u8");
    const { stderr } = await runTimed(ffmpeg, [
      ...["-hide_banner", "-nostdin", "-nostats", "-i", playlist, "-i", source],
      ...["-lavfi", graph, "-f", "null", "-"],
    ]);
    const match = /SSIM Y:([\d.]+).* All:([\d.]+)/.exec(stderr);
    if (match === null) throw new Error(`no SSIM in ffmpeg output: ${stderr.slice(-500)}`);
    return Number(match[2]);
  };
  const clips = readdirSync(media).sort();
  let fixedTotal = 0;
  let perTitleTotal = 0;
  const ratios: Array<{ name: string; perTitle: number; fixed: number; seconds: number }> = [];
  const fixedSsim: number[] = [];
  const perTitleSsim: number[] = [];
  for (const name of clips) {
    const source = join(media, name);
    const sourceInfo = await probe(source);
    const complexity = await measureComplexity(source, { info: sourceInfo });
    const fixedPlan = planLadder(sourceInfo);
    const perTitlePlan = planLadder(sourceInfo, { complexity: complexity.factor });
    const fixed = await transcode(source, join(tmp, `fixed-${name}`), { plan: fixedPlan });
    const fixedRate = videoBytesPerSecond(fixed);
    const fixedQ = await topSsim(source, sourceInfo, fixedPlan, fixed);
    let perTitleRate = fixedRate;
    let perTitleQ = fixedQ;
    if (perTitlePlan.complexityFactor !== fixedPlan.complexityFactor) {
      const perTitle = await transcode(source, join(tmp, `per-title-${name}`), { plan: perTitlePlan });
      perTitleRate = videoBytesPerSecond(perTitle);
      perTitleQ = await topSsim(source, sourceInfo, perTitlePlan, perTitle);
    }
    await Promise.all(
      [`fixed-${name}`, `per-title-${name}`].map((d) => rm(join(tmp, d), { recursive: true, force: true })),
    );
    ratios.push({ name, perTitle: perTitleRate, fixed: fixedRate, seconds: sourceInfo.durationMs / 1000 });
    // Bytes, not rates: a clip counts by its length (a 0.09 s clip must not weigh like an 8 s one).
    fixedTotal += fixedRate * (sourceInfo.durationMs / 1000);
    perTitleTotal += perTitleRate * (sourceInfo.durationMs / 1000);
    fixedSsim.push(fixedQ);
    perTitleSsim.push(perTitleQ);
    note(
      `${name}: complexity ${f2(complexity.factor)}, ${fixedPlan.renditions.length} rungs (top ${fixedPlan.renditions[0]?.name}); ` +
        `video kb/s all rungs: per-title ${f2((perTitleRate * 8) / 1000)} vs fixed ${f2((fixedRate * 8) / 1000)} ` +
        `(${f2(perTitleRate / fixedRate)}x); top-rung SSIM ${perTitleQ.toFixed(4)} vs ${fixedQ.toFixed(4)}`,
    );
  }
  const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
  const ssimNote = `SSIM ${mean(perTitleSsim).toFixed(4)} vs ${mean(fixedSsim).toFixed(4)}`;
  note(
    `per-title / fixed total video bytes over ${clips.length} clips: ${f2(perTitleTotal / fixedTotal)}x ` +
      `(${f2(perTitleTotal / 1e6)} vs ${f2(fixedTotal / 1e6)} MB); mean top-rung ${ssimNote}`,
  );
  const geomean = Math.exp(ratios.reduce((s, r) => s + Math.log(r.perTitle / r.fixed), 0) / ratios.length);
  const long = ratios.filter((r) => r.seconds >= 1);
  const longRatio = long.reduce((s, r) => s + r.perTitle, 0) / long.reduce((s, r) => s + r.fixed, 0);
  note(
    `   geometric mean of per-clip ratios ${f2(geomean)}x; summed without clips under 1 s ` +
      `(${ratios
        .filter((r) => r.seconds < 1)
        .map((r) => r.name)
        .join(", ")}): ${f2(longRatio)}x`,
  );
  results.push({
    name: `per-title ladder, 6 shared clips: video bytes over all rungs and clips (top-rung ${ssimNote})`,
    unit: "bytes",
    ours: perTitleTotal,
    peer: "fixed ladder (complexity 1)",
    peerValue: fixedTotal,
  });
  note(`bench took ${f2((performance.now() - benchStarted) / 1000)} s`);
} finally {
  await rm(tmp, { recursive: true, force: true });
}

console.log(JSON.stringify({ results }));
