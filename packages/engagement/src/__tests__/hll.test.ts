import { describe, expect, it } from "vitest";
import { EngagementErrorCode } from "../errors.js";
import { HyperLogLog, murmurHash64A } from "../hll.js";

const REDIS_SEED = 0xadc83b19;
const REGISTERS = 16384;
const DENSE_SIZE = 16 + 12288;
const utf8 = (value: string): Uint8Array => new TextEncoder().encode(value);

// A plain BigInt transcription of MurmurHash64A, as the oracle for the 32-bit implementation.
const MASK64 = (1n << 64n) - 1n;
const M = 0xc6a4a7935bd1e995n;
function referenceMurmurHash64A(bytes: Uint8Array, seed: bigint): bigint {
  const byte = (i: number): bigint => BigInt(bytes[i] ?? 0);
  let h = (seed ^ (BigInt(bytes.length) * M)) & MASK64;
  const end = bytes.length - (bytes.length & 7);
  for (let i = 0; i < end; i += 8) {
    let k = 0n;
    for (let b = 7; b >= 0; b--) k = (k << 8n) | byte(i + b);
    k = (k * M) & MASK64;
    k ^= k >> 47n;
    k = (k * M) & MASK64;
    h ^= k;
    h = (h * M) & MASK64;
  }
  const tail = bytes.length & 7;
  if (tail > 0) {
    for (let b = tail - 1; b >= 0; b--) h ^= byte(end + b) << BigInt(8 * b);
    h = (h * M) & MASK64;
  }
  h ^= h >> 47n;
  h = (h * M) & MASK64;
  h ^= h >> 47n;
  return h;
}

/** Redis's hllPatLen: register index and run length of a hash. */
function patLen(hash: bigint): { index: number; value: number } {
  let rest = (hash >> 14n) | (1n << 50n);
  let value = 1;
  while ((rest & 1n) === 0n) {
    value++;
    rest >>= 1n;
  }
  return { index: Number(hash & 0x3fffn), value };
}

/** Registers read back from the dense Redis bytes with Redis's HLL_DENSE_GET_REGISTER arithmetic. */
function registersOf(hll: HyperLogLog): number[] {
  const bytes = hll.toRedis();
  const registers: number[] = [];
  for (let r = 0; r < REGISTERS; r++) {
    const byte = 16 + ((r * 6) >> 3);
    const fb = (r * 6) & 7;
    const b0 = bytes[byte] ?? 0;
    const b1 = bytes[byte + 1] ?? 0;
    registers.push(((b0 >> fb) | (b1 << (8 - fb))) & 63);
  }
  return registers;
}

function nonZero(hll: HyperLogLog): Array<[number, number]> {
  return registersOf(hll).flatMap((value, index): Array<[number, number]> => (value === 0 ? [] : [[index, value]]));
}

/** Deterministic pseudo-random numbers (mulberry32), so a failure reproduces. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomBytes(random: () => number, length: number): Uint8Array {
  return Uint8Array.from({ length }, () => Math.floor(random() * 256));
}

function sketch(values: Iterable<string>): HyperLogLog {
  const hll = new HyperLogLog();
  for (const value of values) hll.add(value);
  return hll;
}

function sparse(...ops: number[]): Uint8Array {
  return Uint8Array.from([0x48, 0x59, 0x4c, 0x4c, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x80, ...ops]);
}
/** A dense Redis string built with Redis's HLL_DENSE_SET_REGISTER arithmetic. */
function denseWith(register: (index: number) => number): Buffer {
  const bytes = Buffer.alloc(DENSE_SIZE);
  bytes.write("HYLL", "latin1");
  bytes[15] = 0x80;
  for (let r = 0; r < REGISTERS; r++) {
    const value = register(r);
    const byte = 16 + ((r * 6) >> 3);
    const fb = (r * 6) & 7;
    bytes[byte] = ((bytes[byte] ?? 0) & ~(63 << fb)) | ((value << fb) & 0xff);
    if (byte + 1 < DENSE_SIZE) bytes[byte + 1] = ((bytes[byte + 1] ?? 0) & ~(63 >> (8 - fb))) | (value >> (8 - fb));
  }
  return bytes;
}

const xzero = (n: number): number[] => [0x40 | ((n - 1) >> 8), (n - 1) & 0xff];
const zero = (n: number): number => n - 1;
const val = (value: number, n: number): number => 0x80 | ((value - 1) << 2) | (n - 1);

describe("murmurHash64A", () => {
  it("matches known vectors (the register index is what Redis put the element in)", () => {
    expect(murmurHash64A(utf8(""))).toBe(0xd8dfea6585bc9732n);
    expect(murmurHash64A(utf8("a"))).toBe(0x53d2470a9b43b1a7n);
    expect(murmurHash64A(utf8("abcdefgh"))).toBe(0xf3a65df559914567n);
    expect(murmurHash64A(utf8("hello world"))).toBe(0xa919bc3051f624b7n);
    expect(murmurHash64A(utf8("user:42"))).toBe(0xdbe810b55d801b51n);
    expect(murmurHash64A(utf8("😀"))).toBe(0x03a330d2efcb514dn);
  });

  it("matches a BigInt transcription for every tail length and several seeds", () => {
    const random = prng(1);
    for (const seed of [REDIS_SEED, 0, 1, 0xffffffff, 0x80000000]) {
      for (let length = 0; length <= 80; length++) {
        for (let trial = 0; trial < 5; trial++) {
          const bytes = randomBytes(random, length);
          expect(murmurHash64A(bytes, seed)).toBe(referenceMurmurHash64A(bytes, BigInt(seed)));
        }
      }
    }
    const allOnes = new Uint8Array(64).fill(0xff);
    expect(murmurHash64A(allOnes)).toBe(referenceMurmurHash64A(allOnes, BigInt(REDIS_SEED)));
  });

  it("rejects a seed that is not a uint32", () => {
    for (const seed of [-1, 2 ** 32, 1.5, Number.NaN]) {
      expect(() => murmurHash64A(new Uint8Array(1), seed)).toThrow(
        expect.objectContaining({ code: EngagementErrorCode.INVALID_INPUT }),
      );
    }
  });
});

describe("HyperLogLog", () => {
  // [element, register, value]: read from the sparse key Redis 7.0 wrote for `PFADD k <element>`.
  const redisSingletons: Array<[string, number, number]> = [
    ["", 5938, 2],
    ["a", 12711, 2],
    ["ab", 719, 1],
    ["abcdefg", 5634, 2],
    ["abcdefgh", 1383, 1],
    ["abcdefghi", 6903, 1],
    ["hello world", 9399, 4],
    ["user:42", 6993, 10],
    ["é", 13353, 1],
    ["漢字", 4462, 1],
    ["😀", 4429, 1],
    ["naïve café 🎬", 12449, 2],
  ];

  it.each(redisSingletons)("puts %j in register %i with value %i, as Redis does", (element, index, value) => {
    const hll = new HyperLogLog();
    expect(hll.add(element)).toBe(true);
    expect(nonZero(hll)).toEqual([[index, value]]);
    expect(patLen(referenceMurmurHash64A(utf8(element), BigInt(REDIS_SEED)))).toEqual({ index, value });
    expect(hll.count()).toBe(1);
  });

  it("updates registers by Redis's rule for random binary elements", () => {
    const random = prng(2);
    const expected = new Array<number>(REGISTERS).fill(0);
    const hll = new HyperLogLog();
    for (let i = 0; i < 3000; i++) {
      const bytes = randomBytes(random, Math.floor(random() * 40));
      const { index, value } = patLen(referenceMurmurHash64A(bytes, BigInt(REDIS_SEED)));
      const changed = value > (expected[index] ?? 0);
      if (changed) expected[index] = value;
      expect(hll.addBytes(bytes)).toBe(changed);
    }
    expect(registersOf(hll)).toEqual(expected);
  });

  // [registers, PFCOUNT]: what Redis 7.0 (x86-64) answered after `SET k <dense bytes>`.
  it.each<[string, (index: number) => number, number]>([
    ["all 1", () => 1, 23637],
    ["alternately 0 and 51", (i) => (i % 2 ? 51 : 0), 13268],
    ["index mod 52", (i) => i % 52, 303516],
    ["index mod 64 (above 51 only in a hand-made key)", (i) => i % 64, 375261],
    ["all 20 but one 0", (i) => (i === 0 ? 0 : 20), 190644969],
    ["all 51: Redis divides by zero and replies -2^63", () => 51, -(2 ** 63)],
  ])("estimates exactly like PFCOUNT for registers %s", (_name, register, pfcount) => {
    const hll = HyperLogLog.fromRedis(denseWith(register));
    expect(hll.count()).toBe(pfcount);
    expect(registersOf(hll)).toEqual(Array.from({ length: REGISTERS }, (_, i) => register(i)));
  });

  it.each([
    [1000, 1012],
    [20_000, 20009],
    [1_000_000, 968708],
  ])("counts %i elements viewer-0, viewer-1, … like PFCOUNT (%i)", (n, pfcount) => {
    const hll = new HyperLogLog();
    for (let i = 0; i < n; i++) hll.add(`viewer-${i}`);
    expect(hll.count()).toBe(pfcount);
  });

  it("counts 0 when empty", () => {
    const hll = new HyperLogLog();
    expect(hll.count()).toBe(0);
    expect(nonZero(hll)).toEqual([]);
  });

  it("is idempotent: adding an element again changes nothing", () => {
    const values = Array.from({ length: 2000 }, (_, i) => `viewer-${i}`);
    const hll = new HyperLogLog();
    const changed = values.filter((v) => hll.add(v)).length;
    expect(changed).toBeGreaterThan(0);
    const count = hll.count();
    const before = hll.toRedis();
    expect(values.some((v) => hll.add(v))).toBe(false);
    expect(hll.count()).toBe(count);
    expect(hll.toRedis()).toEqual(before);
  });

  it("hashes a string as its UTF-8 bytes, lone surrogates as U+FFFD like Buffer.from", () => {
    const long = "é😀x".repeat(3000); // beyond the scratch buffer
    const samples = ["", "plain", "é", "€uro", "😀🎬", "\u{10ffff}", "\ud800", "a\udc00b", "\ud83d", long];
    for (const value of samples) {
      const fromString = new HyperLogLog();
      const fromBytes = new HyperLogLog();
      fromString.add(value);
      fromBytes.addBytes(Buffer.from(value, "utf8"));
      expect(fromString.toRedis()).toEqual(fromBytes.toRedis());
    }
  });

  it("estimates within a few percent (standard error 0.81%)", () => {
    const random = prng(3);
    for (const n of [100, 5000, 50_000]) {
      const hll = sketch(Array.from({ length: n }, (_, i) => `${i}:${random()}`));
      expect(Math.abs(hll.count() - n) / n).toBeLessThan(0.03);
    }
  });

  it("merges to exactly the sketch of the union", () => {
    const a = Array.from({ length: 3000 }, (_, i) => `a-${i}`);
    const b = Array.from({ length: 3000 }, (_, i) => `b-${i}`);
    const shared = Array.from({ length: 1000 }, (_, i) => `shared-${i}`);
    const left = sketch([...a, ...shared]);
    const right = sketch([...b, ...shared]);
    const rightBefore = right.toRedis();
    const leftCount = left.count();
    left.merge(right);
    const union = sketch([...a, ...b, ...shared]);
    expect(left.toRedis()).toEqual(union.toRedis());
    expect(left.count()).toBe(union.count());
    expect(left.count()).toBeGreaterThan(leftCount);
    expect(right.toRedis()).toEqual(rightBefore);
    left.merge(new HyperLogLog());
    expect(left.toRedis()).toEqual(union.toRedis());
  });

  it("clones independently", () => {
    const original = sketch(["x", "y"]);
    const copy = original.clone();
    copy.add("z");
    expect(original.count()).toBe(2);
    expect(copy.count()).toBe(3);
  });

  it("writes the dense Redis layout: header, stale cached cardinality, LSB-first 6-bit registers", () => {
    const hll = HyperLogLog.fromRedis(sparse(val(1, 1), val(2, 1), val(3, 1), val(4, 1), ...xzero(REGISTERS - 4)));
    const bytes = hll.toRedis();
    expect(bytes.length).toBe(DENSE_SIZE);
    expect(bytes.subarray(0, 4).toString("latin1")).toBe("HYLL");
    expect([...bytes.subarray(4, 16)]).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x80]);
    // |11000000|22221111|33333322|44444433| from the right: 1, 2, 3, 4
    expect([...bytes.subarray(16, 19)]).toEqual([0b10000001, 0b00110000, 0b00010000]);
    expect(bytes.subarray(19).every((b) => b === 0)).toBe(true);
    expect(hll.toBytes()).toEqual(bytes);
  });

  it("round-trips through toRedis/fromRedis and toBytes/fromBytes", () => {
    for (const n of [0, 1, 300, 40_000]) {
      const hll = sketch(Array.from({ length: n }, (_, i) => `round-trip-${i}`));
      const bytes = hll.toRedis();
      const back = HyperLogLog.fromRedis(bytes);
      expect(back.toRedis()).toEqual(bytes);
      expect(back.count()).toBe(hll.count());
      expect(HyperLogLog.fromBytes(new Uint8Array(hll.toBytes())).count()).toBe(hll.count());
    }
  });

  it("keeps a hand-made register above 51 that a Redis dense key can hold", () => {
    const bytes = new HyperLogLog().toRedis();
    bytes[16] = 63;
    expect(nonZero(HyperLogLog.fromRedis(bytes))).toEqual([[0, 63]]);
  });

  it("decodes the SPARSE opcodes (the example of hyperloglog.c)", () => {
    // XZERO:1000, VAL:2,1, ZERO:19, VAL:3,2, XZERO:15362
    const hll = HyperLogLog.fromRedis(sparse(...xzero(1000), val(2, 1), zero(19), val(3, 2), ...xzero(15362)));
    expect(nonZero(hll)).toEqual([
      [1000, 2],
      [1020, 3],
      [1021, 3],
    ]);
    const runs = HyperLogLog.fromRedis(sparse(zero(64), val(32, 4), ...xzero(REGISTERS - 68)));
    expect(nonZero(runs)).toEqual([
      [64, 32],
      [65, 32],
      [66, 32],
      [67, 32],
    ]);
    expect(HyperLogLog.fromRedis(sparse(...xzero(REGISTERS))).count()).toBe(0);
  });

  it.each([
    ["not bytes", "HYLL" as unknown as Uint8Array],
    ["shorter than the header", Uint8Array.from([0x48, 0x59, 0x4c, 0x4c, 0])],
    ["wrong magic", Uint8Array.from({ length: DENSE_SIZE }, (_, i) => (i < 4 ? 0x41 : 0))],
    ["unknown encoding", Uint8Array.from({ length: DENSE_SIZE }, (_, i) => [0x48, 0x59, 0x4c, 0x4c, 2][i] ?? 0)],
    ["dense of the wrong length", new HyperLogLog().toRedis().subarray(0, DENSE_SIZE - 1)],
    ["sparse with no opcodes", sparse()],
    ["sparse covering too few registers", sparse(...xzero(REGISTERS - 1))],
    ["sparse covering too many registers", sparse(...xzero(REGISTERS), zero(1))],
    ["sparse VAL past the end", sparse(...xzero(REGISTERS - 1), val(5, 2))],
    ["sparse XZERO cut short", sparse(...xzero(REGISTERS - 1), 0x40)],
  ])("rejects %s with INVALID_INPUT", (_name, bytes) => {
    expect(() => HyperLogLog.fromRedis(bytes)).toThrow(
      expect.objectContaining({ code: EngagementErrorCode.INVALID_INPUT, name: "EngagementError" }),
    );
  });

  it("rejects arguments of the wrong type with INVALID_INPUT", () => {
    const hll = new HyperLogLog();
    const invalidInput = expect.objectContaining({ code: EngagementErrorCode.INVALID_INPUT });
    expect(() => hll.add(42 as unknown as string)).toThrow(invalidInput);
    expect(() => hll.addBytes("x" as unknown as Uint8Array)).toThrow(invalidInput);
    expect(() => hll.merge({} as HyperLogLog)).toThrow(invalidInput);
  });
});
