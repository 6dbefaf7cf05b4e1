import { randomBytes } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdir, open, readdir, readFile, rename, rm } from "node:fs/promises";
import { join, resolve } from "node:path";
import { Readable, Transform, type TransformCallback, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { z } from "zod";
import { UploadError, UploadErrorCode } from "../errors.js";
import type {
  AppendOptions,
  ByteRange,
  NewUpload,
  UploadChanges,
  UploadInfo,
  UploadMetadata,
  UploadStore,
} from "../store.js";
import { isValidUploadId } from "../store.js";
import { parseWith } from "../validate.js";

export interface FileStoreOptions {
  /** Directory holding `<id>` (the bytes) and `<id>.json` (the sidecar). Created if missing. */
  dir: string;
}

const optionsSchema = z.object({ dir: z.string().min(1) });

const sidecarSchema = z.object({
  id: z.string(),
  offset: z.number().int().min(0),
  length: z.number().int().min(0).optional(),
  metadata: z.record(z.string(), z.string().nullable()),
  createdAt: z.number(),
  expiresAt: z.number().optional(),
  sha256: z.string().optional(),
  concat: z
    .discriminatedUnion("type", [
      z.object({ type: z.literal("partial") }),
      z.object({ type: z.literal("final"), parts: z.array(z.string()) }),
    ])
    .optional(),
});

const SIDECAR = /^([A-Za-z0-9_-]{16,64})\.json$/;

/** Counts bytes through, and fails (without passing the excess on) past `maxBytes`. */
class Limit extends Transform {
  count = 0;
  constructor(private readonly maxBytes: number) {
    super();
  }
  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    const room = this.maxBytes - this.count;
    if (chunk.length > room) {
      if (room > 0) this.push(chunk.subarray(0, room));
      this.count += Math.max(room, 0);
      callback(new UploadError(UploadErrorCode.SIZE_EXCEEDED, `more than ${this.maxBytes} bytes sent`));
      return;
    }
    this.count += chunk.length;
    callback(null, chunk);
  }
}

/**
 * The default store: bytes in `<dir>/<id>`, metadata in an atomically replaced sidecar
 * `<dir>/<id>.json` (temp file, fsync, rename, directory fsync). `append` streams straight into
 * the data file at the offset, fsyncs it, and only then records the new offset, so the sidecar
 * never claims a byte that is not on disk. Bytes past the recorded offset (a crash between the
 * two) are truncated away by the next append.
 */
export function createFileStore(options: FileStoreOptions): UploadStore {
  const { dir: rawDir } = parseWith(optionsSchema, options, UploadErrorCode.INVALID_OPTIONS, "file store options");
  const dir = resolve(rawDir);
  let ready: Promise<unknown> | undefined;
  const ensureDir = () => {
    ready ??= mkdir(dir, { recursive: true });
    return ready;
  };

  const dataPath = (id: string) => join(dir, id);
  const sidecarPath = (id: string) => join(dir, `${id}.json`);
  const checkId = (id: string) => {
    if (!isValidUploadId(id)) throw new UploadError(UploadErrorCode.INVALID_INPUT, "invalid upload id");
  };
  const backend = async <T>(what: string, work: () => Promise<T>): Promise<T> => {
    try {
      return await work();
    } catch (cause) {
      if (cause instanceof UploadError) throw cause;
      throw new UploadError(UploadErrorCode.BACKEND_FAILED, `[file] ${what} failed`, { cause });
    }
  };

  const syncDir = async () => {
    // Makes renames and creations durable; not supported everywhere (e.g. Windows), hence best effort.
    try {
      const handle = await open(dir, "r");
      try {
        await handle.sync();
      } finally {
        await handle.close();
      }
    } catch {}
  };

  const writeSidecar = async (info: UploadInfo) => {
    const temp = join(dir, `${info.id}.json.${randomBytes(6).toString("hex")}.tmp`);
    const handle = await open(temp, "w");
    try {
      await handle.writeFile(JSON.stringify(info));
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, sidecarPath(info.id));
    await syncDir();
  };

  const readSidecar = async (id: string): Promise<UploadInfo | undefined> => {
    if (!isValidUploadId(id)) return undefined;
    let text: string;
    try {
      text = await readFile(sidecarPath(id), "utf8");
    } catch (cause) {
      if ((cause as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw new UploadError(UploadErrorCode.BACKEND_FAILED, "[file] reading metadata failed", { cause });
    }
    const info = parseWith(sidecarSchema, JSON.parse(text), UploadErrorCode.BACKEND_FAILED, `sidecar of ${id}`);
    return info.id === id ? info : undefined;
  };

  const mustInfo = async (id: string) => {
    const info = await readSidecar(id);
    if (info === undefined) throw new UploadError(UploadErrorCode.NOT_FOUND, `upload ${id} not found`);
    return info;
  };

  return {
    async create(upload: NewUpload): Promise<UploadInfo> {
      checkId(upload.id);
      return backend("create", async () => {
        await ensureDir();
        let handle: Awaited<ReturnType<typeof open>>;
        try {
          handle = await open(dataPath(upload.id), "wx");
        } catch (cause) {
          if ((cause as NodeJS.ErrnoException).code === "EEXIST")
            throw new UploadError(UploadErrorCode.INVALID_INPUT, `upload ${upload.id} already exists`);
          throw cause;
        }
        const metadata: UploadMetadata = { ...upload.metadata };
        const info: UploadInfo = { id: upload.id, offset: 0, metadata, createdAt: Date.now() };
        if (upload.length !== undefined) info.length = upload.length;
        if (upload.expiresAt !== undefined) info.expiresAt = upload.expiresAt;
        const concat = upload.concat;
        if (concat?.type === "final") {
          // Data first (concatenated, fsynced), then the sidecar: no metadata ever claims missing bytes.
          let size = 0;
          try {
            for (const part of concat.parts) {
              const partInfo = await readSidecar(part);
              if (partInfo === undefined)
                throw new UploadError(UploadErrorCode.NOT_FOUND, `partial upload ${part} not found`);
              if (
                partInfo.concat?.type !== "partial" ||
                partInfo.length === undefined ||
                partInfo.offset !== partInfo.length
              )
                throw new UploadError(UploadErrorCode.INVALID_INPUT, `upload ${part} is not a complete partial upload`);
              if (partInfo.offset === 0) continue;
              const source = createReadStream(dataPath(part), { start: 0, end: partInfo.offset - 1 });
              for await (const chunk of source) {
                const buffer = chunk as Buffer;
                for (let done = 0; done < buffer.length; ) {
                  const { bytesWritten } = await handle.write(buffer, done, buffer.length - done, size + done);
                  done += bytesWritten;
                }
                size += buffer.length;
              }
            }
            await handle.sync();
          } catch (cause) {
            await handle.close().catch(() => {});
            await rm(dataPath(upload.id), { force: true });
            throw cause;
          }
          await handle.close();
          info.offset = size;
          info.length = size;
          info.concat = { type: "final", parts: [...concat.parts] };
          delete info.expiresAt;
        } else {
          await handle.close();
          if (concat?.type === "partial") info.concat = { type: "partial" };
        }
        await writeSidecar(info);
        return info;
      });
    },

    info: (id) => readSidecar(id),

    async update(id: string, changes: UploadChanges): Promise<UploadInfo> {
      checkId(id);
      return backend("update", async () => {
        const info = await mustInfo(id);
        if (changes.length !== undefined) info.length = changes.length;
        if (changes.sha256 !== undefined) info.sha256 = changes.sha256;
        if (changes.expiresAt !== undefined) info.expiresAt = changes.expiresAt;
        await writeSidecar(info);
        return info;
      });
    },

    async append(id: string, offset: number, source: Readable, appendOptions: AppendOptions = {}): Promise<number> {
      checkId(id);
      const info = await backend("append", () => mustInfo(id));
      if (info.offset !== offset)
        throw new UploadError(UploadErrorCode.OFFSET_MISMATCH, `offset ${offset} != stored offset ${info.offset}`);
      const handle = await backend("append", () => open(dataPath(id), "r+"));
      let failure: unknown;
      let writeFailed = false;
      let newOffset = offset;
      try {
        // Drop bytes a crash may have left past the durable offset.
        await handle.truncate(offset);
        const limit = new Limit(appendOptions.maxBytes ?? Number.POSITIVE_INFINITY);
        let position = offset;
        let inFlight: Promise<unknown> = Promise.resolve();
        const writeAll = async (chunk: Buffer, at: number) => {
          for (let done = 0; done < chunk.length; ) {
            const { bytesWritten } = await handle.write(chunk, done, chunk.length - done, at + done);
            done += bytesWritten;
          }
        };
        // Positional writes straight to the handle: no buffering beyond the stream's highWaterMark.
        const sink = new Writable({
          write(chunk: Buffer, _encoding, callback) {
            const at = position;
            position += chunk.length;
            const write = writeAll(chunk, at);
            inFlight = write.catch(() => {});
            write.then(
              () => callback(),
              (cause: unknown) => {
                writeFailed = true;
                callback(cause as Error);
              },
            );
          },
        });
        try {
          await pipeline(
            source,
            limit,
            sink,
            appendOptions.signal === undefined ? {} : { signal: appendOptions.signal },
          );
        } catch (cause) {
          failure = cause;
        }
        // A destroyed pipeline may leave one write running: let it land before measuring.
        await inFlight;
        await handle.sync();
        newOffset = (await handle.stat()).size;
      } catch (cause) {
        await handle.close().catch(() => {});
        throw new UploadError(UploadErrorCode.BACKEND_FAILED, "[file] append failed", { cause });
      }
      await handle.close().catch(() => {});
      if (newOffset !== offset) {
        info.offset = newOffset;
        await backend("append", () => writeSidecar(info));
      }
      if (failure instanceof UploadError) throw failure;
      if (writeFailed)
        throw new UploadError(UploadErrorCode.BACKEND_FAILED, "[file] writing upload data failed", { cause: failure });
      // Otherwise the source ended early or the signal fired: keep the durable bytes.
      return newOffset;
    },

    async read(id: string, range?: ByteRange): Promise<Readable> {
      const info = await backend("read", () => mustInfo(id));
      const start = range?.start ?? 0;
      const end = range?.end ?? info.offset - 1;
      if (start < 0 || end >= info.offset || (end < start && info.offset > 0))
        throw new UploadError(UploadErrorCode.INVALID_INPUT, `range ${start}-${end} outside 0-${info.offset - 1}`);
      if (info.offset === 0) return Readable.from([]);
      return createReadStream(dataPath(id), { start, end });
    },

    async remove(id: string): Promise<void> {
      if (!isValidUploadId(id)) return;
      await backend("remove", async () => {
        // Sidecar first: a crash in between leaves an orphan data file, never metadata without data.
        await rm(sidecarPath(id), { force: true });
        await rm(dataPath(id), { force: true });
        await syncDir();
      });
    },

    async *list(): AsyncIterable<UploadInfo> {
      await ensureDir();
      const names = await backend("list", () => readdir(dir));
      for (const name of names) {
        const id = SIDECAR.exec(name)?.[1];
        if (id === undefined) continue;
        const info = await readSidecar(id).catch(() => undefined);
        if (info !== undefined) yield info;
      }
    },
  };
}
