#!/usr/bin/env node
// Checks every built package the way a user's install would see it: publint (package.json and
// files agree), @arethetypeswrong/cli (types resolve for every export under node16 and bundlers;
// ESM-only, so CommonJS `require` of a type-less ESM build is out of scope), and that the root
// entry never loads an optional backend SDK (only an adapter subpath may). A package may set a
// size budget in its package.json (`reelkit.sizeBudget: { gzipBytes, exclude }`): the gzip sizes
// of its built JavaScript files (minus excluded folders) must add up to no more than that.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { gzipSync } from "node:zlib";
import { repoRoot } from "./services/lib.mjs";

const packagesDir = join(repoRoot, "packages");
const bin = (name) => join(repoRoot, "node_modules", ".bin", name);
let failures = 0;

function check(label, ok, detail = "") {
  console.log(`${ok ? "ok  " : "FAIL"} ${label}${!ok && detail ? `\n${detail}` : ""}`);
  if (!ok) failures += 1;
}

/** Every file the root entry pulls in, following relative imports of the built output. */
function reachableFiles(dist, entry) {
  const seen = new Set();
  const queue = [entry];
  while (queue.length > 0) {
    const file = queue.pop();
    if (seen.has(file)) continue;
    seen.add(file);
    for (const [, spec] of readFileSync(join(dist, file), "utf8").matchAll(/from\s*["'](\.\/[^"']+)["']/g)) {
      queue.push(spec.slice(2));
    }
  }
  return [...seen];
}

for (const name of readdirSync(packagesDir).sort()) {
  const dir = join(packagesDir, name);
  const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8"));
  if (!existsSync(join(dir, "dist"))) {
    check(`${pkg.name}: built`, false, "  no dist/: run `npm run build` first");
    continue;
  }
  const publint = spawnSync(bin("publint"), ["--strict"], { cwd: dir, encoding: "utf8" });
  check(`${pkg.name}: publint`, publint.status === 0, publint.stdout + publint.stderr);
  const attw = spawnSync(bin("attw"), ["--pack", ".", "--profile", "esm-only", "--format", "table-flipped"], {
    cwd: dir,
    encoding: "utf8",
  });
  check(`${pkg.name}: attw`, attw.status === 0, attw.stdout + attw.stderr);

  const optionalPeers = Object.keys(pkg.peerDependenciesMeta ?? {}).filter((p) => pkg.peerDependenciesMeta[p].optional);
  const dist = join(dir, "dist");
  const loaded = reachableFiles(dist, "index.js").flatMap((file) =>
    optionalPeers.filter((peer) =>
      new RegExp(`from\\s*["']${peer}["']|import\\(["']${peer}["']\\)`).test(readFileSync(join(dist, file), "utf8")),
    ),
  );
  const budget = pkg.reelkit?.sizeBudget;
  if (budget !== undefined) {
    const files = readdirSync(dist, { recursive: true })
      .map(String)
      .filter((file) => file.endsWith(".js") && !(budget.exclude ?? []).some((prefix) => file.startsWith(prefix)));
    const sizes = files.map((file) => [
      relative(dist, join(dist, file)),
      gzipSync(readFileSync(join(dist, file)), { level: 9 }).length,
    ]);
    const total = sizes.reduce((sum, [, size]) => sum + size, 0);
    check(
      `${pkg.name}: ${total} B gzip of JavaScript within the ${budget.gzipBytes} B budget`,
      total <= budget.gzipBytes,
      sizes.map(([file, size]) => `  ${file}: ${size} B`).join("\n"),
    );
  }
  check(
    `${pkg.name}: root entry loads no optional SDK`,
    loaded.length === 0,
    `  root entry imports ${loaded.join(", ")}`,
  );
}

console.log(failures === 0 ? "\nall packages pass" : `\n${failures} package check(s) failed`);
process.exitCode = failures === 0 ? 0 : 1;
