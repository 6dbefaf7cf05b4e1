import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

// lib.mjs reads REELKIT_STATE_DIR when it loads: point it at a folder of this test's own.
const state = mkdtempSync(join(tmpdir(), "reelkit-services-"));
process.env.REELKIT_STATE_DIR = state;
const lib = await import("./lib.mjs");
afterAll(() => rmSync(state, { recursive: true, force: true }));

describe("recorded pids", () => {
  it("trusts a pid only while the same process (same start time) holds it", async () => {
    const child = spawn("sleep", ["30"], { stdio: "ignore" });
    await new Promise((resolve) => child.once("spawn", resolve));
    const pidFile = join(lib.serviceDir("fake"), "pid");
    writeFileSync(pidFile, `${child.pid} 1\n`); // the right pid with another process's start time
    expect(lib.readPid("fake")).toBeUndefined();
    child.kill();
  });

  it("stops exactly the process it started", async () => {
    const pid = lib.spawnDaemon({
      name: "sleeper",
      command: "sleep",
      args: ["30"],
      logFile: join(state, "sleeper.log"),
    });
    expect(lib.readPid("sleeper")).toBe(pid);
    expect(await lib.stopDaemon("sleeper", { timeoutMs: 5000 })).toBe(true);
    expect(lib.isAlive(pid)).toBe(false);
    expect(await lib.stopDaemon("sleeper")).toBe(false);
  });

  it("does not count a pid nothing runs under as alive", () => {
    expect(lib.isAlive(2 ** 22 + 1)).toBe(false);
  });
});
