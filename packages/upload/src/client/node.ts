// @reelkit/upload/client/node: Node-only helpers for the upload client.
import { randomBytes } from "node:crypto";
import { type FileHandle, mkdir, open, readFile, rename, rm, stat } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { z } from "zod";
import { UploadError, UploadErrorCode } from "../errors.js";
import { parseWith } from "../validate.js";
import type { FingerprintStore, StoredUpload } from "./fingerprint.js";
import type { UploadSource } from "./source.js";

const pathSchema = z.string().min(1);

/**
 * A file as an upload source: slices are read with one `FileHandle` (opened on the first read,
 * closed when the upload settles and reopened if the source is uploaded again). The fingerprint is
 * the absolute path, size and modification time, so re-running the same upload resumes it and an
 * edited file starts over.
 */
export async function fileSource(path: string): Promise<UploadSource> {
  const absolute = resolve(parseWith(pathSchema, path, UploadErrorCode.INVALID_INPUT, "file path"));
  let info: Awaited<ReturnType<typeof stat>>;
  try {
    info = await stat(absolute);
  } catch (cause) {
    throw new UploadError(UploadErrorCode.SOURCE_FAILED, `cannot read ${absolute}`, { cause });
  }
  if (!info.isFile()) throw new UploadError(UploadErrorCode.INVALID_INPUT, `${absolute} is not a regular file`);
  const size = Number(info.size);
  let handle: Promise<FileHandle> | undefined;
  return {
    size,
    fingerprint: `node-file:${absolute}:${size}:${Math.trunc(Number(info.mtimeMs))}`,
    async slice(start, end) {
      handle ??= open(absolute, "r");
      const file = await handle;
      const out = new Uint8Array(end - start);
      let filled = 0;
      while (filled < out.length) {
        const { bytesRead } = await file.read(out, filled, out.length - filled, start + filled);
        if (bytesRead === 0) throw new Error(`${absolute} ended at ${start + filled}, expected ${end} bytes`);
        filled += bytesRead;
      }
      return out;
    },
    async close() {
      const current = handle;
      handle = undefined;
      if (current !== undefined) await (await current.catch(() => undefined))?.close();
    },
  };
}

const fileStoreSchema = z.record(z.string(), z.unknown());

/**
 * A fingerprint store in one JSON file (`{ [key]: StoredUpload }`), for resume across process
 * restarts. Every write rewrites the file atomically (temp file + rename); writes from one process
 * are serialised. A missing or unreadable file reads as empty. Parent folders are created.
 */
export function createFileFingerprintStore(path: string): FingerprintStore {
  const file = resolve(parseWith(pathSchema, path, UploadErrorCode.INVALID_OPTIONS, "fingerprint file path"));
  let queue: Promise<unknown> = Promise.resolve();
  const serial = <T>(work: () => Promise<T>): Promise<T> => {
    const next = queue.then(work, work);
    queue = next.catch(() => {});
    return next;
  };
  const readAll = async (): Promise<Record<string, unknown>> => {
    let text: string;
    try {
      text = await readFile(file, "utf8");
    } catch {
      return {};
    }
    try {
      const parsed = fileStoreSchema.safeParse(JSON.parse(text));
      return parsed.success ? parsed.data : {};
    } catch {
      return {};
    }
  };
  const writeAll = async (entries: Record<string, unknown>) => {
    await mkdir(dirname(file), { recursive: true });
    const temp = `${file}.${randomBytes(6).toString("hex")}.tmp`;
    try {
      await writeDurably(temp, `${JSON.stringify(entries, null, 2)}\n`);
      await rename(temp, file);
    } catch (error) {
      await rm(temp, { force: true });
      throw error;
    }
  };
  return {
    get: (key) => serial(async () => (await readAll())[key] as StoredUpload | undefined),
    set: (key, value) =>
      serial(async () => {
        const entries = await readAll();
        entries[key] = value;
        await writeAll(entries);
      }),
    remove: (key) =>
      serial(async () => {
        const entries = await readAll();
        if (!Object.hasOwn(entries, key)) return;
        delete entries[key];
        await writeAll(entries);
      }),
  };
}

async function writeDurably(path: string, text: string): Promise<void> {
  const handle = await open(path, "w", 0o600);
  try {
    await handle.writeFile(text, "utf8");
    await handle.sync();
  } finally {
    await handle.close();
  }
}
