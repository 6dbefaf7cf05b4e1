// Protocol fuzzing: thousands of malformed requests, from a seeded PRNG, against a real server on an
// ephemeral port, over raw sockets (so headers can repeat, bodies can be cut short or run long,
// request lines can be anything).
//
//   UPLOAD_FUZZ_SEED=1234 npx vitest run --project unit packages/upload/src/__tests__/fuzz.test.ts
//
// The request sequence is a function of the seed; with UPLOAD_FUZZ_CONCURRENCY > 1 (default 8) the
// interleaving, and so which uploads later requests land on, also depends on timing — set it to 1 to
// replay a seed exactly. UPLOAD_FUZZ_MS (default 9000) and UPLOAD_FUZZ_REQUESTS (default 6000) bound
// the run.
//
// Invariants:
// - every response is a well-formed HTTP response with a status in 100–599, and never 500;
// - every complete request is answered (no hang);
// - uploads that existed before (complete, partial, deferred, concatenation parts and a final)
//   only ever receive requests that must not change them — wrong offsets, bad checksums, bad
//   content types, wrong protocol versions, oversized chunks, reads — and afterwards every file in
//   the store that belonged to them is byte-identical, HEAD reports the same offsets, and no event
//   fired for them;
// - fresh uploads are fuzzed freely; afterwards every upload's data file holds exactly its
//   recorded offset, no temp files are left behind, and a normal upload still works.
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdir, mkdtemp, readdir, readFile, rm, stat } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ChecksumAlgorithm, createHasher } from "../checksum.js";
import { createUploadServer, type UploadServer, type UploadServerEvent } from "../server.js";
import { createFileStore } from "../stores/file.js";

const SEED = Number(process.env.UPLOAD_FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 32));
const CONCURRENCY = Math.max(1, Number(process.env.UPLOAD_FUZZ_CONCURRENCY ?? 8));
const BUDGET_MS = Number(process.env.UPLOAD_FUZZ_MS ?? 9000);
const MAX_REQUESTS = Number(process.env.UPLOAD_FUZZ_REQUESTS ?? 6000);
const MAX_SIZE = 64 * 1024 * 1024;
const LOCK_TIMEOUT_MS = 300;
/** A complete request not answered within this long is a hang. */
const RESPONSE_TIMEOUT_MS = 5000;
/** Raw garbage may be an incomplete request the server rightly waits on: give up sooner. */
const RAW_TIMEOUT_MS = 300;

// ---------------------------------------------------------------------------------------------
// Seeded randomness (mulberry32).

class Rng {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  between(min: number, max: number): number {
    return min + this.int(max - min + 1);
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(items: readonly T[]): T {
    const item = items[this.int(items.length)];
    if (item === undefined) throw new Error("pick from an empty list");
    return item;
  }
  bytes(n: number): Buffer {
    const out = Buffer.allocUnsafe(n);
    for (let i = 0; i + 4 <= n; i += 4) out.writeUInt32LE(this.int(2 ** 32), i);
    for (let i = n - (n % 4); i < n; i++) out[i] = this.int(256);
    return out;
  }
  /** Mostly small, sometimes up to 256 KiB, rarely 1 MiB. */
  size(): number {
    const r = this.next();
    if (r < 0.2) return 0;
    if (r < 0.7) return this.int(2048);
    if (r < 0.97) return this.int(256 * 1024);
    return this.between(512 * 1024, 1024 * 1024);
  }
}

// ---------------------------------------------------------------------------------------------
// A raw HTTP/1.1 client.

type Header = [name: string, value: string];

interface Spec {
  /** What this request is meant to test, for failure reports. */
  what: string;
  method: string;
  target: string;
  headers: Header[];
  body: Buffer;
  /** How the body is delimited: Content-Length (of `declared` if set), chunked, or not at all. */
  framing: "length" | "chunked" | "none";
  /** Content-Length to declare instead of the body's length (a lie in either direction). */
  declared?: number;
  /** Send only this many body bytes, then drop the connection. */
  truncateAt?: number;
  /** Replace the whole request with these bytes (not even HTTP). */
  raw?: Buffer;
}

interface Outcome {
  /** Every status line received, interim (1xx) ones included. */
  statuses: number[];
  /** Headers of the final response (lower-case names). */
  headers: Record<string, string>;
  malformed: boolean;
  timedOut: boolean;
  /** The connection failed (reset, broken pipe) — expected when the server answers before reading everything. */
  socketError: boolean;
}

function encodeRequest(spec: Spec): { head: Buffer; body: Buffer } {
  if (spec.raw !== undefined) return { head: spec.raw, body: Buffer.alloc(0) };
  const lines = [`${spec.method} ${spec.target} HTTP/1.1`, "Host: 127.0.0.1", "Connection: close"];
  for (const [name, value] of spec.headers) lines.push(`${name}: ${value}`);
  let body = spec.body;
  if (spec.framing === "length") lines.push(`Content-Length: ${spec.declared ?? spec.body.length}`);
  if (spec.framing === "chunked") {
    lines.push("Transfer-Encoding: chunked");
    const parts: Buffer[] = [];
    for (let at = 0; at < spec.body.length; at += 16 * 1024) {
      const piece = spec.body.subarray(at, at + 16 * 1024);
      parts.push(Buffer.from(`${piece.length.toString(16)}\r\n`), piece, Buffer.from("\r\n"));
    }
    parts.push(Buffer.from("0\r\n\r\n"));
    body = Buffer.concat(parts);
  }
  return { head: Buffer.from(`${lines.join("\r\n")}\r\n\r\n`, "latin1"), body };
}

function parseResponses(data: Buffer): Pick<Outcome, "statuses" | "headers" | "malformed"> {
  const statuses: number[] = [];
  let headers: Record<string, string> = {};
  let at = 0;
  while (at < data.length) {
    const end = data.indexOf("\r\n\r\n", at, "latin1");
    if (end < 0) break;
    const lines = data.toString("latin1", at, end).split("\r\n");
    const status = /^HTTP\/1\.[01] (\d{3})(?: .*)?$/.exec(lines[0] ?? "");
    if (status === null) return { statuses, headers, malformed: true };
    statuses.push(Number(status[1]));
    headers = {};
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(":");
      if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    if (Number(status[1]) >= 200) break; // the final response; its body follows
    at = end + 4;
  }
  return { statuses, headers, malformed: data.length > 0 && statuses.length === 0 };
}

function send(port: number, spec: Spec): Promise<Outcome> {
  const { head, body } = encodeRequest(spec);
  return new Promise((done) => {
    const socket = connect(port, "127.0.0.1");
    const received: Buffer[] = [];
    let socketError = false;
    let timedOut = false;
    const timer = setTimeout(
      () => {
        timedOut = true;
        socket.destroy();
      },
      spec.raw === undefined ? RESPONSE_TIMEOUT_MS : RAW_TIMEOUT_MS,
    );
    socket.on("data", (chunk) => received.push(chunk));
    socket.on("error", () => {
      socketError = true;
    });
    socket.on("close", () => {
      clearTimeout(timer);
      const data = Buffer.concat(received);
      done({ ...parseResponses(data), timedOut, socketError });
    });
    socket.write(head);
    if (spec.truncateAt !== undefined) {
      socket.write(body.subarray(0, spec.truncateAt), () => setTimeout(() => socket.destroy(), 5));
    } else if (body.length > 0) {
      socket.write(body);
    }
  });
}

// ---------------------------------------------------------------------------------------------
// The server under test.

const TUS: Header = ["Tus-Resumable", "1.0.0"];
const OCTET: Header = ["Content-Type", "application/offset+octet-stream"];
/** An ISO BMFF `ftyp` box: what the sniffer wants to see first. */
const FTYP = Buffer.concat([
  Buffer.from([0, 0, 0, 24]),
  Buffer.from("ftypisom", "latin1"),
  Buffer.from([0, 0, 2, 0]),
  Buffer.from("isommp41", "latin1"),
]);

let root: string;
let dir: string;
let partsDir: string;
let http: Server;
let upload: UploadServer;
let port: number;
const inFlight = new Set<Promise<void>>();
/** Requests that got past Node's parser to the handler. */
let handled = 0;
/** Events per upload id. */
const events = new Map<string, string[]>();

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "reelkit-upload-fuzz-"));
  dir = join(root, "store");
  partsDir = join(root, "parts");
  await mkdir(partsDir);
  upload = createUploadServer({ dir, tempDir: partsDir, maxSize: MAX_SIZE, lockTimeoutMs: LOCK_TIMEOUT_MS });
  for (const event of ["created", "progress", "completed", "terminated", "expired"] as UploadServerEvent[]) {
    upload.on(event, (payload) => {
      const list = events.get(payload.id) ?? [];
      list.push(event);
      events.set(payload.id, list);
    });
  }
  http = createServer((req, res) => {
    handled += 1;
    const task = upload.handle(req, res);
    inFlight.add(task);
    void task.finally(() => inFlight.delete(task));
  });
  await new Promise<void>((done) => http.listen(0, "127.0.0.1", done));
  port = (http.address() as AddressInfo).port;
});

afterAll(async () => {
  http.closeAllConnections();
  await new Promise((done) => http.close(done));
  await upload.close();
  await rm(root, { recursive: true, force: true });
});

async function settle() {
  for (let i = 0; i < 200 && inFlight.size > 0; i++) await Promise.allSettled([...inFlight]);
}

const sha256 = (data: Uint8Array) => createHash("sha256").update(data).digest("hex");
const idOf = (location: string) => location.split("/").pop() ?? "";

/** One well-formed request (fails the test unless it gets `expected`). */
async function ok(spec: Omit<Spec, "framing" | "what"> & { framing?: Spec["framing"] }, expected: number) {
  const outcome = await send(port, { what: "setup", framing: "length", ...spec });
  expect(outcome.statuses.at(-1), `${spec.method} ${spec.target}`).toBe(expected);
  return outcome.headers;
}

async function createUpload(headers: Header[], body?: Buffer): Promise<string> {
  const created = await ok(
    {
      method: "POST",
      target: "/files/",
      headers: [TUS, ...headers, ...(body ? [OCTET] : [])],
      body: body ?? Buffer.alloc(0),
    },
    201,
  );
  return idOf(created.location ?? "");
}

async function patch(id: string, offset: number, body: Buffer, extra: Header[] = []) {
  await ok(
    {
      method: "PATCH",
      target: `/files/${id}`,
      headers: [TUS, OCTET, ["Upload-Offset", String(offset)], ...extra],
      body,
    },
    204,
  );
}

// ---------------------------------------------------------------------------------------------
// Uploads that must survive the fuzzing unchanged.

interface Protected {
  id: string;
  label: string;
  offset: number;
  /** `undefined` while deferred. */
  length: number | undefined;
  partial: boolean;
}

async function createProtected(rng: Rng): Promise<Protected[]> {
  const video = (n: number) => Buffer.concat([FTYP, rng.bytes(Math.max(0, n - FTYP.length))]);
  const list: Protected[] = [];

  const whole = video(100 * 1024);
  const complete = await createUpload([
    ["Upload-Length", String(whole.length)],
    ["Upload-Metadata", `filename ${Buffer.from("a.mp4").toString("base64")}`],
  ]);
  await patch(complete, 0, whole.subarray(0, 40_000));
  await patch(complete, 40_000, whole.subarray(40_000));
  list.push({ id: complete, label: "complete", offset: whole.length, length: whole.length, partial: false });

  const tiny = await createUpload([["Upload-Length", String(FTYP.length)]], FTYP);
  list.push({ id: tiny, label: "complete, 24 bytes", offset: FTYP.length, length: FTYP.length, partial: false });

  const half = await createUpload([["Upload-Length", String(200 * 1024)]], video(64 * 1024));
  list.push({ id: half, label: "partial", offset: 64 * 1024, length: 200 * 1024, partial: false });

  const empty = await createUpload([["Upload-Length", String(50 * 1024)]]);
  list.push({ id: empty, label: "partial, nothing yet", offset: 0, length: 50 * 1024, partial: false });

  const deferred = await createUpload([["Upload-Defer-Length", "1"]]);
  await patch(deferred, 0, video(30 * 1024));
  list.push({ id: deferred, label: "deferred length", offset: 30 * 1024, length: undefined, partial: false });

  const partBytes = video(10 * 1024);
  const part = await createUpload(
    [
      ["Upload-Length", String(partBytes.length)],
      ["Upload-Concat", "partial"],
    ],
    partBytes,
  );
  list.push({ id: part, label: "complete partial", offset: partBytes.length, length: partBytes.length, partial: true });

  const openPart = await createUpload(
    [
      ["Upload-Length", "10240"],
      ["Upload-Concat", "partial"],
    ],
    rng.bytes(5000),
  );
  list.push({ id: openPart, label: "incomplete partial", offset: 5000, length: 10240, partial: true });

  const final = await createUpload([["Upload-Concat", `final;/files/${part}`]]);
  list.push({ id: final, label: "final", offset: partBytes.length, length: partBytes.length, partial: false });
  return list;
}

interface Snapshot {
  files: Map<string, { size: number; sha256: string }>;
  heads: Map<string, string>;
}

async function snapshot(uploads: Protected[]): Promise<Snapshot> {
  const files = new Map<string, { size: number; sha256: string }>();
  const ids = new Set(uploads.map((u) => u.id));
  for (const name of await readdir(dir)) {
    if (!ids.has(name.replace(/\.(json|offsets)$/, ""))) continue;
    const data = await readFile(join(dir, name));
    files.set(name, { size: data.length, sha256: sha256(data) });
  }
  const heads = new Map<string, string>();
  for (const u of uploads) {
    const h = await ok({ method: "HEAD", target: `/files/${u.id}`, headers: [TUS], body: Buffer.alloc(0) }, 200);
    heads.set(u.id, `offset=${h["upload-offset"]} length=${h["upload-length"] ?? "deferred"}`);
  }
  return { files, heads };
}

// ---------------------------------------------------------------------------------------------
// Generators.

const METHODS = ["GET", "HEAD", "POST", "PATCH", "DELETE", "OPTIONS", "PUT", "TRACE", "CONNECT", "PROPFIND"];
const WEIRD_METHODS = ["patch", "FOO", "P ATCH", "", "GET\x00", "Ä", "X".repeat(300)];

function junkValue(rng: Rng): string {
  return rng.pick([
    "",
    " ",
    "1",
    "-1",
    "abc",
    "1.0.0",
    "0x10",
    "1e3",
    "NaN",
    "9007199254740993",
    "99999999999999999999999999",
    "١٢٣",
    "\t1",
    "a, b",
    "\x01\x02",
    "ÿ",
    "x".repeat(rng.pick([100, 5000, 20_000])),
    String(rng.int(2 ** 31)),
  ]);
}

function numberValue(rng: Rng, sensible: number): string {
  return rng.pick([
    String(sensible),
    String(sensible + 1),
    String(Math.max(0, sensible - 1)),
    "0",
    "-1",
    "+1",
    "01",
    "1.5",
    "1e3",
    " ",
    "",
    "0x10",
    String(MAX_SIZE + 1),
    String(Number.MAX_SAFE_INTEGER),
    "9007199254740993",
    "18446744073709551616",
    `${sensible}, ${sensible}`,
    junkValue(rng),
  ]);
}

function metadataValue(rng: Rng): string {
  const b64 = (s: string) => Buffer.from(s).toString("base64");
  return rng.pick([
    `filename ${b64("clip.mp4")}`,
    `filename ${b64("clip.mp4")},private`,
    `filename ${b64("a")},filename ${b64("b")}`,
    "filename not!base64",
    "filename YQ",
    " ,",
    ",,,",
    "a b c",
    `${"k".repeat(2000)} ${b64("v")}`,
    `ключ ${b64("v")}`,
    `__proto__ ${b64("x")}`,
    `constructor ${b64("x")}`,
    junkValue(rng),
  ]);
}

const ALGORITHMS: ChecksumAlgorithm[] = ["sha1", "md5", "crc32", "sha256"];

function digest(algorithm: ChecksumAlgorithm, body: Uint8Array): string {
  const hasher = createHasher(algorithm);
  hasher.update(body);
  return hasher.digest().toString("base64");
}

/** An `Upload-Checksum` that certainly does not match `body`. */
function badChecksum(rng: Rng, body: Buffer): string {
  const algorithm = rng.pick(ALGORITHMS);
  return rng.pick([
    `${algorithm} ${digest(algorithm, Buffer.concat([body, Buffer.from([1])]))}`,
    `${algorithm} ${digest(algorithm, Buffer.from("other"))}`,
    `${algorithm}`,
    `${algorithm} !!!`,
    `${algorithm} AAAA AAAA`,
    `whirlpool ${digest("sha1", body)}`,
    `SHA1 ${digest("sha1", body)}`,
    "",
    junkValue(rng),
  ]);
}

/** Headers that a PATCH ignores: sprinkled on anything, protected targets included. */
function harmlessJunk(rng: Rng): Header[] {
  const out: Header[] = [];
  const n = rng.chance(0.5) ? 0 : rng.between(1, 3);
  for (let i = 0; i < n; i++) {
    out.push(
      rng.pick<Header>([
        ["Upload-Metadata", metadataValue(rng)],
        ["Upload-Concat", rng.pick(["partial", "final;", "final;/files/x", junkValue(rng)])],
        ["Upload-Defer-Length", rng.pick(["1", "0", "2", junkValue(rng)])],
        ["Range", rng.pick(["bytes=0-1", "bytes=-5", "bytes=9-2", "bytes=0-99999999999999999999", junkValue(rng)])],
        ["X-Fuzz", junkValue(rng)],
        ["Cookie", junkValue(rng)],
        ["Expect", rng.pick(["100-continue", "100-continue", "100-continue", "nonsense"])],
        ["Upload-Expires", junkValue(rng)],
        ["Origin", rng.pick(["http://evil.example", "null", junkValue(rng)])],
        ["Access-Control-Request-Method", rng.pick(METHODS)],
      ]),
    );
  }
  return out;
}

/** Request targets naming `id`, canonically or not (all of them resolve to `id` or to nothing). */
function targetFor(rng: Rng, id: string): string {
  return rng.chance(0.8)
    ? `/files/${id}`
    : rng.pick([
        `/files/${id}/`,
        `/files/${id}.json`,
        `/files/${id}?x=1`,
        `/files/${id}#frag`,
        `/files/./${id}`,
        `/files/../files/${id}`,
        `/files/${id}%2F..%2F..%2Fsecret`,
        `/files/${encodeURIComponent(id)}`,
        `/files/${id}%00`,
        `http://127.0.0.1/files/${id}`,
        `//files/${id}`,
        `/FILES/${id}`,
      ]);
}

function randomTarget(rng: Rng, someId: string | undefined): string {
  return rng.pick([
    "/files/",
    "/files",
    "/",
    "*",
    "/files/..",
    "/files/../../etc/passwd",
    "/files/..%2F..%2Fetc%2Fpasswd",
    "/files/%2e%2e%2fsecret",
    "/files/..\\..\\secret",
    "/files/AAAAAAAAAAAAAAAAAAAAAA",
    "/files/AAAAAAAAAAAAAAAAAAAAAA.json",
    `/files/${"A".repeat(65)}`,
    `/files/${"A".repeat(15)}`,
    "/files/%",
    "/files/%zz",
    "/files/\u00e9",
    "/other",
    `/files/${"x/".repeat(2000)}`,
    "http://example.com/files/",
    someId === undefined ? "/files/x" : targetFor(rng, someId),
  ]);
}

/** Request targets Node accepts but `new URL(target, base)` rejects (these once answered 500). */
const UNPARSEABLE_TARGETS = ["http://[", "http://a:99999/files/", "//[/files/x", "http://%zz/"];

/** A mutation that must leave `u` (and every other protected upload) unchanged. */
function protectedSpec(rng: Rng, u: Protected): Spec {
  const target = targetFor(rng, u.id);
  const room = u.length === undefined ? MAX_SIZE - u.offset : u.length - u.offset;
  const body = rng.bytes(Math.min(room, rng.size()));
  const junk = harmlessJunk(rng);
  const cut = (spec: Spec): Spec =>
    rng.chance(0.15) && spec.body.length > 0 ? { ...spec, truncateAt: rng.int(spec.body.length) } : spec;
  const framing = (): Spec["framing"] => (rng.chance(0.15) ? "chunked" : "length");
  const offsetHeader = (offset: number): Header => ["Upload-Offset", String(offset)];
  const kind = rng.int(12);
  switch (kind) {
    case 0: {
      // Wrong offset.
      const wrong = rng.pick(
        [u.offset + 1, u.offset - 1, 0, (u.length ?? u.offset) + 1, 2 ** 40, u.offset + rng.between(2, 1000)].filter(
          (o) => o >= 0 && o !== u.offset,
        ),
      );
      return cut({
        what: `PATCH wrong offset ${wrong} on ${u.label}`,
        method: "PATCH",
        target,
        headers: [TUS, OCTET, offsetHeader(wrong), ...junk],
        body,
        framing: framing(),
      });
    }
    case 1: {
      // Right offset, bad Content-Type (a wrong one first if repeated: Node keeps the first).
      const types: Header[][] = [
        [],
        [["Content-Type", "application/octet-stream"]],
        [["Content-Type", "application/offset+octet-stream; charset=utf-8"]],
        [["Content-Type", "APPLICATION/OFFSET+OCTET-STREAM"]],
        [["Content-Type", "text/plain"], OCTET],
        [["Content-Type", "application/partial-upload"]],
        [["Content-Type", junkValue(rng)]],
      ];
      return cut({
        what: `PATCH bad content type on ${u.label}`,
        method: "PATCH",
        target,
        headers: [TUS, ...rng.pick(types), offsetHeader(u.offset), ...junk],
        body,
        framing: framing(),
      });
    }
    case 2:
      // Right offset, bad checksum: staged, verified, discarded (or cut short while staging).
      return cut({
        what: `PATCH bad checksum on ${u.label}`,
        method: "PATCH",
        target,
        headers: [TUS, OCTET, offsetHeader(u.offset), ["Upload-Checksum", badChecksum(rng, body)], ...junk],
        body,
        framing: framing(),
      });
    case 3: {
      // Right everything, wrong protocol version.
      const version: Header[] = rng.pick<Header[]>([
        [],
        [["Tus-Resumable", "0.2.2"]],
        [["Tus-Resumable", "1.0.0, 1.0.0"]],
        [TUS, TUS],
        [
          [
            "Tus-Resumable",
            rng.pick(["1.0", "1.0.0.0", "v1.0.0", "1.0.1", junkValue(rng)].filter((v) => v.trim() !== "1.0.0")),
          ],
        ],
        // An unsupported IETF draft version (and no Tus-Resumable, in case the header is ever ignored).
        [["Upload-Draft-Interop-Version", rng.pick(["7", "4", "abc", "5, 6", junkValue(rng)])]],
      ]);
      const method = rng.pick(["PATCH", "DELETE", "POST"]);
      return cut({
        what: `${method} wrong protocol version on ${u.label}`,
        method,
        target,
        headers: [...version, OCTET, offsetHeader(u.offset), ...junk],
        body,
        framing: framing(),
      });
    }
    case 4: {
      // Unparseable Upload-Offset (never one that trims to the right value).
      const value = rng.pick([`${u.offset}, ${u.offset}`, `+${u.offset}`, `0${u.offset}`, `${u.offset}.0`, "", "-0"]);
      const headers: Header[] = rng.chance(0.3)
        ? [offsetHeader(u.offset), offsetHeader(u.offset)]
        : [["Upload-Offset", value]];
      return cut({
        what: `PATCH unparseable offset on ${u.label}`,
        method: "PATCH",
        target,
        headers: [TUS, OCTET, ...headers, ...junk],
        body,
        framing: framing(),
      });
    }
    case 5: {
      // Right offset, an Upload-Length the upload cannot take.
      const length =
        u.length === undefined
          ? rng.pick([String(Math.max(0, u.offset - 1)), "-1", "abc", String(MAX_SIZE + 1)])
          : rng.pick([String(u.length + 1), String(Math.max(0, u.length - 1)), "abc", `${u.length}, ${u.length}`]);
      if (u.length !== undefined && length === String(u.length)) return protectedSpec(rng, u);
      if (u.length === undefined && u.offset === 0 && length === "0") return protectedSpec(rng, u);
      return cut({
        what: `PATCH Upload-Length ${length} on ${u.label}`,
        method: "PATCH",
        target,
        headers: [TUS, OCTET, offsetHeader(u.offset), ["Upload-Length", length], ...junk],
        body,
        framing: framing(),
      });
    }
    case 6: {
      // Right offset, a chunk larger than the room left (declared; only a little is sent).
      const declared = room + rng.pick([1, 1000, MAX_SIZE, 2 ** 40]);
      return {
        what: `PATCH oversized chunk (${declared}) on ${u.label}`,
        method: "PATCH",
        target,
        headers: [TUS, OCTET, offsetHeader(u.offset), ...junk],
        body: rng.bytes(Math.min(declared, 4096)),
        framing: "length",
        declared,
        ...(rng.chance(0.5) ? { truncateAt: rng.int(4096) } : {}),
      };
    }
    case 7: {
      // Reads.
      const method = rng.pick(["HEAD", "GET", "OPTIONS"]);
      const range: Header[] = rng.chance(0.5)
        ? [
            [
              "Range",
              rng.pick([
                "bytes=0-0",
                "bytes=-1",
                "bytes=5-",
                "bytes=3-1",
                "bytes=-0",
                "bytes=0-18446744073709551616",
                "bytes=1-2,4-5",
                "bytes=",
                "items=0-1",
                junkValue(rng),
              ]),
            ],
          ]
        : [];
      return {
        what: `${method} on ${u.label}`,
        method,
        target,
        headers: [...(rng.chance(0.7) ? [TUS] : []), ...range, ...junk],
        body: Buffer.alloc(0),
        framing: "none",
      };
    }
    case 8: {
      // Methods a single upload does not take.
      const method = rng.pick(["POST", "PUT", "TRACE", "PROPFIND"]);
      return cut({
        what: `${method} on ${u.label}`,
        method,
        target,
        headers: [TUS, OCTET, offsetHeader(u.offset), ...junk],
        body,
        framing: framing(),
      });
    }
    case 9: {
      // A method override to something harmless.
      const override = rng.pick(["GET", "HEAD", "OPTIONS", "PUT", "FOO", ""]);
      return cut({
        what: `POST overridden to ${override || "(empty)"} on ${u.label}`,
        method: "POST",
        target,
        headers: [TUS, OCTET, offsetHeader(u.offset), ["X-HTTP-Method-Override", override], ...junk],
        body,
        framing: framing(),
      });
    }
    case 10: {
      // Body longer than declared: the excess is parsed as a (garbage) next request.
      const declared = rng.int(body.length + 1);
      const wrong = u.offset + 1;
      return {
        what: `PATCH wrong offset, body longer than declared, on ${u.label}`,
        method: "PATCH",
        target,
        headers: [TUS, OCTET, offsetHeader(wrong), ...junk],
        body: Buffer.concat([body, rng.bytes(rng.between(1, 2000))]),
        framing: "length",
        declared,
      };
    }
    default: {
      // Wrong offset with a correct checksum: still refused.
      const algorithm = rng.pick(ALGORITHMS);
      return cut({
        what: `PATCH wrong offset with a valid checksum on ${u.label}`,
        method: "PATCH",
        target,
        headers: [
          TUS,
          OCTET,
          offsetHeader(u.offset + rng.between(1, 100)),
          ["Upload-Checksum", `${algorithm} ${digest(algorithm, body)}`],
          ...junk,
        ],
        body,
        framing: framing(),
      });
    }
  }
}

interface Fresh {
  id: string;
  offset: number;
  length: number | undefined;
  partial: boolean;
}

/** Anything at all, for uploads created during the run (and for the endpoint itself). */
function freshSpec(rng: Rng, pool: Fresh[], referable: string[]): Spec {
  const u = pool.length > 0 && rng.chance(0.6) ? rng.pick(pool) : undefined;
  const kind = rng.int(u === undefined ? 4 : 8);
  const videoish = (n: number) => (rng.chance(0.6) ? Buffer.concat([FTYP, rng.bytes(n)]).subarray(0, n) : rng.bytes(n));
  const maybe = <T>(p: number, value: T): T[] => (rng.chance(p) ? [value] : []);
  const cut = (spec: Spec): Spec =>
    rng.chance(0.1) && spec.body.length > 0 ? { ...spec, truncateAt: rng.int(spec.body.length) } : spec;
  const framing = (): Spec["framing"] => rng.pick(["length", "length", "length", "chunked", "none"]);
  switch (kind) {
    case 0:
    case 1: {
      // Creation, with any combination of the creation headers.
      const length = rng.pick([0, 24, rng.int(4096), rng.int(300 * 1024)]);
      const body = rng.chance(0.4) ? videoish(Math.min(length, rng.size())) : Buffer.alloc(0);
      const concatParts = [...pool.filter((p) => p.partial).map((p) => p.id), ...referable]
        .filter(() => rng.chance(0.3))
        .map((id) => rng.pick([`/files/${id}`, `http://127.0.0.1:${port}/files/${id}`, id]));
      const headers: Header[] = [
        ...maybe(0.95, TUS),
        ...maybe(0.85, ["Upload-Length", rng.chance(0.8) ? String(length) : numberValue(rng, length)] as Header),
        ...maybe(0.15, ["Upload-Defer-Length", rng.pick(["1", "1", "0", "", "1, 1"])] as Header),
        ...maybe(0.3, ["Upload-Metadata", metadataValue(rng)] as Header),
        ...maybe(0.2, [
          "Upload-Concat",
          rng.pick([
            "partial",
            "partial",
            `final;${concatParts.join(" ")}`,
            "final;",
            "final; /files/../x",
            junkValue(rng),
          ]),
        ] as Header),
        ...maybe(body.length > 0 ? 0.85 : 0.1, OCTET),
        ...maybe(0.05, ["Content-Type", junkValue(rng)] as Header),
        ...maybe(0.05, ["Upload-Draft-Interop-Version", rng.pick(["5", "6", "7", junkValue(rng)])] as Header),
        ...maybe(0.05, ["Upload-Complete", rng.pick(["?1", "?0", "?2", junkValue(rng)])] as Header),
        ...maybe(0.05, ["Upload-Checksum", badChecksum(rng, body)] as Header),
        ...harmlessJunk(rng),
      ];
      return cut({ what: "creation", method: "POST", target: "/files/", headers, body, framing: framing() });
    }
    case 2: {
      // Garbage on the wire.
      const raw = rng.pick([
        rng.bytes(rng.between(1, 2000)),
        Buffer.from(`${rng.pick(WEIRD_METHODS)} /files/ HTTP/1.1\r\nHost: x\r\n\r\n`, "latin1"),
        Buffer.from("GET /files/ HTTP/9.9\r\n\r\n"),
        Buffer.from("PATCH /files/x HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!"),
        Buffer.from("POST /files/ HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n"),
        Buffer.from("POST /files/ HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n"),
        Buffer.from(`GET /files/ HTTP/1.1\r\nX: ${"y".repeat(20_000)}\r\n\r\n`),
        Buffer.from("GET /files/ HTTP/1.1\r\nBad Header\r\n\r\n"),
        Buffer.from("GET /files/ HTTP/1.1\r\n X: folded\r\n\r\n"),
        Buffer.from("\r\n\r\n"),
        Buffer.from(
          `${rng.pick(METHODS)} ${rng.pick(UNPARSEABLE_TARGETS)} HTTP/1.1\r\nHost: x\r\n${TUS.join(": ")}\r\n\r\n`,
        ),
      ]);
      return { what: "garbage", method: "", target: "", headers: [], body: Buffer.alloc(0), framing: "none", raw };
    }
    case 3: {
      // Any method on any path.
      const body = rng.bytes(rng.size());
      const target = rng.chance(0.05) ? rng.pick(UNPARSEABLE_TARGETS) : randomTarget(rng, u?.id);
      return cut({
        what: "any method, any path",
        method: rng.pick(METHODS),
        target,
        headers: [
          ...maybe(0.7, TUS),
          ...maybe(0.5, OCTET),
          ...maybe(0.5, ["Upload-Offset", numberValue(rng, 0)] as Header),
        ],
        body,
        framing: framing(),
      });
    }
    default: {
      if (u === undefined) throw new Error("unreachable");
      // A request on a fresh upload: mostly plausible PATCHes that move it along.
      const room = (u.length ?? MAX_SIZE) - u.offset;
      const r = rng.int(10);
      if (r < 6) {
        const body = videoish(Math.min(Math.max(room, 0) + (rng.chance(0.15) ? rng.between(1, 5000) : 0), rng.size()));
        const offset = rng.chance(0.8) ? String(u.offset) : numberValue(rng, u.offset);
        const algorithm = rng.pick(ALGORITHMS);
        const finishing = u.length === undefined && rng.chance(0.3);
        const headers: Header[] = [
          ...maybe(0.97, TUS),
          ...maybe(0.95, OCTET),
          ["Upload-Offset", offset],
          ...maybe(0.15, ["Upload-Checksum", `${algorithm} ${digest(algorithm, body)}`] as Header),
          ...maybe(0.05, ["Upload-Checksum", badChecksum(rng, body)] as Header),
          ...(finishing ? [["Upload-Length", String(u.offset + body.length)] as Header] : []),
          ...maybe(0.05, ["Upload-Length", numberValue(rng, u.length ?? 0)] as Header),
          ...maybe(0.03, ["Upload-Draft-Interop-Version", rng.pick(["5", "6"])] as Header),
          ...maybe(0.03, ["Upload-Complete", rng.pick(["?1", "?0"])] as Header),
          ...harmlessJunk(rng),
        ];
        return cut({
          what: `PATCH on a fresh upload`,
          method: "PATCH",
          target: targetFor(rng, u.id),
          headers,
          body,
          framing: rng.chance(0.75) ? "length" : framing(),
        });
      }
      if (r < 8) {
        const method = rng.pick(["HEAD", "GET", "GET", "OPTIONS"]);
        return {
          what: `${method} on a fresh upload`,
          method,
          target: targetFor(rng, u.id),
          headers: [
            ...maybe(0.9, TUS),
            ...maybe(0.4, ["Range", rng.pick(["bytes=0-10", "bytes=-3", "bytes=7-3", junkValue(rng)])] as Header),
          ],
          body: Buffer.alloc(0),
          framing: "none",
        };
      }
      if (r < 9) {
        const parts = pool.filter((p) => p.partial && rng.chance(0.5)).map((p) => `/files/${p.id}`);
        return {
          what: "final concatenation",
          method: "POST",
          target: "/files/",
          headers: [
            TUS,
            ["Upload-Concat", `final;${parts.join(" ")}`],
            ...maybe(0.1, ["Upload-Length", "10"] as Header),
          ],
          body: Buffer.alloc(0),
          framing: rng.chance(0.9) ? "length" : "chunked",
        };
      }
      return {
        what: "DELETE on a fresh upload",
        method: "DELETE",
        target: targetFor(rng, u.id),
        headers: [...maybe(0.9, TUS)],
        body: Buffer.alloc(0),
        framing: "none",
      };
    }
  }
}

/** Keep the pool of fresh uploads in step with what the server said. */
function track(pool: Fresh[], spec: Spec, outcome: Outcome) {
  const status = outcome.statuses.at(-1);
  const headers = outcome.headers;
  if (spec.method === "POST" && status === 201 && headers.location !== undefined) {
    const get = (name: string) => spec.headers.find(([n]) => n.toLowerCase() === name)?.[1];
    const length = get("upload-length");
    const concat = get("upload-concat") ?? "";
    pool.push({
      id: idOf(headers.location),
      offset: Number(headers["upload-offset"] ?? 0),
      length: /^\d+$/.test(length ?? "") ? Number(length) : undefined,
      partial: concat.trim() === "partial",
    });
    if (pool.length > 60) pool.shift();
    return;
  }
  const id = /^\/files\/([A-Za-z0-9_-]+)$/.exec(spec.target)?.[1];
  const entry = pool.find((p) => p.id === id);
  if (entry === undefined) return;
  if (status === 404 || status === 410 || status === 415 || (spec.method === "DELETE" && status === 204)) {
    pool.splice(pool.indexOf(entry), 1);
  } else if (headers["upload-offset"] !== undefined && /^\d+$/.test(headers["upload-offset"])) {
    entry.offset = Number(headers["upload-offset"]);
    if (headers["upload-length"] !== undefined) entry.length = Number(headers["upload-length"]);
  }
  const sentLength = spec.headers.find(([n]) => n === "Upload-Length")?.[1];
  if (status === 204 && entry.length === undefined && sentLength !== undefined && /^\d+$/.test(sentLength))
    entry.length = Number(sentLength);
}

const describeSpec = (spec: Spec) =>
  spec.raw !== undefined
    ? `raw ${JSON.stringify(spec.raw.subarray(0, 120).toString("latin1"))}`
    : `${spec.what}: ${spec.method} ${spec.target.slice(0, 120)} ${JSON.stringify(
        spec.headers.map(([n, v]) => `${n}: ${v.slice(0, 80)}`),
      )} body=${spec.body.length}${spec.declared !== undefined ? ` declared=${spec.declared}` : ""}${
        spec.truncateAt !== undefined ? ` cut@${spec.truncateAt}` : ""
      } framing=${spec.framing}`;

/** Why an outcome breaks the rules, or `undefined`. */
function judge(spec: Spec, outcome: Outcome): string | undefined {
  if (outcome.malformed) return "malformed response";
  for (const status of outcome.statuses) if (status < 100 || status > 599) return `status ${status}`;
  if (outcome.statuses.at(-1) === 500) return "500";
  // Sent whole (a body longer than declared included): it must be answered.
  const complete =
    spec.raw === undefined &&
    spec.truncateAt === undefined &&
    (spec.declared === undefined || spec.declared <= spec.body.length);
  if (outcome.timedOut && complete && outcome.statuses.every((s) => s < 200))
    return `no response within ${RESPONSE_TIMEOUT_MS} ms`;
  return undefined;
}

// ---------------------------------------------------------------------------------------------

describe(`tus server fuzzing (seed ${SEED})`, () => {
  it("survives malformed requests, keeps existing uploads intact and still works", async () => {
    console.info(`upload fuzz: seed ${SEED} (replay with UPLOAD_FUZZ_SEED=${SEED} UPLOAD_FUZZ_CONCURRENCY=1)`);
    const rng = new Rng(SEED);
    const uploads = await createProtected(rng);
    await settle();
    const protectedIds = uploads.map((u) => u.id);
    // Fresh final concatenations may name protected uploads, except the complete partial: the
    // spec lets a server delete partials once concatenated.
    const referable = uploads.filter((u) => u.label !== "complete partial").map((u) => u.id);
    const before = await snapshot(uploads);
    const eventsBefore = new Map(protectedIds.map((id) => [id, (events.get(id) ?? []).length]));

    const pool: Fresh[] = [];
    const handledBefore = handled;
    const completedBefore = [...events.values()].flat().filter((e) => e === "completed").length;
    const failures: string[] = [];
    const statuses = new Map<string, number>();
    let sent = 0;
    const deadline = performance.now() + BUDGET_MS;
    const worker = async () => {
      while (sent < MAX_REQUESTS && performance.now() < deadline) {
        sent += 1;
        const target = rng.chance(0.4) ? rng.pick(uploads) : undefined;
        const spec = target !== undefined ? protectedSpec(rng, target) : freshSpec(rng, pool, referable);
        const eventCount = target === undefined ? 0 : (events.get(target.id) ?? []).length;
        const outcome = await send(port, spec);
        await Promise.allSettled([...inFlight]);
        if (target !== undefined && (events.get(target.id) ?? []).length !== eventCount)
          failures.push(`changed ${target.label} ${target.id} ← ${describeSpec(spec)} → ${outcome.statuses.join(",")}`);
        const status = String(outcome.statuses.at(-1) ?? (outcome.socketError ? "reset" : "none"));
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
        const problem = judge(spec, outcome);
        if (problem !== undefined) failures.push(`${problem} ← ${describeSpec(spec)}`);
        track(pool, spec, outcome);
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    await settle();
    const completedDuring = [...events.values()].flat().filter((e) => e === "completed").length - completedBefore;
    console.info(
      `upload fuzz: ${sent} requests (${handled - handledBefore} reached the handler, ${completedDuring} uploads completed), statuses ${JSON.stringify(Object.fromEntries([...statuses].sort()))}`,
    );

    const seed = `(seed ${SEED})`;
    expect(failures.slice(0, 20), `${failures.length} bad responses ${seed}`).toEqual([]);
    expect(sent, `too few requests in ${BUDGET_MS} ms ${seed}`).toBeGreaterThan(Math.min(MAX_REQUESTS, 300));

    // The protected uploads: no event, same bytes, same offsets.
    for (const id of protectedIds)
      expect((events.get(id) ?? []).slice(eventsBefore.get(id)), `events for ${id} ${seed}`).toEqual([]);
    const after = await snapshot(uploads);
    expect(after.heads, seed).toEqual(before.heads);
    expect(after.files, seed).toEqual(before.files);

    // Every upload left (fresh ones included) holds exactly its recorded offset; no temp files.
    const names = await readdir(dir);
    for (const name of names)
      expect(name, `stray file in the store ${seed}`).toMatch(/^[A-Za-z0-9_-]{16,64}(\.json|\.offsets)?$/);
    // The store's own view (sidecar + offset journal), as a restarted server would read it.
    const reader = createFileStore({ dir });
    for (const name of names.filter((n) => n.endsWith(".json"))) {
      const info = await reader.info(name.slice(0, -".json".length));
      if (info === undefined) throw new Error(`unreadable upload ${name} ${seed}`);
      const size = (await stat(join(dir, info.id))).size;
      expect(size, `data file of ${info.id} vs its offset ${seed}`).toBe(info.offset);
      if (info.length !== undefined) expect(info.offset).toBeLessThanOrEqual(info.length);
    }
    expect(await readdir(partsDir), `checksum staging files left ${seed}`).toEqual([]);

    // And a normal upload still works.
    const data = Buffer.concat([FTYP, rng.bytes(300_000)]);
    let completed = "";
    const off = upload.on("completed", (event) => {
      completed = event.sha256;
    });
    const id = await createUpload([["Upload-Length", String(data.length)]]);
    await patch(id, 0, data.subarray(0, 150_000));
    await patch(id, 150_000, data.subarray(150_000), [
      ["Upload-Checksum", `sha1 ${digest("sha1", data.subarray(150_000))}`],
    ]);
    off();
    expect(completed).toBe(sha256(data));
    const res = await fetch(`http://127.0.0.1:${port}/files/${id}`);
    expect(res.status).toBe(200);
    expect(sha256(Buffer.from(await res.arrayBuffer()))).toBe(sha256(data));
  }, 30_000);
});

// ---------------------------------------------------------------------------------------------
// Server bugs the fuzzer found. Fixed ones stay as regression tests; an open one is an `it.fails`
// reproduction, which passes while the bug is there and turns red once it is fixed (then make it
// an ordinary `it` and drop its workaround above).

const packageDir = fileURLToPath(new URL("../..", import.meta.url));

describe("server bugs found by fuzzing", () => {
  it("answers 400, not 500, to a request target `new URL` cannot parse", async () => {
    for (const target of UNPARSEABLE_TARGETS) {
      const outcome = await send(port, {
        what: "regression",
        method: "HEAD",
        target,
        headers: [TUS],
        body: Buffer.alloc(0),
        framing: "none",
      });
      expect(outcome.statuses.at(-1), target).toBe(400);
    }
  });

  it("does not complete an upload again when its final PATCH (Upload-Length = offset, empty body) is repeated", async () => {
    const id = await createUpload([["Upload-Length", String(FTYP.length)]], FTYP);
    await settle();
    const completions = () => (events.get(id) ?? []).filter((e) => e === "completed").length;
    expect(completions()).toBe(1);
    // What a client retrying a final PATCH whose response was lost sends (tus-js-client does so
    // with uploadLengthDeferred).
    await send(port, {
      what: "regression",
      method: "PATCH",
      target: `/files/${id}`,
      headers: [TUS, OCTET, ["Upload-Offset", String(FTYP.length)], ["Upload-Length", String(FTYP.length)]],
      body: Buffer.alloc(0),
      framing: "length",
    });
    await settle();
    expect(completions()).toBe(1);
  });

  it("a chunked checksummed PATCH longer than the upload answers 413, and the process lives", async () => {
    // In a child process, since the uncaught exception takes its process down.
    const script = `
      import { createServer } from "node:http";
      const { createUploadServer } = await import(${JSON.stringify(join(packageDir, "src/index.ts"))});
      const upload = createUploadServer({ dir: process.env.STORE, tempDir: process.env.PARTS, sniff: false });
      const http = createServer((req, res) => void upload.handle(req, res));
      http.listen(0, "127.0.0.1", () => console.log(http.address().port));
    `;
    const work = await mkdtemp(join(tmpdir(), "reelkit-upload-crash-"));
    await mkdir(join(work, "parts"));
    const child = spawn(
      process.execPath,
      ["--import", "tsx", "--conditions=@reelkit/source", "--input-type=module", "-e", script],
      {
        cwd: packageDir,
        env: { ...process.env, STORE: join(work, "store"), PARTS: join(work, "parts") },
        stdio: ["ignore", "pipe", "ignore"],
      },
    );
    try {
      const childPort = await new Promise<number>((done, fail) => {
        child.stdout.once("data", (line: Buffer) => done(Number(line.toString().trim())));
        child.once("exit", (code) => fail(new Error(`server exited early (${code})`)));
      });
      const created = await send(childPort, {
        what: "repro",
        method: "POST",
        target: "/files/",
        headers: [TUS, ["Upload-Length", "10"]],
        body: Buffer.alloc(0),
        framing: "length",
      });
      const location = created.headers.location ?? "";
      const body = Buffer.alloc(100, 1);
      const answer = await send(childPort, {
        what: "repro",
        method: "PATCH",
        target: location,
        headers: [TUS, OCTET, ["Upload-Offset", "0"], ["Upload-Checksum", `sha1 ${digest("sha1", body)}`]],
        body,
        framing: "chunked",
      });
      expect(answer.statuses.at(-1)).toBe(413);
      await new Promise((r) => setTimeout(r, 300));
      expect(child.exitCode, "the server process died").toBeNull();
    } finally {
      child.kill();
      await rm(work, { recursive: true, force: true });
    }
  });
});
