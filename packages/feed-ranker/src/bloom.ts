import { hash32 } from "./random.js";

/**
 * Bit positions of one id in a per-user Bloom filter of `bits` bits with `hashes` probes
 * (double hashing). The memory and Redis state share this, so they agree bit for bit.
 */
export function bloomPositions(id: string, bits: number, hashes: number): number[] {
  const h1 = hash32(id, 0x5bd1e995);
  const h2 = hash32(id, 0x1b873593) | 1;
  const out: number[] = [];
  for (let i = 0; i < hashes; i++) out.push(((h1 + Math.imul(i, h2)) >>> 0) % bits);
  return out;
}

/** Expected false-positive rate after `n` insertions. */
export function bloomFalsePositiveRate(n: number, bits: number, hashes: number): number {
  return (1 - Math.exp((-hashes * n) / bits)) ** hashes;
}
