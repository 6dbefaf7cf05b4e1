// Our client against the reference Node server (@tus/server 2 with @tus/file-store). That server
// does not implement concatenation (its POST answers 501 to Upload-Concat and OPTIONS does not list
// it) nor the checksum extension, so the client must discover both and fall back.
import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { createServer, type Server as HttpServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FileStore } from "@tus/file-store";
import { Server } from "@tus/server";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createMemoryFingerprintStore, createUploadClient, type UploadClientOptions } from "../client/index.js";
import { isUploadError } from "../errors.js";

const sha256 = (data: Uint8Array) => createHash("sha256").update(data).digest("hex");

let root: string;
let http: HttpServer;
let endpoint: string;
let calls: Array<{ method: string; headers: Record<string, string> }>;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), "reelkit-upload-interop-"));
  const tus = new Server({ path: "/files", datastore: new FileStore({ directory: root }) });
  http = createServer((req, res) => void tus.handle(req, res));
  await new Promise<void>((done) => http.listen(0, "127.0.0.1", done));
  endpoint = `http://127.0.0.1:${(http.address() as AddressInfo).port}/files`;
  calls = [];
});

afterEach(async () => {
  http.closeAllConnections();
  await new Promise((done) => http.close(done));
  await rm(root, { recursive: true, force: true });
});

/** A fetch that records requests and counts PATCH body bytes. */
const recording: typeof fetch = (input, init) => {
  calls.push({ method: init?.method ?? "GET", headers: { ...(init?.headers as Record<string, string>) } });
  return fetch(input, init);
};
const patchBytes = () =>
  calls.filter((c) => c.method === "PATCH").reduce((sum, c) => sum + Number(c.headers["Content-Length"] ?? 0), 0);

const client = (options: Partial<UploadClientOptions> = {}) =>
  createUploadClient({
    endpoint,
    fetch: recording,
    retry: { retries: 5, baseDelayMs: 5, maxDelayMs: 50 },
    fingerprintStore: createMemoryFingerprintStore(),
    ...options,
  });

/** The bytes @tus/file-store wrote for an upload URL. */
const storedSha = async (url: string) =>
  sha256(await readFile(join(root, new URL(url).pathname.split("/").pop() ?? "")));

describe("interop: our client → @tus/server", () => {
  it("uploads in a single chunk, without checksums the server does not advertise", async () => {
    const data = randomBytes(50_000);
    const result = await client().upload(data, { metadata: { filename: "a.mp4" } }).done;
    expect(result.url.startsWith(`${endpoint}/`)).toBe(true);
    expect(calls.map((c) => c.method)).toEqual(["OPTIONS", "POST", "PATCH"]);
    expect(calls.some((c) => c.headers["Upload-Checksum"] !== undefined)).toBe(false);
    expect(await storedSha(result.url)).toBe(sha256(data));
    const meta = JSON.parse(
      await readFile(join(root, `${new URL(result.url).pathname.split("/").pop()}.json`), "utf8"),
    );
    expect(meta.metadata).toEqual({ filename: "a.mp4" });
  });

  it("uploads in many chunks", async () => {
    const data = randomBytes(1_000_003);
    const result = await client({ chunkSize: 64 * 1024 }).upload(data).done;
    expect(calls.filter((c) => c.method === "PATCH")).toHaveLength(Math.ceil(1_000_003 / (64 * 1024)));
    expect(patchBytes()).toBe(1_000_003);
    expect(await storedSha(result.url)).toBe(sha256(data));
  });

  it("asked for 3 parallel parts, falls back to one upload because concatenation is not advertised", async () => {
    const c = client({ parallel: 3, chunkSize: 100_000 });
    expect((await c.capabilities()).extensions).not.toContain("concatenation");
    // Proof the fallback is needed: this server refuses partial uploads outright.
    const partial = await fetch(`${endpoint}`, {
      method: "POST",
      headers: { "Tus-Resumable": "1.0.0", "Upload-Length": "10", "Upload-Concat": "partial" },
    });
    expect(partial.status).toBe(501);
    const data = randomBytes(300_000);
    const result = await c.upload(data).done;
    expect(result.parts).toEqual([]);
    const posts = calls.filter((c) => c.method === "POST");
    expect(posts).toHaveLength(1);
    expect(posts[0]?.headers["Upload-Concat"]).toBeUndefined();
    expect(await storedSha(result.url)).toBe(sha256(data));
  });

  it("resumes after an abort, sending only the rest", async () => {
    const data = randomBytes(2_000_000);
    const store = createMemoryFingerprintStore();
    const first = client({ chunkSize: 128 * 1024, fingerprintStore: store }).upload(data, { fingerprint: "clip" });
    first.on("progress", ({ bytesUploaded }) => {
      if (bytesUploaded >= 500_000) first.abort();
    });
    const error = await first.done.catch((e: unknown) => e);
    expect(isUploadError(error) && error.code).toBe("ABORTED");
    calls = [];
    const result = await client({ chunkSize: 128 * 1024, fingerprintStore: store }).upload(data, {
      fingerprint: "clip",
    }).done;
    expect(result.resumedBytes).toBeGreaterThanOrEqual(500_000);
    expect(calls.map((c) => c.method).slice(0, 3)).toEqual(["OPTIONS", "HEAD", "PATCH"]);
    expect(calls.some((c) => c.method === "POST")).toBe(false);
    expect(patchBytes()).toBe(2_000_000 - result.resumedBytes);
    expect(await storedSha(result.url)).toBe(sha256(data));
    expect(await store.get(`${endpoint} clip`)).toBeUndefined();
  });
});
