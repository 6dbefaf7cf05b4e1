import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { createHashIndex, isModerationError, ModerationErrorCode } from "../index.js";
import { pdqDir } from "./pdq-fixtures.js";

// An independent brute force: per hex digit, the bits of the XOR, straight from the strings.
const nibbleBits = [0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4];
function hexDistance(a: string, b: string): number {
  let d = 0;
  for (let i = 0; i < 64; i++)
    d += nibbleBits[Number.parseInt(a[i] as string, 16) ^ Number.parseInt(b[i] as string, 16)] as number;
  return d;
}
function bruteForce(haystack: string[], needle: string, maxDistance: number): Array<{ id: number; distance: number }> {
  const out: Array<{ id: number; distance: number }> = [];
  haystack.forEach((h, id) => {
    const distance = hexDistance(h.toLowerCase(), needle.toLowerCase());
    if (distance <= maxDistance) out.push({ id, distance });
  });
  return out.sort((a, b) => a.distance - b.distance || a.id - b.id);
}

function seeded(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s;
  };
}
function randomHash(next: () => number): string {
  let h = "";
  for (let i = 0; i < 8; i++) h += next().toString(16).padStart(8, "0");
  return h;
}
/** Flip `bits` distinct random bits of `hash`. */
function flipBits(hash: string, bits: number, next: () => number): string {
  const digits = [...hash].map((c) => Number.parseInt(c, 16));
  const chosen = new Set<number>();
  while (chosen.size < bits) chosen.add(next() % 256);
  for (const b of chosen) digits[b >> 2] = (digits[b >> 2] as number) ^ (1 << (b & 3));
  return digits.map((d) => d.toString(16)).join("");
}

const lines = (file: string) =>
  readFileSync(join(pdqDir(), file), "utf8")
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "");

describe("createHashIndex", () => {
  it("returns exactly what brute force returns for every needle of Meta's haystack, at distance 31", () => {
    const haystack = lines("haystack.txt");
    const needles = lines("needles.txt");
    expect(haystack.length).toBe(1350);
    expect(needles.length).toBe(100);
    const index = createHashIndex<number>({ entries: haystack.map((hash, i) => ({ hash, value: i })) });
    let found = 0;
    let withMatches = 0;
    for (const needle of needles) {
      const want = bruteForce(haystack, needle, 31);
      for (const method of ["auto", "mih", "linear"] as const) {
        const got = index.query(needle, 31, { method });
        expect(
          got.map((m) => ({ id: m.id, distance: m.distance })),
          `${needle} (${method})`,
        ).toEqual(want);
        for (const m of got) {
          expect(m.value).toBe(m.id);
          expect(m.hash).toBe(haystack[m.id]);
        }
      }
      found += want.length;
      if (want.length > 0) withMatches++;
    }
    console.log(
      `haystack ${haystack.length}, needles ${needles.length}: ${withMatches} needles have matches, ${found} matches in all`,
    );
    // The vectors are built around near neighbours: a test with nothing to find would prove nothing.
    expect(withMatches).toBeGreaterThan(10);
  });

  it("agrees with brute force at every distance, with planted neighbours among random hashes", () => {
    const next = seeded(42);
    const base = Array.from({ length: 50 }, () => randomHash(next));
    const haystack: string[] = [];
    for (let i = 0; i < 4000; i++) haystack.push(randomHash(next));
    for (const b of base)
      for (const bits of [0, 1, 5, 15, 16, 17, 31, 32, 33, 47, 48, 63, 64, 80]) haystack.push(flipBits(b, bits, next));
    const index = createHashIndex<undefined>();
    for (const h of haystack) index.add(h, undefined);
    for (const [i, needle] of base.slice(0, 12).entries()) {
      for (const d of [0, 1, 15, 16, 31, 32, 47, 63, 64, 90]) {
        const want = bruteForce(haystack, needle, d);
        expect(
          index.query(needle, d).map((m) => ({ id: m.id, distance: m.distance })),
          `base ${i} at ${d}`,
        ).toEqual(want);
        if (d < 64)
          expect(index.query(needle, d, { method: "mih" }).length, `base ${i} at ${d} (mih)`).toBe(want.length);
      }
    }
  });

  it("stays exact while hashes are added between queries, and keeps duplicates with their values", () => {
    const next = seeded(7);
    const target = randomHash(next);
    const index = createHashIndex<string>();
    const all: string[] = [];
    for (let round = 0; round < 6; round++) {
      for (let i = 0; i < 700; i++) {
        const h = i % 50 === 0 ? flipBits(target, next() % 40, next) : randomHash(next);
        all.push(h);
        index.add(h, `v${all.length - 1}`);
      }
      const got = index.query(target, 31, { method: "mih" });
      expect(got.map((m) => m.id)).toEqual(bruteForce(all, target, 31).map((m) => m.id));
    }
    const id = index.add(target.toUpperCase(), "dup-a");
    const id2 = index.add(target, "dup-b");
    const exact = index.query(target, 0);
    expect(exact.map((m) => [m.id, m.value, m.hash])).toEqual([
      [id, "dup-a", target],
      [id2, "dup-b", target],
    ]);
    expect(index.size).toBe(all.length + 2);
    expect(index.get(id)).toEqual({ hash: target, value: "dup-a" });
    expect(index.get(index.size)).toBeUndefined();
    expect(createHashIndex().query(target)).toEqual([]);
  });

  it("rejects malformed hashes and distances with INVALID_INPUT, adding nothing from a bad batch", () => {
    const index = createHashIndex<number>();
    const codeOf = (fn: () => unknown) => {
      try {
        fn();
      } catch (error) {
        return isModerationError(error) ? error.code : "other";
      }
      return "none";
    };
    expect(codeOf(() => index.add("abc", 1))).toBe(ModerationErrorCode.INVALID_INPUT);
    expect(
      codeOf(() =>
        index.addAll([
          { hash: "0".repeat(64), value: 1 },
          { hash: "g".repeat(64), value: 2 },
        ]),
      ),
    ).toBe(ModerationErrorCode.INVALID_INPUT);
    expect(index.size).toBe(0);
    expect(codeOf(() => index.query("0".repeat(64), -1))).toBe(ModerationErrorCode.INVALID_INPUT);
    expect(codeOf(() => index.query("0".repeat(64), 257))).toBe(ModerationErrorCode.INVALID_INPUT);
    expect(codeOf(() => index.query("0".repeat(64), 31.5))).toBe(ModerationErrorCode.INVALID_INPUT);
    expect(codeOf(() => index.query("0".repeat(64), 64, { method: "mih" }))).toBe(ModerationErrorCode.INVALID_INPUT);
    expect(codeOf(() => index.query("0".repeat(63), 31))).toBe(ModerationErrorCode.INVALID_INPUT);
  });
});
