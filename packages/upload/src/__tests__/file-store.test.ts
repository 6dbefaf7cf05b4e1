// The file store's offset journal: offsets survive a new store instance (a restart), a torn or
// corrupted tail falls back to the last good record, stale generations are ignored, and a long
// journal is folded back into the sidecar; appends store exactly the bytes that arrived (ended,
// failed, too long or aborted sources).
import { randomBytes } from "node:crypto";
import { appendFile, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { generateUploadId } from "../store.js";
import { createFileStore } from "../stores/file.js";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "reelkit-file-store-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const bytes = (n: number) => Readable.from([randomBytes(n)]);
const sidecar = async (id: string) =>
  JSON.parse(await readFile(join(dir, `${id}.json`), "utf8")) as { offset: number; gen: number };

describe("file store offset journal", () => {
  it("records offsets and expiries in the journal, and a new store instance reads them", async () => {
    const store = createFileStore({ dir });
    const id = generateUploadId();
    await store.create({ id, length: 1000, metadata: {}, expiresAt: 1 });
    expect(await store.append(id, 0, bytes(100), { expiresAt: 5000 })).toBe(100);
    expect(await store.append(id, 100, bytes(200), { expiresAt: 6000 })).toBe(300);
    expect((await sidecar(id)).offset).toBe(0); // the sidecar was not rewritten...
    expect((await stat(join(dir, `${id}.offsets`))).size).toBe(48); // ...two journal records were
    const restarted = createFileStore({ dir });
    expect(await restarted.info(id)).toMatchObject({ offset: 300, expiresAt: 6000 });
    await expect(restarted.append(id, 100, bytes(1))).rejects.toMatchObject({ code: "OFFSET_MISMATCH" });
    expect(await restarted.append(id, 300, bytes(50))).toBe(350);
  });

  it("ignores a torn tail and a corrupted last record, and the next append repairs both", async () => {
    const store = createFileStore({ dir });
    const id = generateUploadId();
    await store.create({ id, length: 1000, metadata: {} });
    await store.append(id, 0, bytes(100));
    await store.append(id, 100, bytes(100));
    const journal = join(dir, `${id}.offsets`);
    await appendFile(journal, Buffer.from("torn"));
    expect((await store.info(id))?.offset).toBe(200);
    // Flip a byte of the last record: its CRC fails, the one before it counts.
    const content = await readFile(journal);
    content[24 + 3] = (content[24 + 3] ?? 0) ^ 0xff;
    await writeFile(journal, content);
    expect((await store.info(id))?.offset).toBe(100);
    // The data file holds 200 bytes; the append starts from the durable 100 and cuts the rest.
    expect(await store.append(id, 100, bytes(10))).toBe(110);
    expect((await stat(join(dir, id))).size).toBe(110);
    expect((await createFileStore({ dir }).info(id))?.offset).toBe(110);
  });

  it("ignores records of an older generation (a truncation lost in a crash)", async () => {
    const store = createFileStore({ dir });
    const id = generateUploadId();
    await store.create({ id, metadata: {} });
    await store.append(id, 0, bytes(100));
    const stale = await readFile(join(dir, `${id}.offsets`));
    await store.update(id, { length: 100 }); // a new sidecar generation, journal emptied
    expect(await sidecar(id)).toMatchObject({ offset: 100, gen: 1 });
    // Pretend the emptying never reached the disk, with a record claiming more than there is.
    const forged = Buffer.from(stale);
    forged.writeDoubleLE(5000, 0);
    await writeFile(join(dir, `${id}.offsets`), Buffer.concat([stale, forged]));
    expect(await store.info(id)).toMatchObject({ offset: 100, length: 100 });
  });

  it("folds a long journal back into the sidecar", async () => {
    const store = createFileStore({ dir, journalRecords: 3 });
    const id = generateUploadId();
    await store.create({ id, length: 100, metadata: {} });
    for (let offset = 0; offset < 50; offset += 10) expect(await store.append(id, offset, bytes(10))).toBe(offset + 10);
    const journalSize = (await stat(join(dir, `${id}.offsets`))).size;
    expect(journalSize).toBeLessThanOrEqual(3 * 24);
    expect((await sidecar(id)).gen).toBeGreaterThan(0);
    expect((await createFileStore({ dir }).info(id))?.offset).toBe(50);
    await store.remove(id);
    await expect(stat(join(dir, `${id}.offsets`))).rejects.toMatchObject({ code: "ENOENT" });
  });

  it("rejects bad options", () => {
    expect(() => createFileStore({ dir, journalRecords: 0 })).toThrow(
      expect.objectContaining({ code: "INVALID_OPTIONS" }),
    );
  });
});

describe("file store append", () => {
  /** A source that yields `pieces`, then fails or stays open (a stalled client) as told. */
  function source(pieces: Buffer[], end: "end" | "error" | "hang") {
    const stream = new Readable({ read() {} });
    for (const piece of pieces) stream.push(piece);
    if (end === "end") stream.push(null);
    else if (end === "error") setTimeout(() => stream.destroy(new Error("connection reset")), 20);
    return stream;
  }
  const stored = async (id: string) => readFile(join(dir, id));

  it("stores many chunks in order, feeding the digest exactly the stored bytes", async () => {
    const store = createFileStore({ dir });
    const id = generateUploadId();
    await store.create({ id, metadata: {} });
    // More than the 1 MiB that may wait while writes run, in uneven chunks: the source is paused and resumed.
    const pieces = Array.from({ length: 80 }, (_, i) => randomBytes(1 + ((i * 7919) % 65_536)));
    const whole = Buffer.concat(pieces);
    const fed: Buffer[] = [];
    const end = await store.append(id, 0, source(pieces, "end"), {
      digest: { update: (c) => void fed.push(Buffer.from(c)) },
    });
    expect(end).toBe(whole.length);
    expect((await stored(id)).equals(whole)).toBe(true);
    expect(Buffer.concat(fed).equals(whole)).toBe(true);
    expect(await store.append(id, end, source([Buffer.from("tail")], "end"))).toBe(whole.length + 4);
  });

  it("keeps the bytes that arrived before the source failed, and reports their offset", async () => {
    const store = createFileStore({ dir });
    const id = generateUploadId();
    await store.create({ id, metadata: {} });
    const first = randomBytes(300_000);
    expect(await store.append(id, 0, source([first], "error"))).toBe(first.length);
    expect((await stored(id)).equals(first)).toBe(true);
    expect(await createFileStore({ dir }).info(id)).toMatchObject({ offset: first.length });
  });

  it("stores up to maxBytes, then fails with SIZE_EXCEEDED; the allowed bytes are durable", async () => {
    const store = createFileStore({ dir });
    const id = generateUploadId();
    await store.create({ id, length: 1000, metadata: {} });
    const data = randomBytes(1500);
    await expect(
      store.append(id, 0, source([data.subarray(0, 600), data.subarray(600)], "end"), { maxBytes: 1000 }),
    ).rejects.toMatchObject({ code: "SIZE_EXCEEDED" });
    expect(await store.info(id)).toMatchObject({ offset: 1000 });
    expect((await stored(id)).equals(data.subarray(0, 1000))).toBe(true);
    // The chunk that crosses the limit arrives once every earlier write has landed.
    const other = generateUploadId();
    await store.create({ id: other, length: 1000, metadata: {} });
    const late = source([data.subarray(0, 600)], "hang");
    setTimeout(() => late.push(data.subarray(600)), 50);
    await expect(store.append(other, 0, late, { maxBytes: 1000 })).rejects.toMatchObject({ code: "SIZE_EXCEEDED" });
    expect(await store.info(other)).toMatchObject({ offset: 1000 });
    expect((await stored(other)).equals(data.subarray(0, 1000))).toBe(true);
  });

  it("with verify: keeps verified bytes; refused, unfinished or too long ones are cut off and nothing is recorded", async () => {
    const store = createFileStore({ dir });
    const id = generateUploadId();
    await store.create({ id, length: 1000, metadata: {} });
    const good = randomBytes(300);
    expect(await store.append(id, 0, source([good], "end"), { verify: () => true })).toBe(300);
    const journal = await readFile(join(dir, `${id}.offsets`));
    await expect(
      store.append(id, 300, source([randomBytes(200)], "end"), { verify: () => false, expiresAt: Date.now() + 5000 }),
    ).rejects.toMatchObject({ code: "CHECKSUM_MISMATCH" });
    // A body cut short cannot be verified (verify is not even asked) and one too long is refused.
    let asked = false;
    const cut = source([randomBytes(100)], "hang");
    setTimeout(() => cut.destroy(), 30);
    expect(await store.append(id, 300, cut, { verify: () => (asked = true) })).toBe(300);
    expect(asked).toBe(false);
    await expect(
      store.append(id, 300, source([randomBytes(800)], "end"), { verify: () => true, maxBytes: 700 }),
    ).rejects.toMatchObject({ code: "SIZE_EXCEEDED" });
    expect((await stored(id)).equals(good)).toBe(true);
    expect((await readFile(join(dir, `${id}.offsets`))).equals(journal)).toBe(true); // no record, no renewed expiry
    expect(await createFileStore({ dir }).info(id)).toMatchObject({ offset: 300 });
  });

  it("stops at once when its signal fires (a takeover), keeping what arrived", async () => {
    const store = createFileStore({ dir });
    const id = generateUploadId();
    await store.create({ id, metadata: {} });
    const first = randomBytes(70_000);
    const body = source([first], "hang");
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);
    expect(await store.append(id, 0, body, { signal: controller.signal })).toBe(first.length);
    expect(body.destroyed).toBe(true); // nobody reads the rest
    expect((await stored(id)).equals(first)).toBe(true);
    const aborted = new AbortController();
    aborted.abort();
    expect(await store.append(id, first.length, source([randomBytes(10)], "end"), { signal: aborted.signal })).toBe(
      first.length,
    );
  });
});
