import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runSource } from "../../../../test/run.js";
import { sharedDataDir } from "../../../../test/services.js";

const cli = fileURLToPath(new URL("../cli.ts", import.meta.url));

const runCli = (args: string[]) => runSource(cli, args);

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "reelkit-transcode-cli-"));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe("reelkit-transcode", () => {
  it("writes the ladder and prints JSON progress lines when not on a terminal", async () => {
    const out = join(dir, "ok");
    const { code, stdout } = await runCli([join(sharedDataDir(), "media", "rotated-90-h264.mp4"), out]);
    expect(code).toBe(0);
    const lines = stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { type: string; percent?: number });
    expect(lines.some((l) => l.type === "progress")).toBe(true);
    expect(lines.at(-1)?.type).toBe("done");
    expect(existsSync(join(out, "master.m3u8"))).toBe(true);
    expect(existsSync(join(out, "manifest.mpd"))).toBe(true);
  }, 120_000);

  it("prints CODE: message and exits non-zero on failure, leaving nothing behind", async () => {
    const bad = join(dir, "bad.mp4");
    await writeFile(bad, "not a video at all");
    const { code, stderr } = await runCli([bad, join(dir, "bad-out")]);
    expect(code).toBe(1);
    expect(stderr).toMatch(/^NOT_MEDIA: /m);
    expect(existsSync(join(dir, "bad-out"))).toBe(false);
  });

  it("refuses an existing folder without --force", async () => {
    const { code, stderr } = await runCli([join(sharedDataDir(), "media", "rotated-90-h264.mp4"), dir]);
    expect(code).toBe(1);
    expect(stderr).toMatch(/^OUTPUT_EXISTS: /m);
  });

  it("explains its usage on bad arguments (exit 2)", async () => {
    const { code, stderr } = await runCli(["only-one-arg"]);
    expect(code).toBe(2);
    expect(stderr).toMatch(/usage: reelkit-transcode/);
  });
});
