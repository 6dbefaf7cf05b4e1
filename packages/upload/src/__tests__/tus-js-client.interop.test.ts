// Interop: the reference tus client, tus-js-client 4 (its Node build, Buffer / stream input),
// uploading to our server in every mode it has. Each completed upload's SHA-256 (from the server's
// `completed` event, and of the stored bytes) must equal the source's.
import { createHash, randomBytes } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { type PreviousUpload, Upload, type UploadOptions, type UrlStorage } from "tus-js-client";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createUploadServer, type UploadServer } from "../server.js";

const KiB = 1024;
const sha256 = (data: Uint8Array) => createHash("sha256").update(data).digest("hex");
/** An ISO BMFF `ftyp` box, so the default container sniffing accepts the uploads. */
const FTYP = Buffer.concat([
  Buffer.from([0, 0, 0, 24]),
  Buffer.from("ftypisom", "latin1"),
  Buffer.from([0, 0, 2, 0]),
  Buffer.from("isommp41", "latin1"),
]);
const video = (size: number) => Buffer.concat([FTYP, randomBytes(size - FTYP.length)]);

interface Seen {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
}

let root: string;
let dir: string;
let http: Server;
let upload: UploadServer;
let endpoint: string;
/** Every request the server got, in arrival order. */
let seen: Seen[];
/** SHA-256 per completed upload id, and how often each completed. */
let completed: Map<string, string[]>;
const sockets = new Set<Socket>();
const inFlight = new Set<Promise<void>>();

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), "reelkit-upload-tusjs-"));
  dir = join(root, "store");
  seen = [];
  completed = new Map();
  upload = createUploadServer({ dir, tempDir: root });
  upload.on("completed", ({ id, sha256: hash }) => completed.set(id, [...(completed.get(id) ?? []), hash]));
  http = createServer((req, res) => {
    seen.push({ method: req.method ?? "", path: req.url ?? "", headers: req.headers });
    const task = upload.handle(req, res);
    inFlight.add(task);
    void task.finally(() => inFlight.delete(task));
  });
  http.on("connection", (socket: Socket) => sockets.add(socket));
  await new Promise<void>((done) => http.listen(0, "127.0.0.1", done));
  endpoint = `http://127.0.0.1:${(http.address() as AddressInfo).port}/files/`;
});

afterEach(async () => {
  http.closeAllConnections();
  await new Promise((done) => http.close(done));
  await upload.close();
  sockets.clear();
  await rm(root, { recursive: true, force: true });
});

/** Wait until the server has finished every request (an aborted one included). */
async function settle() {
  while (inFlight.size > 0) await Promise.allSettled([...inFlight]);
}

/** Bytes the server has read off the wire so far, all connections together. */
const bytesReceived = () => [...sockets].reduce((sum, socket) => sum + socket.bytesRead, 0);

const idOf = (url: string | null) => (url ?? "").split("/").pop() ?? "";

/** Run an upload to completion; resolves the upload (its `url` set). */
function run(input: ConstructorParameters<typeof Upload>[0], options: UploadOptions): Promise<Upload> {
  return new Promise((resolve, reject) => {
    const client: Upload = new Upload(input, {
      endpoint,
      retryDelays: [],
      ...options,
      onSuccess: () => resolve(client),
      onError: reject,
    });
    client.start();
  });
}

/** The upload completed once, with the source's SHA-256, and the stored bytes are the source's. */
async function expectStored(url: string | null, source: Buffer) {
  await settle();
  const id = idOf(url);
  expect(completed.get(id), `completed events of ${id}`).toEqual([sha256(source)]);
  expect(sha256(await readFile(join(dir, id)))).toBe(sha256(source));
}

const requests = (method: string) => seen.filter((r) => r.method === method);
const headerOf = (r: Seen | undefined, name: string) => {
  const value = r?.headers[name];
  return Array.isArray(value) ? value.join(", ") : value;
};

/** URL storage in memory, shaped like tus-js-client's FileUrlStorage. */
class MemoryUrlStorage implements UrlStorage {
  private readonly items = new Map<string, PreviousUpload>();
  private next = 0;
  async findAllUploads() {
    return [...this.items.values()];
  }
  async findUploadsByFingerprint(fingerprint: string) {
    return [...this.items].filter(([key]) => key.startsWith(`tus::${fingerprint}::`)).map(([, value]) => value);
  }
  async removeUpload(key: string) {
    this.items.delete(key);
  }
  async addUpload(fingerprint: string, entry: PreviousUpload) {
    const key = `tus::${fingerprint}::${this.next++}`;
    this.items.set(key, { ...entry, urlStorageKey: key });
    return key;
  }
}

describe("tus-js-client 4 → our server", () => {
  it("uploads a file (fs.ReadStream) in a single PATCH, with its metadata", async () => {
    const source = video(300 * KiB);
    const file = join(root, "clip.mp4");
    await writeFile(file, source);
    const metadata: Record<string, string> = {};
    upload.on("completed", (event) => Object.assign(metadata, event.metadata));
    const done = await run(createReadStream(file), { metadata: { filename: "clip.mp4", filetype: "video/mp4" } });
    expect(requests("POST")).toHaveLength(1);
    expect(requests("POST")[0]?.headers["upload-length"]).toBe(String(source.length));
    expect(requests("PATCH")).toHaveLength(1);
    expect(metadata).toEqual({ filename: "clip.mp4", filetype: "video/mp4" });
    await expectStored(done.url, source);
  });

  it("uploads in chunks (chunkSize 64 KiB), one PATCH per chunk at the right offsets", async () => {
    const source = video(300 * KiB + 123);
    const done = await run(source, { chunkSize: 64 * KiB });
    const offsets = requests("PATCH").map((r) => Number(r.headers["upload-offset"]));
    expect(offsets).toEqual([0, 1, 2, 3, 4].map((i) => i * 64 * KiB));
    await expectStored(done.url, source);
  });

  it("uploads in parallel (parallelUploads: 3): three partial uploads concatenated into a final one", async () => {
    const source = video(1024 * KiB + 7);
    const done = await run(source, { parallelUploads: 3, chunkSize: 128 * KiB });
    const posts = requests("POST");
    expect(posts.filter((r) => r.headers["upload-concat"] === "partial")).toHaveLength(3);
    const final = posts.find((r) => headerOf(r, "upload-concat")?.startsWith("final;"));
    expect(headerOf(final, "upload-concat")?.split(" ")).toHaveLength(3);
    // Only the final upload completes; the parts are not videos of their own.
    await settle();
    expect([...completed.keys()]).toEqual([idOf(done.url)]);
    await expectStored(done.url, source);
    const res = await fetch(done.url ?? "");
    expect(sha256(Buffer.from(await res.arrayBuffer()))).toBe(sha256(source));
  });

  it("resumes an aborted upload from the server's offset, sending only the rest", async () => {
    const source = video(1024 * KiB);
    const urlStorage = new MemoryUrlStorage();
    const options: UploadOptions = { endpoint, chunkSize: 256 * KiB, retryDelays: [], urlStorage };

    // First pass: abort in the middle of the third chunk's PATCH.
    const first = await new Promise<Upload>((resolve, reject) => {
      let aborting = false;
      const client: Upload = new Upload(source, {
        ...options,
        onProgress: (sent) => {
          if (aborting || sent < 600 * KiB) return;
          aborting = true;
          void client.abort().then(() => resolve(client));
        },
        onSuccess: () => reject(new Error("finished before the abort")),
        onError: reject,
      });
      client.start();
    });
    await settle();
    const head = await fetch(first.url ?? "", { method: "HEAD", headers: { "Tus-Resumable": "1.0.0" } });
    const offset = Number(head.headers.get("upload-offset"));
    expect(offset).toBeGreaterThanOrEqual(512 * KiB);
    expect(offset).toBeLessThan(source.length);
    expect(completed.size).toBe(0);

    // Second pass: a new Upload finds the stored URL and resumes it.
    const before = bytesReceived();
    const patchesBefore = requests("PATCH").length;
    const second = new Upload(source, options);
    const previous = await second.findPreviousUploads();
    expect(previous.map((p) => p.uploadUrl)).toEqual([first.url]);
    const [entry] = previous;
    if (entry === undefined) throw new Error("no previous upload");
    second.resumeFromPreviousUpload(entry);
    await new Promise<void>((resolve, reject) => {
      second.options.onSuccess = () => resolve();
      second.options.onError = reject;
      second.start();
    });
    const received = bytesReceived() - before;
    expect(second.url).toBe(first.url);
    expect(requests("PATCH")[patchesBefore]?.headers["upload-offset"]).toBe(String(offset));
    expect(received).toBeLessThan(source.length);
    expect(received).toBeGreaterThanOrEqual(source.length - offset);
    await expectStored(second.url, source);
  });

  it("sends the first chunk with the creation request (uploadDataDuringCreation)", async () => {
    const source = video(250 * KiB);
    const done = await run(source, { uploadDataDuringCreation: true, chunkSize: 100 * KiB });
    const [post] = requests("POST");
    expect(post?.headers["content-type"]).toBe("application/offset+octet-stream");
    expect(post?.headers["transfer-encoding"] ?? post?.headers["content-length"]).toBeDefined();
    expect(requests("PATCH").map((r) => r.headers["upload-offset"])).toEqual([String(100 * KiB), String(200 * KiB)]);
    await expectStored(done.url, source);
  });

  it.each([
    ["ends mid-chunk", 200 * KiB + 5],
    ["ends on a chunk boundary (a last, empty PATCH sets the length)", 192 * KiB],
  ])("defers the length of a stream of unknown size (uploadLengthDeferred): %s", async (_name, size) => {
    const source = video(size);
    const stream = Readable.from(
      Array.from({ length: Math.ceil(source.length / 10_000) }, (_, i) =>
        source.subarray(i * 10_000, (i + 1) * 10_000),
      ),
    );
    const done = await run(stream, { uploadLengthDeferred: true, chunkSize: 64 * KiB });
    const [post] = requests("POST");
    expect(post?.headers["upload-defer-length"]).toBe("1");
    expect(post?.headers["upload-length"]).toBeUndefined();
    const patches = requests("PATCH");
    expect(patches.at(-1)?.headers["upload-length"]).toBe(String(source.length));
    expect(patches.slice(0, -1).every((r) => r.headers["upload-length"] === undefined)).toBe(true);
    await expectStored(done.url, source);
  });
});
