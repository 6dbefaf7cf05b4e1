import { describe, expect, it } from "vitest";
import { Catalog } from "../catalog.js";
import { FeedRankerErrorCode } from "../errors.js";

describe("Catalog", () => {
  it("stores videos column-wise and gives them back whole", () => {
    const c = new Catalog();
    c.upsert([
      {
        videoId: "a",
        creatorId: "c1",
        topics: ["cats", "funny"],
        createdAt: 10,
        durationMs: 9000,
        moderation: "pending",
      },
    ]);
    expect(c.get("a")).toEqual({
      videoId: "a",
      creatorId: "c1",
      topics: ["cats", "funny"],
      createdAt: 10,
      durationMs: 9000,
      moderation: "pending",
    });
    expect(c.get("zzz")).toBeUndefined();
    expect(c.size).toBe(1);
  });

  it("replaces a video in place: creator moves, topics grow", () => {
    const c = new Catalog();
    c.upsert([
      { videoId: "a", creatorId: "c1", topics: ["x"], createdAt: 1 },
      { videoId: "b", creatorId: "c1", topics: [], createdAt: 2 },
    ]);
    c.upsert([{ videoId: "a", creatorId: "c2", topics: ["x", "y", "z"], createdAt: 3 }]);
    expect(c.get("a")?.topics).toEqual(["x", "y", "z"]);
    expect(c.byCreator("c1", 10).map((v) => v.videoId)).toEqual(["b"]);
    expect(c.byCreator("c2", 10).map((v) => v.videoId)).toEqual(["a"]);
    expect(c.ids()).toEqual(["a", "b"]);
  });

  it("lists fresh uploads newest first, none from the future", () => {
    const c = new Catalog();
    c.upsert([10, 50, 30, 40, 20].map((t) => ({ videoId: `v${t}`, creatorId: "c", createdAt: t })));
    expect(c.fresh(3, 45).map((v) => v.videoId)).toEqual(["v40", "v30", "v20"]);
    expect(c.fresh(10, 5)).toEqual([]);
    c.upsert([{ videoId: "v44", creatorId: "c", createdAt: 44 }]);
    expect(c.fresh(1, 45)[0]?.videoId).toBe("v44");
  });

  it("indexes embeddings and rejects invalid videos", () => {
    const c = new Catalog();
    c.upsert([
      { videoId: "a", creatorId: "c", createdAt: 0, embedding: [1, 0] },
      { videoId: "b", creatorId: "c", createdAt: 0, embedding: [0, 1] },
    ]);
    expect(c.index?.search([0.9, 0.1], 1)[0]?.videoId).toBe("a");
    expect(() => c.upsert([{ videoId: "", creatorId: "c", createdAt: 0 }])).toThrow(
      expect.objectContaining({ code: FeedRankerErrorCode.INVALID_INPUT }),
    );
  });
});
