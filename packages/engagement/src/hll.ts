import { EngagementError, EngagementErrorCode } from "./errors.js";

// Parameters of Redis's HyperLogLog (src/hyperloglog.c, Redis 7.0). Every one of them is part of the
// stored format or of the estimate, so none can change without breaking compatibility.
const P = 14;
const REGISTERS = 1 << P; // 16384
const P_MASK = REGISTERS - 1;
const Q = 64 - P; // 50 hash bits feed the run length, so a register never exceeds Q + 1 = 51
const HEADER_BYTES = 16;
const DENSE_BYTES = (REGISTERS * 6) / 8; // 12288: 6-bit registers, packed
const DENSE_SIZE = HEADER_BYTES + DENSE_BYTES;
const ENCODING_DENSE = 0;
const ENCODING_SPARSE = 1;
const SEED = 0xadc83b19;
// Redis writes HLL_ALPHA_INF as the literal 0.721347520444481703680; 0.5 / ln 2 rounds to the same double.
const ALPHA_INF = 0.5 / Math.LN2;
const MAGIC = [0x48, 0x59, 0x4c, 0x4c]; // "HYLL"
const TWO_POW_63 = 2 ** 63;

// MurmurHash64A's multiplier 0xc6a4a7935bd1e995 as 32-bit halves, the low half also as 16-bit limbs.
const M_HI = 0xc6a4a793 | 0;
const M_LO = 0x5bd1e995 | 0;
const M_LO_HI16 = 0x5bd1;
const M_LO_LO16 = 0xe995;

// The 64-bit values below travel as (hi, lo) pairs of int32. A multiply returns its low half and leaves the
// high half in a typed array: a module variable would box every value outside the small-integer range.
const state = new Int32Array(3);
const MUL_HI = 0;
const HASH_HI = 1;
const HASH_LO = 2;

/** (hi, lo) * 0xc6a4a7935bd1e995 mod 2^64: returns the low 32 bits, leaves the high 32 bits in state[MUL_HI]. */
function mulM(hi: number, lo: number): number {
  // Only lo * M_LO needs its carry into the high word, computed from 16-bit limbs so every partial product
  // fits 32 bits; the cross terms only contribute their low 32 bits, which Math.imul gives directly.
  const a0 = lo & 0xffff;
  const a1 = lo >>> 16;
  const p00 = Math.imul(a0, M_LO_LO16) >>> 0;
  const p01 = a0 * M_LO_HI16;
  const p10 = a1 * M_LO_LO16;
  const carry = ((p00 >>> 16) + (p01 & 0xffff) + (p10 & 0xffff)) >>> 16;
  state[MUL_HI] =
    Math.imul(a1, M_LO_HI16) + (p01 >>> 16) + (p10 >>> 16) + carry + Math.imul(hi, M_LO) + Math.imul(lo, M_HI);
  return Math.imul(lo, M_LO);
}

/** MurmurHash64A (Redis's endian-neutral variant) of `bytes[0..length)`, left in state[HASH_HI], state[HASH_LO]. */
function hash64(bytes: Uint8Array, length: number, seed: number): void {
  // h = seed ^ (len * m)
  let lo = mulM(0, length) ^ seed;
  let hi = state[MUL_HI] as number;
  const blocksEnd = length - (length & 7);
  let i = 0;
  while (i < blocksEnd) {
    // Little-endian 64-bit load, as Redis does on every architecture.
    let kLo = (bytes[i] as number) | ((bytes[i + 1] as number) << 8) | ((bytes[i + 2] as number) << 16);
    kLo |= (bytes[i + 3] as number) << 24;
    let kHi = (bytes[i + 4] as number) | ((bytes[i + 5] as number) << 8) | ((bytes[i + 6] as number) << 16);
    kHi |= (bytes[i + 7] as number) << 24;
    i += 8;
    kLo = mulM(kHi, kLo); // k *= m
    kHi = state[MUL_HI] as number;
    kLo ^= kHi >>> 15; // k ^= k >> 47
    kLo = mulM(kHi, kLo); // k *= m
    kHi = state[MUL_HI] as number;
    lo = mulM(hi ^ kHi, lo ^ kLo); // h ^= k; h *= m
    hi = state[MUL_HI] as number;
  }
  const tail = length & 7;
  if (tail !== 0) {
    // Redis's fall-through switch: byte j of the tail goes to bit 8 * j of h, then one multiply.
    for (let j = tail - 1; j >= 0; j--) {
      const byte = bytes[blocksEnd + j] as number;
      if (j >= 4) hi ^= byte << ((j - 4) * 8);
      else lo ^= byte << (j * 8);
    }
    lo = mulM(hi, lo);
    hi = state[MUL_HI] as number;
  }
  lo ^= hi >>> 15; // h ^= h >> 47
  lo = mulM(hi, lo); // h *= m
  hi = state[MUL_HI] as number;
  lo ^= hi >>> 15; // h ^= h >> 47
  state[HASH_HI] = hi;
  state[HASH_LO] = lo;
}

/**
 * MurmurHash64A as Redis computes it (little-endian block loads on every architecture), as an unsigned 64-bit
 * bigint. The seed defaults to 0xadc83b19, the one Redis's HyperLogLog uses.
 */
export function murmurHash64A(bytes: Uint8Array, seed: number = SEED): bigint {
  if (!(bytes instanceof Uint8Array)) {
    throw new EngagementError(EngagementErrorCode.INVALID_INPUT, "murmurHash64A expects a Uint8Array");
  }
  // Redis's seed is a C unsigned int.
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
    throw new EngagementError(EngagementErrorCode.INVALID_INPUT, `murmurHash64A seed must be a uint32, got ${seed}`);
  }
  hash64(bytes, bytes.length, seed | 0);
  const hi = BigInt((state[HASH_HI] as number) >>> 0);
  const lo = BigInt((state[HASH_LO] as number) >>> 0);
  return (hi << 32n) | lo;
}

// UTF-8 of the element is what ioredis sends to PFADD, so it is what gets hashed. Short strings are encoded
// into this reusable buffer; longer ones go through TextEncoder.
const SCRATCH_MAX_CHARS = 4096;
const scratch = new Uint8Array(SCRATCH_MAX_CHARS * 3);
const textEncoder = new TextEncoder();

/** Encode `value` as UTF-8 into `scratch`, returning the length; a lone surrogate becomes U+FFFD, as in Buffer.from. */
function encodeUtf8(value: string): number {
  const n = value.length;
  let p = 0;
  for (let i = 0; i < n; i++) {
    let c = value.charCodeAt(i);
    if (c < 0x80) {
      scratch[p++] = c;
    } else if (c < 0x800) {
      scratch[p++] = 0xc0 | (c >>> 6);
      scratch[p++] = 0x80 | (c & 0x3f);
    } else {
      if (c >= 0xd800 && c <= 0xdfff) {
        const next = i + 1 < n ? value.charCodeAt(i + 1) : 0;
        if (c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
          const cp = 0x10000 + ((c - 0xd800) << 10) + (next - 0xdc00);
          scratch[p++] = 0xf0 | (cp >>> 18);
          scratch[p++] = 0x80 | ((cp >>> 12) & 0x3f);
          scratch[p++] = 0x80 | ((cp >>> 6) & 0x3f);
          scratch[p++] = 0x80 | (cp & 0x3f);
          i++;
          continue;
        }
        c = 0xfffd;
      }
      scratch[p++] = 0xe0 | (c >>> 12);
      scratch[p++] = 0x80 | ((c >>> 6) & 0x3f);
      scratch[p++] = 0x80 | (c & 0x3f);
    }
  }
  return p;
}

// Ertl's sigma and tau ("New cardinality estimation algorithms for HyperLogLog sketches", arXiv:1702.01284),
// evaluated in exactly the order Redis's hllSigma/hllTau do so that every double rounds the same way.
function sigma(x: number): number {
  if (x === 1) return Number.POSITIVE_INFINITY;
  let y = 1;
  let z = x;
  let zPrime: number;
  do {
    x *= x;
    zPrime = z;
    z += x * y;
    y += y;
  } while (zPrime !== z);
  return z;
}

function tau(x: number): number {
  if (x === 0 || x === 1) return 0;
  let y = 1;
  let z = 1 - x;
  let zPrime: number;
  do {
    x = Math.sqrt(x);
    zPrime = z;
    y *= 0.5;
    // Redis writes pow(1 - x, 2); a correctly rounded square is the same double as this product.
    const d = 1 - x;
    z -= d * d * y;
  } while (zPrime !== z);
  return z / 3;
}

function invalid(message: string): EngagementError {
  return new EngagementError(EngagementErrorCode.INVALID_INPUT, `invalid Redis HyperLogLog: ${message}`);
}

/**
 * A HyperLogLog that is bit-for-bit compatible with Redis's (`PFADD`/`PFCOUNT`/`PFMERGE`, Redis 7.0): same
 * MurmurHash64A over the element's UTF-8 bytes, 16384 six-bit registers, same register update and the same
 * estimator, so {@link HyperLogLog.count} equals `PFCOUNT` on the same elements and the registers can move
 * to and from a Redis key with {@link HyperLogLog.fromRedis} and {@link HyperLogLog.toRedis}.
 */
export class HyperLogLog {
  /** One byte per register (values 0..63), unpacked for speed. */
  readonly #registers = new Uint8Array(REGISTERS);
  /** The last estimate, dropped when a register changes (Redis caches PFCOUNT in the header the same way). */
  #cached: number | undefined = 0;

  /**
   * Add one element, hashed as its UTF-8 bytes (what a Redis client sends for a string argument).
   * @returns true when a register changed, like `PFADD` returning 1.
   */
  add(value: string): boolean {
    if (typeof value !== "string") {
      throw new EngagementError(EngagementErrorCode.INVALID_INPUT, "HyperLogLog.add expects a string");
    }
    if (value.length <= SCRATCH_MAX_CHARS) {
      hash64(scratch, encodeUtf8(value), SEED);
    } else {
      const bytes = textEncoder.encode(value);
      hash64(bytes, bytes.length, SEED);
    }
    return this.#update();
  }

  /**
   * Add one element given as raw bytes (a binary `PFADD` argument).
   * @returns true when a register changed, like `PFADD` returning 1.
   */
  addBytes(value: Uint8Array): boolean {
    if (!(value instanceof Uint8Array)) {
      throw new EngagementError(EngagementErrorCode.INVALID_INPUT, "HyperLogLog.addBytes expects a Uint8Array");
    }
    hash64(value, value.length, SEED);
    return this.#update();
  }

  /** Apply the hash left in `state` to the registers: Redis's hllPatLen followed by hllDenseSet. */
  #update(): boolean {
    const hashHi = state[HASH_HI] as number;
    const hashLo = state[HASH_LO] as number;
    const index = hashLo & P_MASK;
    // The run length is counted over the 50 bits above the index with bit Q forced on, so it stays <= Q + 1.
    const low = (hashLo >>> P) | (hashHi << (32 - P));
    const high = (hashHi >>> P) | (1 << (Q - 32));
    const count = low !== 0 ? 32 - Math.clz32(low & -low) : 64 - Math.clz32(high & -high);
    const registers = this.#registers;
    if (count > (registers[index] as number)) {
      registers[index] = count;
      this.#cached = undefined;
      return true;
    }
    return false;
  }

  /**
   * The estimated number of distinct elements: exactly what `PFCOUNT` returns for the same registers.
   *
   * One case is only reachable with hand-made registers (every register at 51 or above, i.e. 16384 events of
   * probability 2^-50 each): Redis then divides by zero and its `llroundl` overflows, which x86-64 Redis
   * replies as -9223372036854775808. This returns that same value, -(2 ** 63), for any estimate >= 2^63.
   */
  count(): number {
    if (this.#cached !== undefined) return this.#cached;
    const histogram = new Int32Array(64);
    const registers = this.#registers;
    for (let i = 0; i < REGISTERS; i++) {
      const value = registers[i] as number;
      histogram[value] = (histogram[value] as number) + 1;
    }
    // Redis 7 hllCount: registers above Q + 1 (only possible in a hand-made key) take part only through m.
    const m = REGISTERS;
    let z = m * tau((m - (histogram[Q + 1] as number)) / m);
    for (let j = Q; j >= 1; j--) {
      z += histogram[j] as number;
      z *= 0.5;
    }
    z += m * sigma((histogram[0] as number) / m);
    const estimate = (ALPHA_INF * m * m) / z;
    // llroundl rounds half away from zero, which for a non-negative value is what Math.round does.
    this.#cached = estimate < TWO_POW_63 ? Math.round(estimate) : -TWO_POW_63;
    return this.#cached;
  }

  /** Fold `other` into this HyperLogLog (register-wise maximum, like `PFMERGE`); `other` is unchanged. */
  merge(other: HyperLogLog): void {
    if (!(other instanceof HyperLogLog)) {
      throw new EngagementError(EngagementErrorCode.INVALID_INPUT, "HyperLogLog.merge expects a HyperLogLog");
    }
    const mine = this.#registers;
    const theirs = other.#registers;
    let changed = false;
    for (let i = 0; i < REGISTERS; i++) {
      const value = theirs[i] as number;
      if (value > (mine[i] as number)) {
        mine[i] = value;
        changed = true;
      }
    }
    if (changed) this.#cached = undefined;
  }

  /** An independent copy. */
  clone(): HyperLogLog {
    const copy = new HyperLogLog();
    copy.#registers.set(this.#registers);
    copy.#cached = this.#cached;
    return copy;
  }

  /**
   * The Redis string for these registers in the DENSE encoding (12304 bytes), with the cached cardinality
   * marked invalid so Redis recomputes it: `SET key <bytes>` then `PFCOUNT key` gives {@link HyperLogLog.count}.
   * Redis would use the SPARSE encoding for a small set; it reads both, and keeps a dense key dense.
   */
  toRedis(): Buffer {
    const out = Buffer.alloc(DENSE_SIZE);
    out.set(MAGIC, 0);
    out[4] = ENCODING_DENSE;
    // Bytes 8..15 are the cached cardinality, little endian; the MSB of the last byte set means "stale".
    out[15] = 0x80;
    const registers = this.#registers;
    // Registers are packed from the least significant bit up: four 6-bit registers fill three bytes.
    for (let r = 0, b = HEADER_BYTES; r < REGISTERS; r += 4, b += 3) {
      const word =
        (registers[r] as number) |
        ((registers[r + 1] as number) << 6) |
        ((registers[r + 2] as number) << 12) |
        ((registers[r + 3] as number) << 18);
      out[b] = word & 0xff;
      out[b + 1] = (word >>> 8) & 0xff;
      out[b + 2] = word >>> 16;
    }
    return out;
  }

  /** The portable serialization: the same bytes as {@link HyperLogLog.toRedis}. */
  toBytes(): Uint8Array {
    return this.toRedis();
  }

  /**
   * Parse the raw string Redis stores for a HyperLogLog key (`GET` of a key written by `PFADD`), in either
   * the DENSE or the SPARSE encoding. The cached cardinality in the header is ignored and recomputed.
   * @throws EngagementError `INVALID_INPUT` when the bytes are not a well-formed Redis HyperLogLog.
   */
  static fromRedis(bytes: Buffer | Uint8Array): HyperLogLog {
    if (!(bytes instanceof Uint8Array)) throw invalid("expected a Buffer or Uint8Array");
    if (bytes.length < HEADER_BYTES) throw invalid(`${bytes.length} bytes is shorter than the 16-byte header`);
    if (MAGIC.some((byte, i) => bytes[i] !== byte)) throw invalid('missing the "HYLL" magic');
    const hll = new HyperLogLog();
    const encoding = bytes[4];
    if (encoding === ENCODING_DENSE) {
      // Redis rejects a dense string of any other length (isHLLObjectOrReply).
      if (bytes.length !== DENSE_SIZE) {
        throw invalid(`a dense HyperLogLog is ${DENSE_SIZE} bytes, got ${bytes.length}`);
      }
      hll.#unpackDense(bytes);
    } else if (encoding === ENCODING_SPARSE) {
      hll.#decodeSparse(bytes);
    } else {
      throw invalid(`unknown encoding ${String(encoding)} (0 is dense, 1 is sparse)`);
    }
    hll.#cached = undefined;
    return hll;
  }

  /** Parse {@link HyperLogLog.toBytes} output (any Redis HyperLogLog string is accepted). */
  static fromBytes(bytes: Uint8Array): HyperLogLog {
    return HyperLogLog.fromRedis(bytes);
  }

  #unpackDense(bytes: Uint8Array): void {
    const registers = this.#registers;
    for (let r = 0, b = HEADER_BYTES; r < REGISTERS; r += 4, b += 3) {
      const word = (bytes[b] as number) | ((bytes[b + 1] as number) << 8) | ((bytes[b + 2] as number) << 16);
      registers[r] = word & 63;
      registers[r + 1] = (word >>> 6) & 63;
      registers[r + 2] = (word >>> 12) & 63;
      registers[r + 3] = word >>> 18;
    }
  }

  /**
   * Decode the SPARSE run-length opcodes: ZERO `00xxxxxx` (1..64 zero registers), XZERO `01xxxxxx yyyyyyyy`
   * (1..16384 zero registers) and VAL `1vvvvvxx` (1..4 registers set to 1..32). Like Redis's
   * hllSparseToDense, the runs must cover exactly the 16384 registers.
   */
  #decodeSparse(bytes: Uint8Array): void {
    const registers = this.#registers;
    let index = 0;
    let p = HEADER_BYTES;
    while (p < bytes.length) {
      const op = bytes[p] as number;
      let run: number;
      if ((op & 0xc0) === 0) {
        run = (op & 0x3f) + 1;
        p += 1;
      } else if ((op & 0xc0) === 0x40) {
        const next = bytes[p + 1];
        if (next === undefined) throw invalid(`sparse XZERO opcode truncated at byte ${p}`);
        run = (((op & 0x3f) << 8) | next) + 1;
        p += 2;
      } else {
        run = (op & 0x3) + 1;
        if (index + run <= REGISTERS) registers.fill(((op >>> 2) & 0x1f) + 1, index, index + run);
        p += 1;
      }
      index += run;
      if (index > REGISTERS) throw invalid(`sparse opcodes cover more than ${REGISTERS} registers`);
    }
    if (index !== REGISTERS) throw invalid(`sparse opcodes cover ${index} of ${REGISTERS} registers`);
  }
}
