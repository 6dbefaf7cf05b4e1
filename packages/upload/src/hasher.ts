// Whole-upload SHA-256 off the main thread. Hashing an upload costs about as much CPU as receiving
// it (OpenSSL's SHA-256 runs at ~1.5 GB/s; a loopback upload arrives at ~0.5 GB/s), and on the
// event loop it delays reading the socket. One worker thread keeps every running hash, fed in
// either of two ways: `updateFile` names a durable byte range of a local file, which the worker
// reads back (from the page cache) and hashes — nothing per chunk on the event loop; `update`
// copies chunks into 1 MiB staging buffers transferred to the worker (stores without a local
// file). Messages are handled in order, so a digest answers for exactly the bytes sent before it.
import { createHash } from "node:crypto";
import { closeSync, openSync, readSync } from "node:fs";
import { Worker } from "node:worker_threads";

/** A running SHA-256: feed bytes in order, then ask for the hex digest once. */
export interface RunningHash {
  update(chunk: Uint8Array): void;
  /** Hash bytes [start, end) of a local file, which must not change while it is read. */
  updateFile(path: string, start: number, end: number): void;
  digest(): Promise<string>;
  /** Forget the state (no digest will be asked). */
  drop(): void;
}

export interface HashPool {
  create(): RunningHash;
  close(): Promise<void>;
}

const STAGING_BYTES = 1024 * 1024;
/** Staging buffers in the worker's queue before `update` waits (bounded memory if it falls behind). */
const MAX_IN_FLIGHT = 16;

// CommonJS, evaluated as the worker's source: no file to resolve in source or built layouts.
const WORKER_SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
const { createHash } = require("node:crypto");
const { openSync, readSync, closeSync, readlinkSync } = require("node:fs");
if (workerData.nice !== 0) {
  try {
    // Linux: this thread's id, then its own priority (setpriority on a thread id affects that
    // thread only). Elsewhere there is no /proc/thread-self and the thread keeps the process's.
    const tid = Number(readlinkSync("/proc/thread-self").split("/").pop());
    if (Number.isInteger(tid) && tid > 0) require("node:os").setPriority(tid, workerData.nice);
  } catch {}
}
const inFlight = new Int32Array(workerData.inFlight);
const hashes = new Map();
const readBuffer = Buffer.allocUnsafe(1024 * 1024);
const stateOf = (key) => {
  let state = hashes.get(key);
  if (state === undefined) hashes.set(key, (state = { hash: createHash("sha256"), error: undefined }));
  return state;
};
parentPort.on("message", (m) => {
  if (m.op === "update") {
    stateOf(m.key).hash.update(new Uint8Array(m.buffer, 0, m.length));
    Atomics.sub(inFlight, 0, 1);
    Atomics.notify(inFlight, 0);
    parentPort.postMessage({ op: "free", buffer: m.buffer }, [m.buffer]);
  } else if (m.op === "file") {
    const state = stateOf(m.key);
    if (state.error !== undefined) return;
    let fd;
    try {
      fd = openSync(m.path, "r");
      for (let at = m.start; at < m.end; ) {
        const n = readSync(fd, readBuffer, 0, Math.min(readBuffer.length, m.end - at), at);
        if (n <= 0) throw new Error("the file is shorter than the range to hash");
        state.hash.update(readBuffer.subarray(0, n));
        at += n;
      }
    } catch (error) {
      state.error = String(error && error.message ? error.message : error);
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
  } else if (m.op === "digest") {
    const state = hashes.get(m.key) ?? { hash: createHash("sha256"), error: undefined };
    hashes.delete(m.key);
    if (state.error !== undefined) parentPort.postMessage({ op: "digest", key: m.key, error: state.error });
    else parentPort.postMessage({ op: "digest", key: m.key, hex: state.hash.digest("hex") });
  } else if (m.op === "drop") {
    hashes.delete(m.key);
  }
});
`;

/** Hashing on the calling thread: the fallback, and what `hashInWorker: false` uses. */
export function inlineHash(): RunningHash {
  const hash = createHash("sha256");
  let error: Error | undefined;
  return {
    update: (chunk) => void hash.update(chunk),
    updateFile(path, start, end) {
      if (error !== undefined) return;
      let fd: number | undefined;
      const buffer = Buffer.allocUnsafe(Math.min(1024 * 1024, Math.max(1, end - start)));
      try {
        fd = openSync(path, "r");
        for (let at = start; at < end; ) {
          const n = readSync(fd, buffer, 0, Math.min(buffer.length, end - at), at);
          if (n <= 0) throw new Error("the file is shorter than the range to hash");
          hash.update(buffer.subarray(0, n));
          at += n;
        }
      } catch (cause) {
        error = cause as Error;
      } finally {
        if (fd !== undefined) closeSync(fd);
      }
    },
    digest: async () => {
      if (error !== undefined) throw error;
      return hash.digest("hex");
    },
    drop: () => {},
  };
}

export interface HashPoolOptions {
  /** Hash on a worker thread (else on the calling thread). */
  worker: boolean;
  /**
   * The worker thread's nice value (0–19, Linux only): above 0, receiving (and the rest of the
   * machine) comes first and the hash catches up while the disk syncs. 0 keeps the process's.
   */
  nice?: number | undefined;
}

export function createHashPool(options: HashPoolOptions): HashPool {
  if (!options.worker) return { create: inlineHash, close: async () => {} };
  let worker: Worker | undefined;
  let failure: Error | undefined;
  const inFlightMemory = new SharedArrayBuffer(4);
  const inFlight = new Int32Array(inFlightMemory);
  const free: ArrayBuffer[] = [];
  const waiting = new Map<number, { resolve(hex: string): void; reject(error: Error): void }>();
  let nextKey = 1;

  const ensureWorker = (): Worker => {
    if (worker !== undefined) return worker;
    const started = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { inFlight: inFlightMemory, nice: options.nice ?? 0 },
    });
    started.unref(); // a pending digest keeps its request, and so the process, alive
    started.on("message", (m: { op: string; buffer?: ArrayBuffer; key?: number; hex?: string; error?: string }) => {
      if (m.op === "free" && m.buffer !== undefined) {
        if (free.length < MAX_IN_FLIGHT) free.push(m.buffer);
      } else if (m.op === "digest" && m.key !== undefined) {
        const pending = waiting.get(m.key);
        waiting.delete(m.key);
        if (m.error !== undefined) pending?.reject(new Error(`hashing failed: ${m.error}`));
        else pending?.resolve(m.hex ?? "");
      }
    });
    const fail = (error: Error) => {
      failure = error;
      worker = undefined;
      Atomics.store(inFlight, 0, 0);
      for (const pending of waiting.values()) pending.reject(error);
      waiting.clear();
    };
    started.on("error", fail);
    started.on("exit", (code) => {
      if (worker === started) fail(new Error(`hash worker exited with code ${code}`));
    });
    worker = started;
    return started;
  };

  return {
    create(): RunningHash {
      if (failure !== undefined) return inlineHash();
      const key = nextKey++;
      let staging: Uint8Array | undefined;
      let used = 0;
      let broken: Error | undefined;
      const send = () => {
        if (staging === undefined || used === 0) return;
        const target = worker ?? ensureWorker();
        // Bounded: wait (briefly, rarely) while the worker holds MAX_IN_FLIGHT buffers. A worker
        // that died cannot report it while this thread blocks: give up after ~5 s, and this hash
        // falls back (its digest is refused, the stored bytes are hashed at completion).
        for (let waited = 0; Atomics.load(inFlight, 0) >= MAX_IN_FLIGHT; waited++) {
          if (waited === 100) {
            broken = new Error("the hash worker stopped taking buffers");
            staging = undefined;
            used = 0;
            return;
          }
          Atomics.wait(inFlight, 0, Atomics.load(inFlight, 0), 50);
        }
        Atomics.add(inFlight, 0, 1);
        const buffer = staging.buffer as ArrayBuffer;
        target.postMessage({ op: "update", key, buffer, length: used }, [buffer]);
        staging = undefined;
        used = 0;
      };
      return {
        update(chunk) {
          if (broken !== undefined) return;
          if (failure !== undefined) {
            broken = failure;
            return;
          }
          let done = 0;
          while (done < chunk.length) {
            staging ??= new Uint8Array(free.pop() ?? new ArrayBuffer(STAGING_BYTES));
            const n = Math.min(chunk.length - done, STAGING_BYTES - used);
            staging.set(chunk.subarray(done, done + n), used);
            used += n;
            done += n;
            if (used === STAGING_BYTES) send();
          }
        },
        updateFile(path, start, end) {
          if (broken !== undefined) return;
          if (failure !== undefined) {
            broken = failure;
            return;
          }
          send(); // bytes given to `update` come first
          if (end > start) (worker ?? ensureWorker()).postMessage({ op: "file", key, path, start, end });
        },
        digest() {
          if (broken !== undefined || failure !== undefined) return Promise.reject(broken ?? failure);
          send();
          const target = worker ?? ensureWorker();
          return new Promise<string>((resolve, reject) => {
            waiting.set(key, { resolve, reject });
            target.postMessage({ op: "digest", key });
          });
        },
        drop() {
          staging = undefined;
          used = 0;
          worker?.postMessage({ op: "drop", key });
        },
      };
    },
    async close() {
      const running = worker;
      worker = undefined;
      failure = new Error("hash pool closed");
      for (const pending of waiting.values()) pending.reject(failure);
      waiting.clear();
      await running?.terminate();
    },
  };
}
