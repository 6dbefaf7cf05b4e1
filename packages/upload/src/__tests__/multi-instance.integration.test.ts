// Two server processes share one store directory and the Redis locker: a PATCH that hangs on
// one instance is taken over by a PATCH on the other, and the file is never corrupted.
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sourceArgs, tsxPath } from "../../../../test/run.js";
import { serviceEnv } from "../../../../test/services.js";
import { OCTET, sha256, TUS } from "./harness.js";

const fixture = fileURLToPath(new URL("./fixtures/redis-instance.ts", import.meta.url));
let root: string;
const instances: ChildProcess[] = [];
const urls: string[] = [];

function startInstance(dir: string): Promise<string> {
  const child = spawn(tsxPath, sourceArgs(fixture, [dir, serviceEnv("REDIS_URL")]), {
    stdio: ["ignore", "pipe", "inherit"],
  });
  instances.push(child);
  return new Promise((resolve, reject) => {
    child.once("exit", (code) => reject(new Error(`instance exited with ${code}`)));
    child.stdout?.once("data", (chunk: Buffer) => resolve(chunk.toString().trim()));
  });
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "reelkit-upload-multi-"));
  const dir = join(root, "store");
  urls.push(...(await Promise.all([startInstance(dir), startInstance(dir)])));
}, 30_000);

afterAll(async () => {
  await Promise.all(
    instances.map(
      (child) =>
        new Promise<void>((done) => {
          if (child.exitCode !== null) return done();
          child.removeAllListeners("exit");
          child.once("exit", () => done());
          child.kill("SIGTERM");
        }),
    ),
  );
  await rm(root, { recursive: true, force: true });
});

describe("two server processes sharing the Redis lock", () => {
  it("hands a hung upload over to the other instance at a durable offset", async () => {
    const [one = "", two = ""] = urls;
    const data = randomBytes(256 * 1024);
    const created = await fetch(`${one}/files/`, {
      method: "POST",
      headers: { ...TUS, "Upload-Length": String(data.length) },
    });
    expect(created.status).toBe(201);
    const path = created.headers.get("location") ?? "";

    // Instance one receives 100 KiB, then the connection hangs with the lock held.
    const hung = new Promise<number | string>((done) => {
      const req = request(
        `${one}${path}`,
        { method: "PATCH", headers: { ...OCTET, "Upload-Offset": "0", "Content-Length": String(data.length) } },
        (res) => {
          res.resume();
          done(res.statusCode ?? 0);
        },
      );
      req.on("error", (error) => done((error as NodeJS.ErrnoException).code ?? "error"));
      req.write(data.subarray(0, 100 * 1024));
    });
    await new Promise((r) => setTimeout(r, 500));

    // The client resumes through instance two: its PATCH asks instance one to let go.
    const started = Date.now();
    const stale = await fetch(`${two}${path}`, {
      method: "PATCH",
      headers: { ...OCTET, "Upload-Offset": "0" },
      body: randomBytes(1000),
    });
    expect(stale.status).toBe(409);
    const offset = Number(stale.headers.get("upload-offset"));
    expect(offset).toBe(100 * 1024);
    expect(Date.now() - started).toBeLessThan(3000); // well before the 10 s lease
    expect([423, "ECONNRESET", "EPIPE"]).toContain(await hung);

    const rest = await fetch(`${two}${path}`, {
      method: "PATCH",
      headers: { ...OCTET, "Upload-Offset": String(offset) },
      body: data.subarray(offset),
    });
    expect(rest.status).toBe(204);
    expect(rest.headers.get("upload-offset")).toBe(String(data.length));
    const id = path.split("/").pop() ?? "";
    expect(sha256(await readFile(join(root, "store", id)))).toBe(sha256(data));
    // Both instances serve the same, complete upload.
    for (const base of urls) {
      const head = await fetch(`${base}${path}`, { method: "HEAD", headers: TUS });
      expect(head.headers.get("upload-offset")).toBe(String(data.length));
    }
  });

  it("never interleaves two clients writing different bytes through different instances at once", async () => {
    const [one = "", two = ""] = urls;
    const size = 4 * 1024 * 1024;
    const sources = [randomBytes(size), randomBytes(size)];
    const created = await fetch(`${one}/files/`, {
      method: "POST",
      headers: { ...TUS, "Upload-Length": String(size) },
    });
    const path = created.headers.get("location") ?? "";
    const id = path.split("/").pop() ?? "";
    const send = (base: string, body: Buffer) =>
      fetch(`${base}${path}`, { method: "PATCH", headers: { ...OCTET, "Upload-Offset": "0" }, body }).then(
        (res) => res.status,
        () => "network error",
      );
    const statuses = await Promise.all([send(one, sources[0] as Buffer), send(two, sources[1] as Buffer)]);
    // At most one of them succeeds; the loser gets a lock or offset error (or a reset).
    expect(statuses.filter((s) => s === 204).length).toBeLessThanOrEqual(1);
    const head = await fetch(`${one}${path}`, { method: "HEAD", headers: TUS });
    const offset = Number(head.headers.get("upload-offset"));
    const stored = await readFile(join(root, "store", id));
    expect(stored.length).toBe(offset);
    // The stored bytes are a prefix of one source, never a mix of both.
    const winner = sources.find((source) => source.subarray(0, offset).equals(stored));
    expect(winner).toBeDefined();
    if (offset < size) {
      const rest = await fetch(`${two}${path}`, {
        method: "PATCH",
        headers: { ...OCTET, "Upload-Offset": String(offset) },
        body: (winner as Buffer).subarray(offset),
      });
      expect(rest.status).toBe(204);
    }
    expect(sha256(await readFile(join(root, "store", id)))).toBe(sha256(winner as Buffer));
  });
});
