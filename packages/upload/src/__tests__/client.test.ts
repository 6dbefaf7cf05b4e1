import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm, utimes, writeFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  createLocalStorageFingerprintStore,
  createMemoryFingerprintStore,
  createUploadClient,
  type FingerprintStore,
  type StorageLike,
  type UploadClientOptions,
  type UploadProgress,
} from "../client/index.js";
import { createFileFingerprintStore, fileSource } from "../client/node.js";
import { isUploadError, UploadErrorCode } from "../errors.js";
import { createUploadServer, type UploadServer, type UploadServerOptions } from "../server.js";

const sha256 = (data: Uint8Array) => createHash("sha256").update(data).digest("hex");
const FAST_RETRY = { retries: 8, baseDelayMs: 5, maxDelayMs: 50 };

/** Return `true` when the request was answered (or deliberately left hanging) here. */
type Intercept = (req: IncomingMessage, res: ServerResponse) => boolean;

let root: string;
let dir: string;
let http: Server | undefined;
let server: UploadServer | undefined;
let endpoint: string;
let completed: Map<string, string>;
let requests: Array<{ method: string; url: string; headers: IncomingMessage["headers"] }>;

async function start(options: Partial<UploadServerOptions> = {}, intercept?: Intercept) {
  const upload = createUploadServer({ dir, sniff: false, ...options });
  server = upload;
  upload.on("completed", ({ id, sha256 }) => completed.set(id, sha256));
  http = createServer((req, res) => {
    requests.push({ method: req.method ?? "", url: req.url ?? "", headers: req.headers });
    if (intercept?.(req, res)) return;
    void upload.handle(req, res);
  });
  await new Promise<void>((done) => http?.listen(0, "127.0.0.1", done));
  endpoint = `http://127.0.0.1:${(http.address() as AddressInfo).port}/files/`;
}

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), "reelkit-upload-client-"));
  dir = join(root, "store");
  completed = new Map();
  requests = [];
});

afterEach(async () => {
  http?.closeAllConnections();
  await new Promise((done) => (http ? http.close(done) : done(undefined)));
  await server?.close();
  http = undefined;
  server = undefined;
  await rm(root, { recursive: true, force: true });
});

const client = (options: Partial<UploadClientOptions> = {}) =>
  createUploadClient({ endpoint, retry: FAST_RETRY, fingerprintStore: createMemoryFingerprintStore(), ...options });

const idOf = (url: string) => new URL(url).pathname.split("/").pop() ?? "";

/** The stored bytes, downloaded back, and the server's own whole-file hash. */
async function stored(url: string): Promise<{ sha: string; serverSha: string | undefined }> {
  const res = await fetch(url);
  expect(res.status).toBe(200);
  return { sha: sha256(new Uint8Array(await res.arrayBuffer())), serverSha: completed.get(idOf(url)) };
}

/** A fetch that counts PATCH body bytes and records every request it passes on. */
function countingFetch(inner: typeof fetch = fetch) {
  const stats = { patchBytes: 0, patches: 0, calls: [] as Array<{ method: string; headers: Record<string, string> }> };
  const wrapped: typeof fetch = async (input, init) => {
    const method = init?.method ?? "GET";
    const headers = { ...(init?.headers as Record<string, string>) };
    stats.calls.push({ method, headers });
    if (method === "PATCH") {
      stats.patches++;
      stats.patchBytes += Number(headers["Content-Length"] ?? (init?.body as Uint8Array | undefined)?.byteLength ?? 0);
    }
    return inner(input, init);
  };
  return { fetch: wrapped, stats };
}

async function expectCode(promise: Promise<unknown>, code: string) {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isUploadError(error)).toBe(true);
  expect((error as { code: string }).code).toBe(code);
  return error as Error & { code: string; cause: unknown };
}

describe("upload client", () => {
  it("uploads a small file in one checksummed PATCH with its metadata", async () => {
    await start();
    let metadata: unknown;
    server?.on("completed", (e) => {
      metadata = e.metadata;
    });
    const data = randomBytes(1000);
    const counting = countingFetch();
    const result = await client({ fetch: counting.fetch }).upload(data, { metadata: { filename: "clip é.mp4" } }).done;
    expect(result).toMatchObject({ size: 1000, parts: [], resumedBytes: 0 });
    expect(result.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/files\/[A-Za-z0-9_-]{22}$/);
    expect(await stored(result.url)).toEqual({ sha: sha256(data), serverSha: sha256(data) });
    expect(metadata).toEqual({ filename: "clip é.mp4" });
    expect(counting.stats.calls.map((c) => c.method)).toEqual(["OPTIONS", "POST", "PATCH"]);
    const checksum = counting.stats.calls[2]?.headers["Upload-Checksum"];
    expect(checksum).toBe(`sha256 ${createHash("sha256").update(data).digest("base64")}`);
  });

  it("uploads in many chunks, reporting acknowledged bytes in order", async () => {
    await start();
    const data = randomBytes(100_000);
    const progress: UploadProgress[] = [];
    const counting = countingFetch();
    const handle = client({ chunkSize: 7000, fetch: counting.fetch, checksum: "sha1" }).upload(data, {
      onProgress: (p) => progress.push(p),
    });
    const result = await handle.done;
    expect(counting.stats.patches).toBe(Math.ceil(100_000 / 7000));
    expect(counting.stats.patchBytes).toBe(100_000);
    expect(counting.stats.calls.find((c) => c.method === "PATCH")?.headers["Upload-Checksum"]).toMatch(/^sha1 /);
    expect(progress[0]).toEqual({ bytesUploaded: 0, bytesTotal: 100_000 });
    expect(progress.at(-1)).toEqual({ bytesUploaded: 100_000, bytesTotal: 100_000 });
    expect(progress.map((p) => p.bytesUploaded)).toEqual(
      [...progress.map((p) => p.bytesUploaded)].sort((a, b) => a - b),
    );
    expect(progress).toHaveLength(Math.ceil(100_000 / 7000) + 1);
    expect((await stored(result.url)).sha).toBe(sha256(data));
  });

  it("uploads a Blob and a File, and an empty file", async () => {
    await start();
    const data = randomBytes(30_000);
    const c = client({ chunkSize: 10_000 });
    const fromBlob = await c.upload(new Blob([data])).done;
    expect((await stored(fromBlob.url)).sha).toBe(sha256(data));
    const fromFile = await c.upload(new File([data], "a.mp4", { lastModified: 1 })).done;
    expect((await stored(fromFile.url)).sha).toBe(sha256(data));
    const empty = await c.upload(new Uint8Array(0)).done;
    expect(empty.size).toBe(0);
    expect((await stored(empty.url)).sha).toBe(sha256(new Uint8Array(0)));
  });

  it("uploads 3 parts in parallel and joins them with a final concatenation", async () => {
    await start();
    const data = randomBytes(300_001);
    const counting = countingFetch();
    const result = await client({ parallel: 3, chunkSize: 40_000, fetch: counting.fetch }).upload(data, {
      metadata: { filename: "p.mp4" },
    }).done;
    expect(result.parts).toHaveLength(3);
    const posts = counting.stats.calls.filter((c) => c.method === "POST");
    expect(posts.filter((p) => p.headers["Upload-Concat"] === "partial")).toHaveLength(3);
    expect(posts.at(-1)?.headers["Upload-Concat"]).toBe(`final;${result.parts.join(" ")}`);
    expect(posts.at(-1)?.headers["Upload-Metadata"]).toBeDefined();
    expect(counting.stats.patchBytes).toBe(300_001);
    expect(await stored(result.url)).toEqual({ sha: sha256(data), serverSha: sha256(data) });
    // The bytes on disk, not only the download.
    expect(sha256(await readFile(join(dir, idOf(result.url))))).toBe(sha256(data));
  });

  it("falls back to one part when the server does not advertise concatenation", async () => {
    await start();
    const stripping: typeof fetch = async (input, init) => {
      const res = await fetch(input, init);
      if (init?.method !== "OPTIONS") return res;
      const headers = new Headers(res.headers);
      headers.set("Tus-Extension", "creation,termination");
      headers.delete("Tus-Checksum-Algorithm");
      return new Response(null, { status: res.status, headers });
    };
    const counting = countingFetch(stripping);
    const data = randomBytes(50_000);
    const result = await client({ parallel: 3, chunkSize: 20_000, fetch: counting.fetch }).upload(data).done;
    expect(result.parts).toEqual([]);
    const posts = counting.stats.calls.filter((c) => c.method === "POST");
    expect(posts).toHaveLength(1);
    expect(posts[0]?.headers["Upload-Concat"]).toBeUndefined();
    expect(counting.stats.calls.some((c) => c.headers["Upload-Checksum"] !== undefined)).toBe(false);
    expect((await stored(result.url)).sha).toBe(sha256(data));
  });

  it("fails early with TOO_LARGE past Tus-Max-Size, before creating anything", async () => {
    await start({ maxSize: 1000 });
    const error = await expectCode(client().upload(randomBytes(1001)).done, "TOO_LARGE");
    expect(error.message).toMatch(/at most 1000/);
    expect(requests.map((r) => r.method)).toEqual(["OPTIONS"]);
  });

  it("discovers capabilities once per client", async () => {
    await start();
    const c = client();
    await Promise.all([c.upload(randomBytes(10)).done, c.upload(randomBytes(10)).done]);
    await c.upload(randomBytes(10)).done;
    expect(requests.filter((r) => r.method === "OPTIONS")).toHaveLength(1);
    expect(await c.capabilities()).toMatchObject({
      versions: ["1.0.0"],
      checksumAlgorithms: ["sha1", "md5", "crc32", "sha256"],
    });
    expect((await c.capabilities()).extensions).toContain("concatenation");
  });

  it("resumes after an abort: a second client with the same store sends only the rest", async () => {
    await start();
    const data = randomBytes(1_000_000);
    const store = createMemoryFingerprintStore();
    const first = client({ chunkSize: 64 * 1024, fingerprintStore: store }).upload(data, { fingerprint: "clip-1" });
    let acked = 0;
    first.on("progress", ({ bytesUploaded }) => {
      acked = bytesUploaded;
      if (bytesUploaded >= 300_000) first.abort();
    });
    await expectCode(first.done, UploadErrorCode.ABORTED);
    expect(acked).toBeGreaterThanOrEqual(300_000);
    expect(acked).toBeLessThan(1_000_000);
    expect(await store.get(`${endpoint} clip-1`)).toMatchObject({ size: 1_000_000, concat: false });

    const counting = countingFetch();
    const second = client({ chunkSize: 64 * 1024, fingerprintStore: store, fetch: counting.fetch });
    const result = await second.upload(data, { fingerprint: "clip-1" }).done;
    const serverHad = result.resumedBytes;
    expect(serverHad).toBeGreaterThanOrEqual(acked);
    expect(counting.stats.patchBytes).toBe(1_000_000 - serverHad);
    expect(counting.stats.calls.map((c) => c.method).slice(0, 3)).toEqual(["OPTIONS", "HEAD", "PATCH"]);
    expect(counting.stats.calls.some((c) => c.method === "POST")).toBe(false);
    expect((await stored(result.url)).sha).toBe(sha256(data));
    expect(await store.get(`${endpoint} clip-1`)).toBeUndefined();
  });

  it("resumes every part of a parallel upload from a file store after a restart", async () => {
    await start();
    const file = join(root, "clip.bin");
    const data = randomBytes(600_000);
    await writeFile(file, data);
    const storePath = join(root, "state", "fingerprints.json");
    const options = { parallel: 3, chunkSize: 32 * 1024 };
    const first = client({ ...options, fingerprintStore: createFileFingerprintStore(storePath) }).upload(
      await fileSource(file),
    );
    first.on("progress", ({ bytesUploaded }) => {
      if (bytesUploaded >= 250_000) first.abort();
    });
    await expectCode(first.done, "ABORTED");
    const record = Object.values(JSON.parse(await readFile(storePath, "utf8")) as Record<string, { parts: unknown[] }>);
    expect(record).toHaveLength(1);
    expect(record[0]?.parts).toHaveLength(3);

    const counting = countingFetch();
    const second = client({
      ...options,
      fingerprintStore: createFileFingerprintStore(storePath),
      fetch: counting.fetch,
    });
    const result = await second.upload(await fileSource(file)).done;
    expect(result.resumedBytes).toBeGreaterThanOrEqual(250_000);
    expect(counting.stats.patchBytes).toBe(600_000 - result.resumedBytes);
    const posts = counting.stats.calls.filter((c) => c.method === "POST");
    expect(posts.map((p) => p.headers["Upload-Concat"]?.split(";")[0])).toEqual(["final"]);
    expect(counting.stats.calls.filter((c) => c.method === "HEAD")).toHaveLength(3);
    expect(sha256(await readFile(join(dir, idOf(result.url))))).toBe(sha256(data));
    expect(JSON.parse(await readFile(storePath, "utf8"))).toEqual({});
  });

  it("starts over when the stored upload is gone (404) or the file changed", async () => {
    await start();
    const data = randomBytes(5000);
    const store = createMemoryFingerprintStore();
    await store.set(`${endpoint} gone`, {
      version: 1,
      size: 5000,
      concat: false,
      parts: [{ start: 0, end: 5000, url: `${endpoint}AAAAAAAAAAAAAAAAAAAAAA` }],
      createdAt: 0,
    });
    const result = await client({ fingerprintStore: store }).upload(data, { fingerprint: "gone" }).done;
    expect(result.resumedBytes).toBe(0);
    expect(requests.map((r) => r.method)).toEqual(["OPTIONS", "HEAD", "POST", "PATCH"]);
    expect((await stored(result.url)).sha).toBe(sha256(data));

    // fileSource: a modified file has another fingerprint, so nothing is resumed.
    const file = join(root, "f.bin");
    await writeFile(file, data);
    const before = (await fileSource(file)).fingerprint;
    await utimes(file, new Date(), new Date(Date.now() + 5000));
    expect((await fileSource(file)).fingerprint).not.toBe(before);
  });

  it("retries injected network failures, lost answers and dropped connections", async () => {
    let patches = 0;
    await start({}, (req, res) => {
      if (req.method !== "PATCH") return false;
      patches++;
      if (patches === 2) {
        // Drop the connection mid-body: the server never sees this chunk.
        req.once("data", () => req.socket.destroy());
        return true;
      }
      if (patches === 4) {
        // Store the chunk, but lose the answer: the client must HEAD and not resend it.
        res.writeHead = (() => {
          req.socket.destroy();
          return res;
        }) as never;
        return false;
      }
      if (patches === 6) {
        res.writeHead(503).end("try later");
        return true;
      }
      if (patches === 7) {
        res.writeHead(423).end("locked");
        return true;
      }
      return false;
    });
    let fetches = 0;
    const flaky: typeof fetch = async (input, init) => {
      fetches++;
      if (fetches === 5) throw new TypeError("fetch failed"); // before anything is sent
      return fetch(input, init);
    };
    const data = randomBytes(200_000);
    const retries: Array<{ attempt: number; message: string }> = [];
    const handle = client({ chunkSize: 20_000, fetch: flaky }).upload(data);
    handle.on("retry", ({ attempt, error }) => retries.push({ attempt, message: error.message }));
    const result = await handle.done;
    expect(retries.length).toBeGreaterThanOrEqual(4);
    expect(retries.some((r) => /503/.test(r.message))).toBe(true);
    expect(retries.some((r) => /423/.test(r.message))).toBe(true);
    expect(retries.some((r) => /fetch failed/.test(r.message))).toBe(true);
    expect(await stored(result.url)).toEqual({ sha: sha256(data), serverSha: sha256(data) });
  });

  it("keeps partially received bytes of a dropped unchecksummed chunk and continues after them", async () => {
    await start();
    let cut = 0;
    // The first PATCH's body dies after 150 000 bytes, as when a phone loses its network mid-chunk.
    const dying: typeof fetch = async (input, init) => {
      if (init?.method !== "PATCH" || cut++ > 0) return fetch(input, init);
      const reader = (init.body as ReadableStream<Uint8Array>).getReader();
      let sent = 0;
      const body = new ReadableStream<Uint8Array>({
        async pull(controller) {
          if (sent >= 150_000) {
            await new Promise((done) => setTimeout(done, 100));
            controller.error(new Error("network lost"));
            return;
          }
          const { value, done } = await reader.read();
          if (done) return controller.close();
          sent += value.byteLength;
          controller.enqueue(value);
        },
      });
      return fetch(input, { ...init, body });
    };
    const data = randomBytes(400_000);
    const counting = countingFetch(dying);
    const result = await client({ checksum: false, chunkSize: 400_000, fetch: counting.fetch }).upload(data).done;
    const methods = counting.stats.calls.map((c) => c.method);
    expect(methods.slice(0, 4)).toEqual(["OPTIONS", "POST", "PATCH", "HEAD"]);
    // The HEAD may come before the dying PATCH made its bytes durable; the next PATCH then takes
    // the upload over and learns the real offset from a 409. Either way the last PATCH sends only the rest.
    const last = counting.stats.calls.at(-1);
    const offset = Number(last?.headers["Upload-Offset"]);
    expect(offset).toBeGreaterThanOrEqual(150_000); // what the server stored before the drop is kept
    expect(Number(last?.headers["Content-Length"])).toBe(400_000 - offset);
    expect((await stored(result.url)).sha).toBe(sha256(data));
  });

  it("resends a chunk the server refused with 460 Checksum Mismatch", async () => {
    await start();
    let corrupted = 0;
    const corrupting: typeof fetch = async (input, init) => {
      const headers = init?.headers as Record<string, string> | undefined;
      if (init?.method === "PATCH" && headers?.["Upload-Offset"] === "10000" && corrupted === 0) {
        corrupted++;
        headers["Upload-Checksum"] = `sha256 ${Buffer.alloc(32).toString("base64")}`;
      }
      return fetch(input, init);
    };
    const data = randomBytes(30_000);
    const statuses: Array<number | undefined> = [];
    const handle = client({ chunkSize: 10_000, fetch: corrupting }).upload(data);
    handle.on("retry", ({ error }) => statuses.push((error as { status?: number }).status));
    const result = await handle.done;
    expect(corrupted).toBe(1);
    expect(statuses).toEqual([460]);
    expect(requests.filter((r) => r.method === "PATCH").map((r) => r.headers["upload-offset"])).toEqual([
      "0",
      "10000",
      "10000",
      "20000",
    ]);
    expect((await stored(result.url)).sha).toBe(sha256(data));
  });

  it("gives up with RETRIES_EXHAUSTED when the server keeps failing", async () => {
    await start({}, (req, res) => {
      if (req.method !== "PATCH") return false;
      res.writeHead(500).end("broken");
      return true;
    });
    const store = createMemoryFingerprintStore();
    const error = await expectCode(
      client({ retry: { retries: 3, baseDelayMs: 1, maxDelayMs: 5 }, fingerprintStore: store }).upload(
        randomBytes(100),
        { fingerprint: "x" },
      ).done,
      "RETRIES_EXHAUSTED",
    );
    expect(error.message).toMatch(/500/);
    expect(requests.filter((r) => r.method === "PATCH")).toHaveLength(4);
    expect(await store.get(`${endpoint} x`)).toBeDefined(); // kept for a later resume
  });

  it("fails at once with REQUEST_REJECTED on a 4xx it cannot fix, sending the headers function's token", async () => {
    await start({
      onUploadCreate: ({ req }) => {
        if (req.headers.authorization !== "Bearer good") throw { status: 401, message: "sign in first" };
      },
    });
    let token = "bad";
    const c = client({ headers: async () => ({ Authorization: `Bearer ${token}` }) });
    const error = await expectCode(c.upload(randomBytes(100)).done, "REQUEST_REJECTED");
    expect(error.cause).toMatchObject({ status: 401, method: "POST" });
    expect(error.message).toMatch(/sign in first/);
    expect(requests.filter((r) => r.method === "POST")).toHaveLength(1);
    token = "good";
    const data = randomBytes(100);
    expect((await stored((await c.upload(data).done).url)).sha).toBe(sha256(data));
  });

  it("forgets the record when the upload disappears mid-way (NOT_FOUND)", async () => {
    let patches = 0;
    await start({}, (req, res) => {
      if (req.method === "PATCH" && ++patches === 2) {
        res.writeHead(404).end("upload not found");
        return true;
      }
      return false;
    });
    const store = createMemoryFingerprintStore();
    await expectCode(
      client({ chunkSize: 100, fingerprintStore: store }).upload(randomBytes(300), { fingerprint: "f" }).done,
      "NOT_FOUND",
    );
    expect(await store.get(`${endpoint} f`)).toBeUndefined();
  });

  it("runs at most `concurrency` files at once; the others queue, and a queued upload aborts cleanly", async () => {
    let running = 0;
    let maxRunning = 0;
    const first = new Set<string>();
    const finished = new Set<string>();
    await start({}, (req, res) => {
      // Slow every PATCH a little so uploads overlap when they can.
      if (req.method !== "PATCH") return false;
      const id = (req.url ?? "").split("/").pop() ?? "";
      if (!first.has(id)) {
        first.add(id);
        running++;
        maxRunning = Math.max(maxRunning, running);
      }
      setTimeout(() => void server?.handle(req, res), 15);
      return true;
    });
    server?.on("completed", ({ id }) => {
      if (!finished.has(id)) {
        finished.add(id);
        running--;
      }
    });
    const c = client({ concurrency: 2, chunkSize: 1000 });
    const handles = Array.from({ length: 5 }, () => c.upload(randomBytes(5000)));
    const queued = c.upload(randomBytes(5000));
    queued.abort();
    await expectCode(queued.done, "ABORTED");
    const results = await Promise.all(handles.map((h) => h.done));
    expect(results).toHaveLength(5);
    expect(maxRunning).toBe(2);
    expect(first.size).toBe(5);
    expect(requests.filter((r) => r.method === "POST")).toHaveLength(5); // the aborted one sent nothing
  });

  it.each([
    { streamBodies: true, chunk: 3_000_000 },
    { streamBodies: false, chunk: 50_000 },
  ])("aborts and retries a request that stalls (streamBodies: $streamBodies)", async ({ streamBodies, chunk }) => {
    let hung = 0;
    await start({}, (req) => {
      if (req.method === "PATCH" && hung === 0) {
        hung++;
        req.pause(); // never read, never answer
        return true;
      }
      return false;
    });
    const data = randomBytes(chunk * 2);
    const retries: string[] = [];
    const began = Date.now();
    // Long enough that a loaded CI machine does not stall a healthy request, short enough to wait.
    const handle = client({ chunkSize: chunk, stallTimeoutMs: 1000, streamBodies }).upload(data);
    handle.on("retry", ({ error }) => retries.push(error.message));
    const result = await handle.done;
    expect(hung).toBe(1);
    expect(retries).toHaveLength(1);
    expect(retries[0]).toMatch(/no progress for 1000 ms/);
    expect(Date.now() - began).toBeGreaterThanOrEqual(1000);
    expect((await stored(result.url)).sha).toBe(sha256(data));
  });

  it("rejects bad options with INVALID_OPTIONS and bad input with INVALID_INPUT", async () => {
    const bad: unknown[] = [
      {},
      { endpoint: "ftp://example.com/files/" },
      { endpoint: "/files/" },
      { endpoint: "http://x/files/", chunkSize: 0 },
      { endpoint: "http://x/files/", parallel: 0 },
      { endpoint: "http://x/files/", concurrency: 1.5 },
      { endpoint: "http://x/files/", checksum: "md5" },
      { endpoint: "http://x/files/", retry: { retries: -1 } },
      { endpoint: "http://x/files/", stallTimeoutMs: -1 },
      { endpoint: "http://x/files/", fetch: "fetch" },
      { endpoint: "http://x/files/", headers: 5 },
      { endpoint: "http://x/files/", fingerprintStore: {} },
    ];
    for (const options of bad)
      expect(() => createUploadClient(options as UploadClientOptions), JSON.stringify(options)).toThrow(
        expect.objectContaining({ code: "INVALID_OPTIONS" }),
      );
    // In a page, a relative endpoint resolves against the page's address.
    const page = globalThis as { location?: unknown };
    page.location = { href: "http://127.0.0.1:9/app/page" };
    try {
      let asked = "";
      const relative = createUploadClient({
        endpoint: "/files/",
        fetch: async (url) => {
          asked = String(url);
          return new Response(null, { status: 204, headers: { "Tus-Resumable": "1.0.0", "Tus-Version": "1.0.0" } });
        },
      });
      await relative.capabilities();
      expect(asked).toBe("http://127.0.0.1:9/files/");
    } finally {
      delete page.location;
    }
    const c = createUploadClient({ endpoint: "http://127.0.0.1:9/files/" });
    for (const source of [null, "a string", { size: -1, slice: () => {} }, { size: 3 }])
      expect(() => c.upload(source as never)).toThrow(expect.objectContaining({ code: "INVALID_INPUT" }));
    expect(() => c.upload(new Uint8Array(1), { metadata: { "bad key": "x" } })).toThrow(
      expect.objectContaining({ code: "INVALID_INPUT" }),
    );
    expect(() => createLocalStorageFingerprintStore()).toThrow(expect.objectContaining({ code: "INVALID_OPTIONS" }));
  });

  it("checks what a source returns (SOURCE_FAILED) and closes it", async () => {
    await start();
    let closed = 0;
    const source = {
      size: 100,
      slice: async () => new Uint8Array(10),
      close: () => {
        closed++;
      },
    };
    await expectCode(client().upload(source).done, "SOURCE_FAILED");
    expect(closed).toBe(1);
  });

  it("keeps resume records in a localStorage-like store and ignores broken ones", async () => {
    const items = new Map<string, string>();
    const storage: StorageLike = {
      getItem: (k) => items.get(k) ?? null,
      setItem: (k, v) => void items.set(k, v),
      removeItem: (k) => void items.delete(k),
    };
    const store: FingerprintStore = createLocalStorageFingerprintStore({ storage, prefix: "t:" });
    const record = { version: 1 as const, size: 3, concat: false, parts: [{ start: 0, end: 3 }], createdAt: 1 };
    await store.set("k", record);
    expect([...items.keys()]).toEqual(["t:k"]);
    expect(await store.get("k")).toEqual(record);
    items.set("t:broken", "{not json");
    expect(await store.get("broken")).toBeUndefined();
    await store.remove("k");
    expect(items.has("t:k")).toBe(false);

    // A record that does not match the source is dropped and the upload starts fresh.
    await start();
    const memory = createMemoryFingerprintStore();
    await memory.set(`${endpoint} fp`, { ...record, size: 999 });
    const data = randomBytes(3);
    const result = await client({ fingerprintStore: memory }).upload(data, { fingerprint: "fp" }).done;
    expect(result.resumedBytes).toBe(0);
    expect(requests.some((r) => r.method === "HEAD")).toBe(false);
    expect(await memory.get(`${endpoint} fp`)).toBeUndefined();
  });

  it("survives a failing fingerprint store with a warning", async () => {
    await start();
    const failing: FingerprintStore = {
      get: () => Promise.reject(new Error("disk gone")),
      set: () => Promise.reject(new Error("disk gone")),
      remove: () => Promise.reject(new Error("disk gone")),
    };
    const data = randomBytes(2000);
    const handle = client({ fingerprintStore: failing }).upload(data, { fingerprint: "f" });
    const warnings: string[] = [];
    handle.on("warning", ({ message }) => warnings.push(message));
    const result = await handle.done;
    expect(warnings.length).toBeGreaterThanOrEqual(2);
    expect((await stored(result.url)).sha).toBe(sha256(data));
  });

  it("the browser entry reaches no Node built-in through its relative imports", async () => {
    const seen = new Set<string>();
    const builtins: string[] = [];
    const queue = [fileURLToPath(new URL("../client/index.ts", import.meta.url))];
    for (let file = queue.pop(); file !== undefined; file = queue.pop()) {
      if (seen.has(file)) continue;
      seen.add(file);
      const text = await readFile(file, "utf8");
      for (const [, spec = ""] of text.matchAll(/(?:from|import)\s*\(?\s*["']([^"']+)["']/g)) {
        if (spec.startsWith(".")) queue.push(resolve(dirname(file), spec.replace(/\.js$/, ".ts")));
        else if (spec.startsWith("node:") || !["zod"].includes(spec)) builtins.push(`${file}: ${spec}`);
      }
    }
    expect(seen.size).toBeGreaterThanOrEqual(6);
    expect([...seen].some((f) => f.endsWith("node.ts"))).toBe(false);
    expect(builtins).toEqual([]);
  });
});
