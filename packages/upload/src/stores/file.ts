import { randomBytes } from "node:crypto";
import { createReadStream, fdatasync, writev } from "node:fs";
import { mkdir, open, readdir, readFile, rename, rm, truncate } from "node:fs/promises";
import { join, resolve } from "node:path";
import { Readable } from "node:stream";
import { z } from "zod";
import { createCrc32 } from "../checksum.js";
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
  /** Directory holding `<id>` (the bytes), `<id>.json` (the sidecar) and `<id>.offsets` (the offset journal). Created if missing. */
  dir: string;
  /** Journal records per upload before an append rewrites the sidecar instead. @default 4096 */
  journalRecords?: number | undefined;
}

const optionsSchema = z.object({
  dir: z.string().min(1),
  journalRecords: z.number().int().min(1).max(1_000_000).default(4096),
});

const sidecarSchema = z.object({
  id: z.string(),
  /** Generation: journal records of other generations are stale. */
  gen: z.number().int().min(0).optional(),
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

/**
 * The offset journal `<id>.offsets`: fixed 24-byte records appended (and fdatasynced) after each
 * append, instead of rewriting the sidecar (temp file, fsync, rename, directory fsync) every time:
 * [offset f64][expiresAt f64, -1 = none][generation u32][CRC-32 of the first 20 bytes u32].
 */
const JOURNAL_RECORD = 24;

/** Bytes written between background datasyncs while a body streams in. */
const FLUSH_BYTES = 2 * 1024 * 1024;

interface JournalRecord {
  offset: number;
  expiresAt: number;
  gen: number;
}

const crcOf = (bytes: Uint8Array) => {
  const crc = createCrc32();
  crc.update(bytes);
  return crc.digest().readUInt32BE(0);
};

function encodeRecord(record: JournalRecord): Buffer {
  const buffer = Buffer.alloc(JOURNAL_RECORD);
  buffer.writeDoubleLE(record.offset, 0);
  buffer.writeDoubleLE(record.expiresAt, 8);
  buffer.writeUInt32LE(record.gen, 16);
  buffer.writeUInt32LE(crcOf(buffer.subarray(0, 20)), 20);
  return buffer;
}

function decodeRecord(buffer: Buffer): JournalRecord | undefined {
  if (buffer.readUInt32LE(20) !== crcOf(buffer.subarray(0, 20))) return undefined;
  const offset = buffer.readDoubleLE(0);
  if (!Number.isSafeInteger(offset) || offset < 0) return undefined;
  return { offset, expiresAt: buffer.readDoubleLE(8), gen: buffer.readUInt32LE(16) };
}

/** What `receive` did: bytes [offset, end) landed in the file (not yet synced). */
interface Received {
  end: number;
  /** Why reading stopped early: the source failed, the signal fired, or too many bytes were sent. */
  failure?: unknown;
  /** A write failed: bytes from `end` on may be partly written and must be cut off. */
  writeFailed: boolean;
  /** The source reached its end (not closed, failed or abandoned before it). */
  ended: boolean;
}

/** Bytes buffered while writes are in flight before the source is paused. */
const MAX_PENDING = 1024 * 1024;

/**
 * Stream `source` into `fd` from `offset` with the callback fs API: chunks that arrive while a
 * write is in the thread pool are gathered into one `writev`, at most two writes run at once, and
 * the source is paused once MAX_PENDING bytes wait. No promise or array per chunk: the store alone
 * took 2.6 CPU s per GiB this way against 3.8 through a promise-based `Writable`. A datasync starts
 * in the background every FLUSH_BYTES so the one before the answer has little left to do.
 */
function receive(
  fd: number,
  offset: number,
  source: Readable,
  maxBytes: number,
  digest: AppendOptions["digest"],
  signal: AbortSignal | undefined,
): Promise<Received> {
  return new Promise((resolve) => {
    let position = offset; // where the next issued write goes
    let room = maxBytes;
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    let running = 0;
    let stopped = false; // no more reading
    let failure: unknown;
    let failedAt = Number.POSITIVE_INFINITY;
    let landed = 0;
    let flushedTo = 0;
    let flushing = false;
    let settled = false;
    let ended = false;

    const finish = () => {
      if (settled || !stopped || running > 0 || pending.length > 0 || flushing) return;
      settled = true;
      // The error listener stays: a late error from the source must not go unhandled.
      source.off("data", onData).off("end", onEnd).off("close", onClose);
      signal?.removeEventListener("abort", onAbort);
      const writeFailed = failedAt !== Number.POSITIVE_INFINITY;
      resolve({ end: writeFailed ? failedAt : position, failure, writeFailed, ended });
    };
    const stop = (cause?: unknown, destroy = cause !== undefined) => {
      if (cause !== undefined && failure === undefined) failure = cause;
      if (!stopped) {
        stopped = true;
        source.pause();
        // Aborted or failed: nobody reads the rest, as a pipeline would not.
        if (destroy && !source.destroyed) source.destroy();
      }
      finish();
    };
    const flush = () => {
      if (flushing || failedAt !== Number.POSITIVE_INFINITY || landed - flushedTo < FLUSH_BYTES) return;
      const target = landed;
      flushing = true;
      fdatasync(fd, () => {
        // Only a trigger: the datasync before the answer reports errors and makes bytes durable.
        flushing = false;
        flushedTo = target;
        flush();
        finish();
      });
    };
    const issue = () => {
      if (failedAt !== Number.POSITIVE_INFINITY) {
        // A write failed: what waits is dropped (the append reports the bytes before the failure).
        pending = [];
        pendingBytes = 0;
        return;
      }
      if (pending.length === 0 || running >= 2) return;
      const buffers = pending;
      const at = position;
      const size = pendingBytes;
      pending = [];
      pendingBytes = 0;
      position += size;
      running += 1;
      let left = buffers;
      let leftBytes = size;
      let done = 0;
      const written = (error: Error | null, bytes: number) => {
        if (error === null && bytes < leftBytes) {
          if (bytes === 0) {
            written(new Error("the file system took no bytes"), 0);
            return;
          }
          // A short write: the rest goes right after what landed.
          left = after(left, bytes);
          leftBytes -= bytes;
          done += bytes;
          writev(fd, left, at + done, written);
          return;
        }
        running -= 1;
        if (error !== null) {
          failedAt = Math.min(failedAt, at);
          stop(error);
        } else {
          landed += size;
          flush();
        }
        if (!stopped && pendingBytes < MAX_PENDING && source.isPaused()) source.resume();
        issue();
        finish();
      };
      writev(fd, buffers, at, written);
    };
    const onData = (chunk: Buffer) => {
      if (stopped) return;
      const exceeded = chunk.length > room;
      const accepted = exceeded ? chunk.subarray(0, room) : chunk;
      room -= accepted.length;
      if (accepted.length > 0) {
        digest?.update(accepted);
        pending.push(accepted);
        pendingBytes += accepted.length;
        issue();
      }
      // Only after the allowed bytes were queued: they are written before the append settles.
      // Too long: stop reading but leave the source to the caller (an HTTP server still answers 413
      // on that connection; destroying the request would cut it).
      if (exceeded) stop(new UploadError(UploadErrorCode.SIZE_EXCEEDED, `more than ${maxBytes} bytes sent`), false);
      else if (pendingBytes >= MAX_PENDING) source.pause();
    };
    const onEnd = () => {
      ended = true;
      stop();
    };
    const onError = (error: Error) => stop(error);
    const onClose = () => stop(); // destroyed before its end: keep what arrived
    const onAbort = () => stop(signal?.reason ?? new Error("aborted"));
    if (signal?.aborted) {
      stop(signal.reason ?? new Error("aborted"));
      return;
    }
    signal?.addEventListener("abort", onAbort, { once: true });
    source.on("error", onError);
    if (source.readableEnded || source.destroyed) {
      ended = source.readableEnded;
      stop(source.errored ?? undefined);
      return;
    }
    source.on("data", onData).on("end", onEnd).on("close", onClose);
    source.resume();
  });
}

/** `buffers` without their first `skip` bytes. */
function after(buffers: Buffer[], skip: number): Buffer[] {
  const rest: Buffer[] = [];
  let left = skip;
  for (const buffer of buffers) {
    if (left >= buffer.length) {
      left -= buffer.length;
      continue;
    }
    rest.push(left > 0 ? buffer.subarray(left) : buffer);
    left = 0;
  }
  return rest;
}
const SIDECAR = /^([A-Za-z0-9_-]{16,64})\.json$/;

/**
 * The default store: bytes in `<dir>/<id>`, metadata in an atomically replaced sidecar
 * `<dir>/<id>.json` (temp file, fsync, rename, directory fsync). `append` streams straight into
 * the data file at the offset, fdatasyncs it, and only then records the new offset — as one
 * checksummed record appended to `<dir>/<id>.offsets` and fdatasynced (a sidecar rewrite costs
 * ~5 ms, a record ~0.2 ms) — so no metadata ever claims a byte that is not on disk. Bytes past the
 * recorded offset (a crash between the two) are truncated away by the next append. Every sidecar
 * write starts a new generation and empties the journal; records of another generation, and a torn
 * last record, are ignored.
 */
export function createFileStore(options: FileStoreOptions): UploadStore {
  const { dir: rawDir, journalRecords } = parseWith(
    optionsSchema,
    options,
    UploadErrorCode.INVALID_OPTIONS,
    "file store options",
  );
  const dir = resolve(rawDir);
  let ready: Promise<unknown> | undefined;
  const ensureDir = () => {
    ready ??= mkdir(dir, { recursive: true });
    return ready;
  };

  const dataPath = (id: string) => join(dir, id);
  const sidecarPath = (id: string) => join(dir, `${id}.json`);
  const journalPath = (id: string) => join(dir, `${id}.offsets`);
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

  /**
   * Replace the sidecar atomically with a new generation, then empty the offset journal: records
   * of older generations are ignored, so a truncation lost in a crash cannot resurrect them.
   */
  const writeSidecar = async (info: UploadInfo, gen: number) => {
    const temp = join(dir, `${info.id}.json.${randomBytes(6).toString("hex")}.tmp`);
    const handle = await open(temp, "w");
    try {
      await handle.writeFile(JSON.stringify({ ...info, gen }));
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, sidecarPath(info.id));
    await syncDir();
    await truncate(journalPath(info.id), 0).catch(() => {});
  };

  /** The last valid journal record of `gen`, if any (a torn or foreign tail is skipped). */
  const readJournal = async (id: string, gen: number): Promise<JournalRecord | undefined> => {
    let handle: Awaited<ReturnType<typeof open>>;
    try {
      handle = await open(journalPath(id), "r");
    } catch {
      return undefined;
    }
    try {
      const count = Math.floor((await handle.stat()).size / JOURNAL_RECORD);
      const buffer = Buffer.alloc(JOURNAL_RECORD);
      for (let i = count - 1; i >= Math.max(0, count - 4); i--) {
        const { bytesRead } = await handle.read(buffer, 0, JOURNAL_RECORD, i * JOURNAL_RECORD);
        const record = bytesRead === JOURNAL_RECORD ? decodeRecord(buffer) : undefined;
        if (record !== undefined) return record.gen === gen ? record : undefined;
      }
      return undefined;
    } finally {
      await handle.close();
    }
  };

  /** The upload with its journal applied, and the sidecar's generation. */
  const load = async (id: string): Promise<{ info: UploadInfo; gen: number } | undefined> => {
    if (!isValidUploadId(id)) return undefined;
    let text: string;
    try {
      text = await readFile(sidecarPath(id), "utf8");
    } catch (cause) {
      if ((cause as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw new UploadError(UploadErrorCode.BACKEND_FAILED, "[file] reading metadata failed", { cause });
    }
    const { gen = 0, ...info } = parseWith(
      sidecarSchema,
      JSON.parse(text),
      UploadErrorCode.BACKEND_FAILED,
      `sidecar of ${id}`,
    );
    if (info.id !== id) return undefined;
    // Offsets (and renewed expiries) since the last sidecar write are in the journal.
    const latest = await readJournal(id, gen);
    if (latest !== undefined && latest.offset >= info.offset) {
      info.offset = latest.offset;
      if (latest.expiresAt >= 0) info.expiresAt = latest.expiresAt;
    }
    return { info, gen };
  };
  const readSidecar = async (id: string) => (await load(id))?.info;

  const mustLoad = async (id: string) => {
    const loaded = await load(id);
    if (loaded === undefined) throw new UploadError(UploadErrorCode.NOT_FOUND, `upload ${id} not found`);
    return loaded;
  };
  const mustInfo = async (id: string) => (await mustLoad(id)).info;

  /** Make `info.offset` (and expiry) durable: one journal record, or a new sidecar generation when the journal is long. */
  const recordOffset = async (info: UploadInfo, gen: number) => {
    let journal: Awaited<ReturnType<typeof open>>;
    try {
      journal = await open(journalPath(info.id), "r+");
    } catch {
      // An upload stored before journals existed: start one at a new generation.
      await writeSidecar(info, gen + 1);
      return;
    }
    try {
      const size = (await journal.stat()).size;
      if (size >= journalRecords * JOURNAL_RECORD) {
        await journal.close();
        await writeSidecar(info, gen + 1);
        return;
      }
      // Positioned at the end of the last whole record: a torn tail from a crash is overwritten.
      const at = Math.floor(size / JOURNAL_RECORD) * JOURNAL_RECORD;
      const record = encodeRecord({ offset: info.offset, expiresAt: info.expiresAt ?? -1, gen });
      await journal.write(record, 0, JOURNAL_RECORD, at);
      await journal.datasync();
    } finally {
      await journal.close().catch(() => {});
    }
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
        // The journal exists before the sidecar's directory fsync, so its entry is durable too.
        await (await open(journalPath(upload.id), "w")).close();
        await writeSidecar(info, 0);
        return info;
      });
    },

    info: (id) => readSidecar(id),

    async update(id: string, changes: UploadChanges): Promise<UploadInfo> {
      checkId(id);
      return backend("update", async () => {
        const { info, gen } = await mustLoad(id);
        if (changes.length !== undefined) info.length = changes.length;
        if (changes.sha256 !== undefined) info.sha256 = changes.sha256;
        if (changes.expiresAt !== undefined) info.expiresAt = changes.expiresAt;
        await writeSidecar(info, gen + 1);
        return info;
      });
    },

    async append(id: string, offset: number, source: Readable, appendOptions: AppendOptions = {}): Promise<number> {
      checkId(id);
      // Always read from disk (appendOptions.current is only a hint): the journal's generation must
      // be the sidecar's, which another process sharing the directory may have moved on.
      const { info, gen } = await backend("append", () => mustLoad(id));
      if (info.offset !== offset)
        throw new UploadError(UploadErrorCode.OFFSET_MISMATCH, `offset ${offset} != stored offset ${info.offset}`);
      const handle = await backend("append", () => open(dataPath(id), "r+"));
      const maxBytes = appendOptions.maxBytes ?? Number.POSITIVE_INFINITY;
      const digest = appendOptions.digest;
      let failure: unknown;
      let writeFailed = false;
      let newOffset = offset;
      let discarded = false; // verification refused the bytes: nothing about this append is recorded
      try {
        // Drop bytes a crash may have left past the durable offset.
        if ((await handle.stat()).size !== offset) await handle.truncate(offset);
        const got = await receive(handle.fd, offset, source, maxBytes, digest, appendOptions.signal);
        failure = got.failure;
        writeFailed = got.writeFailed;
        let end = got.end;
        const verify = appendOptions.verify;
        if (verify !== undefined) {
          // Unverifiable (a write failed, the source did not end normally) or refused: cut every
          // byte off again; none was recorded, so a crash in between loses nothing either.
          if (failure === undefined && !got.ended) failure = new Error("the source closed before its end");
          const verified = failure === undefined && verify();
          if (!verified) {
            failure ??= new UploadError(UploadErrorCode.CHECKSUM_MISMATCH, "the appended bytes failed verification");
            await handle.truncate(offset);
            end = offset;
            discarded = true;
          }
        }
        if (writeFailed && !discarded) await handle.truncate(end);
        await handle.datasync();
        newOffset = end;
      } catch (cause) {
        await handle.close().catch(() => {});
        throw new UploadError(UploadErrorCode.BACKEND_FAILED, "[file] append failed", { cause });
      }
      void handle.close().catch(() => {}); // the data is durable; closing need not delay the answer
      const expiresAt = appendOptions.expiresAt;
      if (!discarded && (newOffset !== offset || (expiresAt !== undefined && expiresAt !== info.expiresAt))) {
        info.offset = newOffset;
        if (expiresAt !== undefined) info.expiresAt = expiresAt;
        await backend("append", () => recordOffset(info, gen));
      }
      if (failure instanceof UploadError) throw failure;
      if (writeFailed)
        throw new UploadError(UploadErrorCode.BACKEND_FAILED, "[file] writing upload data failed", { cause: failure });
      // Otherwise the source ended early or the signal fired: keep the durable bytes.
      return newOffset;
    },

    verifiesAppends: true,

    localPath(id: string): string {
      checkId(id);
      return dataPath(id);
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
        await rm(journalPath(id), { force: true });
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
