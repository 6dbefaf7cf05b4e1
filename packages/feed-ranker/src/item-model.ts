import { z } from "zod";
import { FeedRankerError, FeedRankerErrorCode } from "./errors.js";
import { parseWith } from "./validate.js";

const optionsSchema = z.strictObject({
  /** L2 regularisation of EASE (Steck 2019); tune it on a validation split. */
  lambda: z.number().positive().default(300),
  /** Neighbours kept per item after training (the rest are dropped). 0 keeps all. */
  neighbours: z.number().int().min(0).default(200),
  /**
   * Dropout-style regularisation (DLAE, Steck 2020): adds dropout/(1-dropout) × an item's own
   * count to its diagonal, so popular items are regularised more. 0 is plain EASE.
   */
  dropout: z.number().min(0).max(0.95).default(0),
});

export type ItemModelOptions = z.input<typeof optionsSchema>;

/** One engaged item of a training history: its id (weight 1), or its id with a weight ≥ 0. */
export type HistoryEntry = string | { itemId: string; weight: number };

/** Invert a symmetric positive-definite n×n matrix in place (Gauss–Jordan, no pivoting needed). */
export function invertSpdInPlace(a: Float64Array, n: number): void {
  for (let k = 0; k < n; k++) {
    const rowK = k * n;
    const inv = 1 / (a[rowK + k] as number);
    a[rowK + k] = 1;
    for (let j = 0; j < n; j++) a[rowK + j] = (a[rowK + j] as number) * inv;
    for (let i = 0; i < n; i++) {
      if (i === k) continue;
      const rowI = i * n;
      const f = a[rowI + k] as number;
      if (f === 0) continue;
      a[rowI + k] = 0;
      for (let j = 0; j < n; j++) a[rowI + j] = (a[rowI + j] as number) - f * (a[rowK + j] as number);
    }
  }
}

/**
 * An item-to-item model trained offline from interactions (EASE: a closed-form linear
 * autoencoder with a zero diagonal). Its co-occurrence (Gram) matrix is kept, so `update` adds new
 * interactions incrementally and `refit` re-solves; serving reads a sparse neighbour table.
 */
export class ItemModel {
  readonly items: string[] = [];
  readonly index = new Map<string, number>();
  private gram = new Float64Array(0);
  private capacity = 0;
  /** CSR neighbour table: for item i, offsets[i]..offsets[i+1] in `cols`/`weights`. */
  private offsets = new Int32Array(1);
  private cols = new Int32Array(0);
  private weights = new Float32Array(0);
  private readonly options: z.output<typeof optionsSchema>;
  private dirty = false;

  constructor(options: ItemModelOptions = {}) {
    this.options = parseWith(optionsSchema, options, FeedRankerErrorCode.INVALID_OPTIONS, "item model options");
  }

  /** Train from per-user histories (each a list of item ids the user engaged with). */
  static train(histories: Iterable<ReadonlyArray<HistoryEntry>>, options: ItemModelOptions = {}): ItemModel {
    const model = new ItemModel(options);
    model.update(histories);
    model.refit();
    return model;
  }

  get size(): number {
    return this.items.length;
  }

  /** True when `update` added interactions that `refit` has not folded in yet. */
  get stale(): boolean {
    return this.dirty;
  }

  private grow(n: number): void {
    if (n <= this.capacity) return;
    const next = Math.max(n, Math.ceil(this.capacity * 1.5), 64);
    const gram = new Float64Array(next * next);
    for (let i = 0; i < this.capacity; i++)
      gram.set(this.gram.subarray(i * this.capacity, (i + 1) * this.capacity), i * next);
    this.gram = gram;
    this.capacity = next;
  }

  private id(item: string): number {
    let i = this.index.get(item);
    if (i === undefined) {
      i = this.items.length;
      this.items.push(item);
      this.index.set(item, i);
    }
    return i;
  }

  /**
   * Add interactions to the co-occurrence counts (new items join the vocabulary). A history entry
   * is an item id (weight 1) or `{ itemId, weight }`: how strongly the user engaged, e.g. the
   * share of the video watched. Pairs count the product of their weights; an item listed twice
   * keeps its larger weight. Serve with the same weights (`recommend(history, limit, weights)`).
   */
  update(histories: Iterable<ReadonlyArray<HistoryEntry>>): void {
    // Every entry is checked before anything is counted: a bad one leaves the model as it was.
    const all = [...histories].map((history) =>
      history.map((entry) => {
        const e = typeof entry === "string" ? { itemId: entry, weight: 1 } : entry;
        if (!(Number.isFinite(e.weight) && e.weight >= 0)) {
          throw new FeedRankerError(
            FeedRankerErrorCode.INVALID_INPUT,
            `history weight of ${e.itemId} must be a finite number ≥ 0, got ${e.weight}`,
          );
        }
        return e;
      }),
    );
    for (const history of all) {
      const weights = new Map<number, number>();
      for (const { itemId, weight } of history) {
        const i = this.id(itemId);
        weights.set(i, Math.max(weights.get(i) ?? 0, weight));
      }
      this.grow(this.items.length);
      const c = this.capacity;
      for (const [i, wi] of weights)
        for (const [j, wj] of weights) this.gram[i * c + j] = (this.gram[i * c + j] as number) + wi * wj;
      this.dirty = true;
    }
  }

  /**
   * Add timestamped interactions, pairs weighted by how close in time they happened:
   * exp(−|Δt| / timeScale). A model trained this way captures session co-engagement (what is
   * watched together) rather than lifetime co-occurrence.
   */
  updateTimed(histories: Iterable<ReadonlyArray<{ itemId: string; ts: number }>>, timeScale: number): void {
    for (const history of histories) {
      const ids = history.map((e) => this.id(e.itemId));
      this.grow(this.items.length);
      const c = this.capacity;
      for (let a = 0; a < history.length; a++) {
        const i = ids[a] as number;
        const ta = (history[a] as { ts: number }).ts;
        for (let b = 0; b < history.length; b++) {
          const j = ids[b] as number;
          const w = a === b ? 1 : Math.exp(-Math.abs(ta - (history[b] as { ts: number }).ts) / timeScale);
          this.gram[i * c + j] = (this.gram[i * c + j] as number) + w;
        }
      }
      this.dirty = true;
    }
  }

  /** Re-solve the model from the accumulated counts (O(n³) in the number of items). */
  refit(lambda = this.options.lambda, dropout = this.options.dropout): void {
    const n = this.items.length;
    const c = this.capacity;
    const p = new Float64Array(n * n);
    for (let i = 0; i < n; i++) {
      p.set(this.gram.subarray(i * c, i * c + n), i * n);
      p[i * n + i] = (p[i * n + i] as number) * (1 + dropout / (1 - dropout)) + lambda;
    }
    invertSpdInPlace(p, n);
    const keep = this.options.neighbours === 0 ? n - 1 : Math.min(this.options.neighbours, n - 1);
    const offsets = new Int32Array(n + 1);
    const cols = new Int32Array(n * keep);
    const weights = new Float32Array(n * keep);
    const row = new Float64Array(n);
    const order = new Int32Array(n);
    let at = 0;
    for (let i = 0; i < n; i++) {
      // B[i][j] = -P[i][j] / P[j][j]: how much item i in a history speaks for item j.
      for (let j = 0; j < n; j++) row[j] = i === j ? 0 : -(p[i * n + j] as number) / (p[j * n + j] as number);
      let chosen: ArrayLike<number>;
      if (keep >= n - 1) {
        chosen = Array.from({ length: n }, (_, j) => j).filter((j) => j !== i);
      } else {
        for (let j = 0; j < n; j++) order[j] = j;
        const sorted = Array.from(order).sort((a, b) => (row[b] as number) - (row[a] as number));
        chosen = sorted.filter((j) => j !== i).slice(0, keep);
      }
      offsets[i] = at;
      for (let m = 0; m < chosen.length; m++) {
        const j = chosen[m] as number;
        cols[at] = j;
        weights[at] = row[j] as number;
        at++;
      }
    }
    offsets[n] = at;
    this.offsets = offsets;
    this.cols = cols.subarray(0, at);
    this.weights = weights.subarray(0, at);
    this.dirty = false;
  }

  /**
   * Dense scores over every item for a history (unknown items in the history are ignored).
   * `weights[k]`, when given, weighs `history[k]` (1 when missing).
   */
  scoreAll(
    history: readonly string[],
    out = new Float64Array(this.items.length),
    weights?: readonly number[],
  ): Float64Array {
    out.fill(0);
    const n = this.offsets.length - 1;
    for (let k = 0; k < history.length; k++) {
      const i = this.index.get(history[k] as string);
      if (i === undefined || i >= n) continue;
      const w = weights?.[k] ?? 1;
      if (w === 0) continue;
      for (let at = this.offsets[i] as number; at < (this.offsets[i + 1] as number); at++) {
        const j = this.cols[at] as number;
        out[j] = (out[j] as number) + w * (this.weights[at] as number);
      }
    }
    return out;
  }

  /**
   * The `limit` best items for a history, best first, excluding the history itself. `weights[k]`,
   * when given, weighs `history[k]`, as the histories the model was trained on were weighted.
   */
  recommend(
    history: readonly string[],
    limit: number,
    weights?: readonly number[],
  ): Array<{ itemId: string; score: number }> {
    const scores = this.scoreAll(history, undefined, weights);
    for (const item of history) {
      const i = this.index.get(item);
      if (i !== undefined) scores[i] = Number.NEGATIVE_INFINITY;
    }
    return topK(scores, limit).map((i) => ({ itemId: this.items[i] as string, score: scores[i] as number }));
  }

  /** Nearest items to one item (its strongest neighbours). */
  similar(itemId: string, limit: number): Array<{ itemId: string; score: number }> {
    return this.recommend([itemId], limit);
  }
}

/** Indices of the k largest finite values, largest first (a bounded min-heap). */
export function topK(values: ArrayLike<number>, k: number): number[] {
  if (k <= 0) return [];
  const heap: number[] = [];
  const less = (a: number, b: number) => (values[a] as number) < (values[b] as number);
  const down = (start: number) => {
    let i = start;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < heap.length && less(heap[l] as number, heap[m] as number)) m = l;
      if (r < heap.length && less(heap[r] as number, heap[m] as number)) m = r;
      if (m === i) return;
      [heap[i], heap[m]] = [heap[m] as number, heap[i] as number];
      i = m;
    }
  };
  for (let i = 0; i < values.length; i++) {
    const v = values[i] as number;
    if (!Number.isFinite(v)) continue;
    if (heap.length < k) {
      heap.push(i);
      let c = heap.length - 1;
      while (c > 0) {
        const p = (c - 1) >> 1;
        if (!less(heap[c] as number, heap[p] as number)) break;
        [heap[c], heap[p]] = [heap[p] as number, heap[c] as number];
        c = p;
      }
    } else if (v > (values[heap[0] as number] as number)) {
      heap[0] = i;
      down(0);
    }
  }
  return heap.sort((a, b) => (values[b] as number) - (values[a] as number));
}
