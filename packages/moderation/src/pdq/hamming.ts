// PDQ hashes as text and as bits. A hash is 64 lower-case hex characters: the 256-bit number whose
// bit k is DCT coefficient k's bit (k = row · 16 + column), written most significant first, as
// Meta's reference prints it. In memory a hash is 8 unsigned 32-bit words, word w holding bits
// 32w … 32w + 31, so word 7 is the first 8 hex characters.
import { z } from "zod";
import { ModerationError, ModerationErrorCode } from "../errors.js";

/** A PDQ hash: 64 lower-case hex characters. */
export type PdqHash = string;

/** Hashes are this many bits long. */
export const PDQ_HASH_BITS = 256;

/** The distance at or under which Meta calls two PDQ hashes a match. */
export const PDQ_MATCH_DISTANCE = 31;

const hexPattern = /^[0-9a-fA-F]{64}$/;

/** A 64-hex-character PDQ hash, either case; parses to lower case. */
export const pdqHashSchema = z
  .string()
  .regex(hexPattern, "a PDQ hash is 64 hex characters")
  .transform((s) => s.toLowerCase());

/** Whether `value` is a well-formed PDQ hash (64 hex characters, either case). */
export function isPdqHash(value: unknown): value is PdqHash {
  return typeof value === "string" && hexPattern.test(value);
}

function checkHash(hash: unknown, what: string): string {
  if (!isPdqHash(hash)) {
    throw new ModerationError(
      ModerationErrorCode.INVALID_INPUT,
      `${what} must be a PDQ hash of 64 hex characters, got ${describe(hash)}`,
    );
  }
  return hash;
}

function describe(value: unknown): string {
  if (typeof value === "string")
    return value.length > 80 ? `a string of ${value.length} characters` : JSON.stringify(value);
  return value === null ? "null" : typeof value;
}

/** Parse a hash into 8 words (see the file header for the layout); throws `INVALID_INPUT` when malformed. */
export function hashToWords(hash: PdqHash, into: Uint32Array = new Uint32Array(8), offset = 0): Uint32Array {
  const hex = checkHash(hash, "hash");
  for (let w = 0; w < 8; w++) {
    const start = (7 - w) * 8;
    into[offset + w] = Number.parseInt(hex.slice(start, start + 8), 16) >>> 0;
  }
  return into;
}

/** Format 8 words (from `offset`) as a lower-case hash. */
export function wordsToHash(words: Uint32Array, offset = 0): PdqHash {
  let out = "";
  for (let w = 7; w >= 0; w--) out += ((words[offset + w] ?? 0) >>> 0).toString(16).padStart(8, "0");
  return out;
}

/** Set bits in a 32-bit word. */
export function popcount32(x: number): number {
  let v = x >>> 0;
  v -= (v >>> 1) & 0x55555555;
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  v = (v + (v >>> 4)) & 0x0f0f0f0f;
  return Math.imul(v, 0x01010101) >>> 24;
}

/** Hamming distance between two 8-word hashes stored at `ai` in `a` and `bi` in `b`. */
export function wordsDistance(a: Uint32Array, ai: number, b: Uint32Array, bi: number): number {
  let d = 0;
  for (let w = 0; w < 8; w++) d += popcount32(((a[ai + w] ?? 0) ^ (b[bi + w] ?? 0)) >>> 0);
  return d;
}

const scratchA = new Uint32Array(8);
const scratchB = new Uint32Array(8);

/** Hamming distance (0…256) between two PDQ hashes; throws `INVALID_INPUT` when either is malformed. */
export function hammingDistance(a: PdqHash, b: PdqHash): number {
  hashToWords(checkHash(a, "first hash"), scratchA);
  hashToWords(checkHash(b, "second hash"), scratchB);
  return wordsDistance(scratchA, 0, scratchB, 0);
}
