import { createHash } from "node:crypto";

/** Algorithms accepted in `Upload-Checksum`, in the order `OPTIONS` advertises them. */
export const checksumAlgorithms = ["sha1", "md5", "crc32", "sha256"] as const;
export type ChecksumAlgorithm = (typeof checksumAlgorithms)[number];

/** An incremental digest. */
export interface Hasher {
  update(chunk: Uint8Array): void;
  /** The raw digest bytes (crc32: 4 bytes, big-endian). */
  digest(): Buffer;
}

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC-32 (IEEE 802.3, as zlib and gzip compute it). */
export function createCrc32(): Hasher {
  let crc = 0xffffffff;
  return {
    update(chunk) {
      for (const byte of chunk) crc = (CRC_TABLE[(crc ^ byte) & 0xff] ?? 0) ^ (crc >>> 8);
    },
    digest() {
      const out = Buffer.alloc(4);
      out.writeUInt32BE((crc ^ 0xffffffff) >>> 0);
      return out;
    },
  };
}

export function isChecksumAlgorithm(name: string): name is ChecksumAlgorithm {
  return (checksumAlgorithms as readonly string[]).includes(name);
}

export function createHasher(algorithm: ChecksumAlgorithm): Hasher {
  if (algorithm === "crc32") return createCrc32();
  const hash = createHash(algorithm);
  return {
    update: (chunk) => {
      hash.update(chunk);
    },
    digest: () => hash.digest(),
  };
}
