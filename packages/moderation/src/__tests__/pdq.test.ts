import { createHash } from "node:crypto";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import {
  hammingDistance,
  isModerationError,
  ModerationErrorCode,
  pdqDihedralVariants,
  pdqFloat,
  pdqHash,
  pdqHashDihedral,
  pdqMatch,
} from "../index.js";
import {
  decodeImage,
  expectedHashes,
  imagesDir,
  mirror,
  noiseImage,
  readPpm,
  rotateAnticlockwise,
  syntheticImage,
} from "./pdq-fixtures.js";

const zeroHash = "0".repeat(64);

function expectCode(fn: () => unknown, code: string) {
  try {
    fn();
  } catch (error) {
    expect(isModerationError(error)).toBe(true);
    expect((error as { code: string }).code).toBe(code);
    return;
  }
  throw new Error("expected a ModerationError");
}

describe("pdqHash on Meta's reference vectors", () => {
  const expected = expectedHashes();
  // Every JPEG decoded (ffmpeg) and hashed once; the tests below read these.
  const jpegHashes = new Map<string, { hash: string; quality: number }>();
  let originalDihedral: ReturnType<typeof pdqHashDihedral>;

  beforeAll(() => {
    for (const file of readdirSync(imagesDir()).filter((f) => f.endsWith(".jpg"))) {
      const { rgb, width, height } = decodeImage(join(imagesDir(), file));
      jpegHashes.set(file, pdqHash(rgb, width, height));
      if (file === "aaa-orig.jpg") originalDihedral = pdqHashDihedral(rgb, width, height);
    }
  }, 120_000);

  it.each(["wee.ppm", "square-256x256.ppm", "q1050.ppm"])(
    "%s is bit-for-bit the reference hash and quality",
    (file) => {
      const { rgb, width, height } = readPpm(join(imagesDir(), file));
      const want = expected.get(file);
      expect(want).toBeDefined();
      expect(pdqHash(rgb, width, height)).toEqual({ hash: want?.hash, quality: want?.quality });
    },
  );

  it("every JPEG is within a small Hamming distance of the reference (decoders differ slightly)", () => {
    const files = readdirSync(imagesDir())
      .filter((f) => f.endsWith(".jpg"))
      .sort();
    expect(files.length).toBeGreaterThanOrEqual(20);
    const rows: Array<{ file: string; distance: number; quality: string }> = [];
    for (const file of files) {
      const want = expected.get(file);
      const got = jpegHashes.get(file);
      if (want === undefined || got === undefined) throw new Error(`${file} has no expected hash`);
      rows.push({ file, distance: hammingDistance(got.hash, want.hash), quality: `${got.quality}/${want.quality}` });
      expect(Math.abs(got.quality - want.quality)).toBeLessThanOrEqual(2);
    }
    console.log(
      `PDQ distance to Meta's reference (ffmpeg-decoded JPEGs):\n${rows.map((r) => `  ${r.file.padEnd(24)} ${String(r.distance).padStart(2)}  quality ${r.quality}`).join("\n")}`,
    );
    for (const r of rows) expect(r.distance, r.file).toBeLessThanOrEqual(8);
    // Most decode identically enough to hash identically.
    expect(rows.filter((r) => r.distance === 0).length).toBeGreaterThanOrEqual(files.length - 6);
  });

  it("the modified bridge photos match the original; the rotated and flipped ones only with dihedral matching", () => {
    const plain = jpegHashes.get("aaa-orig.jpg")?.hash as string;
    const dihedral = originalDihedral;
    expect(dihedral.hashes.original).toBe(plain);
    const hashOf = (file: string) => {
      const hash = jpegHashes.get(file)?.hash;
      if (hash === undefined) throw new Error(`${file} missing`);
      return hash;
    };
    const modified = [
      "blur-a-little.jpg",
      "blur-a-lot.jpg",
      "high-contrast.jpg",
      "high-saturation.jpg",
      "sharpen-a-little.jpg",
      "sharpen-a-lot.jpg",
      "shrink-a-little.jpg",
      "shrink-a-lot.jpg",
      "square-128x128.jpg",
      "square-256x256.jpg",
      "square-512x512.jpg",
    ];
    for (const file of modified) expect(pdqMatch(plain, hashOf(file)).match, file).toBe(true);

    const turned = {
      "bridge-2-rotate-90.jpg": "rotate90",
      "bridge-3-rotate-180.jpg": "rotate180",
      "bridge-5-flipx.jpg": "flipX",
    };
    for (const [file, variant] of Object.entries(turned)) {
      const hash = hashOf(file);
      const alone = pdqMatch(plain, hash);
      expect(alone.match, file).toBe(false);
      expect(alone.distance).toBeGreaterThan(90); // unrelated hashes sit near 128
      const withDihedral = pdqMatch(dihedral.hashes, hash);
      expect(withDihedral.match, file).toBe(true);
      expect(withDihedral.variant).toBe(variant);
      expect(withDihedral.distance).toBeLessThanOrEqual(12);
    }

    // The unrelated photos match neither way.
    for (const file of ["q0122.jpg", "q0291.jpg", "q0746.jpg", "q1050.jpg", "q2821.jpg", "wee.jpg"]) {
      expect(pdqMatch(dihedral.hashes, hashOf(file)).match, file).toBe(false);
    }
  });
});

// Meta's reference output on our own synthetic pictures, at the float level: the C++ of
// facebook/ThreatExchange pdq/cpp (as shipped in the pdqhash 0.2.8 sdist) compiled with g++ -O2 on
// x86-64, fed the same RGB through fillFloatLumaFromRGB, then pdqFloat256FromFloatLuma (the 256
// float32 coefficients, digested: SHA-256 of their little-endian bytes, first 32 hex digits) and
// pdqHash256FromFloatLuma. The hash-level vectors cannot tell float32 from float64 arithmetic (the
// median threshold absorbs it); these digests can.
const referenceFloats: Array<
  [
    kind: "noise" | "synthetic",
    width: number,
    height: number,
    seed: number,
    digest: string,
    quality: number,
    hash: string,
  ]
> = [
  ["noise", 1, 1, 32, "a1c9cad49263697717ee7b3a905793b1", 0, zeroHash],
  ["noise", 2, 3, 65, "d4e708409938cafdf7947ffac46a574c", 38, zeroHash],
  ["noise", 4, 4, 128, "b70185b4b092c360042e8383557098e5", 100, zeroHash],
  ["noise", 3, 7, 100, "289e03a6700b970114de316d47383c7b", 65, zeroHash],
  [
    "synthetic",
    5,
    5,
    1,
    "0b4ba0794174cf3710e918c51c4de6c8",
    87,
    "6b5a318c94a5ce7391a46b5a3b8e94a56e5bb18c6b5a319c94a5ce7391a46b5a",
  ],
  [
    "noise",
    5,
    5,
    1,
    "1bd5a15a8e2a60313834434003a01935",
    100,
    "ce739e27318c61d86b5a398e4a53c2f194a59e27ce739a27318c61d86b5a398e",
  ],
  [
    "synthetic",
    34,
    42,
    2,
    "3568ee639224c9f83b1b8792c51f6ea1",
    100,
    "c1e21ec13c43e03cc03e1dc11be3e41bec3e33cc03ccb249dc23493363fdfdce",
  ],
  [
    "noise",
    34,
    42,
    2,
    "1088159cf8d4c92345b0613dd72a5550",
    100,
    "aa33cd39515715faf11f36d876464e5c317546b002d8c7c2b2f7df8d125a3430",
  ],
  [
    "synthetic",
    64,
    64,
    3,
    "221731457105bfef3493a17e520c638c",
    100,
    "7c0e2099c0f20f490362fe0c3d8680fcceda17f1b206e90501fe04defff2fbf2",
  ],
  [
    "noise",
    64,
    64,
    3,
    "6284b26a01f36b3ba72a2786912e2fc0",
    100,
    "6b6835aa5b5cf0025e27efbd7ddb065e65e36caa22a51e58c478646c8c1235b4",
  ],
  [
    "synthetic",
    100,
    37,
    4,
    "088d9579264b9e43aef37849d043f218",
    100,
    "db92d25b2d326f624732666266326524d262d2636db6dadbd99a6d809ad8905f",
  ],
  [
    "noise",
    100,
    37,
    4,
    "8523949166b287fae9e88ae537b7368e",
    100,
    "56b20b24b6f715f377c35d23161d7fa6fd6221b9c310de280030a6b25b3c75e2",
  ],
  [
    "synthetic",
    333,
    211,
    5,
    "556f424b6fe9040b7ac6334238b78c8b",
    100,
    "723d41c11dc1bf1ee1e11cbd0f1ce1c11e1fe0fd638c1763e23e09c1b233d61e",
  ],
  [
    "noise",
    333,
    211,
    5,
    "d30b3330ea458b9c4dfa41fbe1bbde9e",
    100,
    "3c326292753fda8831e213ef0e83e0e65b5f9d8092cf30676bb07b54c9a6d13a",
  ],
  [
    "synthetic",
    512,
    512,
    6,
    "f52be7480e9fe1ee61869245913fb32a",
    91,
    "4d697d4941291549da81125bdad15a535a5b5a59424b0ae7ff59a0a91556ffb6",
  ],
  [
    "noise",
    512,
    512,
    6,
    "79cae8270ef8e3cb4c77caad13e34d05",
    100,
    "b77fa75a48369cc7d8f2c2076ebfc17e6e759c836ca52e6000eca3007987d302",
  ],
];

describe("pdqFloat against Meta's compiled reference", () => {
  it.each(referenceFloats)(
    "%s %i×%i (seed %i): every float32 coefficient, the quality and the hash",
    (kind, w, h, seed, digest, quality, hash) => {
      const { rgb } = kind === "noise" ? noiseImage(w, h, seed) : syntheticImage(w, h, seed);
      const result = pdqFloat(rgb, w, h);
      expect(result.coefficients).toHaveLength(256);
      const bytes = Buffer.from(result.coefficients.buffer, result.coefficients.byteOffset, 1024);
      expect(createHash("sha256").update(bytes).digest("hex").slice(0, 32)).toBe(digest);
      expect(result.quality).toBe(quality);
      expect(pdqHash(rgb, w, h).hash).toBe(hash);
    },
  );
});

describe("pdqHash on synthetic images", () => {
  it("is deterministic and yields 64 lower-case hex characters", () => {
    const image = syntheticImage(200, 120);
    const a = pdqHash(image.rgb, image.width, image.height);
    expect(a.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(pdqHash(image.rgb, image.width, image.height)).toEqual(a);
    expect(a.quality).toBeGreaterThanOrEqual(0);
    expect(a.quality).toBeLessThanOrEqual(100);
    // About half the bits are set: the threshold is the median coefficient.
    const ones = [...a.hash].reduce((n, c) => n + (Number.parseInt(c, 16).toString(2).match(/1/g)?.length ?? 0), 0);
    expect(ones).toBeGreaterThanOrEqual(120);
    expect(ones).toBeLessThanOrEqual(128);
  });

  it("hashes tiny images (under 5 pixels a side) to zeros with quality 0, from 1×1 up", () => {
    for (const [w, h] of [
      [1, 1],
      [4, 4],
      [4, 300],
      [300, 4],
    ] as const) {
      expect(pdqHash(new Uint8Array(w * h * 3).fill(200), w, h)).toEqual({ hash: zeroHash, quality: 0 });
      const d = pdqHashDihedral(new Uint8Array(w * h * 3), w, h);
      expect(d.quality).toBe(0);
      for (const v of pdqDihedralVariants) expect(d.hashes[v]).toBe(zeroHash);
    }
    const five = syntheticImage(5, 5);
    expect(pdqHash(five.rgb, 5, 5).hash).not.toBe(zeroHash);
  });

  it("gives a flat image quality 0 and a textured one a high quality", () => {
    expect(pdqHash(new Uint8Array(64 * 48 * 3).fill(90), 64, 48).quality).toBe(0);
    const busy = syntheticImage(256, 256, 7);
    // Add a fine checkerboard so the 64×64 downsample keeps strong gradients.
    for (let y = 0; y < 256; y++) {
      for (let x = 0; x < 256; x++) {
        if (((x >> 3) + (y >> 3)) & 1) busy.rgb.fill(255, (y * 256 + x) * 3, (y * 256 + x) * 3 + 3);
      }
    }
    expect(pdqHash(busy.rgb, 256, 256).quality).toBe(100);
  });

  it("accepts an already 64×64 frame as the downsample, as the reference does", () => {
    const frame = syntheticImage(64, 64, 3);
    const direct = pdqHash(frame.rgb, 64, 64);
    // The dihedral entry point always filters (as the reference's does): close, not always equal.
    const filtered = pdqHashDihedral(frame.rgb, 64, 64).hashes.original;
    expect(hammingDistance(direct.hash, filtered)).toBeLessThanOrEqual(40);
  });

  it("names each dihedral variant after the transform that produces it", () => {
    const image = syntheticImage(240, 160, 11);
    const variants = pdqHashDihedral(image.rgb, image.width, image.height).hashes;
    const ccw = rotateAnticlockwise(image);
    const twice = rotateAnticlockwise(ccw);
    const thrice = rotateAnticlockwise(twice);
    const mirrored = mirror(image);
    const cases = [
      ["rotate90", ccw],
      ["rotate180", twice],
      ["rotate270", thrice],
      ["flipY", mirrored],
      ["flipX", rotateAnticlockwise(rotateAnticlockwise(mirrored))],
      ["flipPlus1", rotateAnticlockwise(mirrored)],
      ["flipMinus1", rotateAnticlockwise(rotateAnticlockwise(rotateAnticlockwise(mirrored)))],
    ] as const;
    for (const [variant, transformed] of cases) {
      const hash = pdqHash(transformed.rgb, transformed.width, transformed.height).hash;
      // Decimation samples cell centres, so a transformed image hashes close to, not exactly at, its
      // variant (0–40 bits on these smooth pictures); every other variant is unrelated (60+).
      const best = pdqMatch(variants, hash);
      expect(best.variant, variant).toBe(variant);
      expect(best.distance, variant).toBeLessThanOrEqual(40);
      for (const other of pdqDihedralVariants.filter((v) => v !== variant)) {
        expect(hammingDistance(variants[other], hash), `${variant} vs ${other}`).toBeGreaterThanOrEqual(60);
      }
    }
  });

  it("rejects a wrong-length buffer, bad dimensions and non-byte arrays with INVALID_INPUT", () => {
    const rgb = new Uint8Array(10 * 10 * 3);
    expectCode(() => pdqHash(rgb, 10, 11), ModerationErrorCode.INVALID_INPUT);
    expectCode(() => pdqHash(new Uint8Array(10 * 10 * 4), 10, 10), ModerationErrorCode.INVALID_INPUT); // RGBA
    expectCode(() => pdqHash(new Uint8Array(0), 0, 0), ModerationErrorCode.INVALID_INPUT);
    expectCode(() => pdqHash(rgb, 10.5, 10), ModerationErrorCode.INVALID_INPUT);
    expectCode(() => pdqHash(rgb, -10, -10), ModerationErrorCode.INVALID_INPUT);
    expectCode(() => pdqHash(Array.from(rgb) as unknown as Uint8Array, 10, 10), ModerationErrorCode.INVALID_INPUT);
    expectCode(
      () => pdqHash(new Float32Array(300) as unknown as Uint8Array, 10, 10),
      ModerationErrorCode.INVALID_INPUT,
    );
    expectCode(() => pdqHashDihedral(rgb, 11, 10), ModerationErrorCode.INVALID_INPUT);
    // A Node Buffer is a Uint8Array and works.
    expect(pdqHash(Buffer.from(rgb), 10, 10).hash).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe("hammingDistance and pdqMatch", () => {
  const a = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22";

  it("counts differing bits over all 256, accepting either case", () => {
    expect(hammingDistance(a, a)).toBe(0);
    expect(hammingDistance(a, a.toUpperCase())).toBe(0);
    const complement = [...a].map((c) => (15 - Number.parseInt(c, 16)).toString(16)).join("");
    expect(hammingDistance(a, complement)).toBe(256);
    expect(hammingDistance(zeroHash, `${"0".repeat(63)}f`)).toBe(4);
    expect(hammingDistance(zeroHash, `8${"0".repeat(63)}`)).toBe(1);
    expect(hammingDistance(zeroHash, "f".repeat(64))).toBe(256);
  });

  it("matches at the threshold inclusive and rejects malformed hashes", () => {
    const flipped31 = `${"f".repeat(7)}e${"0".repeat(56)}`; // 31 bits set
    expect(hammingDistance(zeroHash, flipped31)).toBe(31);
    expect(pdqMatch(zeroHash, flipped31)).toEqual({ match: true, distance: 31, variant: "original" });
    expect(pdqMatch(zeroHash, flipped31, { maxDistance: 30 }).match).toBe(false);
    expectCode(() => hammingDistance(zeroHash, "xyz"), ModerationErrorCode.INVALID_INPUT);
    expectCode(() => hammingDistance(`${zeroHash}0`, zeroHash), ModerationErrorCode.INVALID_INPUT);
    expectCode(() => pdqMatch(zeroHash, zeroHash, { maxDistance: 257 }), ModerationErrorCode.INVALID_INPUT);
  });
});
