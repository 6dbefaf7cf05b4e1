import { z } from "zod";
import { FeedRankerErrorCode } from "./errors.js";
import { createRandom, gaussian } from "./random.js";
import { parseWith } from "./validate.js";

const optionsSchema = z.strictObject({
  dim: z.number().int().min(2).max(512).default(32),
  /** Subspace (power) iterations; `update` runs `updateIterations` more, warm-started. */
  iterations: z.number().int().min(1).max(100).default(12),
  updateIterations: z.number().int().min(1).max(100).default(3),
  seed: z.number().int().default(1),
});
export type EmbeddingOptions = z.input<typeof optionsSchema>;

/**
 * Item embeddings learned offline from interactions: the top eigenvectors of the degree-normalised
 * item co-occurrence matrix (a truncated SVD of the user–item matrix), by subspace iteration that
 * only ever multiplies through the sparse histories. `update` folds new histories and items in with
 * a few warm-started iterations instead of a retrain.
 */
export class EmbeddingModel {
  readonly items: string[] = [];
  readonly index = new Map<string, number>();
  private readonly histories: number[][] = [];
  private basis = new Float64Array(0);
  private readonly o: z.output<typeof optionsSchema>;

  constructor(options: EmbeddingOptions = {}) {
    this.o = parseWith(optionsSchema, options, FeedRankerErrorCode.INVALID_OPTIONS, "embedding options");
  }

  static train(histories: Iterable<readonly string[]>, options: EmbeddingOptions = {}): EmbeddingModel {
    const model = new EmbeddingModel(options);
    model.add(histories);
    model.iterate(model.o.iterations);
    return model;
  }

  get dim(): number {
    return this.o.dim;
  }

  private add(histories: Iterable<readonly string[]>): void {
    const random = createRandom(this.o.seed + this.items.length);
    const before = this.items.length;
    for (const history of histories) {
      const ids: number[] = [];
      for (const item of new Set(history)) {
        let i = this.index.get(item);
        if (i === undefined) {
          i = this.items.length;
          this.items.push(item);
          this.index.set(item, i);
        }
        ids.push(i);
      }
      if (ids.length > 0) this.histories.push(ids);
    }
    const grown = new Float64Array(this.items.length * this.o.dim);
    grown.set(this.basis.subarray(0, before * this.o.dim));
    for (let k = before * this.o.dim; k < grown.length; k++) grown[k] = gaussian(random) * 0.01;
    this.basis = grown;
  }

  /** Fold in new interactions (new users and new items) with a few warm-started iterations. */
  update(histories: Iterable<readonly string[]>): void {
    this.add(histories);
    this.iterate(this.o.updateIterations);
  }

  private iterate(times: number): void {
    const n = this.items.length;
    const dim = this.o.dim;
    const degree = new Float64Array(n);
    for (const h of this.histories) for (const i of h) degree[i] = (degree[i] as number) + 1;
    const userVec = new Float64Array(dim);
    for (let t = 0; t < times; t++) {
      const next = new Float64Array(n * dim);
      // next = D^-1/2 Xᵀ Du^-1 X D^-1/2 · basis, one user at a time.
      for (const h of this.histories) {
        userVec.fill(0);
        for (const i of h) {
          const w = 1 / Math.sqrt(degree[i] as number);
          for (let d = 0; d < dim; d++) userVec[d] = (userVec[d] as number) + w * (this.basis[i * dim + d] as number);
        }
        const scale = 1 / h.length;
        for (const i of h) {
          const w = scale / Math.sqrt(degree[i] as number);
          for (let d = 0; d < dim; d++) next[i * dim + d] = (next[i * dim + d] as number) + w * (userVec[d] as number);
        }
      }
      orthonormalizeColumns(next, n, dim);
      this.basis = next;
    }
  }

  /** The item's vector, or undefined for an unknown item. */
  vector(itemId: string): Float32Array | undefined {
    const i = this.index.get(itemId);
    if (i === undefined) return undefined;
    return Float32Array.from(this.basis.subarray(i * this.o.dim, (i + 1) * this.o.dim));
  }

  /** A user's vector: the mean of the vectors of the items in their history. */
  userVector(history: readonly string[]): Float32Array | undefined {
    const out = new Float32Array(this.o.dim);
    let n = 0;
    for (const item of history) {
      const i = this.index.get(item);
      if (i === undefined) continue;
      for (let d = 0; d < this.o.dim; d++) out[d] = (out[d] as number) + (this.basis[i * this.o.dim + d] as number);
      n++;
    }
    return n === 0 ? undefined : out;
  }
}

/** Modified Gram–Schmidt on the columns of a row-major n×dim matrix. */
function orthonormalizeColumns(m: Float64Array, n: number, dim: number): void {
  for (let c = 0; c < dim; c++) {
    for (let p = 0; p < c; p++) {
      let proj = 0;
      for (let i = 0; i < n; i++) proj += (m[i * dim + c] as number) * (m[i * dim + p] as number);
      for (let i = 0; i < n; i++) m[i * dim + c] = (m[i * dim + c] as number) - proj * (m[i * dim + p] as number);
    }
    let norm = 0;
    for (let i = 0; i < n; i++) norm += (m[i * dim + c] as number) ** 2;
    const inv = norm > 0 ? 1 / Math.sqrt(norm) : 0;
    for (let i = 0; i < n; i++) m[i * dim + c] = (m[i * dim + c] as number) * inv;
  }
}
