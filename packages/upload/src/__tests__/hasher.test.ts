import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { createHashPool, type HashPool } from "../hasher.js";

const sha256 = (data: Uint8Array) => createHash("sha256").update(data).digest("hex");

let pool: HashPool | undefined;
afterEach(async () => {
  await pool?.close();
  pool = undefined;
});

/** Feed `data` in pieces of the given sizes (cycled). */
function feed(hash: { update(chunk: Uint8Array): void }, data: Buffer, sizes: number[]) {
  for (let at = 0, i = 0; at < data.length; i++) {
    const n = Math.min(sizes[i % sizes.length] as number, data.length - at);
    hash.update(data.subarray(at, at + n));
    at += n;
  }
}

describe.each([{ worker: true }, { worker: false }])("hash pool (worker: $worker)", ({ worker }) => {
  it("digests exactly the bytes fed, across staging-buffer boundaries", async () => {
    pool = createHashPool({ worker });
    // 3.5 MiB in uneven pieces: some cross the 1 MiB staging boundary, one is larger than it.
    const data = randomBytes(3.5 * 1024 * 1024);
    const hash = pool.create();
    feed(hash, data, [1, 65_536, 1_500_000, 7, 300_001]);
    expect(await hash.digest()).toBe(sha256(data));
  });

  it("keeps interleaved uploads apart", async () => {
    pool = createHashPool({ worker });
    const a = randomBytes(2_100_000);
    const b = randomBytes(1_300_000);
    const ha = pool.create();
    const hb = pool.create();
    for (let at = 0; at < Math.max(a.length, b.length); at += 100_000) {
      ha.update(a.subarray(at, at + 100_000));
      hb.update(b.subarray(at, at + 100_000));
    }
    const [da, db] = await Promise.all([ha.digest(), hb.digest()]);
    expect(da).toBe(sha256(a));
    expect(db).toBe(sha256(b));
  });

  it("hashes ranges of a local file, mixed with chunks, in order", async () => {
    pool = createHashPool({ worker });
    const dir = mkdtempSync(join(tmpdir(), "reelkit-hasher-"));
    try {
      const file = join(dir, "data");
      const data = randomBytes(2_500_000);
      writeFileSync(file, data);
      const extra = randomBytes(1000);
      const hash = pool.create();
      hash.updateFile(file, 0, 1_000_000);
      hash.updateFile(file, 1_000_000, 1_000_000); // empty range
      hash.updateFile(file, 1_000_000, data.length);
      hash.update(extra);
      expect(await hash.digest()).toBe(sha256(Buffer.concat([data, extra])));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("fails the digest (never a wrong one) when the file is shorter than the range", async () => {
    pool = createHashPool({ worker });
    const dir = mkdtempSync(join(tmpdir(), "reelkit-hasher-"));
    try {
      const file = join(dir, "data");
      writeFileSync(file, randomBytes(1000));
      const hash = pool.create();
      hash.updateFile(file, 0, 2000);
      await expect(hash.digest()).rejects.toThrow(/shorter/);
      const missing = pool.create();
      missing.updateFile(join(dir, "nope"), 0, 10);
      await expect(missing.digest()).rejects.toThrow();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("hashes an empty upload", async () => {
    pool = createHashPool({ worker });
    expect(await pool.create().digest()).toBe(sha256(new Uint8Array(0)));
  });
});

describe("hash pool worker", () => {
  it("stays bounded when fed far faster than it hashes (64 MiB in 64 KiB pieces)", async () => {
    pool = createHashPool({ worker: true });
    const piece = randomBytes(65_536);
    const hash = pool.create();
    const expected = createHash("sha256");
    for (let i = 0; i < 1024; i++) {
      hash.update(piece);
      expected.update(piece);
    }
    expect(await hash.digest()).toBe(expected.digest("hex"));
  });

  it("rejects pending digests when closed, and hashes inline afterwards", async () => {
    const closing = createHashPool({ worker: true });
    const hash = closing.create();
    hash.update(randomBytes(2 * 1024 * 1024));
    const digest = hash.digest().then(
      (hex) => hex,
      (error: Error) => error.message,
    );
    await closing.close();
    // Either it answered before the close, or it was rejected: never a wrong digest.
    const outcome = await digest;
    expect(outcome === "hash pool closed" || /^[0-9a-f]{64}$/.test(outcome)).toBe(true);
    const after = closing.create();
    after.update(Buffer.from("abc"));
    expect(await after.digest()).toBe(sha256(Buffer.from("abc")));
  });
});

describe("hash worker priority", () => {
  /** Nice values of this process's threads (Linux), by thread id. */
  const threadNices = async () => {
    const { readdirSync, readFileSync } = await import("node:fs");
    const nices = new Map<string, number>();
    for (const tid of readdirSync("/proc/self/task")) {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, "utf8");
      // Fields after "(comm)": state is the 3rd field of stat; nice is the 19th.
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      nices.set(tid, Number(fields[16]));
    }
    return nices;
  };

  it.runIf(process.platform === "linux")(
    "runs the worker thread at the given nice value, the rest untouched",
    async () => {
      const before = await threadNices();
      pool = createHashPool({ worker: true, nice: 7 });
      const hash = pool.create();
      hash.update(randomBytes(1024));
      expect(await hash.digest()).toHaveLength(64); // the worker is up and has answered
      const after = await threadNices();
      const fresh = [...after].filter(([tid]) => !before.has(tid));
      expect(fresh.some(([, nice]) => nice === 7)).toBe(true);
      expect(after.get(String(process.pid))).toBe(before.get(String(process.pid)));
    },
  );
});
