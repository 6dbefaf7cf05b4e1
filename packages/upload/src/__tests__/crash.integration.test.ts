// A server process killed (SIGKILL) in the middle of an upload and started again on the same
// folder and port: the retrying client resumes from the durable offset and the stored file is
// byte-identical to the source.
import { type ChildProcess, spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { repoRoot, sourceArgs, tsxPath } from "../../../../test/run.js";
import { createMemoryFingerprintStore, createUploadClient } from "../client/index.js";
import { fileSource } from "../client/node.js";

const cli = fileURLToPath(new URL("../cli.ts", import.meta.url));
const sha256 = (data: Uint8Array) => createHash("sha256").update(data).digest("hex");
const MiB = 1024 * 1024;

let dir: string;
const children: ChildProcess[] = [];
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "reelkit-upload-crash-"));
});
afterAll(async () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) killGroup(child, "SIGKILL");
  await rm(dir, { recursive: true, force: true });
});

/** `reelkit-upload serve` as a child process; resolves once it printed its URL. */
function serve(port: number, store: string): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(tsxPath, sourceArgs(cli, ["serve", "--port", String(port), "--dir", store, "--no-sniff"]), {
    cwd: repoRoot,
    stdio: ["ignore", "pipe", "inherit"],
    detached: true, // its own process group: SIGKILL reaches tsx's node child too
  });
  children.push(child);
  return new Promise((resolve, reject) => {
    let out = "";
    child.stdout?.on("data", (chunk: Buffer) => {
      out += chunk.toString();
      const end = out.indexOf("\n");
      if (end !== -1) resolve({ child, url: out.slice(0, end) });
    });
    child.once("exit", (code, signal) => reject(new Error(`serve exited early (${code ?? signal})`)));
  });
}

/** Start again on the same port, retrying while the killed process still holds it. */
async function serveAgain(port: number, store: string): Promise<{ child: ChildProcess; url: string }> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await serve(port, store);
    } catch (error) {
      if (attempt >= 20) throw error;
      await new Promise((done) => setTimeout(done, 100));
    }
  }
}

/** Signal the whole process group (tsx runs the CLI in a child node process). */
function killGroup(child: ChildProcess, signal: NodeJS.Signals) {
  try {
    process.kill(-(child.pid ?? 0), signal);
  } catch {}
}

const exited = (child: ChildProcess) =>
  new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once("exit", () => resolve());
  });

describe("crash recovery", () => {
  it("resumes a 40 MiB upload after the server is SIGKILLed mid-way and restarted", async () => {
    const store = join(dir, "store");
    const file = join(dir, "source.bin");
    const data = randomBytes(40 * MiB);
    await writeFile(file, data);

    const first = await serve(0, store);
    const port = Number(new URL(first.url).port);

    let patchBytes = 0;
    const counting: typeof fetch = (input, init) => {
      if (init?.method === "PATCH") patchBytes += Number((init.headers as Record<string, string>)["Content-Length"]);
      return fetch(input, init);
    };
    const client = createUploadClient({
      endpoint: first.url,
      chunkSize: MiB,
      fetch: counting,
      retry: { retries: 40, baseDelayMs: 50, maxDelayMs: 500 },
      fingerprintStore: createMemoryFingerprintStore(),
    });
    const handle = client.upload(await fileSource(file));

    let killedAt = -1;
    let restarted: Promise<{ child: ChildProcess; url: string }> | undefined;
    let afterRestart = 0;
    const retries: string[] = [];
    handle.on("retry", ({ error }) => retries.push(error.message));
    handle.on("progress", ({ bytesUploaded }) => {
      if (killedAt === -1 && bytesUploaded >= 8 * MiB) {
        killedAt = bytesUploaded;
        killGroup(first.child, "SIGKILL"); // synchronous: the next chunk meets a dead server
        restarted = exited(first.child).then(() => serveAgain(port, store));
      } else if (killedAt !== -1) {
        afterRestart++;
      }
    });

    const result = await handle.done;
    expect(killedAt).toBeGreaterThanOrEqual(8 * MiB);
    expect(killedAt).toBeLessThan(40 * MiB);
    expect(first.child.signalCode).toBe("SIGKILL");
    expect(retries.length).toBeGreaterThan(0);
    expect(afterRestart).toBeGreaterThan(0);
    // Resumed, not restarted: at most the chunk in flight at the kill was sent twice.
    expect(patchBytes).toBeLessThanOrEqual(40 * MiB + MiB);
    expect(result.size).toBe(40 * MiB);

    const id = new URL(result.url).pathname.split("/").pop() ?? "";
    expect(sha256(await readFile(join(store, id)))).toBe(sha256(data));
    const second = await restarted;
    if (second) killGroup(second.child, "SIGTERM");
    if (second) await exited(second.child);
  }, 120_000);
});
