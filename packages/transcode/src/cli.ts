#!/usr/bin/env node
// reelkit-transcode <input> <outDir> [--force] [--json] [--preset <p>]
// Writes <outDir>/master.m3u8 and manifest.mpd. A progress bar on a terminal; JSON lines with
// --json or when stderr is not a terminal. On failure: `CODE: message` on stderr, exit 1.
import { parseArgs } from "node:util";
import { isTranscodeError } from "./errors.js";
import { transcode } from "./transcode.js";

const usage = "usage: reelkit-transcode <input> <outDir> [--force] [--json] [--preset <x264 preset>]";

function bar(percent: number, width = 30): string {
  const filled = Math.round((percent / 100) * width);
  return `[${"#".repeat(filled)}${"-".repeat(width - filled)}] ${percent.toFixed(0).padStart(3)}%`;
}

async function main(): Promise<number> {
  let parsed: ReturnType<typeof parse>;
  function parse() {
    return parseArgs({
      allowPositionals: true,
      options: {
        force: { type: "boolean", default: false },
        json: { type: "boolean", default: false },
        preset: { type: "string" },
        help: { type: "boolean", short: "h", default: false },
      },
    });
  }
  try {
    parsed = parse();
  } catch (error) {
    process.stderr.write(`INVALID_OPTIONS: ${(error as Error).message}\n${usage}\n`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(`${usage}\n`);
    return 0;
  }
  const [input, outDir, ...extra] = positionals;
  if (input === undefined || outDir === undefined || extra.length > 0) {
    process.stderr.write(`INVALID_OPTIONS: expected an input and an output folder\n${usage}\n`);
    return 2;
  }
  const json = values.json || !process.stderr.isTTY;
  const controller = new AbortController();
  process.once("SIGINT", () => controller.abort());
  process.once("SIGTERM", () => controller.abort());

  const job = transcode(input, outDir, {
    force: values.force,
    signal: controller.signal,
    ...(values.preset !== undefined && { preset: values.preset }),
  });
  let last = -1;
  job.on("progress", (p) => {
    if (json) {
      process.stdout.write(`${JSON.stringify({ type: "progress", ...p })}\n`);
    } else if (Math.floor(p.percent) !== last) {
      last = Math.floor(p.percent);
      process.stderr.write(`\r${bar(p.percent)} ${p.stage.padEnd(8)}`);
    }
  });
  try {
    const result = await job;
    if (json) process.stdout.write(`${JSON.stringify({ type: "done", ...result })}\n`);
    else process.stderr.write(`\n${result.outDir}/${result.master} (${(result.elapsedMs / 1000).toFixed(1)} s)\n`);
    return 0;
  } catch (error) {
    if (!json) process.stderr.write("\n");
    const code = isTranscodeError(error) ? error.code : "INTERNAL";
    const message = error instanceof Error ? error.message.replace(/^\[@reelkit\/transcode\] /, "") : String(error);
    process.stderr.write(`${code}: ${message}\n`);
    return 1;
  }
}

process.exitCode = await main();
