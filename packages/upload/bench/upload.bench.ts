// Upload throughput of one client over loopback: our tus server next to @tus/server +
// @tus/file-store and a raw `http` → `fs.createWriteStream` sink (the practical limit), with and
// without an fsync per chunk (ours fsyncs every PATCH before acknowledging it).
//
//   npm run bench -- upload                              1 GiB in 8 MiB chunks, best of 2 runs per server
//   UPLOAD_BENCH_MIB=256 npm run bench -- upload         smaller file
//   UPLOAD_BENCH_RUNS=3 npm run bench -- upload          best of 3 runs (loopback + disk on a VM is noisy)
//   UPLOAD_BENCH_CPU_PROF=/tmp/prof npm run bench -- upload   --cpu-prof our server's process
//
// Other knobs: UPLOAD_BENCH_CHUNK_MIB (default 8), UPLOAD_BENCH_DIR (where the servers store;
// default os.tmpdir() unless it is a tmpfs, then node_modules/.cache), UPLOAD_BENCH_SERVERS
// (comma-separated subset of raw,raw-fsync,ours,tus,ours-tuned,tus-tuned; the "-tuned" ones start
// with --initial-old-space-size=64, see the README), UPLOAD_BENCH_NODE_FLAGS (space-separated
// Node/V8 flags for every server process, e.g. "--initial-old-space-size=64"; default none).
//
// "full GCs" counts V8 mark-compacts during the measured upload: a server process whose old
// generation is past ~8 MB (any real app; loading zod is enough) and that receives bulk data can
// run one every few tens of ms by default, on the GC's helper threads too.
//
// Every server runs in its own child process (this file, forked with a role argument), so its CPU
// time (process.cpuUsage) and RSS (sampled every 5 ms, and Linux's VmHWM reset at idle) are its own. The
// parent is the client: sequential PATCHes (or POSTs for the raw sinks) over one keep-alive
// connection, sliced from one pregenerated random buffer (same bytes for every server). Each server
// first takes a small unmeasured warm-up upload. Afterwards the stored file's size and SHA-256 are
// checked against the source (and ours's `completed` sha256 too). A table goes to stderr; the last
// stdout line is the JSON that scripts/bench.mjs reads.
import { type ChildProcess, execFileSync, fork } from "node:child_process";
import { createHash, randomFillSync } from "node:crypto";
import {
  createReadStream,
  createWriteStream,
  fsync,
  openSync,
  readFileSync,
  type WriteStream,
  writeFileSync,
} from "node:fs";
import { mkdir, mkdtemp, rm, stat, statfs } from "node:fs/promises";
import { Agent, createServer, type IncomingMessage, request, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { PerformanceObserver, constants as perfConstants } from "node:perf_hooks";

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const TMPFS_MAGIC = 0x01021994;

type Kind = "raw" | "raw-fsync" | "ours" | "tus" | "ours-tuned" | "tus-tuned";
const kinds: readonly Kind[] = ["raw", "raw-fsync", "ours", "tus", "ours-tuned", "tus-tuned"];
/** The heap setting the README recommends for upload servers (the "-tuned" servers start with it). */
const TUNED_FLAGS = ["--initial-old-space-size=64"];
const labels: Record<Kind, string> = {
  raw: "raw http → fs.WriteStream",
  "raw-fsync": "raw sink + fsync per chunk",
  ours: "@reelkit/upload (fsync per PATCH)",
  tus: "@tus/server + @tus/file-store",
  "ours-tuned": "@reelkit/upload, tuned heap",
  "tus-tuned": "@tus/server, tuned heap",
};
/** The server code a kind runs (the tuned kinds differ only in their process's flags). */
const serverOf = (kind: Kind) => kind.replace("-tuned", "") as "raw" | "raw-fsync" | "ours" | "tus";

/** Parent → child. */
type Command = { type: "start" } | { type: "stop" } | { type: "exit" };
/** Child → parent. */
type Report =
  | { type: "ready"; port: number; idleRss: number }
  | { type: "started" }
  | {
      type: "stats";
      cpuUserUs: number;
      cpuSystemUs: number;
      peakRss: number;
      completedSha256: string | undefined;
      requests: number;
      receivingMs: number;
      afterBodyMs: number;
      fullGcs: number;
    };

// ---------------------------------------------------------------------------------------------
// Child: one server.

/** Linux's peak RSS of this process (VmHWM, reset per exec), or 0 elsewhere. */
function highWaterMark(): number {
  try {
    const kib = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync("/proc/self/status", "utf8"))?.[1];
    return kib === undefined ? 0 : Number(kib) * 1024;
  } catch {
    return 0;
  }
}

/** Reset VmHWM to the current RSS (Linux ≥ 4.0), so it measures from now on; best effort. */
function resetHighWaterMark(): void {
  try {
    writeFileSync("/proc/self/clear_refs", "5");
  } catch {}
}

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

async function makeHandler(role: Kind, dir: string, onCompleted: (sha256: string) => void): Promise<Handler> {
  const kind = serverOf(role);
  if (kind === "ours") {
    const { createUploadServer } = await import("../src/index.js");
    const upload = createUploadServer({ dir, sniff: false, tempDir: dir });
    upload.on("completed", ({ sha256 }) => onCompleted(sha256));
    return (req, res) => void upload.handle(req, res);
  }
  if (kind === "tus") {
    const { Server } = await import("@tus/server");
    const { FileStore } = await import("@tus/file-store");
    const tus = new Server({ path: "/files", relativeLocation: true, datastore: new FileStore({ directory: dir }) });
    return (req, res) => void tus.handle(req, res);
  }
  // Raw sink: `POST /sink/<name>` appends the body to <dir>/<name> through one WriteStream per name.
  const durable = kind === "raw-fsync";
  const streams = new Map<string, { out: WriteStream; fd: number }>();
  return (req, res) => {
    const name = /^\/sink\/([a-z0-9-]+)$/.exec(req.url ?? "")?.[1];
    if (name === undefined || req.method !== "POST") {
      res.writeHead(404).end();
      return;
    }
    let entry = streams.get(name);
    if (entry === undefined) {
      const fd = openSync(join(dir, name), "a");
      entry = { out: createWriteStream("", { fd }), fd };
      streams.set(name, entry);
    }
    const { out: sink, fd } = entry;
    let pending = 0;
    let ended = false;
    let failed = false;
    const fail = () => {
      if (failed) return;
      failed = true;
      res.writeHead(500).end();
    };
    const done = () => {
      if (!ended || pending > 0 || failed) return;
      if (!durable) {
        res.writeHead(204).end();
        return;
      }
      fsync(fd, (error) => (error ? fail() : res.writeHead(204).end()));
    };
    req.on("data", (chunk: Buffer) => {
      pending += 1;
      const more = sink.write(chunk, (error) => {
        pending -= 1;
        if (error) fail();
        else done();
      });
      if (!more) {
        req.pause();
        sink.once("drain", () => req.resume());
      }
    });
    req.on("end", () => {
      ended = true;
      done();
    });
    req.on("error", fail);
  };
}

async function child(kind: Kind, dir: string): Promise<void> {
  const send = (report: Report) => process.send?.(report);
  let completedSha256: string | undefined;
  const handler = await makeHandler(kind, dir, (sha256) => {
    completedSha256 = sha256;
  });
  // Where a request's time goes: receiving its body (first byte handed to the handler → the body's
  // last byte read) and after the body (→ response finished: fsyncs, metadata, hashing...).
  const phases = { requests: 0, receivingMs: 0, afterBodyMs: 0, fullGcs: 0 };
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries())
      if ((entry as { detail?: { kind?: number } }).detail?.kind === perfConstants.NODE_PERFORMANCE_GC_MAJOR)
        phases.fullGcs += 1;
  }).observe({ entryTypes: ["gc"] });
  const server = createServer({ keepAliveTimeout: 60_000 }, (req, res) => {
    const t0 = performance.now();
    let bodyEnd = t0;
    req.once("end", () => {
      bodyEnd = performance.now();
    });
    res.once("finish", () => {
      const t1 = performance.now();
      phases.requests += 1;
      phases.receivingMs += bodyEnd - t0;
      phases.afterBodyMs += t1 - bodyEnd;
    });
    handler(req, res);
  });
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  await new Promise((r) => setTimeout(r, 200)); // let startup garbage settle
  const idleRss = process.memoryUsage.rss();
  resetHighWaterMark();
  // Sampling catches the peak where VmHWM is unavailable; getrusage's maxRSS is useless here (it
  // survives the exec of a forked child, so it starts at the parent's RSS, 1 GiB buffer included).
  let peakRss = idleRss;
  const sampler = setInterval(() => {
    peakRss = Math.max(peakRss, process.memoryUsage.rss());
  }, 5);
  let cpuStart = process.cpuUsage();
  process.on("message", (command: Command) => {
    if (command.type === "start") {
      completedSha256 = undefined;
      Object.assign(phases, { requests: 0, receivingMs: 0, afterBodyMs: 0, fullGcs: 0 });
      cpuStart = process.cpuUsage();
      send({ type: "started" });
    } else if (command.type === "stop") {
      const cpu = process.cpuUsage(cpuStart);
      peakRss = Math.max(peakRss, process.memoryUsage.rss(), highWaterMark());
      send({
        type: "stats",
        cpuUserUs: cpu.user,
        cpuSystemUs: cpu.system,
        peakRss,
        completedSha256,
        ...phases,
      });
    } else {
      clearInterval(sampler);
      server.closeAllConnections();
      server.close(() => process.exit(0));
    }
  });
  send({ type: "ready", port: (server.address() as AddressInfo).port, idleRss });
}

// ---------------------------------------------------------------------------------------------
// Parent: the client.

interface RunResult {
  kind: Kind;
  seconds: number;
  mibPerSecond: number;
  cpuSeconds: number;
  cpuUserSeconds: number;
  cpuPerGiB: number;
  idleRssMiB: number;
  peakAboveIdleMiB: number;
  /** Mean ms per request spent receiving the body, and from its last byte to the response. */
  receivingMs: number;
  afterBodyMs: number;
  /** V8 mark-compacts in the server process during the measured upload. */
  fullGcs: number;
}

function nextReport<T extends Report["type"]>(proc: ChildProcess, type: T): Promise<Extract<Report, { type: T }>> {
  return new Promise((done, fail) => {
    const onMessage = (report: Report) => {
      if (report.type !== type) return;
      cleanup();
      done(report as Extract<Report, { type: T }>);
    };
    const onExit = (code: number | null) => {
      cleanup();
      fail(new Error(`server process exited (${code}) while waiting for "${type}"`));
    };
    const cleanup = () => {
      proc.off("message", onMessage);
      proc.off("exit", onExit);
    };
    proc.on("message", onMessage);
    proc.on("exit", onExit);
  });
}

interface Reply {
  status: number;
  headers: IncomingMessage["headers"];
}

function send(agent: Agent, url: string, method: string, headers: Record<string, string>, body?: Buffer) {
  return new Promise<Reply>((done, fail) => {
    const req = request(
      url,
      { agent, method, headers: { ...headers, "Content-Length": String(body?.length ?? 0) } },
      (res) => {
        res.resume();
        res.on("end", () => done({ status: res.statusCode ?? 0, headers: res.headers }));
        res.on("error", fail);
      },
    );
    req.on("error", fail);
    req.end(body);
  });
}

const TUS = { "Tus-Resumable": "1.0.0" };
const OCTET = { ...TUS, "Content-Type": "application/offset+octet-stream" };

/** Uploads `data` in `chunk`-byte requests; resolves the stored file's path (relative to the store dir). */
async function uploadTo(kind: Kind, base: string, agent: Agent, data: Buffer, chunk: number, name: string) {
  if (serverOf(kind) === "raw" || serverOf(kind) === "raw-fsync") {
    for (let offset = 0; offset < data.length; offset += chunk) {
      const reply = await send(agent, `${base}/sink/${name}`, "POST", {}, data.subarray(offset, offset + chunk));
      if (reply.status !== 204) throw new Error(`${kind}: POST answered ${reply.status}`);
    }
    return name;
  }
  const created = await send(agent, `${base}/files/`, "POST", { ...TUS, "Upload-Length": String(data.length) });
  const location = created.headers.location;
  if (created.status !== 201 || location === undefined) throw new Error(`${kind}: creation answered ${created.status}`);
  const url = new URL(location, base).href;
  for (let offset = 0; offset < data.length; offset += chunk) {
    const body = data.subarray(offset, offset + chunk);
    const reply = await send(agent, url, "PATCH", { ...OCTET, "Upload-Offset": String(offset) }, body);
    if (reply.status !== 204 || reply.headers["upload-offset"] !== String(offset + body.length))
      throw new Error(`${kind}: PATCH at ${offset} answered ${reply.status} (${reply.headers["upload-offset"]})`);
  }
  return new URL(url).pathname.split("/").pop() ?? "";
}

async function sha256File(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const piece of createReadStream(path, { highWaterMark: 4 * MiB })) hash.update(piece as Buffer);
  return hash.digest("hex");
}

function flushPageCache() {
  try {
    execFileSync("sync");
  } catch {}
}

/** Extra Node/V8 flags for every server process. */
const nodeFlags = (process.env.UPLOAD_BENCH_NODE_FLAGS ?? "").split(/\s+/).filter((flag) => flag !== "");

async function runOnce(
  kind: Kind,
  root: string,
  data: Buffer,
  expected: string,
  chunk: number,
  profDir: string | undefined,
): Promise<RunResult> {
  const dir = await mkdtemp(join(root, `${kind}-`));
  const execArgv = [...process.execArgv, ...nodeFlags, ...(kind.endsWith("-tuned") ? TUNED_FLAGS : [])];
  if (profDir !== undefined && serverOf(kind) === "ours") execArgv.push("--cpu-prof", `--cpu-prof-dir=${profDir}`);
  const proc = fork(process.argv[1] ?? "", [kind, dir], { execArgv, stdio: ["ignore", 2, 2, "ipc"] });
  try {
    const { port, idleRss } = await nextReport(proc, "ready");
    const base = `http://127.0.0.1:${port}`;
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      // Warm-up: a small upload through the same code paths, not measured.
      const warm = data.subarray(0, Math.min(data.length, 4 * chunk));
      await uploadTo(kind, base, agent, warm, chunk, "warmup");

      const started = nextReport(proc, "started");
      proc.send({ type: "start" } satisfies Command);
      await started;
      const t0 = performance.now();
      const stored = await uploadTo(kind, base, agent, data, chunk, "bench");
      const seconds = (performance.now() - t0) / 1000;
      const statsReport = nextReport(proc, "stats");
      proc.send({ type: "stop" } satisfies Command);
      const stats = await statsReport;

      const path = join(dir, stored);
      const size = (await stat(path)).size;
      if (size !== data.length) throw new Error(`${kind}: stored ${size} bytes, sent ${data.length}`);
      const actual = await sha256File(path);
      if (actual !== expected) throw new Error(`${kind}: stored file's SHA-256 differs from the source`);
      if (serverOf(kind) === "ours" && stats.completedSha256 !== expected)
        throw new Error(`ours: completed event sha256 ${stats.completedSha256} != ${expected}`);

      const cpuSeconds = (stats.cpuUserUs + stats.cpuSystemUs) / 1e6;
      return {
        kind,
        seconds,
        mibPerSecond: data.length / MiB / seconds,
        cpuSeconds,
        cpuUserSeconds: stats.cpuUserUs / 1e6,
        cpuPerGiB: cpuSeconds / (data.length / GiB),
        idleRssMiB: idleRss / MiB,
        peakAboveIdleMiB: (stats.peakRss - idleRss) / MiB,
        receivingMs: stats.receivingMs / Math.max(1, stats.requests),
        afterBodyMs: stats.afterBodyMs / Math.max(1, stats.requests),
        fullGcs: stats.fullGcs,
      };
    } finally {
      agent.destroy();
    }
  } finally {
    if (proc.exitCode === null && proc.connected) {
      const exited = new Promise((done) => proc.once("exit", done));
      proc.send({ type: "exit" } satisfies Command);
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
    }
    if (proc.exitCode === null) proc.kill();
    await rm(dir, { recursive: true, force: true });
    flushPageCache();
  }
}

/** A directory on disk for the stores: not a tmpfs, or the fsync numbers mean nothing. */
async function benchRoot(): Promise<string> {
  const wanted = process.env.UPLOAD_BENCH_DIR;
  let parent = wanted ?? tmpdir();
  if (wanted === undefined && (await statfs(parent)).type === TMPFS_MAGIC) {
    parent = resolve("node_modules/.cache");
    await mkdir(parent, { recursive: true });
  }
  const root = await mkdtemp(join(parent, "reelkit-upload-bench-"));
  if ((await statfs(root)).type === TMPFS_MAGIC)
    process.stderr.write(`warning: ${root} is a tmpfs; fsync costs nothing there\n`);
  return root;
}

async function parent(): Promise<void> {
  const sizeMiB = Number(process.env.UPLOAD_BENCH_MIB ?? 1024);
  const chunkMiB = Number(process.env.UPLOAD_BENCH_CHUNK_MIB ?? 8);
  const runs = Math.max(1, Number(process.env.UPLOAD_BENCH_RUNS ?? 2));
  const profDir = process.env.UPLOAD_BENCH_CPU_PROF ? resolve(process.env.UPLOAD_BENCH_CPU_PROF) : undefined;
  const selected = (process.env.UPLOAD_BENCH_SERVERS?.split(",") ?? kinds).filter((k): k is Kind =>
    kinds.includes(k as Kind),
  );
  if (!(sizeMiB > 0) || !(chunkMiB > 0)) throw new Error("UPLOAD_BENCH_MIB and UPLOAD_BENCH_CHUNK_MIB must be > 0");
  const size = Math.round(sizeMiB * MiB);
  const chunk = Math.round(chunkMiB * MiB);

  const data = Buffer.allocUnsafe(size);
  for (let at = 0; at < size; at += 64 * MiB) randomFillSync(data, at, Math.min(64 * MiB, size - at));
  const expected = createHash("sha256").update(data).digest("hex");

  const root = await benchRoot();
  process.stderr.write(
    `upload bench: ${sizeMiB} MiB in ${chunkMiB} MiB requests, ${runs} run(s) per server, stores under ${root}` +
      `${nodeFlags.length > 0 ? `, server flags ${nodeFlags.join(" ")}` : ""}\n`,
  );
  const best = new Map<Kind, RunResult>();
  try {
    for (let run = 0; run < runs; run++) {
      for (const kind of selected) {
        const result = await runOnce(kind, root, data, expected, chunk, profDir);
        process.stderr.write(
          `  ${labels[kind].padEnd(36)} ${result.mibPerSecond.toFixed(1).padStart(7)} MiB/s  ` +
            `${result.cpuPerGiB.toFixed(2)} CPU s/GiB  peak RSS +${result.peakAboveIdleMiB.toFixed(1)} MiB  ` +
            `${result.fullGcs} full GCs\n`,
        );
        const previous = best.get(kind);
        best.set(kind, {
          ...(previous === undefined || result.mibPerSecond > previous.mibPerSecond ? result : previous),
          peakAboveIdleMiB: Math.max(result.peakAboveIdleMiB, previous?.peakAboveIdleMiB ?? 0),
        });
      }
    }
  } finally {
    await rm(root, { recursive: true, force: true });
  }

  const header = [
    "server",
    "MiB/s",
    "wall s",
    "CPU s (user+sys)",
    "CPU s/GiB",
    "idle RSS",
    "peak RSS above idle",
    "ms/req receiving + after body",
    "full GCs",
  ];
  const rows = [...best.values()].map((r) => [
    labels[r.kind],
    r.mibPerSecond.toFixed(1),
    r.seconds.toFixed(2),
    `${r.cpuSeconds.toFixed(2)} (${r.cpuUserSeconds.toFixed(2)}+${(r.cpuSeconds - r.cpuUserSeconds).toFixed(2)})`,
    r.cpuPerGiB.toFixed(2),
    `${r.idleRssMiB.toFixed(1)} MiB`,
    `${r.peakAboveIdleMiB.toFixed(1)} MiB`,
    `${r.receivingMs.toFixed(1)} + ${r.afterBodyMs.toFixed(1)}`,
    String(r.fullGcs),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join("  ");
  process.stderr.write(`\n${line(header)}\n${widths.map((w) => "-".repeat(w)).join("  ")}\n`);
  for (const row of rows) process.stderr.write(`${line(row)}\n`);
  const ours = best.get("ours");
  const raw = best.get("raw");
  if (ours !== undefined && raw !== undefined)
    process.stderr.write(
      `\nours reaches ${((ours.mibPerSecond / raw.mibPerSecond) * 100).toFixed(0)}% of the raw sink` +
        `${best.has("ours-tuned") ? ` (${(((best.get("ours-tuned")?.mibPerSecond ?? 0) / raw.mibPerSecond) * 100).toFixed(0)}% with a tuned heap)` : ""}\n`,
    );
  if (profDir !== undefined) process.stderr.write(`CPU profile of our server written to ${profDir}\n`);

  const results: { name: string; unit: string; ours: number; peer: string; peerValue: number }[] = [];
  const compare = (
    name: string,
    unit: string,
    peer: Kind,
    pick: (r: RunResult) => number,
    mine: RunResult | undefined = ours,
  ) => {
    const peerResult = best.get(peer);
    if (mine === undefined || peerResult === undefined) return;
    const flags = nodeFlags.length > 0 ? ` [${nodeFlags.join(" ")}]` : "";
    results.push({ name: `${name}${flags}`, unit, ours: pick(mine), peer: labels[peer], peerValue: pick(peerResult) });
  };
  const mibps = (r: RunResult) => r.mibPerSecond;
  compare(`throughput, ${sizeMiB} MiB in ${chunkMiB} MiB PATCHes, vs raw sink`, "MiB/s", "raw", mibps);
  compare("throughput vs raw sink + fsync per chunk", "MiB/s", "raw-fsync", mibps);
  compare("throughput vs @tus/server", "MiB/s", "tus", mibps);
  compare("server CPU per GiB vs @tus/server", "s", "tus", (r) => r.cpuPerGiB);
  compare("server CPU per GiB vs raw sink + fsync", "s", "raw-fsync", (r) => r.cpuPerGiB);
  compare("peak server RSS above idle vs @tus/server", "MiB", "tus", (r) => r.peakAboveIdleMiB);
  // Both upload servers again with the heap setting the README recommends (TUNED_FLAGS).
  const tuned = best.get("ours-tuned");
  const tunedFlag = TUNED_FLAGS.join(" ");
  compare(`throughput with ${tunedFlag}, vs raw sink`, "MiB/s", "raw", mibps, tuned);
  compare(`throughput with ${tunedFlag}, vs raw sink + fsync per chunk`, "MiB/s", "raw-fsync", mibps, tuned);
  compare(`throughput with ${tunedFlag}, both servers`, "MiB/s", "tus-tuned", mibps, tuned);
  console.log(JSON.stringify({ results }));
}

const [role, roleDir] = process.argv.slice(2);
if (role !== undefined) {
  if (!kinds.includes(role as Kind) || roleDir === undefined) throw new Error(`unknown server role ${role}`);
  await child(role as Kind, roleDir);
} else {
  await parent();
}
