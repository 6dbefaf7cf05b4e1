import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { beforeAll, describe, expect, it } from "vitest";
import { createUploadServer, type UploadFinishContext } from "../server.js";
import { sniffContainer } from "../sniff.js";
import { OCTET, sha256, TUS, useUploadServer } from "./harness.js";

const h = useUploadServer({});
const start = h.start;

let mp4: Buffer;

beforeAll(async () => {
  const work = await mkdtemp(join(tmpdir(), "reelkit-upload-mp4-"));
  const file = join(work, "clip.mp4");
  await promisify(execFile)("ffmpeg", [
    "-v",
    "error",
    "-f",
    "lavfi",
    "-i",
    "testsrc=size=64x64:rate=10",
    "-t",
    "1",
    "-pix_fmt",
    "yuv420p",
    "-y",
    file,
  ]);
  mp4 = await readFile(file);
  await rm(work, { recursive: true, force: true });
}, 30_000);

const post = (headers: Record<string, string>, body?: Uint8Array) =>
  fetch(`${h.base}/files/`, { method: "POST", headers: { ...TUS, ...headers }, ...(body ? { body } : {}) });

async function create(length: number, headers: Record<string, string> = {}): Promise<string> {
  const res = await post({ "Upload-Length": String(length), ...headers });
  expect(res.status).toBe(201);
  return `${h.base}${res.headers.get("location")}`;
}

const patch = (url: string, offset: number, body: Uint8Array) =>
  fetch(url, { method: "PATCH", headers: { ...OCTET, "Upload-Offset": String(offset) }, body });

const head = (url: string) => fetch(url, { method: "HEAD", headers: TUS });

const stored = async () => readdir(h.dir).catch(() => [] as string[]);

describe("hooks", () => {
  it("onUploadCreate rejects with 401 and nothing is created", async () => {
    const seen: Array<{ length: number | undefined; metadata: unknown }> = [];
    await start({
      sniff: false,
      onUploadCreate: ({ metadata, length, req }) => {
        seen.push({ length, metadata });
        if (req.headers.authorization !== "Bearer ok") throw { status: 401, message: "sign in first" };
      },
    });
    let created = 0;
    h.upload.on("created", () => created++);
    const denied = await post({ "Upload-Length": "5", "Upload-Metadata": `a ${Buffer.from("b").toString("base64")}` });
    expect(denied.status).toBe(401);
    expect(await denied.text()).toBe("sign in first");
    expect(created).toBe(0);
    expect(await stored()).toEqual([]);
    expect(seen).toEqual([{ length: 5, metadata: { a: "b" } }]);
    await create(5, { Authorization: "Bearer ok" });
    expect(created).toBe(1);
  });

  it("a hook throwing something else answers 500; bad hook options are refused", async () => {
    expect(() => createUploadServer({ dir: "x", onUploadCreate: 5 as never })).toThrow(
      expect.objectContaining({ code: "INVALID_OPTIONS" }),
    );
    expect(() => createUploadServer({ dir: "x", allowedTypes: ["gif" as never] })).toThrow(
      expect.objectContaining({ code: "INVALID_OPTIONS" }),
    );
    await start({
      sniff: false,
      onUploadCreate: async () => {
        throw new Error("boom");
      },
    });
    expect((await post({ "Upload-Length": "5" })).status).toBe(500);
    expect(await stored()).toEqual([]);
  });

  it("onUploadFinish runs once with the whole file's SHA-256, before the last 204", async () => {
    const calls: UploadFinishContext[] = [];
    await start({
      sniff: false,
      onUploadFinish: async (ctx) => {
        await new Promise((done) => setTimeout(done, 20));
        calls.push(ctx);
      },
    });
    const data = randomBytes(20_000);
    const url = await create(data.length);
    expect((await patch(url, 0, data.subarray(0, 10_000))).status).toBe(204);
    expect(calls).toHaveLength(0);
    expect((await patch(url, 10_000, data.subarray(10_000))).status).toBe(204);
    expect(calls).toHaveLength(1);
    const id = url.split("/").pop();
    expect(calls[0]?.id).toBe(id);
    expect(calls[0]?.sha256).toBe(sha256(data));
    expect(calls[0]?.info.sha256).toBe(sha256(data));
    expect(calls[0]?.info.offset).toBe(data.length);
  });

  it("an onUploadFinish throw answers 500 but the upload stays complete", async () => {
    await start({
      sniff: false,
      onUploadFinish: () => {
        throw new Error("downstream is down");
      },
    });
    const data = randomBytes(1000);
    const url = await create(data.length);
    expect((await patch(url, 0, data)).status).toBe(500);
    const info = await head(url);
    expect(info.headers.get("upload-offset")).toBe("1000");
    const got = await fetch(url);
    expect(sha256(new Uint8Array(await got.arrayBuffer()))).toBe(sha256(data));
  });
});

describe("container sniffing", () => {
  it("recognises mp4, matroska and mpegts heads", () => {
    expect(sniffContainer(mp4.subarray(0, 12))).toBe("mp4");
    expect(sniffContainer(Buffer.from([0x1a, 0x45, 0xdf, 0xa3, 1, 0, 0, 0, 0, 0, 0, 0x1f]))).toBe("matroska");
    const ts = Buffer.alloc(188 * 3);
    for (let at = 0; at < ts.length; at += 188) {
      ts[at] = 0x47;
      ts[at + 3] = 0x10;
    }
    expect(sniffContainer(ts)).toBe("mpegts");
    ts[188] = 0;
    expect(sniffContainer(ts)).toBeUndefined();
    expect(sniffContainer(Buffer.from("hello, this is text"))).toBeUndefined();
  });

  it("deletes a text upload with 415 after its first PATCH; later requests 404", async () => {
    await start();
    const text = Buffer.from("this is definitely not a video file, just words\n".repeat(10));
    const url = await create(text.length);
    const res = await patch(url, 0, text.subarray(0, 100));
    expect(res.status).toBe(415);
    expect(await stored()).toEqual([]);
    expect((await head(url)).status).toBe(404);
    expect((await patch(url, 0, text)).status).toBe(404);
  });

  it("rejects a text creation-with-upload with 415 and keeps nothing", async () => {
    await start();
    const text = Buffer.from("plain text, twelve bytes or more");
    const res = await post({ "Upload-Length": String(text.length), "Content-Type": OCTET["Content-Type"] }, text);
    expect(res.status).toBe(415);
    expect(await stored()).toEqual([]);
  });

  it("accepts a real mp4 sent in small chunks, sniffing once 12 bytes are in", async () => {
    let sum: string | undefined;
    await start({
      onUploadFinish: ({ sha256: s }) => {
        sum = s;
      },
    });
    const url = await create(mp4.length);
    expect((await patch(url, 0, mp4.subarray(0, 5))).status).toBe(204);
    const cut = Math.floor(mp4.length / 2);
    expect((await patch(url, 5, mp4.subarray(5, cut))).status).toBe(204);
    expect((await patch(url, cut, mp4.subarray(cut))).status).toBe(204);
    expect(sum).toBe(sha256(mp4));
  });

  it("answers CORS preflights for allowed origins and exposes the protocol headers", async () => {
    await start({ cors: { origins: ["https://app.example"] } });
    const preflight = await fetch(`${h.base}/files/`, {
      method: "OPTIONS",
      headers: {
        Origin: "https://app.example",
        "Access-Control-Request-Method": "PATCH",
        "Access-Control-Request-Headers": "upload-offset, tus-resumable",
      },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get("access-control-allow-origin")).toBe("https://app.example");
    expect(preflight.headers.get("access-control-allow-methods")).toContain("PATCH");
    expect(preflight.headers.get("access-control-allow-headers")).toContain("Upload-Offset");
    const created = await post({ Origin: "https://app.example", "Upload-Length": "10" });
    expect(created.status).toBe(201);
    expect(created.headers.get("access-control-allow-origin")).toBe("https://app.example");
    expect(created.headers.get("access-control-expose-headers")).toContain("Location");
    const stranger = await post({ Origin: "https://evil.example", "Upload-Length": "10" });
    expect(stranger.headers.get("access-control-allow-origin")).toBeNull();
    expect(stranger.headers.get("vary")).toBe("Origin");
    expect(() => createUploadServer({ dir: "x", cors: { origins: ["not a url"] } })).toThrow(
      expect.objectContaining({ code: "INVALID_OPTIONS" }),
    );
  });

  it("honours allowedTypes and sniff: false", async () => {
    await start({ allowedTypes: ["matroska"] });
    const url = await create(mp4.length);
    expect((await patch(url, 0, mp4)).status).toBe(415);
    await h.upload.close();
    h.http.closeAllConnections();
    await new Promise((done) => h.http.close(done));
    await start({ sniff: false });
    const text = Buffer.from("not a video, but sniffing is off");
    const ok = await create(text.length);
    expect((await patch(ok, 0, text)).status).toBe(204);
  });
});

describe("concatenation", () => {
  it("advertises concatenation", async () => {
    await start();
    const res = await fetch(`${h.base}/files/`, { method: "OPTIONS" });
    expect(res.headers.get("tus-extension")).toContain("concatenation");
  });

  it("uploads three partials in parallel and concatenates them into a final upload", async () => {
    const finished: string[] = [];
    const completed: string[] = [];
    await start({ onUploadFinish: ({ id }) => void finished.push(id) });
    h.upload.on("completed", ({ id }) => completed.push(id));
    const file = Buffer.concat([mp4, randomBytes(50_000)]);
    const cuts = [0, Math.floor(file.length / 3), Math.floor((2 * file.length) / 3), file.length];
    const partials = await Promise.all(
      [0, 1, 2].map(async (i) => {
        const piece = file.subarray(cuts[i], cuts[i + 1]);
        const url = await create(piece.length, { "Upload-Concat": "partial" });
        const half = Math.floor(piece.length / 2);
        expect((await patch(url, 0, piece.subarray(0, half))).status).toBe(204);
        expect((await patch(url, half, piece.subarray(half))).status).toBe(204);
        expect((await head(url)).headers.get("upload-concat")).toBe("partial");
        return url;
      }),
    );
    expect(finished).toEqual([]);
    expect(completed).toEqual([]);
    const paths = partials.map((u) => new URL(u).pathname);
    const res = await post({ "Upload-Concat": `final;${partials[0]} ${paths[1]} ${paths[2]}` });
    expect(res.status).toBe(201);
    const final = `${h.base}${res.headers.get("location")}`;
    const finalId = final.split("/").pop() ?? "";
    expect(finished).toEqual([finalId]);
    expect(completed).toEqual([finalId]);
    const info = await head(final);
    expect(info.headers.get("upload-concat")).toBe(`final;${paths.join(" ")}`);
    expect(info.headers.get("upload-offset")).toBe(String(file.length));
    expect(info.headers.get("upload-length")).toBe(String(file.length));
    expect(sha256(await readFile(join(h.dir, finalId)))).toBe(sha256(file));
    const got = await fetch(final);
    expect(sha256(new Uint8Array(await got.arrayBuffer()))).toBe(sha256(file));
    expect((await patch(final, file.length, Buffer.from("x"))).status).toBe(403);
    // Partials are kept.
    expect((await head(partials[0] ?? "")).status).toBe(200);
  });

  it("refuses a final upload of incomplete, unknown or non-partial uploads", async () => {
    await start({ sniff: false });
    const part = await create(10, { "Upload-Concat": "partial" });
    const incomplete = await post({ "Upload-Concat": `final;${new URL(part).pathname}` });
    expect(incomplete.status).toBe(409);
    expect((await post({ "Upload-Concat": "final;/files/AAAAAAAAAAAAAAAAAAAAAA" })).status).toBe(400);
    expect((await post({ "Upload-Concat": "final;/elsewhere/x" })).status).toBe(400);
    expect((await post({ "Upload-Concat": "final;" })).status).toBe(400);
    const plain = await create(1);
    expect((await patch(plain, 0, Buffer.from("x"))).status).toBe(204);
    expect((await post({ "Upload-Concat": `final;${new URL(plain).pathname}` })).status).toBe(400);
    const files = await stored();
    expect(files.filter((f) => f.endsWith(".json"))).toHaveLength(2);
  });

  it("sniffs the final upload, not the partials", async () => {
    await start();
    const text = Buffer.from("this text is split into two partial uploads");
    const a = await create(20, { "Upload-Concat": "partial" });
    const b = await create(text.length - 20, { "Upload-Concat": "partial" });
    expect((await patch(a, 0, text.subarray(0, 20))).status).toBe(204);
    expect((await patch(b, 0, text.subarray(20))).status).toBe(204);
    const res = await post({ "Upload-Concat": `final;${new URL(a).pathname} ${new URL(b).pathname}` });
    expect(res.status).toBe(415);
    expect((await stored()).filter((f) => f.endsWith(".json"))).toHaveLength(2);
  });
});
