#!/usr/bin/env node
// `npm run bench`: runs every package's benchmarks and prints one table.
//
// A benchmark is a file `packages/<name>/bench/*.bench.ts` (or `examples/<name>/bench/*.bench.ts`,
// e.g. the reference server's load benchmark), run with tsx (workspace packages
// resolve to their sources). It measures our code and a named peer in the same run and prints,
// as its last stdout line, JSON: {"results":[{"name","unit","ours","peer","peerValue"}]} where
// `unit` says what is measured (e.g. "ops/s", higher is better, or "ms", lower is better).
// Benchmarks report figures; they never pass or fail on a threshold.
//
//   npm run bench                 every package
//   npm run bench -- engagement   only the named packages
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { repoRoot } from "./services/lib.mjs";

const only = process.argv.slice(2);
const packagesDir = join(repoRoot, "packages");
const examplesDir = join(repoRoot, "examples");
const lowerIsBetter = new Set(["ms", "s", "bytes", "MiB"]);
const rows = [];
let failed = 0;

// Every package, then the examples that have benchmarks (their names do not clash with packages').
const targets = [
  ...readdirSync(packagesDir)
    .sort()
    .map((name) => [name, join(packagesDir, name)]),
  ...(existsSync(examplesDir) ? readdirSync(examplesDir).sort() : [])
    .filter((name) => existsSync(join(examplesDir, name, "bench")))
    .map((name) => [name, join(examplesDir, name)]),
];

for (const [name, dir] of targets) {
  if (only.length > 0 && !only.includes(name)) continue;
  const benchDir = join(dir, "bench");
  const files = existsSync(benchDir)
    ? readdirSync(benchDir)
        .filter((f) => f.endsWith(".bench.ts"))
        .sort()
    : [];
  if (files.length === 0) {
    rows.push([name, "(no benchmarks yet)", "", "", "", "", ""]);
    continue;
  }
  for (const file of files) {
    process.stderr.write(`running ${name}/bench/${file}\n`);
    const result = spawnSync(
      join(repoRoot, "node_modules", ".bin", "tsx"),
      ["--conditions=@reelkit/source", join(benchDir, file)],
      {
        cwd: dir,
        encoding: "utf8",
        stdio: ["ignore", "pipe", "inherit"],
      },
    );
    const last = result.stdout.trim().split("\n").at(-1) ?? "";
    let parsed;
    try {
      parsed = JSON.parse(last);
    } catch {
      parsed = undefined;
    }
    if (result.status !== 0 || !Array.isArray(parsed?.results)) {
      failed += 1;
      rows.push([name, file, "FAILED", "", "", "", `exit ${result.status}`]);
      continue;
    }
    for (const r of parsed.results) {
      const ratio = lowerIsBetter.has(r.unit) ? r.peerValue / r.ours : r.ours / r.peerValue;
      rows.push([name, r.name, fmt(r.ours), r.peer, fmt(r.peerValue), r.unit, `${ratio.toFixed(2)}x`]);
    }
  }
}

function fmt(n) {
  return typeof n === "number" ? (Math.abs(n) >= 100 ? Math.round(n).toLocaleString("en") : n.toFixed(2)) : String(n);
}

const header = ["package", "benchmark", "ours", "peer", "peer value", "unit", "ours vs peer"];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
const line = (cells) => cells.map((c, i) => String(c).padEnd(widths[i])).join("  ");
console.log(line(header));
console.log(widths.map((w) => "-".repeat(w)).join("  "));
for (const r of rows) console.log(line(r));
console.log("\nratio > 1 means ours is better than the peer (faster, or smaller where lower is better).");
process.exitCode = failed === 0 ? 0 : 1;
