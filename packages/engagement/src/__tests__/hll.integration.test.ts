import { randomBytes, randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import { afterAll, describe, expect, it } from "vitest";
import { serviceEnv } from "../../../../test/services.js";
import { HyperLogLog } from "../hll.js";

// Integer replies as strings: ioredis's default parser rounds integers beyond 2^53 digit by digit, and one
// PFCOUNT reply below (-2^63) is exactly such an integer.
const redis = new Redis(serviceEnv("REDIS_URL"), { stringNumbers: true });
const prefix = `hll-test:${randomUUID()}:`;
const used = new Set<string>();
afterAll(async () => {
  if (used.size > 0) await redis.del(...used);
  redis.disconnect();
});

function key(name: string): string {
  const k = `${prefix}${name}`;
  used.add(k);
  return k;
}

async function pfadd(k: string, values: ReadonlyArray<string | Buffer>): Promise<void> {
  if (values.length === 0) await redis.pfadd(k); // creates the empty HyperLogLog
  for (let i = 0; i < values.length; i += 5000) await redis.pfadd(k, ...values.slice(i, i + 5000));
}

/** PFCOUNT, exactly. */
async function pfcount(...keys: string[]): Promise<bigint> {
  return BigInt(await redis.pfcount(...keys));
}

/** count(), exactly (it is always an integral double). */
const count = (hll: HyperLogLog): bigint => BigInt(hll.count());

async function getHll(k: string): Promise<Buffer> {
  const bytes = await redis.getBuffer(k);
  if (bytes === null) throw new Error(`${k} does not exist`);
  return bytes;
}

function sketch(values: readonly string[]): HyperLogLog {
  const hll = new HyperLogLog();
  for (const value of values) hll.add(value);
  return hll;
}

/** The packed registers, without the header (whose cached cardinality Redis may have filled in). */
const registers = (bytes: Buffer): Buffer => bytes.subarray(16);

const NON_ASCII = [
  "é",
  "naïve café",
  "漢字かな交じり",
  "😀🎬🔥",
  "Ωμέγα",
  "e\u0301",
  "\u{10ffff}",
  "ß".repeat(100),
  "Zürich → 東京",
  "\u00a0\u2028\ufeff",
  "a\ud800b", // lone surrogates: the client sends EF BF BD, and so does add()
  "\udfff",
];

/** Random strings of mixed shape: UUIDs, base64 of 0..47 bytes, and random Unicode code points. */
function randomStrings(n: number): string[] {
  return Array.from({ length: n }, (_, i) => {
    if (i % 3 === 0) return randomUUID();
    if (i % 3 === 1) return randomBytes(i % 36).toString("base64");
    const codePoints = Array.from({ length: 1 + (i % 9) }, () => {
      const cp = Math.floor(Math.random() * 0x10ffff);
      return cp >= 0xd800 && cp <= 0xdfff ? 0x41 : cp;
    });
    return String.fromCodePoint(...codePoints);
  });
}

describe("HyperLogLog against Redis", () => {
  it.each([0, 1, 10, 1000, 100_000])(
    "count() equals PFCOUNT and the registers equal Redis's for %i random strings",
    async (n) => {
      const values = randomStrings(n);
      const k = key(`random-${n}`);
      await pfadd(k, values);
      const ours = sketch(values);
      expect(count(ours)).toBe(await pfcount(k));
      const stored = await getHll(k);
      const parsed = HyperLogLog.fromRedis(stored);
      expect(parsed.count()).toBe(ours.count());
      expect(registers(parsed.toRedis())).toEqual(registers(ours.toRedis()));
      await redis.del(k);
    },
  );

  it("hashes non-ASCII strings (and binary elements) exactly as Redis does", async () => {
    const k = key("non-ascii");
    await pfadd(k, NON_ASCII);
    const ours = sketch(NON_ASCII);
    expect(count(ours)).toBe(await pfcount(k));
    expect(registers(HyperLogLog.fromRedis(await getHll(k)).toRedis())).toEqual(registers(ours.toRedis()));

    const binary = Array.from({ length: 2000 }, (_, i) => randomBytes(i % 50));
    const kb = key("binary");
    await pfadd(kb, binary);
    const fromBytes = new HyperLogLog();
    for (const value of binary) fromBytes.addBytes(value);
    expect(count(fromBytes)).toBe(await pfcount(kb));
    expect(registers(HyperLogLog.fromRedis(await getHll(kb)).toRedis())).toEqual(registers(fromBytes.toRedis()));
    await redis.del(k, kb);
  });

  it("parses both the SPARSE (small) and the DENSE (large) key Redis stores", async () => {
    for (const [n, encoding] of [
      [50, 1],
      [50_000, 0],
    ] as const) {
      const values = randomStrings(n);
      const k = key(`encoding-${n}`);
      await pfadd(k, values);
      await redis.pfcount(k); // fills in the cached cardinality, which fromRedis ignores
      const stored = await getHll(k);
      expect(stored[4]).toBe(encoding);
      const parsed = HyperLogLog.fromRedis(stored);
      expect(count(parsed)).toBe(await pfcount(k));
      expect(parsed.count()).toBe(sketch(values).count());
      await redis.del(k);
    }
  });

  it("writes a DENSE string Redis accepts: PFCOUNT after SET equals count(), and PFADD keeps working", async () => {
    for (const n of [0, 3, 20_000]) {
      const values = randomStrings(n);
      const ours = sketch(values);
      const k = key(`set-${n}`);
      await redis.set(k, ours.toRedis());
      expect(await pfcount(k)).toBe(count(ours));

      const more = randomStrings(500);
      await pfadd(k, more);
      for (const value of more) ours.add(value);
      expect(await pfcount(k)).toBe(count(ours));
      const stored = await getHll(k);
      expect(stored[4]).toBe(0);
      expect(registers(stored)).toEqual(registers(ours.toRedis()));
      await redis.del(k);
    }
  });

  it("merge() equals PFMERGE (sparse with dense, overlapping)", async () => {
    const shared = randomStrings(300);
    const small = [...randomStrings(200), ...shared];
    const large = [...randomStrings(30_000), ...shared];
    const [ks, kl, kd] = [key("merge-small"), key("merge-large"), key("merge-dest")];
    await pfadd(ks, small);
    await pfadd(kl, large);
    await redis.pfmerge(kd, ks, kl);

    const merged = sketch(small);
    merged.merge(sketch(large));
    expect(count(merged)).toBe(await pfcount(kd));
    expect(count(merged)).toBe(await pfcount(ks, kl));
    expect(registers(await getHll(kd))).toEqual(registers(merged.toRedis()));

    const fromKeys = HyperLogLog.fromRedis(await getHll(ks));
    fromKeys.merge(HyperLogLog.fromRedis(await getHll(kl)));
    expect(fromKeys.count()).toBe(merged.count());
    await redis.del(ks, kl, kd);
  });

  it("estimates like PFCOUNT for hand-made registers, including values Redis's PFADD never writes", async () => {
    const k = key("crafted");
    const cases: Array<(i: number) => number> = [
      () => Math.floor(Math.random() * 64),
      () => Math.floor(Math.random() * 52),
      () => 10 + Math.floor(Math.random() * 8),
      (i) => (i % 100 === 0 ? 0 : 51),
      () => 51,
    ];
    for (const register of cases) {
      const source = new HyperLogLog().toRedis();
      // Packed as Redis's HLL_DENSE_SET_REGISTER does, independently of toRedis().
      for (let r = 0; r < 16384; r++) {
        const value = register(r);
        const byte = 16 + ((r * 6) >> 3);
        const fb = (r * 6) & 7;
        source[byte] = (source[byte] ?? 0) | ((value << fb) & 0xff);
        if (fb > 2) source[byte + 1] = (source[byte + 1] ?? 0) | (value >> (8 - fb));
      }
      await redis.set(k, source);
      expect(count(HyperLogLog.fromRedis(source))).toBe(await pfcount(k));
    }
    await redis.del(k);
  });
});
