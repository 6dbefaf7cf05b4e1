import { createHash, randomBytes } from "node:crypto";
import { mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { request } from "node:http";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { createCrc32 } from "../checksum.js";
import { createUploadServer } from "../server.js";
import type { UploadStore } from "../store.js";
import { createFileStore } from "../stores/file.js";
import { OCTET, sha256, TUS, useUploadServer } from "./harness.js";

const h = useUploadServer({ sniff: false });
const start = h.start;

async function create(length: number | "defer", headers: Record<string, string> = {}): Promise<string> {
  const res = await fetch(`${h.base}/files/`, {
    method: "POST",
    headers: {
      ...TUS,
      ...(length === "defer" ? { "Upload-Defer-Length": "1" } : { "Upload-Length": String(length) }),
      ...headers,
    },
  });
  expect(res.status).toBe(201);
  const location = res.headers.get("location");
  expect(location).toMatch(/^\/files\/[A-Za-z0-9_-]{22}$/);
  return `${h.base}${location}`;
}

const patch = (url: string, offset: number, body: Uint8Array, headers: Record<string, string> = {}) =>
  fetch(url, { method: "PATCH", headers: { ...OCTET, "Upload-Offset": String(offset), ...headers }, body });

const head = (url: string) => fetch(url, { method: "HEAD", headers: TUS });

describe("tus server", () => {
  it("advertises the protocol on OPTIONS", async () => {
    await start({ maxSize: 1000 });
    const res = await fetch(`${h.base}/files/`, { method: "OPTIONS" });
    expect(res.status).toBe(204);
    expect(res.headers.get("tus-version")).toBe("1.0.0");
    expect(res.headers.get("tus-max-size")).toBe("1000");
    expect(res.headers.get("tus-extension")).toContain("creation-defer-length");
    expect(res.headers.get("tus-checksum-algorithm")).toBe("sha1,md5,crc32,sha256");
  });

  it("uploads a file in three PATCHes and emits events with the whole-file SHA-256", async () => {
    await start();
    const events: string[] = [];
    let completed: { sha256: string; metadata: Record<string, string | null> } | undefined;
    h.upload.on("created", () => events.push("created"));
    h.upload.on("progress", ({ offset }) => events.push(`progress:${offset}`));
    h.upload.on("completed", (event) => {
      completed = event;
    });
    const data = randomBytes(30_000);
    const url = await create(data.length, {
      "Upload-Metadata": `filename ${Buffer.from("clip.mp4").toString("base64")},private`,
    });
    for (const [from, to] of [
      [0, 10_000],
      [10_000, 20_000],
      [20_000, 30_000],
    ] as const) {
      const res = await patch(url, from, data.subarray(from, to));
      expect(res.status).toBe(204);
      expect(res.headers.get("upload-offset")).toBe(String(to));
      if (to < data.length) expect(res.headers.get("upload-expires")).toBeTruthy();
    }
    const info = await head(url);
    expect(info.headers.get("upload-offset")).toBe("30000");
    expect(info.headers.get("upload-length")).toBe("30000");
    expect(info.headers.get("cache-control")).toBe("no-store");
    expect(info.headers.get("upload-metadata")).toBe(`filename ${Buffer.from("clip.mp4").toString("base64")},private`);
    expect(events).toEqual(["created", "progress:10000", "progress:20000", "progress:30000"]);
    expect(completed?.sha256).toBe(sha256(data));
    expect(completed?.metadata).toEqual({ filename: "clip.mp4", private: null });
    const id = url.split("/").pop() ?? "";
    expect(sha256(await readFile(join(h.dir, id)))).toBe(sha256(data));
  });

  it("hashes incrementally: no re-read of the stored file when one process wrote every chunk", async () => {
    const reads: string[] = [];
    const files = createFileStore({ dir: h.dir });
    const store: UploadStore = {
      ...files,
      read: (id, range) => {
        reads.push(id);
        return files.read(id, range);
      },
    };
    await start({ store });
    const data = randomBytes(50_000);
    const sums: string[] = [];
    h.upload.on("completed", ({ sha256 }) => sums.push(sha256));
    const url = await create(data.length);
    expect((await patch(url, 0, data.subarray(0, 20_000))).status).toBe(204);
    // A chunk with a checksum goes through the staging file and still feeds the running hash.
    const chunk = data.subarray(20_000, 35_000);
    const checksum = `sha1 ${createHash("sha1").update(chunk).digest("base64")}`;
    expect((await patch(url, 20_000, chunk, { "Upload-Checksum": checksum })).status).toBe(204);
    expect((await patch(url, 35_000, data.subarray(35_000))).status).toBe(204);
    expect(sums).toEqual([sha256(data)]);
    expect(reads).toEqual([]);

    // A server that did not see the first bytes (a restart) re-reads the stored file once.
    const second = await create(data.length);
    expect((await patch(second, 0, data.subarray(0, 20_000))).status).toBe(204);
    await h.restart({ store });
    h.upload.on("completed", ({ sha256 }) => sums.push(sha256));
    expect((await patch(second, 20_000, data.subarray(20_000))).status).toBe(204);
    expect(sums).toEqual([sha256(data), sha256(data)]);
    expect(reads).toEqual([second.split("/").pop()]);
  });

  it("answers 409 on an offset mismatch, 415 on a bad content type, 412 on a wrong version", async () => {
    await start();
    const url = await create(10);
    const mismatch = await patch(url, 5, Buffer.from("abc"));
    expect(mismatch.status).toBe(409);
    const badType = await patch(url, 0, Buffer.from("abc"), { "Content-Type": "application/octet-stream" });
    expect(badType.status).toBe(415);
    const badVersion = await patch(url, 0, Buffer.from("abc"), { "Tus-Resumable": "0.2.2" });
    expect(badVersion.status).toBe(412);
    expect(badVersion.headers.get("tus-version")).toBe("1.0.0");
    expect((await head(url)).headers.get("upload-offset")).toBe("0");
  });

  it.each([
    { path: "written in place (the file store verifies appends)", staged: false },
    { path: "staged in a temp file (a store without verifiesAppends)", staged: true },
  ])(
    "verifies Upload-Checksum, $path: sha1 match appends, mismatch answers 460 and discards the chunk",
    async ({ staged }) => {
      const fileStore = createFileStore({ dir: h.dir });
      const verifying: boolean[] = []; // per append: whether the server asked the store to verify
      const store: UploadStore = {
        ...fileStore,
        verifiesAppends: !staged,
        append(id, offset, source, options) {
          verifying.push(options?.verify !== undefined);
          return fileStore.append(id, offset, source, options);
        },
      };
      await start({ tempDir: join(h.root, "parts"), store });
      await rm(join(h.root, "parts"), { force: true, recursive: true });
      await mkdir(join(h.root, "parts"));
      const url = await create(8);
      const good = Buffer.from("abcd");
      const sha1 = createHash("sha1").update(good).digest("base64");
      expect((await patch(url, 0, good, { "Upload-Checksum": `sha1 ${sha1}` })).status).toBe(204);
      const bad = await patch(url, 4, Buffer.from("efgh"), { "Upload-Checksum": `sha1 ${sha1}` });
      expect(bad.status).toBe(460);
      expect((await head(url)).headers.get("upload-offset")).toBe("4");
      const id = url.split("/").pop() ?? "";
      expect((await readFile(join(h.dir, id))).toString()).toBe("abcd");
      expect(await readdir(join(h.root, "parts"))).toEqual([]);
      const unsupported = await patch(url, 4, Buffer.from("efgh"), { "Upload-Checksum": "whirlpool AAAA" });
      expect(unsupported.status).toBe(400);
      const crc = createCrc32();
      crc.update(Buffer.from("efgh"));
      const ok = await patch(url, 4, Buffer.from("efgh"), {
        "Upload-Checksum": `crc32 ${crc.digest().toString("base64")}`,
      });
      expect(ok.status).toBe(204);
      expect((await readFile(join(h.dir, id))).toString()).toBe("abcdefgh");
      // In place, every checksummed chunk reaches the store (the bad one too, refused there); staged,
      // only verified ones do.
      expect(verifying).toEqual(staged ? [false, false] : [true, true, true]);
    },
  );

  it("computes crc32 like zlib", () => {
    const crc = createCrc32();
    crc.update(Buffer.from("123456789"));
    expect(crc.digest().toString("hex")).toBe("cbf43926");
  });

  it("accepts creation-with-upload", async () => {
    await start();
    const res = await fetch(`${h.base}/files/`, {
      method: "POST",
      headers: { ...OCTET, "Upload-Length": "10" },
      body: Buffer.from("hello"),
    });
    expect(res.status).toBe(201);
    expect(res.headers.get("upload-offset")).toBe("5");
    const url = `${h.base}${res.headers.get("location")}`;
    expect((await patch(url, 5, Buffer.from("world"))).status).toBe(204);
    expect(await (await fetch(url)).text()).toBe("helloworld");
  });

  it("defers the length until a PATCH sets Upload-Length", async () => {
    await start();
    const url = await create("defer");
    expect((await head(url)).headers.get("upload-defer-length")).toBe("1");
    expect((await patch(url, 0, Buffer.from("abc"))).status).toBe(204);
    expect((await patch(url, 3, Buffer.from("def"), { "Upload-Length": "6" })).status).toBe(204);
    const info = await head(url);
    expect(info.headers.get("upload-length")).toBe("6");
    expect(info.headers.get("upload-defer-length")).toBeNull();
    expect(await (await fetch(url)).text()).toBe("abcdef");
  });

  it("terminates an upload: 204, then 404", async () => {
    await start();
    const url = await create(10);
    const res = await fetch(url, { method: "DELETE", headers: TUS });
    expect(res.status).toBe(204);
    expect((await head(url)).status).toBe(404);
    expect(await readdir(h.dir)).toEqual([]);
  });

  it("answers 413 past maxSize, on creation and on an oversized deferred chunk", async () => {
    await start({ maxSize: 10 });
    const res = await fetch(`${h.base}/files/`, { method: "POST", headers: { ...TUS, "Upload-Length": "11" } });
    expect(res.status).toBe(413);
    const url = await create("defer");
    expect((await patch(url, 0, Buffer.alloc(11))).status).toBe(413);
    expect((await head(url)).headers.get("upload-offset")).toBe("0");
  });

  it("expires incomplete uploads: 410 and swept", async () => {
    await start({ expireAfterMs: 1 });
    const url = await create(10);
    await new Promise((r) => setTimeout(r, 5));
    expect((await head(url)).status).toBe(410);
    const id = url.split("/").pop();
    expect(await h.upload.sweep()).toEqual([id]);
    expect((await head(url)).status).toBe(404);
  });

  it("serves a completed upload with GET, whole and by Range", async () => {
    await start();
    const url = await create(10);
    await patch(url, 0, Buffer.from("0123456789"));
    const full = await fetch(url);
    expect(full.status).toBe(200);
    expect(await full.text()).toBe("0123456789");
    const part = await fetch(url, { headers: { Range: "bytes=2-5" } });
    expect(part.status).toBe(206);
    expect(part.headers.get("content-range")).toBe("bytes 2-5/10");
    expect(await part.text()).toBe("2345");
    const suffix = await fetch(url, { headers: { Range: "bytes=-3" } });
    expect(await suffix.text()).toBe("789");
    const bad = await fetch(url, { headers: { Range: "bytes=20-" } });
    expect(bad.status).toBe(416);
    expect(bad.headers.get("content-range")).toBe("bytes */10");
  });

  it("answers 404, not 500, to a GET whose upload is terminated before its bytes are read", async () => {
    const files = createFileStore({ dir: h.dir });
    const store: UploadStore = {
      ...files,
      // A DELETE lands between the GET's lookup and its read.
      read: async (id, range) => {
        await files.remove(id);
        return files.read(id, range);
      },
    };
    await start({ store });
    const url = await create(10);
    await patch(url, 0, Buffer.from("0123456789"));
    const res = await fetch(url, { headers: { Range: "bytes=-3" } });
    expect(res.status).toBe(404);
    expect((await head(url)).status).toBe(404);
  });

  it("rejects path-traversal ids with 404 and never touches files outside the dir", async () => {
    await start();
    const secret = join(h.root, "secret.json");
    await writeFile(secret, "{}");
    await writeFile(join(h.root, "secret"), "keep");
    for (const path of [
      "/files/..%2Fsecret",
      "/files/%2E%2E%2Fsecret",
      "/files/..%5Csecret",
      "/files/abc.json",
      "/files/AAAAAAAAAAAAAAAAAAAAAA%2F..%2F..%2Fsecret",
    ]) {
      for (const method of ["HEAD", "PATCH", "DELETE", "GET"]) {
        const status = await new Promise<number>((done, fail) => {
          const req = request(
            `${h.base}${path}`,
            { method, headers: { ...OCTET, "Upload-Offset": "0", "Content-Length": "4" } },
            (res) => {
              res.resume();
              done(res.statusCode ?? 0);
            },
          );
          req.on("error", fail);
          req.end("evil");
        });
        expect(status, `${method} ${path}`).toBe(404);
      }
    }
    expect(await readFile(join(h.root, "secret"), "utf8")).toBe("keep");
    expect(await readFile(secret, "utf8")).toBe("{}");
  });

  it("keeps a durable, consistent offset when a PATCH body is cut mid-stream, and resumes", async () => {
    await start();
    const data = randomBytes(256 * 1024);
    const url = await create(data.length);
    await new Promise<void>((done) => {
      const req = request(url, {
        method: "PATCH",
        headers: { ...OCTET, "Upload-Offset": "0", "Content-Length": String(data.length) },
      });
      req.on("error", () => done());
      req.write(data.subarray(0, 100_000), () => setTimeout(() => req.destroy(), 50));
    });
    // The server may still be finishing the cut request; HEAD takes the lock after it.
    let offset = -1;
    for (let attempt = 0; attempt < 50; attempt++) {
      const res = await head(url);
      offset = Number(res.headers.get("upload-offset"));
      if (offset > 0) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(offset).toBeGreaterThanOrEqual(0);
    expect(offset).toBeLessThanOrEqual(100_000);
    const id = url.split("/").pop() ?? "";
    const stored = await readFile(join(h.dir, id));
    expect(stored.length).toBe(offset);
    expect(stored.equals(data.subarray(0, offset))).toBe(true);
    let completed = "";
    h.upload.on("completed", ({ sha256: hash }) => {
      completed = hash;
    });
    expect((await patch(url, offset, data.subarray(offset))).status).toBe(204);
    expect(completed).toBe(sha256(data));
    expect(sha256(await readFile(join(h.dir, id)))).toBe(sha256(data));
  });

  it("lets a second PATCH take the upload over: the holder stops at a durable offset, nothing interleaves", async () => {
    await start();
    const data = randomBytes(64 * 1024);
    const url = await create(data.length);
    // The first PATCH sends 1000 bytes, then hangs like a dead connection while holding the lock.
    const slow = new Promise<number | string>((done) => {
      const req = request(
        url,
        { method: "PATCH", headers: { ...OCTET, "Upload-Offset": "0", "Content-Length": String(data.length) } },
        (res) => {
          res.resume();
          done(res.statusCode ?? 0);
        },
      );
      req.on("error", (error) => done((error as NodeJS.ErrnoException).code ?? "error"));
      req.write(data.subarray(0, 1000));
    });
    await new Promise((r) => setTimeout(r, 300)); // the 1000 bytes reach the file (not yet durable)
    const started = Date.now();
    const second = await patch(url, 0, randomBytes(data.length));
    // The holder stopped at its durable offset: the newcomer's offset is stale.
    expect(second.status).toBe(409);
    expect(second.headers.get("upload-offset")).toBe("1000");
    expect(Date.now() - started).toBeLessThan(2000);
    // The displaced request gets 423 (or its connection closed), never a success.
    expect([423, "ECONNRESET", "EPIPE"]).toContain(await slow);
    const rest = await patch(url, 1000, data.subarray(1000));
    expect(rest.status).toBe(204);
    const id = url.split("/").pop() ?? "";
    expect(sha256(await readFile(join(h.dir, id)))).toBe(sha256(data));
  });

  it("validates options and metadata", async () => {
    expect(() => createUploadServer({})).toThrow(expect.objectContaining({ code: "INVALID_OPTIONS" }));
    const { z } = await import("zod");
    await start({ metadataSchema: z.object({ filename: z.string().endsWith(".mp4") }) });
    const bad = await fetch(`${h.base}/files/`, {
      method: "POST",
      headers: {
        ...TUS,
        "Upload-Length": "1",
        "Upload-Metadata": `filename ${Buffer.from("a.exe").toString("base64")}`,
      },
    });
    expect(bad.status).toBe(400);
    const notBase64 = await fetch(`${h.base}/files/`, {
      method: "POST",
      headers: { ...TUS, "Upload-Length": "1", "Upload-Metadata": "filename a.mp4!" },
    });
    expect(notBase64.status).toBe(400);
    await create(1, { "Upload-Metadata": `filename ${Buffer.from("a.mp4").toString("base64")}` });
  });
});
