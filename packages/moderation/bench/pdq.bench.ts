// PDQ hashing speed against Meta's reference, and index query time against brute force.
//
//   npm run bench -- moderation
//
// 1. Hashes per second on 512×512 RGB frames (eight real frames of the vPDQ chair video, scaled
//    by ffmpeg): ours (TypeScript, single thread) against `pdqhash` from PyPI, which compiles
//    Meta's C++ reference and is called from Python in the same run on the same pixels (its per
//    call cost includes numpy's RGB→luma conversion and the Python call). Rounds alternate, the
//    median round counts. The hashes are compared too (stderr).
// 2. Query time at distance 31 over 1,000,000 random hashes: our multi-index hashing index
//    against a brute-force scan (a tight popcount loop over the same packed words), with results
//    checked identical for every query. Half the queries have near neighbours planted, half none.
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sharedDataDir } from "../../../test/services.js";
import { createHashIndex, hammingDistance, pdqHash } from "../src/index.js";
import { ensurePdqhash, PDQHASH_VERSION } from "./pdqhash-peer.js";

const SIDE = 512;
const FRAMES = 8;
const ROUND_SECONDS = 2;
const ROUNDS = 3;

const log = (line: string) => process.stderr.write(`${line}\n`);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

// ---------------------------------------------------------------------------------------------
// 1. Hashing

const peer = ensurePdqhash();
log(`peer: pdqhash ${peer.version} (${peer.python})`);

const video = join(sharedDataDir(), "vpdq", "chair-orig-22-sd-bar.mp4");
const raw = execFileSync(
  "ffmpeg",
  [
    ...["-v", "error", "-i", video, "-vf", `fps=0.4,scale=${SIDE}:${SIDE}:flags=area`, "-frames:v", String(FRAMES)],
    ...["-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1"],
  ],
  { maxBuffer: 64 * 1024 * 1024 },
);
const frameBytes = SIDE * SIDE * 3;
if (raw.length !== FRAMES * frameBytes)
  throw new Error(`expected ${FRAMES} frames from ffmpeg, got ${raw.length / frameBytes}`);
const frames = Array.from(
  { length: FRAMES },
  (_, i) => new Uint8Array(raw.buffer, raw.byteOffset + i * frameBytes, frameBytes),
);
const dir = mkdtempSync(join(tmpdir(), "reelkit-pdq-bench-"));
const rawPath = join(dir, "frames.rgb");
writeFileSync(rawPath, raw);

const pythonBench = `
import json, sys, time
import numpy as np, pdqhash
path, n, side, seconds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
frames = np.fromfile(path, dtype=np.uint8).reshape(n, side, side, 3)
hashes = []
for f in frames:
    bits, quality = pdqhash.compute(f)
    hashes.append(np.packbits(bits.astype(np.uint8)).tobytes().hex())
for i in range(20):
    pdqhash.compute(frames[i % n])
count = 0
start = time.perf_counter()
while time.perf_counter() - start < seconds:
    pdqhash.compute(frames[count % n])
    count += 1
print(json.dumps({"rate": count / (time.perf_counter() - start), "hashes": hashes}))
`;

function peerRound(): { rate: number; hashes: string[] } {
  const r = spawnSync(peer.python, ["-c", pythonBench, rawPath, String(FRAMES), String(SIDE), String(ROUND_SECONDS)], {
    encoding: "utf8",
  });
  if (r.status !== 0) throw new Error(`pdqhash benchmark failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split("\n").at(-1) ?? "{}");
}

function oursRound(): number {
  for (let i = 0; i < 20; i++) pdqHash(frames[i % FRAMES] as Uint8Array, SIDE, SIDE);
  let count = 0;
  const start = performance.now();
  while (performance.now() - start < ROUND_SECONDS * 1000) {
    pdqHash(frames[count % FRAMES] as Uint8Array, SIDE, SIDE);
    count++;
  }
  return count / ((performance.now() - start) / 1000);
}

const ourRates: number[] = [];
const peerRates: number[] = [];
let peerHashes: string[] = [];
for (let round = 0; round < ROUNDS; round++) {
  ourRates.push(oursRound());
  const p = peerRound();
  peerRates.push(p.rate);
  peerHashes = p.hashes;
  log(`round ${round + 1}: ours ${ourRates.at(-1)?.toFixed(0)} hashes/s, pdqhash ${p.rate.toFixed(0)} hashes/s`);
}
const distances = frames.map((f, i) => hammingDistance(pdqHash(f, SIDE, SIDE).hash, peerHashes[i] as string));
log(`ours vs pdqhash on the same ${FRAMES} frames: Hamming distances ${distances.join(", ")}`);
rmSync(dir, { recursive: true, force: true });

// ---------------------------------------------------------------------------------------------
// 2. Index

const N = 1_000_000;
const DISTANCE = 31;
let seed = 0x9e3779b9;
const next = () => {
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return seed >>> 0;
};
const words = new Uint32Array(N * 8);
for (let i = 0; i < words.length; i++) words[i] = next();
const hexAt = (w: Uint32Array, at: number) => {
  let s = "";
  for (let k = 7; k >= 0; k--) s += (w[at + k] as number).toString(16).padStart(8, "0");
  return s;
};

let started = performance.now();
const index = createHashIndex<undefined>();
for (let i = 0; i < N; i++) index.add(hexAt(words, i * 8), undefined);
const addMs = performance.now() - started;

// Needles: 100 copies of haystack hashes with 0–31 bits flipped, 100 fresh random hashes.
const needles: Uint32Array[] = [];
for (let q = 0; q < 200; q++) {
  const needle = new Uint32Array(8);
  if (q % 2 === 0) {
    const source = next() % N;
    needle.set(words.subarray(source * 8, source * 8 + 8));
    const flips = next() % (DISTANCE + 1);
    for (let f = 0; f < flips; f++) {
      const bit = next() % 256;
      needle[bit >> 5] = ((needle[bit >> 5] as number) ^ (1 << (bit & 31))) >>> 0;
    }
  } else {
    for (let k = 0; k < 8; k++) needle[k] = next();
  }
  needles.push(needle);
}
const needleHex = needles.map((n) => hexAt(n, 0));

started = performance.now();
index.query(needleHex[1] as string, DISTANCE); // builds the slot tables
const buildMs = performance.now() - started;

function bruteForce(needle: Uint32Array): number[] {
  const out: number[] = [];
  const n0 = needle[0] as number;
  const n1 = needle[1] as number;
  const n2 = needle[2] as number;
  const n3 = needle[3] as number;
  const n4 = needle[4] as number;
  const n5 = needle[5] as number;
  const n6 = needle[6] as number;
  const n7 = needle[7] as number;
  const pop = (x: number) => {
    let v = x >>> 0;
    v -= (v >>> 1) & 0x55555555;
    v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
    return (Math.imul((v + (v >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24) as number;
  };
  for (let i = 0, at = 0; i < N; i++, at += 8) {
    const d =
      pop((words[at] as number) ^ n0) +
      pop((words[at + 1] as number) ^ n1) +
      pop((words[at + 2] as number) ^ n2) +
      pop((words[at + 3] as number) ^ n3) +
      pop((words[at + 4] as number) ^ n4) +
      pop((words[at + 5] as number) ^ n5) +
      pop((words[at + 6] as number) ^ n6) +
      pop((words[at + 7] as number) ^ n7);
    if (d <= DISTANCE) out.push(i);
  }
  return out;
}

// Same answers, every needle.
let hits = 0;
for (const [q, needle] of needles.entries()) {
  const want = bruteForce(needle);
  const got = index
    .query(needleHex[q] as string, DISTANCE)
    .map((m) => m.id)
    .sort((a, b) => a - b);
  if (want.length !== got.length || want.some((id, i) => got[i] !== id)) {
    throw new Error(`index and brute force disagree on needle ${q}: ${got.length} vs ${want.length} results`);
  }
  hits += want.length;
}
log(
  `index: ${N.toLocaleString("en")} hashes added in ${addMs.toFixed(0)} ms, tables built in ${buildMs.toFixed(0)} ms; ${needles.length} needles, ${hits} results, identical to brute force`,
);

function timePerQuery(fn: (q: number) => void, minMs: number): number {
  let count = 0;
  const start = performance.now();
  while (performance.now() - start < minMs) {
    fn(count % needles.length);
    count++;
  }
  return (performance.now() - start) / count;
}
const indexMs: number[] = [];
const bruteMs: number[] = [];
for (let round = 0; round < ROUNDS; round++) {
  indexMs.push(timePerQuery((q) => index.query(needleHex[q] as string, DISTANCE), 1000));
  bruteMs.push(timePerQuery((q) => bruteForce(needles[q] as Uint32Array), 1500));
  log(
    `round ${round + 1}: index ${indexMs.at(-1)?.toFixed(4)} ms/query, brute force ${bruteMs.at(-1)?.toFixed(2)} ms/query`,
  );
}

console.log(
  JSON.stringify({
    results: [
      {
        name: "PDQ hash, 512×512 RGB frame",
        unit: "hashes/s",
        ours: median(ourRates),
        peer: `pdqhash ${PDQHASH_VERSION} (Meta's C++ via Python)`,
        peerValue: median(peerRates),
      },
      {
        name: "index query, 1M hashes, distance ≤ 31",
        unit: "ms",
        ours: median(indexMs),
        peer: "brute-force scan",
        peerValue: median(bruteMs),
      },
    ],
  }),
);
