import { ItemModel, topK } from "../item-model.js";

/** A model the evaluation can fit on training histories and ask for a top-K list. */
export interface Recommender {
  readonly name: string;
  /** The best `k` items for the user, none from `exclude`. */
  recommend(userId: string, exclude: ReadonlySet<string>, k: number): string[] | Promise<string[]>;
}

/** Item ids, and each user's history as item indices. */
export interface Vocabulary {
  items: string[];
  index: Map<string, number>;
}

export function vocabulary(histories: Map<string, string[]>): Vocabulary {
  const items: string[] = [];
  const index = new Map<string, number>();
  for (const history of histories.values()) {
    for (const item of history) {
      if (!index.has(item)) {
        index.set(item, items.length);
        items.push(item);
      }
    }
  }
  return { items, index };
}

function pick(scores: Float64Array, vocab: Vocabulary, exclude: ReadonlySet<string>, k: number): string[] {
  for (const item of exclude) {
    const i = vocab.index.get(item);
    if (i !== undefined) scores[i] = Number.NEGATIVE_INFINITY;
  }
  return topK(scores, k).map((i) => vocab.items[i] as string);
}

/** Most popular items in training, the same list for everyone (minus what they have seen). */
export function popularity(histories: Map<string, string[]>, vocab: Vocabulary): Recommender {
  const counts = new Float64Array(vocab.items.length);
  for (const history of histories.values()) {
    for (const item of history) {
      const i = vocab.index.get(item) as number;
      counts[i] = (counts[i] as number) + 1;
    }
  }
  return {
    name: "pop",
    recommend: (_userId, exclude, k) => pick(counts.slice(), vocab, exclude, k),
  };
}

/**
 * Item-KNN with cosine similarity, as RecBole's ItemKNN: each candidate item keeps its
 * `neighbours` most similar items (co-occurrence / √(count_i · count_j)), and its score for a user
 * is the summed similarity of those neighbours the user has interacted with.
 */
export function itemKnn(histories: Map<string, string[]>, vocab: Vocabulary, neighbours: number): Recommender {
  const n = vocab.items.length;
  const co = new Float32Array(n * n);
  const counts = new Float64Array(n);
  for (const history of histories.values()) {
    const ids = [...new Set(history.map((item) => vocab.index.get(item) as number))];
    for (const i of ids) {
      counts[i] = (counts[i] as number) + 1;
      for (const j of ids) if (i !== j) co[i * n + j] = (co[i * n + j] as number) + 1;
    }
  }
  // For each candidate item j, its `neighbours` most similar items.
  const cols = new Int32Array(n * neighbours).fill(-1);
  const sims = new Float32Array(n * neighbours);
  const row = new Float64Array(n);
  for (let j = 0; j < n; j++) {
    for (let i = 0; i < n; i++) {
      const c = co[j * n + i] as number;
      row[i] = c === 0 ? Number.NEGATIVE_INFINITY : c / Math.sqrt((counts[i] as number) * (counts[j] as number));
    }
    topK(row, neighbours).forEach((i, m) => {
      cols[j * neighbours + m] = i;
      sims[j * neighbours + m] = row[i] as number;
    });
  }
  const mask = new Uint8Array(n);
  return {
    name: "itemknn",
    recommend(userId, exclude, k) {
      const history = histories.get(userId) ?? [];
      for (const item of history) {
        const i = vocab.index.get(item);
        if (i !== undefined) mask[i] = 1;
      }
      const scores = new Float64Array(n);
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let m = j * neighbours; m < (j + 1) * neighbours; m++) {
          const i = cols[m] as number;
          if (i >= 0 && mask[i] === 1) s += sims[m] as number;
        }
        scores[j] = s;
      }
      for (const item of history) {
        const i = vocab.index.get(item);
        if (i !== undefined) mask[i] = 0;
      }
      return pick(scores, vocab, exclude, k);
    },
  };
}

/**
 * EASE (Steck 2019) on unweighted histories with every neighbour kept: the strongest classical
 * baseline, `dropout` > 0 adding DLAE's popularity-scaled diagonal.
 */
export function ease(histories: Map<string, string[]>, lambda: number, dropout: number): Recommender {
  const model = new ItemModel({ neighbours: 0 });
  model.update(histories.values());
  model.refit(lambda, dropout);
  return {
    name: "ease",
    recommend: (userId, exclude, k) =>
      pick(model.scoreAll(histories.get(userId) ?? []), { items: model.items, index: model.index }, exclude, k),
  };
}
