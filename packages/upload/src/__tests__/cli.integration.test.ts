import { type ChildProcess, spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { repoRoot, runSource, sourceArgs, tsxPath } from "../../../../test/run.js";

const cli = fileURLToPath(new URL("../cli.ts", import.meta.url));
const sha256 = (data: Uint8Array) => createHash("sha256").update(data).digest("hex");

const runCli = (args: string[], env: NodeJS.ProcessEnv = {}) => runSource(cli, args, env);

/** Start `serve` and resolve its URL (the first stdout line). */
function serve(args: string[]): Promise<{ child: ChildProcess; url: string; stderr: () => string }> {
  // Its own process group, so clean-up reaches tsx's node child too.
  const child = spawn(tsxPath, sourceArgs(cli, ["serve", ...args]), { cwd: repoRoot, detached: true });
  children.push(child);
  let err = "";
  child.stderr.on("data", (chunk: Buffer) => {
    err += chunk.toString();
  });
  return new Promise((resolve, reject) => {
    let out = "";
    child.stdout.on("data", (chunk: Buffer) => {
      out += chunk.toString();
      const line = out.split("\n")[0];
      if (out.includes("\n") && line !== undefined) resolve({ child, url: line, stderr: () => err });
    });
    child.once("exit", (code) => reject(new Error(`serve exited ${code}: ${err}`)));
  });
}

const exited = (child: ChildProcess) =>
  new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null)
      resolve({ code: child.exitCode, signal: child.signalCode });
    else child.once("exit", (code, signal) => resolve({ code, signal }));
  });

const jsonLines = (text: string) =>
  text
    .trim()
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as { event: string; [key: string]: unknown });

const children: ChildProcess[] = [];
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "reelkit-upload-cli-"));
});
afterEach(async () => {
  for (const child of children.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) {
      try {
        process.kill(-(child.pid ?? 0), "SIGKILL");
      } catch {}
      await exited(child);
    }
  }
});
afterAll(() => rm(dir, { recursive: true, force: true }));

/** The smallest head our server's sniffer accepts as MP4, then random bytes. */
function fakeMp4(size: number): Buffer {
  const data = randomBytes(size);
  Buffer.from([0, 0, 0, 0x18, 0x66, 0x74, 0x79, 0x70, 0x69, 0x73, 0x6f, 0x6d]).copy(data); // ....ftypisom
  return data;
}

describe("reelkit-upload", () => {
  it("prints its usage with --help, and explains bad arguments (exit 2)", async () => {
    const help = await runCli(["--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/reelkit-upload serve/);
    expect(help.stdout).toMatch(/reelkit-upload send/);
    const noDir = await runCli(["serve"]);
    expect(noDir.code).toBe(2);
    expect(noDir.stderr).toMatch(/^INVALID_OPTIONS: .*--dir is required/m);
    const oneArg = await runCli(["send", "only-a-file"]);
    expect(oneArg.code).toBe(2);
    expect(oneArg.stderr).toMatch(/^INVALID_OPTIONS: send expects a file and an endpoint/m);
    const badChunk = await runCli(["send", "f", "http://127.0.0.1:1/files/", "--chunk-size", "0"]);
    expect(badChunk.code).toBe(2);
    expect(badChunk.stderr).toMatch(/^INVALID_OPTIONS: /m);
    expect((await runCli(["frobnicate"])).code).toBe(2);
  });

  it("serves, sends in parallel chunks with JSON progress, prints the URL, and stops on SIGTERM", async () => {
    const server = await serve(["--port", "0", "--dir", join(dir, "store-1"), "--no-sniff"]);
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/files\/$/);
    const file = join(dir, "random.bin");
    const data = randomBytes(3_000_000);
    await writeFile(file, data);
    const resumeFile = join(dir, "resume-1.json");
    const sent = await runCli([
      "send",
      file,
      server.url,
      "--parallel",
      "2",
      "--chunk-size",
      String(256 * 1024),
      "--resume-file",
      resumeFile,
    ]);
    expect(sent.stderr).not.toMatch(/^[A-Z_]+: /m);
    expect(sent.code).toBe(0);
    const url = sent.stdout.trim();
    expect(url).toMatch(new RegExp(`^${server.url}[A-Za-z0-9_-]{22}$`));
    const events = jsonLines(sent.stderr);
    expect(events[0]).toEqual({ event: "start", parts: 2, resumedBytes: 0, bytesTotal: 3_000_000 });
    const progress = events.filter((e) => e.event === "progress");
    expect(progress.length).toBeGreaterThan(5);
    expect(progress.at(-1)).toEqual({ event: "progress", bytesUploaded: 3_000_000, bytesTotal: 3_000_000 });
    expect(events.at(-1)).toEqual({ event: "done", url, size: 3_000_000, resumedBytes: 0 });
    const id = url.split("/").pop() ?? "";
    expect(sha256(await readFile(join(dir, "store-1", id)))).toBe(sha256(data));
    expect(JSON.parse(await readFile(resumeFile, "utf8"))).toEqual({}); // forgotten once done
    const completed = jsonLines(server.stderr()).find((e) => e.event === "completed" && e.id === id);
    expect(completed?.sha256).toBe(sha256(data));

    server.child.kill("SIGTERM");
    expect(await exited(server.child)).toEqual({ code: 0, signal: null });
  });

  it("sniffs containers by default: random bytes fail with CODE: message, an MP4 head passes", async () => {
    const server = await serve(["--port", "0", "--dir", join(dir, "store-2")]);
    const bad = join(dir, "not-video.bin");
    await writeFile(bad, randomBytes(5000));
    const refused = await runCli(["send", bad, server.url, "--resume-file", join(dir, "resume-2.json")]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^REQUEST_REJECTED: PATCH .* answered 415/m);
    expect(refused.stdout).toBe("");

    const good = join(dir, "clip.mp4");
    await writeFile(good, fakeMp4(5000));
    const accepted = await runCli(["send", good, server.url, "--resume-file", join(dir, "resume-2.json")]);
    expect(accepted.code).toBe(0);
    expect(accepted.stdout.trim()).toMatch(/\/files\/[A-Za-z0-9_-]{22}$/);

    const missing = await runCli(["send", join(dir, "nope.mp4"), server.url]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^SOURCE_FAILED: cannot read /m);
    server.child.kill("SIGINT");
    expect(await exited(server.child)).toEqual({ code: 0, signal: null });
  });

  it("re-running an interrupted send resumes it (default resume file under XDG_CACHE_HOME)", async () => {
    const server = await serve(["--port", "0", "--dir", join(dir, "store-3"), "--no-sniff"]);
    const file = join(dir, "big.bin");
    const data = randomBytes(32 * 1024 * 1024);
    await writeFile(file, data);
    const cache = join(dir, "xdg-cache");
    const env = { ...process.env, XDG_CACHE_HOME: cache };
    const args = sourceArgs(cli, ["send", file, server.url, "--chunk-size", String(64 * 1024)]);

    // First run: interrupt with SIGINT once some bytes are acknowledged.
    const first = spawn(tsxPath, args, { cwd: repoRoot, env, detached: true });
    children.push(first);
    let err = "";
    let interrupted = false;
    first.stderr.on("data", (chunk: Buffer) => {
      err += chunk.toString();
      const acked = jsonLines(err.slice(0, err.lastIndexOf("\n") + 1)).some(
        (e) => e.event === "progress" && Number(e.bytesUploaded) >= 2 * 1024 * 1024,
      );
      if (acked && !interrupted) {
        interrupted = true;
        first.kill("SIGINT");
      }
    });
    expect((await exited(first)).code).toBe(1);
    expect(err).toMatch(/^ABORTED: upload aborted/m);
    const resumeFile = join(cache, "reelkit", "upload-fingerprints.json");
    expect(existsSync(resumeFile)).toBe(true);
    expect(Object.keys(JSON.parse(await readFile(resumeFile, "utf8")))).toHaveLength(1);

    // Second run: the same command continues where the server stopped.
    const second = await runCli(args.slice(2), { XDG_CACHE_HOME: cache });
    expect(second.code).toBe(0);
    const start = jsonLines(second.stderr).find((e) => e.event === "start");
    expect(Number(start?.resumedBytes)).toBeGreaterThanOrEqual(2 * 1024 * 1024);
    const url = second.stdout.trim();
    expect(sha256(await readFile(join(dir, "store-3", url.split("/").pop() ?? "")))).toBe(sha256(data));
    expect(JSON.parse(await readFile(resumeFile, "utf8"))).toEqual({});
    server.child.kill("SIGTERM");
    await exited(server.child);
  });
});
