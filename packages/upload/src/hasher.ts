// Whole-upload SHA-256 off the main thread. Hashing an upload costs about as much CPU as receiving
// it (OpenSSL's SHA-256 runs at ~1.5 GB/s; a loopback upload arrives at ~0.5 GB/s), and on the
// event loop it delays reading the socket. Here the main thread only copies each chunk into a
// 1 MiB staging buffer and transfers full buffers to one worker thread, which keeps every
// running hash; buffers come back for reuse. Messages are handled in order, so a digest
// request answers for exactly the bytes sent before it.
import { createHash } from "node:crypto";
import { Worker } from "node:worker_threads";

/** A running SHA-256: feed bytes in order, then ask for the hex digest once. */
export interface RunningHash {
  update(chunk: Uint8Array): void;
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
const inFlight = new Int32Array(workerData.inFlight);
const hashes = new Map();
parentPort.on("message", (m) => {
  if (m.op === "update") {
    let hash = hashes.get(m.key);
    if (hash === undefined) hashes.set(m.key, (hash = createHash("sha256")));
    hash.update(new Uint8Array(m.buffer, 0, m.length));
    Atomics.sub(inFlight, 0, 1);
    Atomics.notify(inFlight, 0);
    parentPort.postMessage({ op: "free", buffer: m.buffer }, [m.buffer]);
  } else if (m.op === "digest") {
    const hash = hashes.get(m.key) ?? createHash("sha256");
    hashes.delete(m.key);
    parentPort.postMessage({ op: "digest", key: m.key, hex: hash.digest("hex") });
  } else if (m.op === "drop") {
    hashes.delete(m.key);
  }
});
`;

/** Hashing on the calling thread: the fallback, and what `hashInWorker: false` uses. */
export function inlineHash(): RunningHash {
  const hash = createHash("sha256");
  return {
    update: (chunk) => void hash.update(chunk),
    digest: async () => hash.digest("hex"),
    drop: () => {},
  };
}

export function createHashPool(options: { worker: boolean }): HashPool {
  if (!options.worker) return { create: inlineHash, close: async () => {} };
  let worker: Worker | undefined;
  let failure: Error | undefined;
  const inFlightMemory = new SharedArrayBuffer(4);
  const inFlight = new Int32Array(inFlightMemory);
  const free: ArrayBuffer[] = [];
  const waiting = new Map<number, { resolve(hex: string): void; reject(error: Error): void }>();
  let nextKey = 1;

  const start = (): Worker => {
    if (worker !== undefined) return worker;
    const started = new Worker(WORKER_SOURCE, { eval: true, workerData: { inFlight: inFlightMemory } });
    started.unref(); // a pending digest keeps its request, and so the process, alive
    started.on("message", (m: { op: string; buffer?: ArrayBuffer; key?: number; hex?: string }) => {
      if (m.op === "free" && m.buffer !== undefined) {
        if (free.length < MAX_IN_FLIGHT) free.push(m.buffer);
      } else if (m.op === "digest" && m.key !== undefined) {
        waiting.get(m.key)?.resolve(m.hex ?? "");
        waiting.delete(m.key);
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
        const target = worker ?? start();
        // Bounded: wait (briefly, rarely) while the worker holds MAX_IN_FLIGHT buffers.
        while (Atomics.load(inFlight, 0) >= MAX_IN_FLIGHT && worker !== undefined)
          Atomics.wait(inFlight, 0, Atomics.load(inFlight, 0), 50);
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
        digest() {
          if (broken !== undefined || failure !== undefined) return Promise.reject(broken ?? failure);
          send();
          const target = worker ?? start();
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
