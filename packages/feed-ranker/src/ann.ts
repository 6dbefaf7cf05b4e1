import { z } from "zod";
import { FeedRankerError, FeedRankerErrorCode } from "./errors.js";
import { createRandom } from "./random.js";
import type { Scored } from "./types.js";
import { parseWith } from "./validate.js";

const optionsSchema = z.strictObject({
  dim: z.number().int().min(1).max(4096),
  /** Inverted lists (k-means cells); 0 picks ~√n at build time. */
  lists: z.number().int().min(0).max(65_536).default(0),
  /** Lists scanned per query: more is slower and closer to exact. @default 8 */
  probes: z.number().int().min(1).default(8),
  /** k-means iterations when building. @default 8 */
  iterations: z.number().int().min(1).max(100).default(8),
  seed: z.number().int().default(7),
});
export type AnnOptions = z.input<typeof optionsSchema>;

function normalizeInto(src: ArrayLike<number>, dst: Float32Array, at: number, dim: number): void {
  let norm = 0;
  for (let d = 0; d < dim; d++) norm += (src[d] as number) ** 2;
  const inv = norm > 0 ? 1 / Math.sqrt(norm) : 0;
  for (let d = 0; d < dim; d++) dst[at + d] = (src[d] as number) * inv;
}

function dot(a: Float32Array, ai: number, b: Float32Array, bi: number, dim: number): number {
  // Four independent accumulators: V8 pipelines them far better than one running sum.
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let d = 0;
  for (; d + 3 < dim; d += 4) {
    s0 += (a[ai + d] as number) * (b[bi + d] as number);
    s1 += (a[ai + d + 1] as number) * (b[bi + d + 1] as number);
    s2 += (a[ai + d + 2] as number) * (b[bi + d + 2] as number);
    s3 += (a[ai + d + 3] as number) * (b[bi + d + 3] as number);
  }
  for (; d < dim; d++) s0 += (a[ai + d] as number) * (b[bi + d] as number);
  return s0 + s1 + s2 + s3;
}

/** A bounded best-k collector (cosine similarity, higher is better): a min-heap on typed arrays. */
class TopK {
  private readonly heapIds: Int32Array;
  private readonly heapScores: Float64Array;
  private n = 0;
  constructor(private readonly k: number) {
    this.heapIds = new Int32Array(Math.max(1, k));
    this.heapScores = new Float64Array(Math.max(1, k));
  }
  get floor(): number {
    return this.n < this.k ? Number.NEGATIVE_INFINITY : (this.heapScores[0] as number);
  }
  push(id: number, score: number): void {
    if (this.k === 0 || score <= this.floor) return;
    const ids = this.heapIds;
    const scores = this.heapScores;
    let i: number;
    if (this.n < this.k) {
      i = this.n++;
      while (i > 0) {
        const parent = (i - 1) >> 1;
        if ((scores[parent] as number) <= score) break;
        ids[i] = ids[parent] as number;
        scores[i] = scores[parent] as number;
        i = parent;
      }
    } else {
      i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= this.n) break;
        const r = l + 1;
        const m = r < this.n && (scores[r] as number) < (scores[l] as number) ? r : l;
        if ((scores[m] as number) >= score) break;
        ids[i] = ids[m] as number;
        scores[i] = scores[m] as number;
        i = m;
      }
    }
    ids[i] = id;
    scores[i] = score;
  }
  /** Entries best first. */
  sorted(): Array<{ id: number; score: number }> {
    const out: Array<{ id: number; score: number }> = [];
    for (let i = 0; i < this.n; i++) out.push({ id: this.heapIds[i] as number, score: this.heapScores[i] as number });
    return out.sort((a, b) => b.score - a.score || a.id - b.id);
  }
}

/**
 * Approximate nearest neighbours by cosine similarity: an inverted-file index (k-means cells,
 * `probes` cells scanned per query) over Float32 vectors, pure TypeScript. Vectors added after
 * `build` join their nearest cell without retraining.
 */
export class AnnIndex {
  readonly dim: number;
  private readonly o: z.output<typeof optionsSchema>;
  private keys: string[] = [];
  private readonly slot = new Map<string, number>();
  private vectors = new Float32Array(0);
  private centroids = new Float32Array(0);
  private listIds: Int32Array[] = [];
  private listLen: number[] = [];
  private removed = new Set<number>();
  private built = false;

  constructor(options: AnnOptions) {
    this.o = parseWith(optionsSchema, options, FeedRankerErrorCode.INVALID_OPTIONS, "ANN options");
    this.dim = this.o.dim;
  }

  get size(): number {
    return this.keys.length - this.removed.size;
  }

  /** Bytes held by vectors, centroids and lists (ids as strings are the caller's). */
  get bytes(): number {
    return this.vectors.byteLength + this.centroids.byteLength + this.listIds.reduce((s, l) => s + l.byteLength, 0);
  }

  add(id: string, vector: ArrayLike<number>): void {
    if (vector.length !== this.dim) {
      throw new FeedRankerError(
        FeedRankerErrorCode.INVALID_INPUT,
        `vector of ${id} has ${vector.length} dimensions, expected ${this.dim}`,
      );
    }
    let n = this.slot.get(id);
    if (n !== undefined) {
      this.removed.add(n); // re-added: the old slot stays in its list but is skipped
    }
    n = this.keys.length;
    this.keys.push(id);
    this.slot.set(id, n);
    if ((n + 1) * this.dim > this.vectors.length) {
      const grown = new Float32Array(Math.max(1024, Math.ceil((n + 1) * 1.5)) * this.dim);
      grown.set(this.vectors);
      this.vectors = grown;
    }
    normalizeInto(vector, this.vectors, n * this.dim, this.dim);
    if (this.built) this.assign(n);
  }

  remove(id: string): void {
    const n = this.slot.get(id);
    if (n === undefined) return;
    this.removed.add(n);
    this.slot.delete(id);
  }

  /** Train the cells (k-means on a sample) and file every vector. */
  build(): void {
    const n = this.keys.length;
    const dim = this.dim;
    const lists = Math.max(1, Math.min(n, this.o.lists || Math.round(Math.sqrt(n))));
    const random = createRandom(this.o.seed);
    const sampleSize = Math.min(n, lists * 30);
    const sample: number[] = [];
    for (let i = 0; i < n; i++) {
      if (sample.length < sampleSize) sample.push(i);
      else {
        const j = Math.floor(random() * (i + 1));
        if (j < sampleSize) sample[j] = i;
      }
    }
    // Drop the growth slack: the index is at its working size once built.
    if (this.vectors.length > n * dim) this.vectors = this.vectors.slice(0, n * dim);
    const centroids = new Float32Array(lists * dim);
    for (let c = 0; c < lists; c++)
      centroids.set(this.vectors.subarray((sample[c] as number) * dim, ((sample[c] as number) + 1) * dim), c * dim);
    const sums = new Float64Array(lists * dim);
    for (let it = 0; it < this.o.iterations; it++) {
      sums.fill(0);
      for (const i of sample) {
        const c = this.nearestCell(centroids, lists, i);
        for (let d = 0; d < dim; d++)
          sums[c * dim + d] = (sums[c * dim + d] as number) + (this.vectors[i * dim + d] as number);
      }
      for (let c = 0; c < lists; c++) {
        let norm = 0;
        for (let d = 0; d < dim; d++) norm += (sums[c * dim + d] as number) ** 2;
        if (norm === 0) continue; // empty cell keeps its seed
        const inv = 1 / Math.sqrt(norm);
        for (let d = 0; d < dim; d++) centroids[c * dim + d] = (sums[c * dim + d] as number) * inv;
      }
    }
    this.centroids = centroids;
    this.listIds = Array.from({ length: lists }, () => new Int32Array(16));
    this.listLen = new Array(lists).fill(0);
    this.built = true;
    for (let i = 0; i < n; i++) if (!this.removed.has(i)) this.assign(i);
  }

  private nearestCell(centroids: Float32Array, lists: number, i: number): number {
    let best = 0;
    let bestScore = Number.NEGATIVE_INFINITY;
    for (let c = 0; c < lists; c++) {
      const s = dot(this.vectors, i * this.dim, centroids, c * this.dim, this.dim);
      if (s > bestScore) {
        bestScore = s;
        best = c;
      }
    }
    return best;
  }

  private assign(i: number): void {
    const c = this.nearestCell(this.centroids, this.listLen.length, i);
    let list = this.listIds[c] as Int32Array;
    const len = this.listLen[c] as number;
    if (len === list.length) {
      const grown = new Int32Array(list.length * 2);
      grown.set(list);
      this.listIds[c] = list = grown;
    }
    list[len] = i;
    this.listLen[c] = len + 1;
  }

  private query(vector: ArrayLike<number>): Float32Array {
    if (vector.length !== this.dim) {
      throw new FeedRankerError(
        FeedRankerErrorCode.INVALID_INPUT,
        `query has ${vector.length} dimensions, expected ${this.dim}`,
      );
    }
    const q = new Float32Array(this.dim);
    normalizeInto(vector, q, 0, this.dim);
    return q;
  }

  /** The k most similar vectors (cosine), best first; `exclude` ids are skipped. */
  search(vector: ArrayLike<number>, k: number, exclude?: ReadonlySet<string>): Scored[] {
    if (!this.built) this.build();
    const q = this.query(vector);
    const lists = this.listLen.length;
    const cells = new TopK(Math.min(this.o.probes, lists));
    for (let c = 0; c < lists; c++) cells.push(c, dot(q, 0, this.centroids, c * this.dim, this.dim));
    const best = new TopK(k);
    for (const { id: c } of cells.sorted()) {
      const list = this.listIds[c] as Int32Array;
      const len = this.listLen[c] as number;
      for (let m = 0; m < len; m++) {
        const i = list[m] as number;
        const s = dot(q, 0, this.vectors, i * this.dim, this.dim);
        if (s <= best.floor || this.removed.has(i)) continue;
        if (exclude?.has(this.keys[i] as string)) continue;
        best.push(i, s);
      }
    }
    return best.sorted().map(({ id, score }) => ({ videoId: this.keys[id] as string, score }));
  }

  /** Exact search over every vector: the reference the approximate search is measured against. */
  searchExact(vector: ArrayLike<number>, k: number, exclude?: ReadonlySet<string>): Scored[] {
    const q = this.query(vector);
    const best = new TopK(k);
    for (let i = 0; i < this.keys.length; i++) {
      const s = dot(q, 0, this.vectors, i * this.dim, this.dim);
      if (s <= best.floor || this.removed.has(i)) continue;
      if (exclude?.has(this.keys[i] as string)) continue;
      best.push(i, s);
    }
    return best.sorted().map(({ id, score }) => ({ videoId: this.keys[id] as string, score }));
  }

  vectorOf(id: string): Float32Array | undefined {
    const n = this.slot.get(id);
    return n === undefined ? undefined : this.vectors.slice(n * this.dim, (n + 1) * this.dim);
  }
}
