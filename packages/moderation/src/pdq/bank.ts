// Hash banks: lists of known PDQ hashes (from a hash-sharing programme, a past takedown, a vendor)
// as CSV, one hash per row: `hash,label[,more columns…]`. RFC 4180 quoting ("a, b" and "" for a
// quote) is understood, blank lines and lines starting with `#` are skipped, and an optional
// header row names the columns (then `hash` and `label` may be anywhere). Rows are checked with zod;
// a bad row either stops the import (the default, naming the line) or is reported and skipped.
import { createReadStream } from "node:fs";
import { z } from "zod";
import { ModerationError, ModerationErrorCode } from "../errors.js";
import { parseWith } from "../queue/validate.js";
import { type PdqHash, pdqHashSchema } from "./hamming.js";
import { createHashIndex, type HashIndex } from "./index.js";

export interface HashBankEntry {
  /** Lower-cased. */
  hash: PdqHash;
  /** The `label` column, or the second column without a header; `""` when absent. */
  label: string;
  /** Every column of the row as written (unquoted), hash and label included. */
  columns: string[];
  /** With a header row: each column by its header name. Empty without one. */
  fields: Record<string, string>;
  /** 1-based line of the row in the file (of its first line, for a quoted multi-line field). */
  line: number;
}

export interface HashBank {
  entries: HashBankEntry[];
  /** Rows that failed validation, with `onInvalid: "skip"` (with `"throw"` the first one throws). */
  rejected: Array<{ line: number; reason: string }>;
  /** The header row's column names, when the file has one. */
  header?: string[];
}

export interface HashBankOptions {
  /** A bad row throws `INVALID_HASH_BANK` naming its line (`"throw"`, default) or is listed in `rejected` (`"skip"`). */
  onInvalid?: "throw" | "skip";
  /** Longest label kept. @default 1024 */
  maxLabelLength?: number;
}

const optionsSchema = z.strictObject({
  onInvalid: z.enum(["throw", "skip"]).default("throw"),
  maxLabelLength: z.int().min(0).max(1_000_000).default(1024),
});

/** Column names taken as the hash column in a header row (case-insensitive). */
const hashColumnNames = new Set(["hash", "pdq", "pdq_hash", "pdqhash", "signal", "signal_value"]);

/**
 * Parse a hash bank from CSV text.
 *
 * @throws ModerationError `INVALID_HASH_BANK` for a malformed row (unless `onInvalid: "skip"`) or
 *   an unterminated quote; `INVALID_OPTIONS` for bad options.
 */
export function parseHashBank(csv: string, options: HashBankOptions = {}): HashBank {
  if (typeof csv !== "string") throw new ModerationError(ModerationErrorCode.INVALID_INPUT, "csv must be a string");
  const builder = bankBuilder(options);
  const reader = csvReader(builder.row);
  reader.push(csv);
  reader.end();
  return builder.result();
}

/**
 * Read a hash bank from a CSV file, streaming (the file is never held whole in memory; the
 * entries are). Same format and options as {@link parseHashBank}.
 */
export async function loadHashBank(path: string, options: HashBankOptions = {}): Promise<HashBank> {
  const builder = bankBuilder(options);
  const reader = csvReader(builder.row);
  const stream = createReadStream(path, { encoding: "utf8", highWaterMark: 1 << 20 });
  try {
    for await (const chunk of stream) reader.push(chunk as string);
  } catch (cause) {
    if (cause instanceof ModerationError) throw cause;
    throw new ModerationError(ModerationErrorCode.INVALID_INPUT, `cannot read hash bank ${path}`, { cause });
  } finally {
    stream.destroy();
  }
  reader.end();
  return builder.result();
}

/** An index over a bank's hashes, each found with its entry as the value. */
export function indexHashBank(bank: HashBank): HashIndex<HashBankEntry> {
  return createHashIndex<HashBankEntry>({ entries: bank.entries.map((e) => ({ hash: e.hash, value: e })) });
}

function bankBuilder(options: HashBankOptions) {
  const config = parseWith(optionsSchema, options, ModerationErrorCode.INVALID_OPTIONS, "hash bank options");
  const rowSchema = z.object({
    hash: pdqHashSchema,
    label: z.string().max(config.maxLabelLength, `label longer than ${config.maxLabelLength} characters`),
  });
  const entries: HashBankEntry[] = [];
  const rejected: Array<{ line: number; reason: string }> = [];
  let header: string[] | undefined;
  let hashColumn = 0;
  let labelColumn = 1;
  let first = true;

  const reject = (line: number, reason: string) => {
    if (config.onInvalid === "throw") {
      throw new ModerationError(ModerationErrorCode.INVALID_HASH_BANK, `line ${line}: ${reason}`);
    }
    rejected.push({ line, reason });
  };

  const row = (columns: string[], line: number) => {
    if (columns.length === 1 && (columns[0] ?? "").trim() === "") return; // blank line
    if (first) {
      first = false;
      const names = columns.map((c) => c.trim());
      // A header: no valid hash in it, and a column named like a hash column.
      if (
        !names.some((n) => pdqHashSchema.safeParse(n).success) &&
        names.some((n) => hashColumnNames.has(n.toLowerCase()))
      ) {
        header = names;
        hashColumn = names.findIndex((n) => hashColumnNames.has(n.toLowerCase()));
        labelColumn = names.findIndex((n) => n.toLowerCase() === "label");
        return;
      }
    }
    const parsed = rowSchema.safeParse({
      hash: (columns[hashColumn] ?? "").trim(),
      label: labelColumn >= 0 ? (columns[labelColumn] ?? "") : "",
    });
    if (!parsed.success) {
      reject(line, z.prettifyError(parsed.error).replace(/\n/g, "; "));
      return;
    }
    const fields: Record<string, string> = {};
    if (header !== undefined) {
      for (const [i, name] of header.entries()) fields[name] = columns[i] ?? "";
    }
    entries.push({ hash: parsed.data.hash, label: parsed.data.label, columns, fields, line });
  };

  return {
    row: (columns: string[], line: number) => {
      // Comment lines: a first field starting with '#', unquoted (the reader marks quoting by line).
      if ((columns[0] ?? "").startsWith("#")) return;
      row(columns, line);
    },
    result: (): HashBank => (header === undefined ? { entries, rejected } : { entries, rejected, header }),
  };
}

/**
 * A streaming RFC 4180 reader: feed text in chunks, get each record's fields and first line number.
 * Accepts LF and CRLF line ends; a quote inside a quoted field is written twice.
 */
function csvReader(onRecord: (fields: string[], line: number) => void) {
  let fields: string[] = [];
  let field = "";
  let inQuotes = false;
  let quotedField = false;
  let afterQuote = false;
  let line = 1;
  let recordLine = 1;
  let pendingCr = false;

  const endField = () => {
    fields.push(field);
    field = "";
    quotedField = false;
    afterQuote = false;
  };
  const endRecord = () => {
    endField();
    onRecord(fields, recordLine);
    fields = [];
    recordLine = line;
  };

  return {
    push(text: string) {
      for (let i = 0; i < text.length; i++) {
        const ch = text[i] as string;
        if (pendingCr) {
          pendingCr = false;
          if (ch === "\n") continue; // CRLF: the record already ended at CR
        }
        if (inQuotes) {
          if (ch === '"') {
            inQuotes = false;
            afterQuote = true;
          } else {
            if (ch === "\n") line++;
            field += ch;
          }
          continue;
        }
        if (afterQuote && ch === '"') {
          // "" inside a quoted field: a literal quote, and the field goes on.
          field += '"';
          inQuotes = true;
          afterQuote = false;
          continue;
        }
        if (ch === ",") endField();
        else if (ch === "\n" || ch === "\r") {
          line++;
          endRecord();
          if (ch === "\r") pendingCr = true;
        } else if (ch === '"' && field === "" && !quotedField) {
          inQuotes = true;
          quotedField = true;
        } else {
          if (afterQuote) {
            throw new ModerationError(
              ModerationErrorCode.INVALID_HASH_BANK,
              `line ${line}: text after a closing quote`,
            );
          }
          field += ch;
        }
      }
    },
    end() {
      if (inQuotes)
        throw new ModerationError(
          ModerationErrorCode.INVALID_HASH_BANK,
          `line ${recordLine}: unterminated quoted field`,
        );
      if (field !== "" || fields.length > 0 || quotedField) endRecord();
    },
  };
}
