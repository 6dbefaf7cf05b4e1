import { createHash, randomBytes } from "node:crypto";
import { createReadStream } from "node:fs";
import { open, rm } from "node:fs/promises";
import type { IncomingMessage, ServerResponse } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Transform, type TransformCallback } from "node:stream";
import { pipeline } from "node:stream/promises";
import { z } from "zod";
import { createMemoryLocker } from "./adapters/memory.js";
import { checksumAlgorithms, createHasher, isChecksumAlgorithm } from "./checksum.js";
import { isUploadError, UploadErrorCode } from "./errors.js";
import { createHashPool, type RunningHash } from "./hasher.js";
import type { Lock, Locker } from "./lock.js";
import { SNIFF_MAX_BYTES, SNIFF_MIN_BYTES, sniffContainer, type VideoContainer, videoContainers } from "./sniff.js";
import type { UploadConcat, UploadInfo, UploadMetadata, UploadStore } from "./store.js";
import { generateUploadId, isValidUploadId } from "./store.js";
import { createFileStore } from "./stores/file.js";
import { parseWith } from "./validate.js";

const TUS_VERSION = "1.0.0";
const TUS_EXTENSIONS =
  "creation,creation-with-upload,creation-defer-length,termination,checksum,expiration,concatenation";
const OFFSET_TYPE = "application/offset+octet-stream";
/** `Content-Type` of an append in draft-ietf-httpbis-resumable-upload-05. */
const PARTIAL_UPLOAD_TYPE = "application/partial-upload";
/**
 * `Upload-Draft-Interop-Version` values of the IETF resumable upload drafts served on the same
 * endpoint: 5 is draft-ietf-httpbis-resumable-upload-03, 6 is -05 (tus-js-client 4's
 * `protocol: "ietf-draft-03"` and `"ietf-draft-05"`).
 */
export const ietfInteropVersions = ["5", "6"] as const;
/** Running SHA-256 states kept in memory (one per upload being written); the oldest is dropped first. */
const MAX_RUNNING_DIGESTS = 1024;

/** The protocol a request speaks: tus 1.0.0 or an IETF draft, by its interop version. */
type Protocol = { kind: "tus" } | { kind: "ietf"; version: (typeof ietfInteropVersions)[number] };
const TUS: Protocol = { kind: "tus" };

export interface UploadServerOptions {
  /** Directory for the default file store. Required unless `store` is given. */
  dir?: string | undefined;
  /** Storage port. @default createFileStore({ dir }) */
  store?: UploadStore | undefined;
  /** Lock port: one request per upload at a time. @default createMemoryLocker() */
  locker?: Locker | undefined;
  /**
   * Mount path; must start and end with `/`. Upload URLs are `<path><id>`.
   * @default "/files/"
   */
  path?: string | undefined;
  /** Largest upload in bytes, advertised as `Tus-Max-Size`; 413 beyond it. @default undefined (no limit) */
  maxSize?: number | undefined;
  /**
   * How long a request waits for an upload another request holds before answering 423 Locked.
   * @default 3000
   */
  lockTimeoutMs?: number | undefined;
  /**
   * Lifetime of an incomplete upload, from creation and renewed by every PATCH; expired uploads
   * answer 410 and are removed by `sweep()`.
   * @default 86400000 (24 h)
   */
  expireAfterMs?: number | undefined;
  /** Validates the decoded `Upload-Metadata`; a failure answers 400. @default undefined (any metadata) */
  metadataSchema?: z.ZodType<unknown> | undefined;
  /** Where checksummed chunks are staged before they are verified and appended. @default os.tmpdir() */
  tempDir?: string | undefined;
  /**
   * Compute the whole-upload SHA-256 on a worker thread (default), so hashing never delays
   * reading sockets; false hashes on the event loop.
   */
  hashInWorker?: boolean | undefined;
  /**
   * Nice value of the hash worker thread, 0–19 (Linux; ignored elsewhere). Above 0 the event loop
   * (and the rest of the machine) gets the CPU first while a body streams in, and the hash catches
   * up while the disk syncs (the README's benchmark section has the figures).
   * When the machine is saturated, `completed` waits longer for its digest.
   * @default 10
   */
  hashNice?: number | undefined;
  /**
   * Called before an upload (ordinary, partial or final) is created; nothing is stored yet. To
   * refuse the creation, throw (or reject with) an object with an integer `status` in 400–599 and
   * a string `message` — e.g. `{ status: 401, message: "sign in first" }`; the client gets that
   * status and message and nothing is created. Anything else thrown answers 500.
   */
  onUploadCreate?: ((ctx: UploadCreateContext) => void | Promise<void>) | undefined;
  /**
   * Awaited once per upload when it completes (not for partial uploads), after its SHA-256 is
   * stored and `completed` emitted, before the final request is answered. A throw answers 500 (or
   * the thrown `{ status, message }` as above), but the upload stays complete and durable.
   */
  onUploadFinish?: ((ctx: UploadFinishContext) => void | Promise<void>) | undefined;
  /**
   * Containers accepted by sniffing the first bytes (at least 12, or the whole upload if shorter):
   * anything else answers 415 and the upload is deleted.
   * @default ["mp4", "matroska", "mpegts"]
   */
  allowedTypes?: readonly VideoContainer[] | undefined;
  /** Set `false` to accept any bytes (no container sniffing). @default true */
  sniff?: boolean | undefined;
  /**
   * Cross-origin access for browser clients on other origins: `origins` lists the allowed
   * `Origin` values (or `"*"` for any). Preflights are answered, and the tus and draft headers
   * are exposed to scripts. @default undefined (no CORS headers; same-origin use only)
   */
  cors?: { origins: "*" | readonly string[]; maxAgeSeconds?: number | undefined } | undefined;
}

const CORS_ALLOW_HEADERS = [
  "Authorization",
  "Content-Type",
  "Tus-Resumable",
  "Upload-Checksum",
  "Upload-Complete",
  "Upload-Concat",
  "Upload-Defer-Length",
  "Upload-Draft-Interop-Version",
  "Upload-Length",
  "Upload-Metadata",
  "Upload-Offset",
  "X-HTTP-Method-Override",
  "X-Request-ID",
  "X-Requested-With",
].join(", ");
const CORS_EXPOSE_HEADERS = [
  "Location",
  "Tus-Checksum-Algorithm",
  "Tus-Extension",
  "Tus-Max-Size",
  "Tus-Resumable",
  "Tus-Version",
  "Upload-Complete",
  "Upload-Concat",
  "Upload-Defer-Length",
  "Upload-Draft-Interop-Version",
  "Upload-Expires",
  "Upload-Length",
  "Upload-Metadata",
  "Upload-Offset",
].join(", ");

/** What `onUploadCreate` receives. */
export interface UploadCreateContext {
  /** Decoded (and, with `metadataSchema`, validated) `Upload-Metadata`. */
  metadata: UploadMetadata;
  /** `Upload-Length`, the sum of the parts for a final concatenation, `undefined` when deferred. */
  length: number | undefined;
  /** The creation request (headers for auth); do not read its body. */
  req: IncomingMessage;
}

/** What `onUploadFinish` receives. */
export interface UploadFinishContext {
  id: string;
  /** The complete upload, `sha256` included. */
  info: UploadInfo;
  /** Hex SHA-256 of the whole file. */
  sha256: string;
}

/** Payloads of the typed events. */
export interface UploadServerEvents {
  created: { id: string; length: number | undefined; metadata: UploadMetadata };
  progress: { id: string; offset: number; length: number | undefined };
  completed: { id: string; length: number; metadata: UploadMetadata; sha256: string };
  terminated: { id: string };
  expired: { id: string };
}

export type UploadServerEvent = keyof UploadServerEvents;

export interface UploadServer {
  /** Answer one request. Resolves once the response is finished; never rejects. */
  handle(req: IncomingMessage, res: ServerResponse): Promise<void>;
  /** Subscribe; returns the unsubscribe function. A throwing listener never fails a request. */
  on<E extends UploadServerEvent>(event: E, listener: (payload: UploadServerEvents[E]) => void): () => void;
  /** Remove expired incomplete uploads (skipping locked ones). Resolves the removed ids. */
  sweep(now?: number): Promise<string[]>;
  /** Refuse new requests (503) and wait for the ones in flight. */
  close(): Promise<void>;
}

const optionsSchema = z
  .object({
    dir: z.string().min(1).optional(),
    store: z
      .custom<UploadStore>(
        (v) => typeof v === "object" && v !== null && typeof (v as UploadStore).append === "function",
        "store must implement UploadStore",
      )
      .optional(),
    locker: z
      .custom<Locker>(
        (v) => typeof v === "object" && v !== null && typeof (v as Locker).acquire === "function",
        "locker must implement Locker",
      )
      .optional(),
    path: z
      .string()
      .regex(/^\/(?:[A-Za-z0-9._~-]+\/)*$/, "path must start and end with /")
      .default("/files/"),
    maxSize: z.number().int().positive().optional(),
    lockTimeoutMs: z.number().int().min(0).max(600_000).default(3000),
    expireAfterMs: z.number().int().positive().default(86_400_000),
    metadataSchema: z
      .custom<z.ZodType<unknown>>(
        (v) => typeof v === "object" && v !== null && typeof (v as z.ZodType).safeParse === "function",
        "metadataSchema must be a zod schema",
      )
      .optional(),
    tempDir: z.string().min(1).optional(),
    hashInWorker: z.boolean().default(true),
    hashNice: z.number().int().min(0).max(19).default(10),
    onUploadCreate: z
      .custom<(ctx: UploadCreateContext) => void | Promise<void>>(
        (v) => typeof v === "function",
        "onUploadCreate must be a function",
      )
      .optional(),
    onUploadFinish: z
      .custom<(ctx: UploadFinishContext) => void | Promise<void>>(
        (v) => typeof v === "function",
        "onUploadFinish must be a function",
      )
      .optional(),
    allowedTypes: z
      .array(z.enum(videoContainers))
      .min(1)
      .readonly()
      .default([...videoContainers]),
    sniff: z.boolean().default(true),
    cors: z
      .object({
        origins: z.union([z.literal("*"), z.array(z.string().url()).readonly()]),
        maxAgeSeconds: z.number().int().min(0).max(86_400).default(600),
      })
      .optional(),
  })
  .refine((o) => o.store !== undefined || o.dir !== undefined, "either store or dir is required");

/** An error answered with an HTTP status. */
class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
    /** RFC 9457 problem fields answered to IETF-draft clients (`type` and extension members). */
    readonly problem: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

const PROBLEM_TYPES = "https://iana.org/assignments/http-problem-types";

/** A hook's `{ status, message }` rejection as an HttpError; anything else is a 500. */
function hookError(error: unknown, hook: string): HttpError {
  if (error instanceof HttpError) return error;
  if (typeof error === "object" && error !== null) {
    const { status, message } = error as { status?: unknown; message?: unknown };
    if (typeof status === "number" && Number.isInteger(status) && status >= 400 && status <= 599)
      return new HttpError(status, typeof message === "string" ? message : `${hook} refused`);
  }
  return new HttpError(500, `${hook} failed`);
}

const INTEGER = /^(?:0|[1-9][0-9]{0,15})$/;
function parseInteger(value: string | undefined, header: string): number | undefined {
  if (value === undefined) return undefined;
  if (!INTEGER.test(value)) throw new HttpError(400, `invalid ${header}`);
  const n = Number(value);
  if (!Number.isSafeInteger(n)) throw new HttpError(400, `invalid ${header}`);
  return n;
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const METADATA_KEY = /^[\x21-\x2b\x2d-\x7e]+$/; // printable ASCII, no space or comma

/** Parse `Upload-Metadata`: `key base64value` pairs separated by commas; a key may come alone. */
export function parseMetadata(header: string | undefined): UploadMetadata {
  const metadata: UploadMetadata = {};
  if (header === undefined || header.trim() === "") return metadata;
  for (const pair of header.split(",")) {
    const parts = pair.trim().split(" ");
    const [key, value] = parts;
    if (parts.length > 2 || key === undefined || !METADATA_KEY.test(key) || Object.hasOwn(metadata, key))
      throw new HttpError(400, "invalid Upload-Metadata");
    if (value === undefined || value === "") {
      metadata[key] = null;
      continue;
    }
    if (!BASE64.test(value)) throw new HttpError(400, `Upload-Metadata value of ${key} is not base64`);
    metadata[key] = Buffer.from(value, "base64").toString("utf8");
  }
  return metadata;
}

export function formatMetadata(metadata: UploadMetadata): string {
  return Object.entries(metadata)
    .map(([key, value]) => (value === null ? key : `${key} ${Buffer.from(value, "utf8").toString("base64")}`))
    .join(",");
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value.join(",") : value;
}

/** `Upload-Complete`, a structured-field boolean (`?1` / `?0`); `undefined` when absent. */
function uploadComplete(req: IncomingMessage): boolean | undefined {
  const value = header(req, "upload-complete")?.trim();
  if (value === undefined) return undefined;
  if (value === "?1") return true;
  if (value === "?0") return false;
  throw new HttpError(400, "Upload-Complete must be ?1 or ?0");
}

function protocolOf(req: IncomingMessage): Protocol {
  const interop = header(req, "upload-draft-interop-version")?.trim();
  if (interop === undefined) return TUS;
  const version = ietfInteropVersions.find((v) => v === interop);
  if (version === undefined)
    throw new HttpError(
      400,
      `unsupported Upload-Draft-Interop-Version ${interop}; supported: ${ietfInteropVersions.join(", ")}`,
    );
  return { kind: "ietf", version };
}

const protocolHeaders = (protocol: Protocol): Record<string, string> =>
  protocol.kind === "tus" ? { "Tus-Resumable": TUS_VERSION } : { "Upload-Draft-Interop-Version": protocol.version };

function hasBody(req: IncomingMessage): boolean {
  const length = header(req, "content-length");
  return header(req, "transfer-encoding") !== undefined || (length !== undefined && length !== "0");
}

/** Passes bytes through while feeding a hash. */
class HashThrough extends Transform {
  constructor(private readonly onChunk: (chunk: Buffer) => void) {
    super();
  }
  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    try {
      this.onChunk(chunk);
    } catch (error) {
      callback(error as Error);
      return;
    }
    callback(null, chunk);
  }
}

/** A tus 1.0.0 server handler for Node's `http` (and anything that passes its req/res through). */
export function createUploadServer(options: UploadServerOptions): UploadServer {
  const parsed = parseWith(optionsSchema, options, UploadErrorCode.INVALID_OPTIONS, "upload server options");
  const store = parsed.store ?? createFileStore({ dir: parsed.dir ?? "" });
  const locker = parsed.locker ?? createMemoryLocker();
  const { path: mount, maxSize, lockTimeoutMs, expireAfterMs, metadataSchema, onUploadCreate, onUploadFinish } = parsed;
  const allowedTypes = new Set<VideoContainer>(parsed.allowedTypes);
  const sniffing = parsed.sniff;
  const tempDir = parsed.tempDir ?? tmpdir();

  const listeners = new Map<UploadServerEvent, Set<(payload: never) => void>>();
  const emit = <E extends UploadServerEvent>(event: E, payload: UploadServerEvents[E]) => {
    for (const listener of listeners.get(event) ?? []) {
      try {
        (listener as (p: UploadServerEvents[E]) => void)(payload);
      } catch {}
    }
  };

  let closed = false;
  const inFlight = new Set<Promise<void>>();

  const expired = (info: UploadInfo, now = Date.now()) =>
    info.expiresAt !== undefined && info.expiresAt <= now && info.offset !== info.length;
  const isComplete = (info: UploadInfo) => info.length !== undefined && info.offset === info.length;

  /**
   * Run `work` holding the upload's lock. Writers (`takeOver`) ask the holder to stop at a durable
   * offset and release, so a request hanging on a dead connection never keeps the upload.
   */
  const withLock = async <T>(id: string, work: (lock: Lock) => Promise<T>, takeOver = true): Promise<T> => {
    let lock: Lock;
    try {
      lock = await locker.acquire(id, { timeoutMs: lockTimeoutMs, requestRelease: takeOver });
    } catch (error) {
      if (isUploadError(error) && error.code === UploadErrorCode.LOCK_TIMEOUT)
        throw new HttpError(423, "upload is locked by another request");
      throw error;
    }
    try {
      return await work(lock);
    } finally {
      await lock.release();
    }
  };

  const load = async (id: string): Promise<UploadInfo> => {
    const info = await store.info(id);
    if (info === undefined) throw new HttpError(404, "upload not found");
    if (expired(info)) throw new HttpError(410, "upload expired");
    return info;
  };

  const expiresHeader = (info: UploadInfo): Record<string, string> =>
    info.expiresAt !== undefined && !isComplete(info)
      ? { "Upload-Expires": new Date(info.expiresAt).toUTCString() }
      : {};

  /**
   * Whole-file SHA-256, computed incrementally: the state of each upload written through this
   * process is kept with the offset it covers, and fed every appended byte. When it is missing
   * or stale (a restart, another instance wrote meanwhile, a dropped chunk) the stored bytes are
   * hashed once at completion instead.
   */
  const hashes = createHashPool({ worker: parsed.hashInWorker, nice: parsed.hashNice });
  const digests = new Map<string, { offset: number; hash: RunningHash }>();
  const forgetDigest = (id: string) => {
    digests.get(id)?.hash.drop();
    digests.delete(id);
  };
  const takeDigest = (id: string, offset: number): RunningHash | undefined => {
    const running = digests.get(id);
    digests.delete(id);
    if (running?.offset === offset) return running.hash;
    running?.hash.drop();
    return offset === 0 ? hashes.create() : undefined;
  };
  const keepDigest = (id: string, offset: number, hash: RunningHash) => {
    digests.set(id, { offset, hash });
    if (digests.size > MAX_RUNNING_DIGESTS) {
      const oldest = digests.keys().next().value;
      if (oldest !== undefined) forgetDigest(oldest);
    }
  };
  /**
   * The upload's running hash as an append `digest` (the store feeds it each byte it writes);
   * `settle` keeps the state only if exactly the stored bytes were hashed.
   */
  const hashFromFile = parsed.hashInWorker && typeof store.localPath === "function";
  const hashing = (info: UploadInfo) => {
    const hash = takeDigest(info.id, info.offset);
    if (hash === undefined) return { digest: undefined, settle: (_offset: number) => {}, abandon: () => {} };
    // A failed append: the state is forgotten (the stored bytes are hashed once at completion).
    const abandon = () => hash.drop();
    if (hashFromFile) {
      // The durable bytes are read back from the store's file on the hash worker: nothing per chunk here.
      return {
        abandon,
        digest: undefined,
        settle: (offset: number) => {
          if (offset < info.offset) return hash.drop();
          hash.updateFile((store.localPath as (id: string) => string)(info.id), info.offset, offset);
          keepDigest(info.id, offset, hash);
        },
      };
    }
    let hashed = 0;
    return {
      abandon,
      digest: {
        update(chunk: Uint8Array) {
          hash.update(chunk);
          hashed += chunk.length;
        },
      },
      settle: (offset: number) => {
        if (info.offset + hashed === offset) keepDigest(info.id, offset, hash);
        else hash.drop();
      },
    };
  };

  const finish = async (info: UploadInfo): Promise<void> => {
    // The running hash, or (missing, stale, or its worker failed) the stored bytes hashed once.
    let sha256 = await takeDigest(info.id, info.offset)
      ?.digest()
      .catch(() => undefined);
    if (sha256 === undefined) {
      const hash = createHash("sha256");
      for await (const chunk of await store.read(info.id)) hash.update(chunk as Buffer);
      sha256 = hash.digest("hex");
    }
    const updated = await store.update(info.id, { sha256 });
    emit("completed", { id: info.id, length: info.offset, metadata: updated.metadata, sha256 });
    if (onUploadFinish !== undefined) {
      try {
        await onUploadFinish({ id: info.id, info: updated, sha256 });
      } catch (error) {
        throw hookError(error, "onUploadFinish");
      }
    }
  };

  /** Check the first stored bytes; not an allowed container → delete the upload and answer 415. */
  const sniff = async (info: UploadInfo): Promise<void> => {
    const end = Math.min(info.offset, SNIFF_MAX_BYTES) - 1;
    const chunks: Buffer[] = [];
    if (end >= 0) for await (const chunk of await store.read(info.id, { start: 0, end })) chunks.push(chunk as Buffer);
    const type = sniffContainer(Buffer.concat(chunks));
    if (type !== undefined && allowedTypes.has(type)) return;
    await store.remove(info.id);
    throw new HttpError(415, "upload is not an allowed video container");
  };

  /** Sniff once the first bytes became durable (or the whole, shorter upload did); finish when complete. */
  const afterAppend = async (before: number, updated: UploadInfo): Promise<void> => {
    if (updated.concat?.type === "partial") return;
    if (
      sniffing &&
      before < SNIFF_MIN_BYTES &&
      (updated.offset >= SNIFF_MIN_BYTES || isComplete(updated)) &&
      (updated.offset !== before || isComplete(updated))
    )
      await sniff(updated);
    if (isComplete(updated)) await finish(updated);
  };

  /**
   * Append the request body at `info.offset`, honouring `Upload-Checksum`: a checksummed chunk is
   * staged in a temp file while hashed, verified, and only then appended (460 and discarded on a mismatch).
   */
  const appendBody = async (req: IncomingMessage, info: UploadInfo, lock: Lock): Promise<UploadInfo> => {
    const room =
      info.length !== undefined
        ? info.length - info.offset
        : maxSize !== undefined
          ? maxSize - info.offset
          : Number.POSITIVE_INFINITY;
    const declared = parseInteger(header(req, "content-length"), "Content-Length");
    if (declared !== undefined && declared > room) throw new HttpError(413, "chunk exceeds the upload length");

    const checksum = header(req, "upload-checksum");
    let newOffset: number;
    try {
      const appendOptions = { signal: lock.signal, current: info, expiresAt: info.expiresAt };
      if (checksum === undefined) {
        const { digest, settle, abandon } = hashing(info);
        try {
          newOffset = await store.append(info.id, info.offset, req, { ...appendOptions, maxBytes: room, digest });
        } catch (error) {
          abandon();
          throw error;
        }
        settle(newOffset);
      } else {
        const [algorithm, expected, ...rest] = checksum.trim().split(" ");
        if (algorithm === undefined || !isChecksumAlgorithm(algorithm))
          throw new HttpError(400, "unsupported checksum algorithm");
        if (expected === undefined || rest.length > 0 || !BASE64.test(expected))
          throw new HttpError(400, "invalid Upload-Checksum");
        const hasher = createHasher(algorithm);
        const matches = () => hasher.digest().equals(Buffer.from(expected, "base64"));
        if (store.verifiesAppends === true) {
          // Written once, straight to its place, checksummed on the way; the store keeps it only if
          // it matches (and cuts it off otherwise, so nothing unverified is ever acknowledged).
          const { digest, settle, abandon } = hashing(info);
          const both =
            digest === undefined
              ? hasher
              : {
                  update(chunk: Uint8Array) {
                    hasher.update(chunk);
                    digest.update(chunk);
                  },
                };
          try {
            newOffset = await store.append(info.id, info.offset, req, {
              ...appendOptions,
              maxBytes: room,
              digest: both,
              verify: matches,
            });
          } catch (error) {
            const refused = isUploadError(error) && error.code === UploadErrorCode.CHECKSUM_MISMATCH;
            // Nothing was stored: a hash read from the file has seen nothing and stays valid; one
            // fed chunk by chunk saw the refused bytes and is dropped.
            if (refused && digest === undefined) settle(info.offset);
            else abandon();
            if (refused) throw new HttpError(460, "Checksum Mismatch");
            throw error;
          }
          settle(newOffset);
        } else {
          const part = join(tempDir, `reelkit-upload-${info.id}-${randomBytes(6).toString("hex")}.part`);
          // Opened here, not by the write stream: a pipeline that fails early cannot leave the file
          // to be created after it was removed.
          const staging = await open(part, "wx");
          try {
            let size = 0;
            await pipeline(
              req,
              new HashThrough((chunk) => {
                size += chunk.length;
                if (size > room) throw new HttpError(413, "chunk exceeds the upload length");
                hasher.update(chunk);
              }),
              staging.createWriteStream(), // closes the handle when done
              { signal: lock.signal },
            );
            if (!matches()) throw new HttpError(460, "Checksum Mismatch");
            const { digest, settle, abandon } = hashing(info);
            try {
              newOffset = await store.append(info.id, info.offset, createReadStream(part), {
                ...appendOptions,
                digest,
              });
            } catch (error) {
              abandon();
              throw error;
            }
            settle(newOffset);
          } finally {
            await staging.close().catch(() => {});
            await rm(part, { force: true });
          }
        }
      }
    } catch (error) {
      if (isUploadError(error)) {
        if (error.code === UploadErrorCode.SIZE_EXCEEDED) throw new HttpError(413, "chunk exceeds the upload length");
        if (error.code === UploadErrorCode.OFFSET_MISMATCH) throw new HttpError(409, "offset mismatch");
        if (error.code === UploadErrorCode.NOT_FOUND) throw new HttpError(404, "upload not found");
      }
      throw error;
    }
    const updated: UploadInfo = { ...info, offset: newOffset };
    if (newOffset !== info.offset) {
      emit("progress", { id: info.id, offset: newOffset, length: info.length });
      await afterAppend(info.offset, updated);
    }
    return updated;
  };

  const options_ = (res: ServerResponse) => {
    res.writeHead(204, {
      "Tus-Resumable": TUS_VERSION,
      "Tus-Version": TUS_VERSION,
      "Tus-Extension": TUS_EXTENSIONS,
      "Tus-Checksum-Algorithm": checksumAlgorithms.join(","),
      ...(maxSize !== undefined ? { "Tus-Max-Size": String(maxSize) } : {}),
    });
    res.end();
  };

  /** The upload id in an `Upload-Concat: final` URL (absolute or a path under the mount), else 400. */
  const partId = (url: string): string => {
    let pathname: string;
    try {
      pathname = new URL(url, "http://localhost").pathname;
    } catch {
      throw new HttpError(400, "invalid Upload-Concat URL");
    }
    const id = pathname.startsWith(mount) ? pathname.slice(mount.length) : "";
    if (!isValidUploadId(id)) throw new HttpError(400, `Upload-Concat names an unknown upload: ${url}`);
    return id;
  };

  const parseConcat = (value: string | undefined): UploadConcat | undefined => {
    if (value === undefined) return undefined;
    const trimmed = value.trim();
    if (trimmed === "partial") return { type: "partial" };
    if (!trimmed.startsWith("final;")) throw new HttpError(400, "invalid Upload-Concat");
    const urls = trimmed
      .slice("final;".length)
      .trim()
      .split(/ +/)
      .filter((u) => u !== "");
    if (urls.length === 0) throw new HttpError(400, "Upload-Concat final names no partial uploads");
    return { type: "final", parts: urls.map(partId) };
  };

  /** Lock every part (in a fixed order, so two finals never deadlock), then run `work`. */
  const withLocks = async <T>(ids: readonly string[], work: () => Promise<T>): Promise<T> => {
    const [first, ...rest] = ids;
    if (first === undefined) return work();
    return withLock(first, () => withLocks(rest, work));
  };

  /** Create a final upload from complete partials: 400 unknown or not partial, 409 incomplete. */
  const createFinal = async (req: IncomingMessage, res: ServerResponse, parts: string[], metadata: UploadMetadata) => {
    if (header(req, "upload-length") !== undefined || header(req, "upload-defer-length") !== undefined)
      throw new HttpError(400, "a final upload takes no Upload-Length");
    if (hasBody(req)) throw new HttpError(403, "a final upload takes no body");
    const id = generateUploadId();
    const info = await withLocks([...new Set(parts)].sort(), async () => {
      let length = 0;
      for (const part of parts) {
        const partInfo = await store.info(part);
        if (partInfo === undefined || partInfo.concat?.type !== "partial")
          throw new HttpError(400, `Upload-Concat names an unknown or non-partial upload: ${mount}${part}`);
        if (expired(partInfo)) throw new HttpError(400, `partial upload ${mount}${part} expired`);
        if (partInfo.length === undefined || partInfo.offset !== partInfo.length)
          throw new HttpError(409, `partial upload ${mount}${part} is not complete`);
        length += partInfo.length;
      }
      if (maxSize !== undefined && length > maxSize) throw new HttpError(413, `Upload-Length exceeds ${maxSize}`);
      await runCreateHook({ metadata, length, req });
      return store.create({ id, length, metadata, concat: { type: "final", parts } });
    });
    emit("created", { id, length: info.length, metadata });
    await afterAppend(0, info);
    res.writeHead(201, { ...protocolHeaders(TUS), Location: `${mount}${id}` });
    res.end();
  };

  const runCreateHook = async (ctx: UploadCreateContext) => {
    if (onUploadCreate === undefined) return;
    try {
      await onUploadCreate(ctx);
    } catch (error) {
      throw hookError(error, "onUploadCreate");
    }
  };

  const parseMetadataChecked = (req: IncomingMessage): UploadMetadata => {
    const metadata = parseMetadata(header(req, "upload-metadata"));
    if (metadataSchema !== undefined) {
      const result = metadataSchema.safeParse(metadata);
      if (!result.success) throw new HttpError(400, `invalid Upload-Metadata: ${z.prettifyError(result.error)}`);
    }
    return metadata;
  };

  /**
   * Append the body under the lock. If another request takes the upload over meanwhile, the
   * bytes already durable are kept (and reported by the next HEAD) and this request gets 423.
   */
  const appendOrYield = async (req: IncomingMessage, info: UploadInfo, lock: Lock): Promise<UploadInfo> => {
    let updated: UploadInfo;
    try {
      updated = await appendBody(req, info, lock);
    } catch (error) {
      if (lock.signal.aborted && !(error instanceof HttpError))
        throw new HttpError(423, "upload was taken over by another request");
      throw error;
    }
    if (lock.signal.aborted && !req.complete)
      throw new HttpError(423, "upload was taken over by another request", { "Upload-Offset": String(updated.offset) });
    return updated;
  };

  /** IETF `Upload-Complete: ?1` once the body arrived whole: the upload ends here, its length is its offset. */
  const completeIetf = async (info: UploadInfo): Promise<UploadInfo> => {
    if (info.length === undefined) {
      const updated = await store.update(info.id, { length: info.offset });
      await afterAppend(info.offset, updated);
      return updated;
    }
    if (info.length !== info.offset)
      throw new HttpError(
        400,
        `Upload-Complete: ?1 but the upload holds ${info.offset} of ${info.length} bytes`,
        {},
        { type: `${PROBLEM_TYPES}#inconsistent-upload-length` },
      );
    return info;
  };

  const create = async (req: IncomingMessage, res: ServerResponse, protocol: Protocol) => {
    const ietf = protocol.kind === "ietf";
    const concatHeaderValue = header(req, "upload-concat");
    if (ietf && concatHeaderValue !== undefined)
      throw new HttpError(400, "Upload-Concat is a tus extension; use Tus-Resumable: 1.0.0");
    const concat = parseConcat(concatHeaderValue);
    if (concat?.type === "final") return createFinal(req, res, concat.parts, parseMetadataChecked(req));
    const length = parseInteger(header(req, "upload-length"), "Upload-Length");
    const complete = ietf ? uploadComplete(req) : undefined;
    const withBody = hasBody(req);
    if (ietf) {
      // The draft learns the length from Upload-Complete: ?1; tus-js-client also sends Upload-Length.
      if (complete === true && length !== undefined) {
        const bodyLength = withBody ? parseInteger(header(req, "content-length"), "Content-Length") : 0;
        if (bodyLength !== undefined && bodyLength !== length)
          throw new HttpError(
            400,
            "Upload-Length differs from the complete body's length",
            {},
            {
              type: `${PROBLEM_TYPES}#inconsistent-upload-length`,
            },
          );
      }
    } else {
      const defer = header(req, "upload-defer-length");
      if (defer !== undefined && defer !== "1") throw new HttpError(400, "Upload-Defer-Length must be 1");
      if ((length === undefined) === (defer === undefined))
        throw new HttpError(400, "send exactly one of Upload-Length and Upload-Defer-Length");
      if (withBody && header(req, "content-type") !== OFFSET_TYPE)
        throw new HttpError(415, `a creation body needs Content-Type ${OFFSET_TYPE}`);
    }
    if (length !== undefined && maxSize !== undefined && length > maxSize)
      throw new HttpError(413, `Upload-Length exceeds ${maxSize}`);
    const metadata = parseMetadataChecked(req);

    await runCreateHook({ metadata, length, req });
    const id = generateUploadId();
    let info = await store.create({
      id,
      length,
      metadata,
      expiresAt: Date.now() + expireAfterMs,
      ...(concat !== undefined ? { concat } : {}),
    });
    emit("created", { id, length, metadata });
    if (withBody || complete === true) {
      info = await withLock(
        id,
        async (lock) => {
          let current = withBody ? await appendOrYield(req, info, lock) : info;
          if (complete === true && (!withBody || req.complete)) current = await completeIetf(current);
          return current;
        },
        false,
      );
    } else if (length === 0) {
      await afterAppend(0, info);
    }
    res.writeHead(201, {
      ...protocolHeaders(protocol),
      Location: `${mount}${id}`,
      ...(withBody || ietf ? { "Upload-Offset": String(info.offset) } : {}),
      ...(ietf ? { "Upload-Complete": isComplete(info) ? "?1" : "?0" } : {}),
      ...expiresHeader(info),
    });
    res.end();
  };

  const concatHeader = (info: UploadInfo): Record<string, string> =>
    info.concat === undefined
      ? {}
      : {
          "Upload-Concat":
            info.concat.type === "partial"
              ? "partial"
              : `final;${info.concat.parts.map((p) => `${mount}${p}`).join(" ")}`,
        };

  // HEAD and GET read the durable state without the lock: a sidecar is replaced atomically and
  // records only durable bytes, so they never wait for (or interrupt) a running PATCH.
  const head = async (id: string, res: ServerResponse, protocol: Protocol) => {
    const info = await load(id);
    const lengthHeader: Record<string, string> =
      info.length !== undefined
        ? { "Upload-Length": String(info.length) }
        : protocol.kind === "tus"
          ? { "Upload-Defer-Length": "1" }
          : {};
    if (protocol.kind === "ietf") {
      res.writeHead(204, {
        ...protocolHeaders(protocol),
        "Cache-Control": "no-store",
        "Upload-Offset": String(info.offset),
        "Upload-Complete": isComplete(info) ? "?1" : "?0",
        ...lengthHeader,
        ...expiresHeader(info),
      });
      res.end();
      return;
    }
    res.writeHead(200, {
      ...protocolHeaders(protocol),
      "Cache-Control": "no-store",
      "Upload-Offset": String(info.offset),
      ...lengthHeader,
      ...(Object.keys(info.metadata).length > 0 ? { "Upload-Metadata": formatMetadata(info.metadata) } : {}),
      ...concatHeader(info),
      ...expiresHeader(info),
    });
    res.end();
  };

  const patch = async (id: string, req: IncomingMessage, res: ServerResponse, protocol: Protocol) => {
    const ietf = protocol.kind === "ietf";
    const contentType = header(req, "content-type");
    if (ietf) {
      if (contentType !== undefined && contentType !== PARTIAL_UPLOAD_TYPE && contentType !== OFFSET_TYPE)
        throw new HttpError(415, `Content-Type must be ${PARTIAL_UPLOAD_TYPE}`);
    } else if (contentType !== OFFSET_TYPE) {
      throw new HttpError(415, `Content-Type must be ${OFFSET_TYPE}`);
    }
    const offset = parseInteger(header(req, "upload-offset"), "Upload-Offset");
    if (offset === undefined) throw new HttpError(400, "Upload-Offset is required");
    const newLength = parseInteger(header(req, "upload-length"), "Upload-Length");
    const complete = ietf ? uploadComplete(req) : undefined;
    const info = await withLock(id, async (lock) => {
      let current = await load(id);
      if (current.concat?.type === "final") throw new HttpError(403, "a final upload cannot be patched");
      if (current.offset !== offset)
        throw new HttpError(
          409,
          "offset mismatch",
          { "Upload-Offset": String(current.offset) },
          {
            type: `${PROBLEM_TYPES}#mismatching-upload-offset`,
            "expected-offset": current.offset,
            "provided-offset": offset,
          },
        );
      if (ietf && isComplete(current) && hasBody(req))
        throw new HttpError(400, "upload is already complete", {}, { type: `${PROBLEM_TYPES}#completed-upload` });
      const settingLength = newLength !== undefined && current.length === undefined;
      if (newLength !== undefined) {
        if (current.length === undefined) {
          if (newLength < current.offset) throw new HttpError(400, "Upload-Length is below the offset");
          if (maxSize !== undefined && newLength > maxSize)
            throw new HttpError(413, `Upload-Length exceeds ${maxSize}`);
          current = await store.update(id, { length: newLength });
        } else if (newLength !== current.length) {
          throw new HttpError(400, "Upload-Length cannot change");
        }
      }
      current = { ...current, expiresAt: Date.now() + expireAfterMs };
      // The append records the renewed expiry together with the new offset.
      let updated = await appendOrYield(req, current, lock);
      if (complete === true && req.complete) updated = await completeIetf(updated);
      // A deferred length set equal to the offset by an empty PATCH completes the upload here; a
      // retried PATCH of an already complete upload must not complete it a second time.
      if (isComplete(updated) && settingLength && updated.offset === offset && offset === newLength)
        await afterAppend(offset, updated);
      return updated;
    });
    res.writeHead(204, {
      ...protocolHeaders(protocol),
      "Upload-Offset": String(info.offset),
      ...(ietf ? { "Upload-Complete": isComplete(info) ? "?1" : "?0" } : {}),
      ...expiresHeader(info),
    });
    res.end();
  };

  const terminate = async (id: string, res: ServerResponse, protocol: Protocol) => {
    await withLock(id, async () => {
      const info = await store.info(id);
      if (info === undefined) throw new HttpError(404, "upload not found");
      await store.remove(id);
      forgetDigest(id);
    });
    emit("terminated", { id });
    res.writeHead(204, protocolHeaders(protocol));
    res.end();
  };

  const download = async (id: string, req: IncomingMessage, res: ServerResponse) => {
    // A completed upload no longer changes, and an open file keeps streaming even if the upload
    // is terminated meanwhile.
    const info = await load(id);
    if (!isComplete(info)) throw new HttpError(404, "upload is not complete");
    const size = info.offset;
    const range = header(req, "range");
    const match = range === undefined ? null : /^bytes=(\d*)-(\d*)$/.exec(range.trim());
    let start = 0;
    let end = size - 1;
    let partial = false;
    if (match !== null) {
      const [, from = "", to = ""] = match;
      if (from === "" && to === "") throw new HttpError(416, "bad range", { "Content-Range": `bytes */${size}` });
      if (from === "") {
        start = Math.max(0, size - Number(to));
      } else {
        start = Number(from);
        if (to !== "") end = Math.min(Number(to), size - 1);
      }
      if (start >= size || start > end || (from === "" && Number(to) === 0))
        throw new HttpError(416, "range not satisfiable", { "Content-Range": `bytes */${size}` });
      partial = true;
    }
    const headers: Record<string, string> = {
      "Content-Type": "application/octet-stream",
      "Accept-Ranges": "bytes",
      "Content-Length": String(size === 0 ? 0 : end - start + 1),
      ...(info.sha256 !== undefined ? { ETag: `"${info.sha256}"` } : {}),
    };
    if (partial) headers["Content-Range"] = `bytes ${start}-${end}/${size}`;
    let body: Awaited<ReturnType<UploadStore["read"]>> | undefined;
    try {
      body = size === 0 ? undefined : await store.read(id, { start, end });
    } catch (error) {
      // Terminated (or swept) between the lookup above and the read: gone, not a server error.
      if (isUploadError(error) && error.code === UploadErrorCode.NOT_FOUND)
        throw new HttpError(404, "upload not found");
      throw error;
    }
    res.writeHead(partial ? 206 : 200, headers);
    if (body === undefined || req.method === "HEAD") {
      body?.destroy();
      res.end();
      return;
    }
    await pipeline(body, res).catch(() => {});
  };

  const route = async (req: IncomingMessage, res: ServerResponse, protocol: Protocol) => {
    const method = (header(req, "x-http-method-override") ?? req.method ?? "").toUpperCase();
    let pathname: string;
    try {
      pathname = new URL(req.url ?? "/", "http://localhost").pathname;
    } catch {
      throw new HttpError(400, "invalid request target");
    }
    if (method === "OPTIONS") return options_(res);
    const mountNoSlash = mount.slice(0, -1);
    if (pathname !== mount && pathname !== mountNoSlash && !pathname.startsWith(mount))
      throw new HttpError(404, "not found");
    const rest = pathname === mountNoSlash ? "" : pathname.slice(mount.length);
    if (protocol.kind === "tus" && method !== "GET" && header(req, "tus-resumable") !== TUS_VERSION)
      throw new HttpError(412, "unsupported Tus-Resumable", { "Tus-Version": TUS_VERSION });
    if (rest === "") {
      if (method === "POST") return create(req, res, protocol);
      throw new HttpError(405, "method not allowed", { Allow: "POST, OPTIONS" });
    }
    // Ids come only from the server; anything else (dots, slashes, encoded separators) is unknown.
    if (!isValidUploadId(rest)) throw new HttpError(404, "upload not found");
    switch (method) {
      case "HEAD":
        return head(rest, res, protocol);
      case "PATCH":
        return patch(rest, req, res, protocol);
      case "DELETE":
        return terminate(rest, res, protocol);
      case "GET":
        return download(rest, req, res);
      default:
        throw new HttpError(405, "method not allowed", { Allow: "GET, HEAD, PATCH, DELETE, OPTIONS" });
    }
  };

  /** CORS response headers for an allowed `Origin`; true when the request was a preflight (already answered). */
  const applyCors = (req: IncomingMessage, res: ServerResponse): boolean => {
    const cors = parsed.cors;
    const origin = header(req, "origin");
    if (cors === undefined || origin === undefined) return false;
    res.setHeader("Vary", "Origin");
    if (cors.origins !== "*" && !cors.origins.includes(origin)) return false;
    res.setHeader("Access-Control-Allow-Origin", origin);
    res.setHeader("Access-Control-Expose-Headers", CORS_EXPOSE_HEADERS);
    if (req.method !== "OPTIONS" || header(req, "access-control-request-method") === undefined) return false;
    res.writeHead(204, {
      "Access-Control-Allow-Methods": "POST, GET, HEAD, PATCH, DELETE, OPTIONS",
      "Access-Control-Allow-Headers": CORS_ALLOW_HEADERS,
      "Access-Control-Max-Age": String(cors.maxAgeSeconds),
    });
    res.end();
    return true;
  };

  const respondError = (res: ServerResponse, error: unknown, protocol: Protocol) => {
    const http =
      error instanceof HttpError ? error : new HttpError(500, isUploadError(error) ? error.code : "internal error");
    if (res.headersSent) {
      res.destroy();
      return;
    }
    if (protocol.kind === "ietf") {
      res.writeHead(http.status, {
        ...protocolHeaders(protocol),
        "Content-Type": "application/problem+json",
        ...http.headers,
      });
      res.end(JSON.stringify({ title: http.message, ...http.problem }));
      return;
    }
    const body = http.status === 460 ? "Checksum Mismatch" : http.message;
    res.writeHead(http.status, {
      ...protocolHeaders(protocol),
      "Content-Type": "text/plain; charset=utf-8",
      ...http.headers,
    });
    res.end(body);
  };

  return {
    handle(req, res) {
      if (applyCors(req, res)) return Promise.resolve();
      let protocol = TUS;
      try {
        protocol = protocolOf(req);
      } catch (error) {
        respondError(res, error, TUS);
        return Promise.resolve();
      }
      if (closed) {
        respondError(res, new HttpError(503, "server is closing"), protocol);
        return Promise.resolve();
      }
      const task = route(req, res, protocol).catch((error: unknown) => respondError(res, error, protocol));
      inFlight.add(task);
      return task.finally(() => inFlight.delete(task));
    },
    on(event, listener) {
      let set = listeners.get(event);
      if (set === undefined) {
        set = new Set();
        listeners.set(event, set);
      }
      const entry = listener as (payload: never) => void;
      set.add(entry);
      return () => {
        set.delete(entry);
      };
    },
    async sweep(now = Date.now()) {
      const removed: string[] = [];
      for await (const info of store.list()) {
        if (!expired(info, now)) continue;
        let lock: Lock;
        try {
          lock = await locker.acquire(info.id, { timeoutMs: 0 });
        } catch {
          continue; // in use: not abandoned
        }
        try {
          const current = await store.info(info.id);
          if (current === undefined || !expired(current, now)) continue;
          await store.remove(info.id);
          removed.push(info.id);
          emit("expired", { id: info.id });
        } finally {
          await lock.release();
        }
      }
      return removed;
    },
    async close() {
      closed = true;
      await Promise.allSettled([...inFlight]);
      await hashes.close();
    },
  };
}
