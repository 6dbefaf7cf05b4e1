#!/usr/bin/env node
// `npm test`: the whole suite, in the order that fails fastest while the engines start.
//
//   1. engines: `scripts/services.mjs up` starts in the background at once (the JVMs take longest)
//   2. lint (biome), typecheck (tsc -b), unit tests, build + package checks (publint, attw)
//   3. integration tests (adapters against the real engines, smoke tests, browser tests)
//
// Any failure fails the run; a service that cannot start fails it with its log tail. Nothing is skipped.
// Options: --no-build skips step 2's build and package checks (for a quicker local loop).
import { spawn } from "node:child_process";
import { mkdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { repoRoot, stateDir } from "./services/lib.mjs";

const args = new Set(process.argv.slice(2));
const bin = (name) => join(repoRoot, "node_modules", ".bin", name);
const reports = join(stateDir, "reports");
mkdirSync(reports, { recursive: true });

/** Run a command with inherited output (or prefixed, for the background one); resolve its exit code. */
function run(label, command, commandArgs, { prefix = false } = {}) {
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(command, commandArgs, {
      cwd: repoRoot,
      stdio: prefix ? ["ignore", "pipe", "pipe"] : "inherit",
    });
    if (prefix) {
      for (const stream of [child.stdout, child.stderr]) {
        let buffered = "";
        stream.on("data", (chunk) => {
          buffered += chunk;
          const lines = buffered.split("\n");
          buffered = lines.pop() ?? "";
          for (const line of lines) process.stderr.write(`  [engines] ${line}\n`);
        });
        stream.on("end", () => buffered && process.stderr.write(`  [engines] ${buffered}\n`));
      }
    }
    child.on("close", (code) => resolve({ label, code: code ?? 1, seconds: (Date.now() - started) / 1000 }));
    child.on("error", (error) => {
      process.stderr.write(`${label}: ${error.message}\n`);
      resolve({ label, code: 1, seconds: (Date.now() - started) / 1000 });
    });
  });
}

const steps = [];
function record(result) {
  steps.push(result);
  process.stderr.write(
    `\n=== ${result.label}: ${result.code === 0 ? "ok" : `FAILED (exit ${result.code})`} in ${result.seconds.toFixed(1)}s\n\n`,
  );
  return result.code === 0;
}

function vitestCounts(file) {
  try {
    const report = JSON.parse(readFileSync(file, "utf8"));
    return {
      passed: report.numPassedTests ?? 0,
      failed: report.numFailedTests ?? 0,
      skipped: report.numPendingTests ?? 0,
    };
  } catch {
    return { passed: 0, failed: 0, skipped: 0 };
  }
}

// A report left by an earlier run must never be counted as this run's.
for (const project of ["unit", "integration"]) rmSync(join(reports, `${project}.json`), { force: true });

const vitest = (project) => [
  "run",
  "--project",
  project,
  "--reporter=default",
  "--reporter=json",
  `--outputFile.json=${join(reports, `${project}.json`)}`,
];

const engines = run("engines", process.execPath, [join(repoRoot, "scripts", "services.mjs"), "up"], { prefix: true });

let ok = record(await run("lint", bin("biome"), ["check", "."]));
ok = record(await run("typecheck", bin("tsc"), ["-b"])) && ok;
ok = record(await run("unit tests", bin("vitest"), vitest("unit"))) && ok;
if (!args.has("--no-build")) {
  ok = record(await run("build", "npm", ["run", "build", "--silent"])) && ok;
  ok = record(await run("package checks", process.execPath, [join(repoRoot, "scripts", "check-packages.mjs")])) && ok;
}
const enginesUp = record(await engines);
ok = enginesUp && ok;
if (enginesUp) {
  ok = record(await run("integration tests", bin("vitest"), vitest("integration"))) && ok;
} else {
  process.stderr.write("integration tests not run: the engines did not start (see [engines] lines above)\n");
}

const unit = vitestCounts(join(reports, "unit.json"));
const integration = enginesUp ? vitestCounts(join(reports, "integration.json")) : { passed: 0, failed: 0, skipped: 0 };
process.stderr.write("\nstep                 result  seconds\n");
for (const s of steps)
  process.stderr.write(
    `${s.label.padEnd(20)} ${(s.code === 0 ? "ok" : "FAILED").padEnd(7)} ${s.seconds.toFixed(1).padStart(7)}\n`,
  );
const failedSteps = steps.filter((s) => s.code !== 0).length;
// Failed steps count as failures too, so a lint or engine failure can never read as green.
const passed = unit.passed + integration.passed;
const failed = unit.failed + integration.failed + failedSteps;
console.log(
  `\ntests: ${passed} passed, ${failed} failed${unit.skipped + integration.skipped ? `, ${unit.skipped + integration.skipped} skipped` : ""}`,
);
process.exitCode = ok ? 0 : 1;
