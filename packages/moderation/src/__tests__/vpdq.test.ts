// vPDQ matching logic on Meta's own per-frame reference hashes (no ffmpeg here; hashing videos
// ourselves is in vpdq.integration.test.ts).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { sharedDataDir } from "../../../../test/services.js";
import { dedupeFrames, formatVpdq, isModerationError, matchVideos, parseVpdq, type VpdqFrame } from "../index.js";

const reference = (name: string) => parseVpdq(readFileSync(join(sharedDataDir(), "vpdq", `${name}.vpdq.txt`), "utf8"));
const sameVideo = { matchThreshold: 100 };

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    return isModerationError(error) ? error.code : "other";
  }
  return "none";
}

describe("parseVpdq / formatVpdq", () => {
  it("reads Meta's `frame,quality,hash,seconds` files and writes them back byte for byte", () => {
    const text = readFileSync(join(sharedDataDir(), "vpdq", "chair-orig-22-sd-bar.vpdq.txt"), "utf8");
    const frames = parseVpdq(text);
    expect(frames).toHaveLength(673);
    expect(frames[1]).toEqual({
      frame: 1,
      quality: 100,
      hash: "a5ad66b96d58d2491a79f80f07f2c1936fe6083dfb4983d8a4a36db40034df54",
      timestamp: 0.033,
    });
    expect(formatVpdq(frames)).toBe(text.endsWith("\n") ? text : `${text}\n`);
  });

  it("names the first bad line", () => {
    const good = "0,100,a5ad66b96d58d2491a79f80f07f2c1936fe6083dfb4983d8a4a36db40034df54,0.000";
    expect(() => parseVpdq(`${good}\n1,100,zz,0.033\n`)).toThrow(/line 2/);
    expect(codeOf(() => parseVpdq(`${good}\n1,101,${good.split(",")[2]},0.1`))).toBe("INVALID_INPUT");
  });
});

describe("matchVideos on the reference hashes", () => {
  const original = reference("chair-orig-22-sd-bar");

  it("matches the grey and sepia edits with the original: every frame, both ways", () => {
    for (const edit of ["chair-22-sd-grey-bar", "chair-22-sd-sepia-bar"]) {
      const frames = reference(edit);
      for (const [query, compared] of [
        [original, frames],
        [frames, original],
      ] as const) {
        const result = matchVideos(query, compared, sameVideo);
        expect(result.queryMatchPercent, edit).toBe(100);
        expect(result.comparedMatchPercent, edit).toBe(100);
        expect(result.isMatch, edit).toBe(true);
        expect(matchVideos(query, compared).isMatch).toBe(true);
      }
    }
  });

  it("does not take chair-19 or chair-20 for the original video, though both are cut from it", () => {
    for (const name of ["chair-19-sd-bar", "chair-20-sd-bar"]) {
      const other = reference(name);
      const result = matchVideos(original, other, sameVideo);
      expect(result.isMatch, name).toBe(false);
      expect(matchVideos(other, original, sameVideo).isMatch, name).toBe(false);
      // Part of the original is missing from them (its first 3.7 s and 2 s)…
      expect(result.queryMatchPercent, name).toBeLessThan(99.5);
      // …but every frame they have is in the original: as clips, vPDQ's defaults match them.
      expect(result.comparedMatchPercent, name).toBe(100);
      expect(matchVideos(other, original).isMatch, name).toBe(true);
    }
  });

  it("counts distinct hashes of good quality only, with the distance inclusive", () => {
    const zero = "0".repeat(64);
    const far = "f".repeat(64);
    const d31 = `${"f".repeat(7)}e${"0".repeat(56)}`;
    const frame = (hash: string, quality = 100, i = 0): VpdqFrame => ({ frame: i, quality, hash, timestamp: i });
    const a = [frame(zero), frame(zero, 100, 1), frame(far, 10, 2)];
    const b = [frame(d31), frame(far)];
    const r = matchVideos(a, b);
    expect(r).toEqual({
      queryMatchPercent: 100,
      comparedMatchPercent: 50,
      isMatch: true,
      queryFrames: 1,
      comparedFrames: 2,
    });
    expect(matchVideos(a, b, { distance: 30 }).queryMatchPercent).toBe(0);
    expect(matchVideos(a, b, { qualityThreshold: 0 }).queryFrames).toBe(2);
    expect(matchVideos(a, b, { matchThreshold: { query: 100, compared: 51 } }).isMatch).toBe(false);
    expect(matchVideos([], b).isMatch).toBe(false);
    expect(matchVideos({ frames: a, sampledFrames: 3, width: 1, height: 1 }, b).queryMatchPercent).toBe(100);
    expect(codeOf(() => matchVideos(a, b, { distance: 300 }))).toBe("INVALID_OPTIONS");
    expect(codeOf(() => matchVideos(a, b, { matchThreshold: 101 }))).toBe("INVALID_OPTIONS");
    expect(codeOf(() => matchVideos([{ ...frame(zero), hash: "nope" }], b))).toBe("INVALID_INPUT");
  });

  it("gives the same answer on long videos, where it switches to the hash index", () => {
    // 2,100 × 2,100 distinct frames is past the nested-loop limit.
    const noisy = (frames: VpdqFrame[], salt: number) =>
      Array.from({ length: 4 }, (_, copy) =>
        frames.map((f, i) => {
          const digits = [...f.hash];
          digits[(i * 7 + copy * 13 + salt) % 64] = (
            (Number.parseInt(digits[(i * 7 + copy * 13 + salt) % 64] as string, 16) + 1 + copy) %
            16
          ).toString(16);
          return { ...f, frame: copy * 1000 + i, hash: digits.join("") };
        }),
      ).flat();
    const big = noisy(original, 1);
    const other = noisy(reference("chair-19-sd-bar"), 5);
    const result = matchVideos(big, other);
    const small = matchVideos(big.slice(0, 1500), other.slice(0, 1500));
    expect(result.queryFrames * result.comparedFrames).toBeGreaterThan(4_000_000);
    expect(small.queryFrames * small.comparedFrames).toBeLessThanOrEqual(4_000_000);
    // Same shares as a brute-force count on the full lists.
    const brute = (q: VpdqFrame[], c: VpdqFrame[]) => {
      const words = (h: string) => Array.from({ length: 8 }, (_, i) => Number.parseInt(h.slice(i * 8, i * 8 + 8), 16));
      const bits = (x: number[], y: number[]) => {
        let d = 0;
        for (let i = 0; i < 8; i++) {
          let v = ((x[i] as number) ^ (y[i] as number)) >>> 0;
          for (; v !== 0; d++) v = (v & (v - 1)) >>> 0;
        }
        return d;
      };
      const qs = [...new Set(q.map((f) => f.hash))].map(words);
      const cs = [...new Set(c.map((f) => f.hash))].map(words);
      return (qs.filter((x) => cs.some((y) => bits(x, y) <= 31)).length * 100) / qs.length;
    };
    // Part of the original is not in chair-19: a share strictly between 0 and 100 checks real work.
    expect(result.queryMatchPercent).toBeGreaterThan(50);
    expect(result.queryMatchPercent).toBeLessThan(99);
    expect(result.queryMatchPercent).toBeCloseTo(brute(big, other), 10);
    expect(result.comparedMatchPercent).toBeCloseTo(brute(other, big), 10);
  }, 60_000);
});

describe("dedupeFrames", () => {
  it("drops frames within the distance of the last kept frame", () => {
    const zero = "0".repeat(64);
    const f = (hash: string, i: number): VpdqFrame => ({ frame: i, quality: 100, hash, timestamp: i / 30 });
    const frames = [
      f(zero, 0),
      f(`${"0".repeat(63)}1`, 1),
      f(`${"0".repeat(63)}3`, 2),
      f(`${"0".repeat(63)}7`, 3),
      f(zero, 4),
    ];
    // 1 and 2 bits from frame 0: dropped; 3 bits from frame 0 (the last kept): kept; frame 4 is
    // 3 bits from frame 3, the last kept: kept (distance to the last kept frame, not to any).
    expect(dedupeFrames(frames, 2).map((x) => x.frame)).toEqual([0, 3, 4]);
    expect(dedupeFrames(frames, 3).map((x) => x.frame)).toEqual([0]);
    expect(dedupeFrames(frames, 0).map((x) => x.frame)).toEqual([0, 1, 2, 3, 4]);
    expect(dedupeFrames(reference("chair-orig-22-sd-bar"), 2).length).toBeLessThan(673);
  });
});
