import { describe, expect, it } from "vitest";
import { EmbeddingModel } from "../embeddings.js";
import { ItemModel, invertSpdInPlace, topK } from "../item-model.js";
import { createRandom } from "../random.js";

/** Two taste groups: users of group A engage with a0..a9, group B with b0..b9 (random subsets). */
function histories(seed: number, users = 200): string[][] {
  const r = createRandom(seed);
  return Array.from({ length: users }, (_, u) => {
    const group = u % 2 === 0 ? "a" : "b";
    return Array.from({ length: 10 }, (_, i) => `${group}${i}`).filter(() => r() < 0.5);
  });
}

describe("invertSpdInPlace", () => {
  it("inverts a symmetric positive-definite matrix", () => {
    const a = new Float64Array([4, 1, 0, 1, 3, 1, 0, 1, 2]);
    const inv = a.slice();
    invertSpdInPlace(inv, 3);
    for (let i = 0; i < 3; i++) {
      for (let j = 0; j < 3; j++) {
        let s = 0;
        for (let k = 0; k < 3; k++) s += (a[i * 3 + k] as number) * (inv[k * 3 + j] as number);
        expect(s).toBeCloseTo(i === j ? 1 : 0, 10);
      }
    }
  });
});

describe("ItemModel (EASE)", () => {
  it("recommends items of the user's own taste group, never the history", () => {
    const model = ItemModel.train(histories(1), { lambda: 10 });
    const recs = model.recommend(["a1", "a2", "a3"], 5);
    expect(recs.length).toBe(5);
    for (const r of recs) {
      expect(r.itemId.startsWith("a")).toBe(true);
      expect(["a1", "a2", "a3"]).not.toContain(r.itemId);
    }
    expect(model.similar("b4", 3).every((r) => r.itemId.startsWith("b"))).toBe(true);
  });

  it("updates incrementally: new items become recommendable after refit", () => {
    const model = ItemModel.train(histories(2), { lambda: 10 });
    expect(model.index.has("a-new")).toBe(false);
    model.update(Array.from({ length: 30 }, () => ["a1", "a2", "a-new"]));
    expect(model.stale).toBe(true);
    model.refit();
    expect(model.stale).toBe(false);
    expect(model.recommend(["a1", "a2"], 1)[0]?.itemId).toBe("a-new");
  });

  it("trains on weighted histories: weight 1 is a plain id, an item listed twice keeps its larger weight", () => {
    const plain = ItemModel.train(histories(4), { lambda: 10 });
    const weighted = ItemModel.train(
      histories(4).map((h) =>
        h.flatMap((itemId) => [
          { itemId, weight: 0.2 },
          { itemId, weight: 1 },
        ]),
      ),
      { lambda: 10 },
    );
    expect([...weighted.scoreAll(["a1", "b2"])]).toEqual([...plain.scoreAll(["a1", "b2"])]);
    // Halving every weight quarters the Gram matrix: not the same model at the same lambda.
    const half = ItemModel.train(
      histories(4).map((h) => h.map((itemId) => ({ itemId, weight: 0.5 }))),
      { lambda: 10 },
    );
    expect([...half.scoreAll(["a1"])]).not.toEqual([...plain.scoreAll(["a1"])]);
  });

  it("weighs a history by the given weights when it scores", () => {
    const model = ItemModel.train(histories(5), { lambda: 10 });
    const group = (weights: number[]) => model.recommend(["a1", "b1"], 3, weights).map((r) => r.itemId[0]);
    expect(group([1, 0.05])).toEqual(["a", "a", "a"]);
    expect(group([0.05, 1])).toEqual(["b", "b", "b"]);
    // Weight 0 drops an item from the input; a missing weight counts 1.
    expect([...model.scoreAll(["a1", "b1"], undefined, [0, 1])]).toEqual([...model.scoreAll(["b1"])]);
    expect([...model.scoreAll(["a1", "b1"], undefined, [1])]).toEqual([...model.scoreAll(["a1", "b1"])]);
  });

  it("rejects a negative or non-finite history weight with INVALID_INPUT, counting nothing", () => {
    for (const weight of [-1, Number.NaN, Number.POSITIVE_INFINITY]) {
      const model = ItemModel.train(histories(6), { lambda: 10 });
      const before = [...model.scoreAll(["a1"])];
      expect(() => model.update([["a1", "a2", "new"], [{ itemId: "a3", weight }]])).toThrow(
        expect.objectContaining({ code: "INVALID_INPUT" }),
      );
      expect(model.stale).toBe(false);
      expect(model.index.has("new")).toBe(false);
      model.refit();
      expect([...model.scoreAll(["a1"])]).toEqual(before);
    }
  });

  it("keeps only the configured neighbours per item", () => {
    const model = ItemModel.train(histories(3), { lambda: 10, neighbours: 2 });
    const scores = model.scoreAll(["a0"]);
    expect([...scores].filter((s) => s !== 0).length).toBeLessThanOrEqual(2);
  });
});

describe("EmbeddingModel", () => {
  it("places items of one taste group closer to each other than to the other group", () => {
    const model = EmbeddingModel.train(histories(4), { dim: 4 });
    const cos = (x: Float32Array, y: Float32Array) => {
      let d = 0;
      let nx = 0;
      let ny = 0;
      for (let i = 0; i < x.length; i++) {
        d += (x[i] as number) * (y[i] as number);
        nx += (x[i] as number) ** 2;
        ny += (y[i] as number) ** 2;
      }
      return d / Math.sqrt(nx * ny);
    };
    const v = (id: string) => model.vector(id) as Float32Array;
    expect(cos(v("a1"), v("a2"))).toBeGreaterThan(cos(v("a1"), v("b2")) + 0.3);
    expect(model.vector("zzz")).toBeUndefined();
  });

  it("folds in new items with an incremental update", () => {
    const model = EmbeddingModel.train(histories(5), { dim: 4 });
    model.update(Array.from({ length: 40 }, () => ["b1", "b2", "b3", "b-new"]));
    const near = model.userVector(["b-new"]) as Float32Array;
    const b = model.userVector(["b1", "b2"]) as Float32Array;
    const a = model.userVector(["a1", "a2"]) as Float32Array;
    const dot = (x: Float32Array, y: Float32Array) => x.reduce((s, xi, i) => s + xi * (y[i] as number), 0);
    expect(dot(near, b) / Math.sqrt(dot(b, b))).toBeGreaterThan(dot(near, a) / Math.sqrt(dot(a, a)));
  });
});

describe("topK", () => {
  it("returns indices of the largest finite values, best first", () => {
    expect(topK([3, Number.NEGATIVE_INFINITY, 9, 1, 7], 3)).toEqual([2, 4, 0]);
    expect(topK([1, 2], 0)).toEqual([]);
  });
});
