// PDQ perceptual hashing, computed exactly as Meta's reference implementation does it
// (facebook/ThreatExchange, pdq/cpp): luminance from RGB, a two-pass Jarosz tent filter (box blurs
// whose windows come from the image size), decimation to 64×64, the 16×16 corner of a 2-D DCT
// and a threshold at the median coefficient. The reference computes in single precision, so every
// floating-point step here is rounded to float32 (`Math.fround`, or a store into a Float32Array)
// in the reference's order: that is what makes the hashes bit-for-bit identical, not merely close.
import { ModerationError, ModerationErrorCode } from "../errors.js";
import { hammingDistance, isPdqHash, PDQ_MATCH_DISTANCE, type PdqHash, wordsToHash } from "./hamming.js";

/** A PDQ hash and its quality (0–100: how much gradient, i.e. detail, the image has). */
export interface PdqResult {
  /** 64 lower-case hex characters. */
  hash: PdqHash;
  /** 0–100. Meta suggests ignoring hashes under 50 (flat, featureless images). */
  quality: number;
}

/**
 * The eight rotations and flips of an image, named as in Meta's reference. Each variant is the
 * hash the transformed image would (nearly) have, derived from one DCT without re-hashing:
 * `rotate90` is a quarter turn anticlockwise, `rotate270` clockwise, `flipX` mirrors top to bottom
 * (about the horizontal axis), `flipY` left to right, `flipPlus1` transposes (mirror about the
 * main diagonal) and `flipMinus1` mirrors about the anti-diagonal.
 */
export type PdqDihedralVariant =
  | "original"
  | "rotate90"
  | "rotate180"
  | "rotate270"
  | "flipX"
  | "flipY"
  | "flipPlus1"
  | "flipMinus1";

export const pdqDihedralVariants: readonly PdqDihedralVariant[] = [
  "original",
  "rotate90",
  "rotate180",
  "rotate270",
  "flipX",
  "flipY",
  "flipPlus1",
  "flipMinus1",
];

/** `pdqHashDihedral`'s result: one quality, eight hashes. */
export interface PdqDihedralResult {
  quality: number;
  hashes: Record<PdqDihedralVariant, PdqHash>;
}

/** Images narrower or shorter than this hash to all zeros with quality 0, as in the reference. */
const MIN_HASHABLE_DIM = 5;

// Luminance coefficients are floats in the reference; an 8-bit channel times a float is exact in a
// double and rounds once, so a table per channel gives the same products.
const lumaR = channelTable(0.299);
const lumaG = channelTable(0.587);
const lumaB = channelTable(0.114);

function channelTable(coefficient: number): Float32Array {
  const c = Math.fround(coefficient);
  const table = new Float32Array(256);
  for (let v = 0; v < 256; v++) table[v] = c * v;
  return table;
}

// Rows 1…16 of the 64-point DCT-II matrix, row-major 16×64: a float scale factor times a double
// cosine, stored as float (the reference's `dct_matrix_64`).
const dctMatrix = (() => {
  const scale = Math.fround(Math.sqrt(2 / 64));
  const matrix = new Float32Array(16 * 64);
  for (let i = 0; i < 16; i++) {
    for (let j = 0; j < 64; j++) matrix[i * 64 + j] = scale * Math.cos((Math.PI / 2 / 64) * (i + 1) * (2 * j + 1));
  }
  return matrix;
})();

// Full-resolution scratch, reused between calls (hashing is synchronous) up to a size worth keeping.
const KEEP_SCRATCH_PIXELS = 4 * 1024 * 1024;
let scratch1 = new Float32Array(0);
let scratch2 = new Float32Array(0);

function fullBuffers(pixels: number): [Float32Array, Float32Array] {
  if (pixels > KEEP_SCRATCH_PIXELS) return [new Float32Array(pixels), new Float32Array(pixels)];
  if (scratch1.length < pixels) {
    scratch1 = new Float32Array(pixels);
    scratch2 = new Float32Array(pixels);
  }
  return [scratch1, scratch2];
}

const buffer64 = new Float32Array(64 * 64);
const buffer16x64 = new Float32Array(16 * 64);
const dctOut = new Float32Array(256);
const dctAux = new Float32Array(256);
const hashWords = new Uint32Array(8);

function checkImage(rgb: unknown, width: unknown, height: unknown): asserts rgb is Uint8Array {
  if (!(rgb instanceof Uint8Array || rgb instanceof Uint8ClampedArray)) {
    throw new ModerationError(ModerationErrorCode.INVALID_INPUT, "rgb must be a Uint8Array of interleaved 8-bit RGB");
  }
  for (const [name, value] of [
    ["width", width],
    ["height", height],
  ] as const) {
    if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 1) {
      throw new ModerationError(ModerationErrorCode.INVALID_INPUT, `${name} must be a positive integer, got ${value}`);
    }
  }
  const expected = 3 * (width as number) * (height as number);
  if (rgb.length !== expected) {
    throw new ModerationError(
      ModerationErrorCode.INVALID_INPUT,
      `rgb has ${rgb.length} bytes; ${width}×${height} interleaved RGB (no alpha, no row padding) needs ${expected}`,
    );
  }
}

/**
 * The PDQ hash of an image given as interleaved 8-bit RGB (`width · height · 3` bytes, row-major,
 * no alpha, no row padding). Any size from 1×1 works; images under 5 pixels on a side hash to all
 * zeros with quality 0, as in the reference. Bit-for-bit identical to Meta's reference on the same
 * pixels; no pre-resizing is done (the result is the reference's on the full-resolution image).
 *
 * @throws ModerationError `INVALID_INPUT` when the buffer is not a Uint8Array of the right length
 *   or a dimension is not a positive integer.
 */
export function pdqHash(rgb: Uint8Array, width: number, height: number): PdqResult {
  checkImage(rgb, width, height);
  if (width < MIN_HASHABLE_DIM || height < MIN_HASHABLE_DIM) return { hash: "0".repeat(64), quality: 0 };
  const quality = dctFromRgb(rgb, width, height, true);
  return { hash: bitsFromDct(dctOut), quality };
}

/**
 * The PDQ hashes of an image and of its seven rotations and flips (see {@link PdqDihedralVariant}),
 * from one pass over the pixels. Compare a query's eight hashes with a stored hash to find rotated
 * or mirrored copies: {@link pdqMatch} does that when given the `hashes` record.
 *
 * @throws ModerationError `INVALID_INPUT` as {@link pdqHash}.
 */
export function pdqHashDihedral(rgb: Uint8Array, width: number, height: number): PdqDihedralResult {
  checkImage(rgb, width, height);
  if (width < MIN_HASHABLE_DIM || height < MIN_HASHABLE_DIM) {
    const zero = "0".repeat(64);
    const hashes = Object.fromEntries(pdqDihedralVariants.map((v) => [v, zero])) as Record<PdqDihedralVariant, PdqHash>;
    return { quality: 0, hashes };
  }
  // The reference's dihedral entry point always filters, even a 64×64 input.
  const quality = dctFromRgb(rgb, width, height, false);
  const hashes = {} as Record<PdqDihedralVariant, PdqHash>;
  for (const variant of pdqDihedralVariants) {
    transformDct(variant, dctOut, dctAux);
    hashes[variant] = bitsFromDct(dctAux);
  }
  return { quality, hashes };
}

/** `pdqFloat`'s result: the coefficients the hash thresholds, before thresholding. */
export interface PdqFloatResult {
  /** 16×16, row-major: coefficient (i, j) at i·16 + j, which is hash bit i·16 + j. */
  coefficients: Float32Array;
  quality: number;
}

/**
 * The 256 DCT coefficients PDQ thresholds at their median (Meta's `pdqFloat256FromFloatLuma`,
 * the float hash TMK+PDQF and ML pipelines use), every float32 bit identical to the reference's.
 * Unlike {@link pdqHash} there is no minimum size, as in the reference.
 *
 * @throws ModerationError `INVALID_INPUT` as {@link pdqHash}.
 */
export function pdqFloat(rgb: Uint8Array, width: number, height: number): PdqFloatResult {
  checkImage(rgb, width, height);
  const quality = dctFromRgb(rgb, width, height, true);
  return { coefficients: dctOut.slice(), quality };
}

/** The result of comparing a query (one hash, or a dihedral set) with a target hash. */
export interface PdqMatchResult {
  /** `distance <= maxDistance`. */
  match: boolean;
  /** The smallest Hamming distance over the query's hashes. */
  distance: number;
  /** Which of the query's hashes was closest (`"original"` for a single hash). */
  variant: PdqDihedralVariant;
}

/**
 * Compare a query with a target hash. With a single query hash this is the plain PDQ test
 * (`distance <= maxDistance`, Meta's threshold 31 by default); with the `hashes` of
 * {@link pdqHashDihedral} the closest of the eight variants counts, so rotated and mirrored copies
 * match too.
 *
 * @throws ModerationError `INVALID_INPUT` for malformed hashes or a distance outside 0–256.
 */
export function pdqMatch(
  query: PdqHash | Readonly<Record<PdqDihedralVariant, PdqHash>>,
  target: PdqHash,
  options: { maxDistance?: number } = {},
): PdqMatchResult {
  const maxDistance = options.maxDistance ?? PDQ_MATCH_DISTANCE;
  if (!Number.isInteger(maxDistance) || maxDistance < 0 || maxDistance > 256) {
    throw new ModerationError(
      ModerationErrorCode.INVALID_INPUT,
      `maxDistance must be an integer 0–256, got ${maxDistance}`,
    );
  }
  if (typeof query === "string" || !query || typeof query !== "object") {
    const distance = hammingDistance(query as PdqHash, target);
    return { match: distance <= maxDistance, distance, variant: "original" };
  }
  let best: PdqMatchResult | undefined;
  for (const variant of pdqDihedralVariants) {
    const hash = query[variant];
    if (!isPdqHash(hash)) {
      throw new ModerationError(ModerationErrorCode.INVALID_INPUT, `dihedral hashes lack a valid "${variant}" hash`);
    }
    const distance = hammingDistance(hash, target);
    if (best === undefined || distance < best.distance) best = { match: distance <= maxDistance, distance, variant };
  }
  return best as PdqMatchResult;
}

// ---------------------------------------------------------------------------------------------
// The pipeline. Leaves the 16×16 DCT in `dctOut` and returns the quality.
//
// Exactness note. The reference blurs with running sums (`box1DFloat`): per output, one float add
// and/or one float subtract, then sum / count. Each row (or column) is an independent chain, so the
// kernels below advance four rows (eight columns) side by side to keep the CPU busy, and skip the
// divisions and stores whose results the 64×64 decimation never reads. The arithmetic each output
// sees, and its order, is the reference's: only the interleaving of independent chains changes.

const fround = Math.fround;

function dctFromRgb(rgb: Uint8Array, width: number, height: number, direct64: boolean): number {
  const pixels = width * height;
  const [full1, full2] = fullBuffers(pixels);
  fillLuma(rgb, full1, pixels);
  if (direct64 && width === 64 && height === 64) {
    // The reference takes a 64×64 input as already downsampled (video frames scaled by ffmpeg).
    buffer64.set(full1.subarray(0, 4096));
  } else {
    const windowAlongRows = jaroszWindow(width, 64);
    const windowAlongCols = jaroszWindow(height, 64);
    const sampleCols = samplePositions(width, decimateCols);
    const sampleRows = samplePositions(height, decimateRows);
    const [narrow1, narrow2] = narrowBuffers(height);
    // The reference's two Jarosz passes (rows then columns, twice). Pass 1 in full; pass 2 keeps only
    // the 64 sampled columns (all rows: the column blur needs them), then the 64 sampled rows.
    boxAlongRows(full1, full2, height, width, windowAlongRows, undefined);
    boxAlongCols(full2, full1, height, width, windowAlongCols);
    boxAlongRows(full1, narrow1, height, width, windowAlongRows, sampleCols);
    boxAlongCols(narrow1, narrow2, height, 64, windowAlongCols);
    for (let i = 0; i < 64; i++)
      buffer64.set(narrow2.subarray((sampleRows[i] as number) * 64, (sampleRows[i] as number) * 64 + 64), i * 64);
  }
  const quality = imageDomainQuality(buffer64);
  dct64To16(buffer64, dctOut);
  return quality;
}

function fillLuma(rgb: Uint8Array, luma: Float32Array, pixels: number): void {
  const tr = lumaR;
  const tg = lumaG;
  const tb = lumaB;
  // y = (r·cR + g·cG) + b·cB, each step rounded to float.
  for (let p = 0, q = 0; p < pixels; p++, q += 3) {
    luma[p] =
      fround((tr[rgb[q] as number] as number) + (tg[rgb[q + 1] as number] as number)) +
      (tb[rgb[q + 2] as number] as number);
  }
}

/** Half the per-pass window that averages one output cell (two passes make a tent), rounded up. */
function jaroszWindow(oldDimension: number, newDimension: number): number {
  return Math.floor((oldDimension + 2 * newDimension - 1) / (2 * newDimension));
}

const decimateCols = new Int32Array(64);
const decimateRows = new Int32Array(64);

/** The input index decimation samples for each of the 64 outputs: cell centres, in double, truncated. */
function samplePositions(length: number, into: Int32Array): Int32Array {
  for (let i = 0; i < 64; i++) into[i] = Math.trunc(((i + 0.5) * length) / 64);
  return into;
}

let narrowA = new Float32Array(0);
let narrowB = new Float32Array(0);

function narrowBuffers(rows: number): [Float32Array, Float32Array] {
  if (narrowA.length < rows * 64) {
    narrowA = new Float32Array(rows * 64);
    narrowB = new Float32Array(rows * 64);
  }
  return [narrowA, narrowB];
}

/**
 * The box filter along each row of `input` (rows × cols). Without `sampleCols`, `output` is
 * rows × cols; with it, `output` is rows × 64 and holds only the outputs at those (ascending)
 * columns: the running sums still walk every column, the divisions happen only where kept.
 */
function boxAlongRows(
  input: Float32Array,
  output: Float32Array,
  rows: number,
  cols: number,
  window: number,
  sampleCols: Int32Array | undefined,
): void {
  const half = (window + 2) >> 1;
  const phase1 = half - 1;
  const phase2 = window - half + 1;
  const phase3 = cols - window;
  let r = 0;
  if (sampleCols === undefined) {
    for (; r + 4 <= rows; r += 4) boxFourRows(input, output, r * cols, cols, phase1, phase2, phase3);
  } else {
    for (; r + 4 <= rows; r += 4) boxFourRowsSampled(input, output, r, cols, phase1, phase2, phase3, sampleCols);
  }
  // The last rows (fewer than four), one at a time.
  const outCols = sampleCols === undefined ? cols : 64;
  for (; r < rows; r++) {
    const base = r * cols;
    const outBase = r * outCols;
    let sum = 0;
    let count = 0;
    let ri = base;
    let li = base;
    let next = 0; // index into sampleCols
    for (let i = 0; i < phase1; i++) {
      sum = fround(sum + (input[ri++] as number));
      count++;
    }
    for (let oi = 0; oi < cols; oi++) {
      if (oi < phase2) {
        sum = fround(sum + (input[ri++] as number));
        count++;
      } else if (oi < phase2 + phase3) {
        sum = fround(sum + (input[ri++] as number));
        sum = fround(sum - (input[li++] as number));
      } else {
        sum = fround(sum - (input[li++] as number));
        count--;
      }
      if (sampleCols === undefined) output[outBase + oi] = sum / count;
      else {
        while (next < 64 && sampleCols[next] === oi) output[outBase + next++] = sum / count;
      }
    }
  }
}

/**
 * Four rows side by side from row `r`, keeping only the outputs at `sampleCols` (ascending, with
 * repeats when the image is under 64 wide) in `output`, rows × 64.
 */
function boxFourRowsSampled(
  input: Float32Array,
  output: Float32Array,
  r: number,
  cols: number,
  phase1: number,
  phase2: number,
  phase3: number,
  sampleCols: Int32Array,
): void {
  const b0 = r * cols;
  const b1 = b0 + cols;
  const b2 = b1 + cols;
  const b3 = b2 + cols;
  const o0 = r * 64;
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let count = 0;
  let ri = 0;
  let li = 0;
  let oi = 0;
  let next = 0;
  let wanted = sampleCols[0] as number;
  for (let i = 0; i < phase1; i++, ri++) {
    s0 = fround(s0 + (input[b0 + ri] as number));
    s1 = fround(s1 + (input[b1 + ri] as number));
    s2 = fround(s2 + (input[b2 + ri] as number));
    s3 = fround(s3 + (input[b3 + ri] as number));
    count++;
  }
  for (let i = 0; i < phase2; i++, ri++, oi++) {
    s0 = fround(s0 + (input[b0 + ri] as number));
    s1 = fround(s1 + (input[b1 + ri] as number));
    s2 = fround(s2 + (input[b2 + ri] as number));
    s3 = fround(s3 + (input[b3 + ri] as number));
    count++;
    while (wanted === oi) {
      output[o0 + next] = s0 / count;
      output[o0 + 64 + next] = s1 / count;
      output[o0 + 128 + next] = s2 / count;
      output[o0 + 192 + next] = s3 / count;
      next++;
      wanted = next < 64 ? (sampleCols[next] as number) : -1;
    }
  }
  for (let i = 0; i < phase3; i++, ri++, li++, oi++) {
    s0 = fround(fround(s0 + (input[b0 + ri] as number)) - (input[b0 + li] as number));
    s1 = fround(fround(s1 + (input[b1 + ri] as number)) - (input[b1 + li] as number));
    s2 = fround(fround(s2 + (input[b2 + ri] as number)) - (input[b2 + li] as number));
    s3 = fround(fround(s3 + (input[b3 + ri] as number)) - (input[b3 + li] as number));
    while (wanted === oi) {
      output[o0 + next] = s0 / count;
      output[o0 + 64 + next] = s1 / count;
      output[o0 + 128 + next] = s2 / count;
      output[o0 + 192 + next] = s3 / count;
      next++;
      wanted = next < 64 ? (sampleCols[next] as number) : -1;
    }
  }
  for (; oi < cols; li++, oi++) {
    s0 = fround(s0 - (input[b0 + li] as number));
    s1 = fround(s1 - (input[b1 + li] as number));
    s2 = fround(s2 - (input[b2 + li] as number));
    s3 = fround(s3 - (input[b3 + li] as number));
    count--;
    while (wanted === oi) {
      output[o0 + next] = s0 / count;
      output[o0 + 64 + next] = s1 / count;
      output[o0 + 128 + next] = s2 / count;
      output[o0 + 192 + next] = s3 / count;
      next++;
      wanted = next < 64 ? (sampleCols[next] as number) : -1;
    }
  }
}

/** Four rows side by side, starting at `b0`; all outputs kept (output has the input's shape). */
function boxFourRows(
  input: Float32Array,
  output: Float32Array,
  b0: number,
  cols: number,
  phase1: number,
  phase2: number,
  phase3: number,
): void {
  const b1 = b0 + cols;
  const b2 = b1 + cols;
  const b3 = b2 + cols;
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let count = 0;
  let ri = 0;
  let li = 0;
  let oi = 0;
  for (let i = 0; i < phase1; i++, ri++) {
    s0 = fround(s0 + (input[b0 + ri] as number));
    s1 = fround(s1 + (input[b1 + ri] as number));
    s2 = fround(s2 + (input[b2 + ri] as number));
    s3 = fround(s3 + (input[b3 + ri] as number));
    count++;
  }
  for (let i = 0; i < phase2; i++, ri++, oi++) {
    s0 = fround(s0 + (input[b0 + ri] as number));
    s1 = fround(s1 + (input[b1 + ri] as number));
    s2 = fround(s2 + (input[b2 + ri] as number));
    s3 = fround(s3 + (input[b3 + ri] as number));
    count++;
    output[b0 + oi] = s0 / count;
    output[b1 + oi] = s1 / count;
    output[b2 + oi] = s2 / count;
    output[b3 + oi] = s3 / count;
  }
  for (let i = 0; i < phase3; i++, ri++, li++, oi++) {
    s0 = fround(fround(s0 + (input[b0 + ri] as number)) - (input[b0 + li] as number));
    s1 = fround(fround(s1 + (input[b1 + ri] as number)) - (input[b1 + li] as number));
    s2 = fround(fround(s2 + (input[b2 + ri] as number)) - (input[b2 + li] as number));
    s3 = fround(fround(s3 + (input[b3 + ri] as number)) - (input[b3 + li] as number));
    output[b0 + oi] = s0 / count;
    output[b1 + oi] = s1 / count;
    output[b2 + oi] = s2 / count;
    output[b3 + oi] = s3 / count;
  }
  for (; oi < cols; li++, oi++) {
    s0 = fround(s0 - (input[b0 + li] as number));
    s1 = fround(s1 - (input[b1 + li] as number));
    s2 = fround(s2 - (input[b2 + li] as number));
    s3 = fround(s3 - (input[b3 + li] as number));
    count--;
    output[b0 + oi] = s0 / count;
    output[b1 + oi] = s1 / count;
    output[b2 + oi] = s2 / count;
    output[b3 + oi] = s3 / count;
  }
}

/** The box filter down each column of `input` (rows × cols) into `output` (same shape). */
function boxAlongCols(input: Float32Array, output: Float32Array, rows: number, cols: number, window: number): void {
  const half = (window + 2) >> 1;
  const phase1 = half - 1;
  const phase2 = window - half + 1;
  const phase3 = rows - window;
  let c = 0;
  for (; c + 8 <= cols; c += 8) boxEightCols(input, output, c, cols, rows, phase1, phase2, phase3);
  for (; c < cols; c++) {
    let sum = 0;
    let count = 0;
    let ri = c;
    let li = c;
    let oi = c;
    for (let i = 0; i < phase1; i++, ri += cols) {
      sum = fround(sum + (input[ri] as number));
      count++;
    }
    for (let i = 0; i < phase2; i++, ri += cols, oi += cols) {
      sum = fround(sum + (input[ri] as number));
      count++;
      output[oi] = sum / count;
    }
    for (let i = 0; i < phase3; i++, ri += cols, li += cols, oi += cols) {
      sum = fround(fround(sum + (input[ri] as number)) - (input[li] as number));
      output[oi] = sum / count;
    }
    for (let i = phase2 + phase3; i < rows; i++, li += cols, oi += cols) {
      sum = fround(sum - (input[li] as number));
      count--;
      output[oi] = sum / count;
    }
  }
}

/** Eight adjacent columns from `c`, side by side, walking down the rows. */
function boxEightCols(
  input: Float32Array,
  output: Float32Array,
  c: number,
  cols: number,
  rows: number,
  phase1: number,
  phase2: number,
  phase3: number,
): void {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let s4 = 0;
  let s5 = 0;
  let s6 = 0;
  let s7 = 0;
  let count = 0;
  let ri = c;
  let li = c;
  let oi = c;
  for (let i = 0; i < phase1; i++, ri += cols) {
    s0 = fround(s0 + (input[ri] as number));
    s1 = fround(s1 + (input[ri + 1] as number));
    s2 = fround(s2 + (input[ri + 2] as number));
    s3 = fround(s3 + (input[ri + 3] as number));
    s4 = fround(s4 + (input[ri + 4] as number));
    s5 = fround(s5 + (input[ri + 5] as number));
    s6 = fround(s6 + (input[ri + 6] as number));
    s7 = fround(s7 + (input[ri + 7] as number));
    count++;
  }
  for (let i = 0; i < phase2; i++, ri += cols, oi += cols) {
    s0 = fround(s0 + (input[ri] as number));
    s1 = fround(s1 + (input[ri + 1] as number));
    s2 = fround(s2 + (input[ri + 2] as number));
    s3 = fround(s3 + (input[ri + 3] as number));
    s4 = fround(s4 + (input[ri + 4] as number));
    s5 = fround(s5 + (input[ri + 5] as number));
    s6 = fround(s6 + (input[ri + 6] as number));
    s7 = fround(s7 + (input[ri + 7] as number));
    count++;
    output[oi] = s0 / count;
    output[oi + 1] = s1 / count;
    output[oi + 2] = s2 / count;
    output[oi + 3] = s3 / count;
    output[oi + 4] = s4 / count;
    output[oi + 5] = s5 / count;
    output[oi + 6] = s6 / count;
    output[oi + 7] = s7 / count;
  }
  for (let i = 0; i < phase3; i++, ri += cols, li += cols, oi += cols) {
    s0 = fround(fround(s0 + (input[ri] as number)) - (input[li] as number));
    s1 = fround(fround(s1 + (input[ri + 1] as number)) - (input[li + 1] as number));
    s2 = fround(fround(s2 + (input[ri + 2] as number)) - (input[li + 2] as number));
    s3 = fround(fround(s3 + (input[ri + 3] as number)) - (input[li + 3] as number));
    s4 = fround(fround(s4 + (input[ri + 4] as number)) - (input[li + 4] as number));
    s5 = fround(fround(s5 + (input[ri + 5] as number)) - (input[li + 5] as number));
    s6 = fround(fround(s6 + (input[ri + 6] as number)) - (input[li + 6] as number));
    s7 = fround(fround(s7 + (input[ri + 7] as number)) - (input[li + 7] as number));
    output[oi] = s0 / count;
    output[oi + 1] = s1 / count;
    output[oi + 2] = s2 / count;
    output[oi + 3] = s3 / count;
    output[oi + 4] = s4 / count;
    output[oi + 5] = s5 / count;
    output[oi + 6] = s6 / count;
    output[oi + 7] = s7 / count;
  }
  for (let i = phase2 + phase3; i < rows; i++, li += cols, oi += cols) {
    s0 = fround(s0 - (input[li] as number));
    s1 = fround(s1 - (input[li + 1] as number));
    s2 = fround(s2 - (input[li + 2] as number));
    s3 = fround(s3 - (input[li + 3] as number));
    s4 = fround(s4 - (input[li + 4] as number));
    s5 = fround(s5 - (input[li + 5] as number));
    s6 = fround(s6 - (input[li + 6] as number));
    s7 = fround(s7 - (input[li + 7] as number));
    count--;
    output[oi] = s0 / count;
    output[oi + 1] = s1 / count;
    output[oi + 2] = s2 / count;
    output[oi + 3] = s3 / count;
    output[oi + 4] = s4 / count;
    output[oi + 5] = s5 / count;
    output[oi + 6] = s6 / count;
    output[oi + 7] = s7 / count;
  }
}

/** Sum of quantised vertical and horizontal gradients, scaled: the reference's heuristic, in float then int. */
function imageDomainQuality(a: Float32Array): number {
  let gradientSum = 0;
  for (let i = 0; i < 63; i++) {
    for (let j = 0; j < 64; j++) {
      const d = Math.fround(
        Math.fround(Math.fround((a[i * 64 + j] as number) - (a[(i + 1) * 64 + j] as number)) * 100) / 255,
      );
      gradientSum += Math.abs(Math.trunc(d));
    }
  }
  for (let i = 0; i < 64; i++) {
    for (let j = 0; j < 63; j++) {
      const d = Math.fround(
        Math.fround(Math.fround((a[i * 64 + j] as number) - (a[i * 64 + j + 1] as number)) * 100) / 255,
      );
      gradientSum += Math.abs(Math.trunc(d));
    }
  }
  return Math.min(100, Math.trunc(gradientSum / 90));
}

/**
 * B = D·A·Dᵀ, keeping the 16×16 low-frequency corner (skipping the DC term). Each output is a
 * float accumulator over k = 0…63 in order; four outputs advance together.
 */
function dct64To16(a: Float32Array, out: Float32Array): void {
  const t = buffer16x64;
  const d = dctMatrix;
  for (let i = 0; i < 16; i++) {
    const di = i * 64;
    for (let j = 0; j < 64; j += 4) {
      let s0 = 0;
      let s1 = 0;
      let s2 = 0;
      let s3 = 0;
      for (let k = 0; k < 64; k++) {
        const c = d[di + k] as number;
        const row = k * 64 + j;
        s0 = fround(s0 + fround(c * (a[row] as number)));
        s1 = fround(s1 + fround(c * (a[row + 1] as number)));
        s2 = fround(s2 + fround(c * (a[row + 2] as number)));
        s3 = fround(s3 + fround(c * (a[row + 3] as number)));
      }
      t[di + j] = s0;
      t[di + j + 1] = s1;
      t[di + j + 2] = s2;
      t[di + j + 3] = s3;
    }
  }
  for (let i = 0; i < 16; i++) {
    const ti = i * 64;
    for (let j = 0; j < 16; j += 4) {
      const d0 = j * 64;
      let s0 = 0;
      let s1 = 0;
      let s2 = 0;
      let s3 = 0;
      for (let k = 0; k < 64; k++) {
        const v = t[ti + k] as number;
        s0 = fround(s0 + fround(v * (d[d0 + k] as number)));
        s1 = fround(s1 + fround(v * (d[d0 + 64 + k] as number)));
        s2 = fround(s2 + fround(v * (d[d0 + 128 + k] as number)));
        s3 = fround(s3 + fround(v * (d[d0 + 192 + k] as number)));
      }
      out[i * 16 + j] = s0;
      out[i * 16 + j + 1] = s1;
      out[i * 16 + j + 2] = s2;
      out[i * 16 + j + 3] = s3;
    }
  }
}

/**
 * A variant's DCT from the original's: a rotation or flip of the image only transposes the
 * coefficient grid and flips the sign of the odd-frequency terms along the reversed axis.
 */
function transformDct(variant: PdqDihedralVariant, a: Float32Array, b: Float32Array): void {
  for (let i = 0; i < 16; i++) {
    for (let j = 0; j < 16; j++) {
      const v = a[i * 16 + j] as number;
      switch (variant) {
        case "original":
          b[i * 16 + j] = v;
          break;
        case "rotate90":
          b[j * 16 + i] = j & 1 ? v : -v;
          break;
        case "rotate180":
          b[i * 16 + j] = (i + j) & 1 ? -v : v;
          break;
        case "rotate270":
          b[j * 16 + i] = i & 1 ? v : -v;
          break;
        case "flipX":
          b[i * 16 + j] = i & 1 ? v : -v;
          break;
        case "flipY":
          b[i * 16 + j] = j & 1 ? v : -v;
          break;
        case "flipPlus1":
          b[j * 16 + i] = v;
          break;
        case "flipMinus1":
          b[j * 16 + i] = (i + j) & 1 ? -v : v;
          break;
      }
    }
  }
}

/** One bit per coefficient: set when it is above the median (Torben's selection, in float). */
function bitsFromDct(dct: Float32Array): PdqHash {
  const median = torbenMedian(dct);
  hashWords.fill(0);
  for (let k = 0; k < 256; k++) {
    if ((dct[k] as number) > median) hashWords[k >> 5] = ((hashWords[k >> 5] as number) | (1 << (k & 31))) >>> 0;
  }
  return wordsToHash(hashWords);
}

/**
 * Torben Mogensen's median by bisection on values (no sort, no copy): the lower median for an
 * even count, with the midpoint guesses computed in float as the reference does.
 */
function torbenMedian(m: Float32Array): number {
  const n = m.length;
  const target = (n + 1) >> 1;
  let min = m[0] as number;
  let max = min;
  for (let i = 1; i < n; i++) {
    const v = m[i] as number;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  for (;;) {
    const guess = Math.fround(Math.fround(min + max) / 2);
    let less = 0;
    let greater = 0;
    let equal = 0;
    let maxBelow = min;
    let minAbove = max;
    for (let i = 0; i < n; i++) {
      const v = m[i] as number;
      if (v < guess) {
        less++;
        if (v > maxBelow) maxBelow = v;
      } else if (v > guess) {
        greater++;
        if (v < minAbove) minAbove = v;
      } else {
        equal++;
      }
    }
    if (less <= target && greater <= target) {
      if (less >= target) return maxBelow;
      if (less + equal >= target) return guess;
      return minAbove;
    }
    if (less > greater) max = maxBelow;
    else min = minAbove;
  }
}
