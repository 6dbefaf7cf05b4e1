import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { indexHashBank, isModerationError, loadHashBank, ModerationErrorCode, parseHashBank } from "../index.js";

const h1 = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22";
const h2 = "30a10efd71cc3d429013d48d0ffffc52e34e0e17ada952a9d29685211ea9e5af";
const h3 = "adad5a64b5a142e75b62a09857da895ae63b847fc23794b766b319361bc93188";

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    return isModerationError(error) ? `${error.code}: ${error.message}` : "other";
  }
  return "none";
}

describe("parseHashBank", () => {
  it("reads headerless `hash,label[,…]` rows, lower-casing hashes and skipping blanks and comments", () => {
    const bank = parseHashBank(`# known images\n${h1.toUpperCase()},bridge\n\n${h2},rotated,extra,more\r\n${h3}\n`);
    expect(bank.rejected).toEqual([]);
    expect(bank.header).toBeUndefined();
    expect(bank.entries).toEqual([
      { hash: h1, label: "bridge", columns: [h1.toUpperCase(), "bridge"], fields: {}, line: 2 },
      { hash: h2, label: "rotated", columns: [h2, "rotated", "extra", "more"], fields: {}, line: 4 },
      { hash: h3, label: "", columns: [h3], fields: {}, line: 5 },
    ]);
  });

  it("uses a header row to find the hash and label columns and name the others", () => {
    const bank = parseHashBank(`id,label,pdq,source\n7,"Bridge, the ""old"" one",${h1},tx\n8,"two\nlines",${h2},tx\n`);
    expect(bank.header).toEqual(["id", "label", "pdq", "source"]);
    expect(bank.entries.map((e) => [e.hash, e.label, e.fields.id, e.fields.source, e.line])).toEqual([
      [h1, 'Bridge, the "old" one', "7", "tx", 2],
      [h2, "two\nlines", "8", "tx", 3],
    ]);
  });

  it("stops at the first bad row by default, naming its line", () => {
    const csv = `${h1},ok\nnot-a-hash,bad\n${h2},ok\n`;
    const message = codeOf(() => parseHashBank(csv));
    expect(message).toMatch(/^INVALID_HASH_BANK: .*line 2/);
    expect(codeOf(() => parseHashBank(`${h1},"unterminated\n`))).toMatch(/^INVALID_HASH_BANK: .*unterminated/);
    expect(codeOf(() => parseHashBank(`${h1},"quoted"trailing\n`))).toMatch(/^INVALID_HASH_BANK/);
  });

  it("skips bad rows with onInvalid: skip, reporting each", () => {
    const csv = `${h1},ok\n${h1.slice(1)},short\n${h2}x,long\n,empty\n${h3},${"x".repeat(20)}\n${h2},fine`;
    const bank = parseHashBank(csv, { onInvalid: "skip", maxLabelLength: 10 });
    expect(bank.entries.map((e) => [e.hash, e.label])).toEqual([
      [h1, "ok"],
      [h2, "fine"],
    ]);
    expect(bank.rejected.map((r) => r.line)).toEqual([2, 3, 4, 5]);
    expect(bank.rejected[3]?.reason).toMatch(/label longer than 10/);
  });

  it("rejects bad options with INVALID_OPTIONS", () => {
    expect(codeOf(() => parseHashBank("", { onInvalid: "ignore" as "skip" }))).toMatch(/^INVALID_OPTIONS/);
    expect(codeOf(() => parseHashBank("", { extra: 1 } as object))).toMatch(/^INVALID_OPTIONS/);
    expect(parseHashBank("")).toEqual({ entries: [], rejected: [] });
  });
});

describe("loadHashBank", () => {
  const dir = mkdtempSync(join(tmpdir(), "reelkit-bank-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("streams a large file to the same entries as parsing it, and indexes them", async () => {
    // 20,000 rows, with a quoted multi-line label straddling the 1 MiB read chunks somewhere.
    const rows: string[] = ["hash,label,n"];
    for (let i = 0; i < 20_000; i++) {
      const hash = (i.toString(16).padStart(8, "0") + h1.slice(8)).slice(0, 64);
      rows.push(i % 997 === 0 ? `${hash},"multi\nline ${i}",${i}` : `${hash},item ${i},${i}`);
    }
    const text = `${rows.join("\r\n")}\r\n`;
    const path = join(dir, "bank.csv");
    writeFileSync(path, text);
    const loaded = await loadHashBank(path);
    expect(loaded).toEqual(parseHashBank(text));
    expect(loaded.entries).toHaveLength(20_000);
    expect(loaded.entries[997]?.label).toBe("multi\nline 997");

    const index = indexHashBank(loaded);
    const hits = index.query(loaded.entries[12_345]?.hash as string, 0);
    expect(hits.map((m) => m.value.fields.n)).toEqual(["12345"]);
  });

  it("reports a missing file as INVALID_INPUT", async () => {
    await expect(loadHashBank(join(dir, "missing.csv"))).rejects.toMatchObject({
      code: ModerationErrorCode.INVALID_INPUT,
    });
  });
});
