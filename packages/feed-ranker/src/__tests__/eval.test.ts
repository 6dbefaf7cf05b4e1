import { describe, expect, it } from "vitest";
import { FeedRankerErrorCode } from "../errors.js";
import { parseInteractions } from "../eval/data.js";
import { percentile, userMetrics } from "../eval/metrics.js";
import { evaluate, reportJson, reportTable } from "../eval/run.js";
import { randomSplit, temporalSplit } from "../eval/split.js";
import { tasteData } from "./fixtures.js";

describe("parseInteractions", () => {
  it("reads RecBole .inter headers and CSV headers", () => {
    const inter = parseInteractions(
      "user_id:token\titem_id:token\trating:float\ttimestamp:float\n1\t10\t4\t100\n2\t11\t3\t200\n",
      "inter",
    );
    expect(inter).toEqual([
      { userId: "1", itemId: "10", timestamp: 100, rating: 4 },
      { userId: "2", itemId: "11", timestamp: 200, rating: 3 },
    ]);
    const csv = parseInteractions('userId,movieId,rating,timestamp\n"7",42,5,9\n8,43,"4.5","10"\n', "csv");
    expect(csv).toEqual([
      { userId: "7", itemId: "42", timestamp: 9, rating: 5 },
      { userId: "8", itemId: "43", timestamp: 10, rating: 4.5 },
    ]);
    expect(parseInteractions("user,item\n7,42\n", "csv")).toEqual([{ userId: "7", itemId: "42", timestamp: 0 }]);
  });

  it("rejects a file without user or item columns, or a bad timestamp or rating", () => {
    for (const bad of ["user,item,rating\n1,2,x\n", "user,item,rating\n1,2,\n"]) {
      expect(() => parseInteractions(bad, "csv")).toThrow(
        expect.objectContaining({
          code: FeedRankerErrorCode.DATA_INVALID,
          message: expect.stringContaining("line 2: rating is not a number"),
        }),
      );
    }
    expect(() => parseInteractions("a,b\n1,2\n", "csv")).toThrow(
      expect.objectContaining({ code: FeedRankerErrorCode.DATA_INVALID }),
    );
    expect(() => parseInteractions("user,item,timestamp\n1,2,x\n", "csv")).toThrow(
      expect.objectContaining({ code: FeedRankerErrorCode.DATA_INVALID }),
    );
    expect(() => parseInteractions("", "csv")).toThrow(
      expect.objectContaining({ code: FeedRankerErrorCode.DATA_INVALID }),
    );
  });
});

describe("splits", () => {
  const rows = Array.from({ length: 40 }, (_, i) => ({ userId: i < 20 ? "a" : "b", itemId: `i${i}`, timestamp: i }));

  it("cuts each user 80/10/10 at random, reproducibly by seed", () => {
    const s = randomSplit(rows, 7);
    expect([s.train.length, s.valid.length, s.test.length]).toEqual([32, 4, 4]);
    expect(s.test.filter((r) => r.userId === "a").length).toBe(2);
    expect(randomSplit(rows, 7)).toEqual(s);
    expect(randomSplit(rows, 8).test).not.toEqual(s.test);
    expect(new Set([...s.train, ...s.valid, ...s.test]).size).toBe(40);
  });

  it("leaves the last interaction out for test and the one before for validation", () => {
    const s = temporalSplit(rows);
    expect(s.test.map((r) => r.itemId).sort()).toEqual(["i19", "i39"]);
    expect(s.valid.map((r) => r.itemId).sort()).toEqual(["i18", "i38"]);
  });
});

describe("metrics", () => {
  it("computes recall, NDCG, hit and MRR as RecBole does", () => {
    const m = userMetrics(["x", "a", "y", "b"], new Set(["a", "b", "c"]), 4);
    expect(m.recall).toBeCloseTo(2 / 3);
    expect(m.hit).toBe(1);
    expect(m.mrr).toBeCloseTo(1 / 2);
    const dcg = 1 / Math.log2(3) + 1 / Math.log2(5);
    const idcg = 1 + 1 / Math.log2(3) + 1 / Math.log2(4);
    expect(m.ndcg).toBeCloseTo(dcg / idcg);
    expect(userMetrics(["x"], new Set(["a"]), 1)).toEqual({ recall: 0, ndcg: 0, hit: 0, mrr: 0 });
    expect(percentile([5, 1, 3, 2, 4], 50)).toBe(3);
    expect(percentile([], 99)).toBe(0);
  });
});

describe("evaluate", () => {
  it("ranks the personalised models above popularity on taste-grouped data, with the CLI's JSON shape", async () => {
    const lines: string[] = [];
    const report = await evaluate(tasteData(), {
      k: 5,
      progress: (l) => lines.push(l),
      grid: { lambda: [10], dropout: [0], knnNeighbours: [20], sessionScale: [60, 600] },
    });
    // The session model's time scale is tuned on validation over the grid.
    expect(lines.filter((l) => l.includes("session-model scale=60s")).length).toBe(4);
    expect(lines.filter((l) => l.includes("session-model scale=600s")).length).toBe(4);
    expect([0, 60, 600]).toContain(report.models.find((m) => m.model === "reelkit")?.tuned.sessionScale);
    const ndcg = Object.fromEntries(report.models.map((m) => [m.model, m.metrics.ndcg]));
    expect(Object.keys(ndcg)).toEqual(["pop", "itemknn", "ease", "reelkit"]);
    expect(ndcg.reelkit).toBeGreaterThan((ndcg.pop as number) + 0.2);
    expect(ndcg.itemknn).toBeGreaterThan((ndcg.pop as number) + 0.2);
    expect(lines.some((l) => l.startsWith("reelkit"))).toBe(true);
    const json = reportJson(report) as { protocol: string; k: number; models: Array<Record<string, unknown>> };
    expect(json.protocol).toBe("recbole");
    expect(json.k).toBe(5);
    expect(Object.keys(json.models[0] as object)).toEqual([
      "model",
      "recall@5",
      "ndcg@5",
      "hit@5",
      "mrr@5",
      "coverage",
      "p50Ms",
      "p99Ms",
    ]);
    expect(reportTable(report)).toContain("ndcg@5");
  });

  it("with refit, fits the tested models on training + validation, with hyper-parameters chosen before", async () => {
    const data = tasteData();
    const grid = { lambda: [1, 10], dropout: [0], knnNeighbours: [20], sessionScale: [600] };
    const withRefit: string[] = [];
    const refitted = await evaluate(data, { k: 5, grid, refit: true, progress: (l) => withRefit.push(l) });
    const without: string[] = [];
    const plain = await evaluate(data, { k: 5, grid, progress: (l) => without.push(l) });
    const split = randomSplit(
      data.map((r) => ({ ...r })),
      2020,
    );
    // The refit sees training and validation; the choice of hyper-parameters (and its validation
    // score) comes from the validation phase alone, so it is the same either way.
    expect(withRefit).toContain(
      `reelkit: refit on training + validation (${split.train.length + split.valid.length} interactions)`,
    );
    expect(without.some((l) => l.includes("refit on training"))).toBe(false);
    const a = refitted.models.find((m) => m.model === "reelkit");
    const b = plain.models.find((m) => m.model === "reelkit");
    expect(a?.tuned).toEqual(b?.tuned);
    expect(a?.validNdcg).toBe(b?.validNdcg);
    // The baselines are refit too, with their tuned neighbourhood: the comparison stays fair.
    const knn = (r: typeof refitted) => r.models.find((m) => m.model === "itemknn");
    expect(knn(refitted)?.tuned).toEqual(knn(plain)?.tuned);
    expect(knn(refitted)?.metrics.ndcg).not.toBe(knn(plain)?.metrics.ndcg);
    const pop = refitted.models.find((m) => m.model === "pop")?.metrics.ndcg as number;
    expect(a?.metrics.ndcg).toBeGreaterThan(pop + 0.15);
    expect(b?.metrics.ndcg).toBeGreaterThan(pop + 0.15);
  });

  it("replays ratings as shares watched: they weigh the pipeline's history, not the baselines", async () => {
    // In-group items rated 4–5, the two random off-group ones 1: the weights tell them apart.
    const plain = tasteData();
    const rated = plain.map((r) => ({ ...r, rating: r.timestamp === 2_000_000 ? 1 : 4 + (r.itemId.length % 2) }));
    const grid = { lambda: [10], dropout: [0], knnNeighbours: [20], sessionWeight: [0] };
    const a = await evaluate(rated, { k: 5, grid });
    const b = await evaluate(plain, { k: 5, grid });
    const by = (r: typeof a, model: string) => r.models.find((m) => m.model === model);
    for (const model of ["pop", "itemknn", "ease"]) expect(by(a, model)?.metrics).toEqual(by(b, model)?.metrics);
    expect(by(a, "reelkit")?.validNdcg).not.toBe(by(b, "reelkit")?.validNdcg);
    expect(by(a, "reelkit")?.metrics.ndcg).toBeGreaterThan((by(a, "pop")?.metrics.ndcg as number) + 0.2);
  });

  it("runs the temporal leave-last-out protocol end to end", async () => {
    const data = tasteData(2, 40);
    const report = await evaluate(data, {
      protocol: "temporal",
      k: 10,
      grid: { lambda: [10], dropout: [0], knnNeighbours: [10] },
    });
    expect(report.protocol).toBe("temporal");
    expect(report.models.find((m) => m.model === "reelkit")?.metrics.hit).toBeGreaterThan(0);
  });

  it("rejects an empty data set", async () => {
    await expect(evaluate([])).rejects.toMatchObject({ code: FeedRankerErrorCode.DATA_INVALID });
  });
});
