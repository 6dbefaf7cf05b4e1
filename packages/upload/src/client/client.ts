import { z } from "zod";
import { isUploadError, UploadError, UploadErrorCode } from "../errors.js";
import { parseWith } from "../validate.js";
import {
  defaultFingerprintStore,
  type FingerprintStore,
  type StoredPart,
  type StoredUpload,
  storedUploadSchema,
} from "./fingerprint.js";
import {
  abortError,
  answerError,
  backoffDelay,
  checksumHeader,
  encodeMetadata,
  integerHeader,
  OFFSET_TYPE,
  type RequestContext,
  RetryableError,
  raceAbort,
  sleep,
  type TusResponse,
  tusRequest,
} from "./http.js";
import { readSlice, toUploadSource, type UploadInput, type UploadSource } from "./source.js";

/** Static request headers, or a function called before every request (e.g. to refresh a bearer token). */
export type UploadHeaders = Record<string, string> | (() => Record<string, string> | Promise<Record<string, string>>);

/** Retry policy: exponential backoff with full jitter between consecutive failures. */
export interface RetryOptions {
  /** Consecutive failures tolerated (per part); the count restarts whenever the server acknowledges new bytes. @default 8 */
  retries?: number | undefined;
  /** Ceiling of the first delay; doubles with each consecutive failure. @default 500 */
  baseDelayMs?: number | undefined;
  /** Largest delay ceiling. @default 30000 */
  maxDelayMs?: number | undefined;
}

export interface UploadClientOptions {
  /** The tus creation URL (where `POST` creates uploads), e.g. `https://example.com/files/`. */
  endpoint: string;
  /** Sent with every request. */
  headers?: UploadHeaders | undefined;
  /** Bytes per `PATCH`. @default 8388608 (8 MiB) */
  chunkSize?: number | undefined;
  /**
   * Parts per file, uploaded at once as tus partial uploads and joined by a final concatenation.
   * Used only when the server lists `concatenation` in `Tus-Extension`; otherwise 1.
   * @default 1
   */
  parallel?: number | undefined;
  /** Files uploading at once across this client; later `upload()` calls wait in arrival order. @default 2 */
  concurrency?: number | undefined;
  /**
   * `Upload-Checksum` algorithm for every chunk (WebCrypto). Sent only when the server lists it in
   * `Tus-Checksum-Algorithm` and `crypto.subtle` exists (browsers: secure contexts only).
   * @default "sha256"
   */
  checksum?: "sha256" | "sha1" | false | undefined;
  retry?: RetryOptions | undefined;
  /**
   * Abort and retry a request that makes no progress for this long: no piece of the body taken by
   * the transport and no answer. When bodies are not streamed (browsers) it bounds a whole chunk's
   * request, so pick `chunkSize` accordingly. `0` disables the timer.
   * @default 30000
   */
  stallTimeoutMs?: number | undefined;
  /** Where unfinished uploads are remembered for resume. @default localStorage when available, else in memory */
  fingerprintStore?: FingerprintStore | undefined;
  /** @default globalThis.fetch */
  fetch?: typeof globalThis.fetch | undefined;
  /**
   * Send each chunk as a stream so the stall timer sees progress during the chunk. Needs a fetch
   * that accepts `ReadableStream` bodies over HTTP/1.1 (Node, Deno, Bun; not browsers).
   * @default true in Node, false elsewhere
   */
  streamBodies?: boolean | undefined;
}

export interface UploadOptions {
  /** `Upload-Metadata` of the upload (the final one for a parallel upload), e.g. `{ filename: "a.mp4" }`. */
  metadata?: Record<string, string> | undefined;
  /** Aborts like `handle.abort()`. */
  signal?: AbortSignal | undefined;
  /** Shorthand for `handle.on("progress", …)`. */
  onProgress?: ((progress: UploadProgress) => void) | undefined;
  /**
   * Identifies the content for resume, overriding the source's own (`File`s and `fileSource` have
   * one; `Blob`s and `Uint8Array`s do not). `false` turns resume off for this upload.
   */
  fingerprint?: string | false | undefined;
}

/** Bytes the server acknowledged, out of the total. */
export interface UploadProgress {
  bytesUploaded: number;
  bytesTotal: number;
}

export interface UploadResult {
  /** URL of the complete upload (the final upload for a parallel one). */
  url: string;
  /** Bytes uploaded in all. */
  size: number;
  /** Partial upload URLs, in order, for a parallel upload; empty otherwise. */
  parts: string[];
  /** Bytes already on the server when this upload started (0 unless it resumed). */
  resumedBytes: number;
}

/** Events of an upload handle. */
export interface UploadHandleEvents {
  /** The upload left the queue and its server state is known. */
  start: { parts: number; resumedBytes: number; bytesTotal: number };
  /** The server acknowledged more bytes (or, on resume, reported what it had). */
  progress: UploadProgress;
  /** A request failed in a retryable way; the next attempt starts after `delayMs`. */
  retry: { attempt: number; delayMs: number; error: Error };
  /** Something non-fatal went wrong, e.g. the fingerprint store failed (resume may not work). */
  warning: { message: string; cause: unknown };
}

export interface UploadHandle {
  /** Resolves once the whole upload is on the server; rejects with an `UploadError`. */
  readonly done: Promise<UploadResult>;
  /** Stop at once: in-flight requests are cancelled, `done` rejects with `ABORTED`, the resume record is kept. */
  abort(reason?: unknown): void;
  /** Subscribe; returns the unsubscribe function. A throwing listener is ignored. */
  on<E extends keyof UploadHandleEvents>(event: E, listener: (payload: UploadHandleEvents[E]) => void): () => void;
}

/** What the server advertised on `OPTIONS`. */
export interface ServerCapabilities {
  /** `Tus-Version`, empty when not advertised. */
  versions: string[];
  /** `Tus-Extension`. */
  extensions: string[];
  /** `Tus-Checksum-Algorithm`, lower-cased. */
  checksumAlgorithms: string[];
  /** `Tus-Max-Size`. */
  maxSize?: number | undefined;
}

export interface UploadClient {
  /**
   * Start uploading (or queue, past `concurrency`). Throws `INVALID_INPUT` at once for a bad source
   * or options; every later failure rejects `done`.
   */
  upload(source: UploadInput, options?: UploadOptions): UploadHandle;
  /** The server's capabilities: one `OPTIONS` per client, cached once it succeeds. */
  capabilities(signal?: AbortSignal): Promise<ServerCapabilities>;
}

/** The page's address in a browser; undefined elsewhere (Node needs absolute endpoints). */
const pageAddress = (): string | undefined => {
  const location = (globalThis as { location?: { href?: unknown } }).location;
  return typeof location?.href === "string" ? location.href : undefined;
};

const headersSchema = z.union([
  z.record(z.string(), z.string()),
  z.custom<() => Record<string, string>>((v) => typeof v === "function", "headers must be a record or a function"),
]);

const optionsSchema = z.object({
  // In a browser a relative endpoint ("/uploads/") is resolved against the page's address.
  endpoint: z
    .string()
    .transform((v) => {
      try {
        return new URL(v, pageAddress()).href;
      } catch {
        return v;
      }
    })
    .refine((v) => {
      try {
        const url = new URL(v);
        return url.protocol === "http:" || url.protocol === "https:";
      } catch {
        return false;
      }
    }, "endpoint must be an http(s) URL (relative URLs only in a page)"),
  headers: headersSchema.optional(),
  chunkSize: z
    .number()
    .int()
    .min(1)
    .max(2 ** 31 - 1)
    .default(8 * 1024 * 1024),
  parallel: z.number().int().min(1).max(64).default(1),
  concurrency: z.number().int().min(1).max(64).default(2),
  checksum: z.union([z.enum(["sha256", "sha1"]), z.literal(false)]).default("sha256"),
  retry: z
    .object({
      retries: z.number().int().min(0).max(1000).default(8),
      baseDelayMs: z.number().int().min(0).default(500),
      maxDelayMs: z.number().int().min(0).default(30_000),
    })
    .default({ retries: 8, baseDelayMs: 500, maxDelayMs: 30_000 }),
  stallTimeoutMs: z.number().int().min(0).default(30_000),
  fingerprintStore: z
    .custom<FingerprintStore>(
      (v) =>
        typeof v === "object" &&
        v !== null &&
        ["get", "set", "remove"].every((m) => typeof (v as Record<string, unknown>)[m] === "function"),
      "fingerprintStore must implement get, set and remove",
    )
    .optional(),
  fetch: z.custom<typeof globalThis.fetch>((v) => typeof v === "function", "fetch must be a function").optional(),
  streamBodies: z.boolean().optional(),
});

const uploadOptionsSchema = z.object({
  metadata: z
    .record(
      z.string().regex(/^[\x21-\x2b\x2d-\x7e]+$/, "metadata keys are printable ASCII without spaces or commas"),
      z.string(),
    )
    .optional(),
  signal: z.custom<AbortSignal>((v) => typeof AbortSignal !== "undefined" && v instanceof AbortSignal).optional(),
  onProgress: z
    .custom<(p: UploadProgress) => void>((v) => typeof v === "function", "onProgress must be a function")
    .optional(),
  fingerprint: z.union([z.string().min(1), z.literal(false)]).optional(),
});

const isNode = () =>
  typeof (globalThis as { process?: { versions?: { node?: unknown } } }).process?.versions?.node === "string";

function list(headers: Headers, name: string, lower = false): string[] {
  return (headers.get(name) ?? "")
    .split(",")
    .map((v) => (lower ? v.trim().toLowerCase() : v.trim()))
    .filter((v) => v !== "");
}

/** Split `size` bytes into `n` contiguous parts of near-equal size (at least one byte each). */
function splitParts(size: number, n: number): StoredPart[] {
  const count = Math.max(1, Math.min(n, size));
  const parts: StoredPart[] = [];
  for (let i = 0; i < count; i++)
    parts.push({ start: Math.floor((size * i) / count), end: Math.floor((size * (i + 1)) / count) });
  return parts;
}

/** A part being uploaded: its stored range and URL plus the server's offset (relative to the part). */
interface LivePart extends StoredPart {
  offset: number;
  /** The URL came from the fingerprint store and was not confirmed by a HEAD yet. */
  unconfirmed: boolean;
}

/**
 * A resumable tus 1.0 upload client for browsers and Node: chunked `PATCH`es with per-chunk
 * checksums, parallel parts through concatenation, retries with backoff, a stall timer, resume
 * through a fingerprint store, abort, progress, and a concurrency limit across files.
 */
export function createUploadClient(options: UploadClientOptions): UploadClient {
  const parsed = parseWith(optionsSchema, options, UploadErrorCode.INVALID_OPTIONS, "upload client options");
  const { endpoint, chunkSize, parallel, concurrency, retry } = parsed;
  const fetchFn = parsed.fetch ?? globalThis.fetch.bind(globalThis);
  const store = parsed.fingerprintStore ?? defaultFingerprintStore();
  const headerSource = parsed.headers;
  const ctx: RequestContext = {
    fetch: fetchFn,
    headers: async () =>
      headerSource === undefined ? {} : typeof headerSource === "function" ? await headerSource() : headerSource,
    stallTimeoutMs: parsed.stallTimeoutMs,
    streamBodies: parsed.streamBodies ?? isNode(),
  };

  // Capability discovery: one OPTIONS shared by every upload, retried like any request.
  let discovery: Promise<ServerCapabilities> | undefined;
  const discover = async (): Promise<ServerCapabilities> => {
    const never = new AbortController().signal;
    for (let attempt = 1; ; attempt++) {
      try {
        const response = await tusRequest(ctx, "OPTIONS", endpoint, {}, never);
        if (response.status >= 500) throw answerError("OPTIONS", endpoint, response);
        if (response.status >= 400) return { versions: [], extensions: [], checksumAlgorithms: [] };
        const maxSize = integerHeader(response.headers, "tus-max-size");
        return {
          versions: list(response.headers, "tus-version"),
          extensions: list(response.headers, "tus-extension", true),
          checksumAlgorithms: list(response.headers, "tus-checksum-algorithm", true),
          ...(maxSize !== undefined ? { maxSize } : {}),
        };
      } catch (error) {
        if (!(error instanceof RetryableError)) throw error;
        if (attempt > retry.retries) throw exhausted(error);
        await sleep(backoffDelay(attempt, retry.baseDelayMs, retry.maxDelayMs), never);
      }
    }
  };
  const capabilities = (signal?: AbortSignal): Promise<ServerCapabilities> => {
    discovery ??= discover().catch((error: unknown) => {
      discovery = undefined;
      throw error;
    });
    return signal === undefined ? discovery : raceAbort(discovery, signal);
  };

  // The concurrency limit across files: a FIFO of waiting uploads.
  let active = 0;
  const waiting: Array<() => void> = [];
  const acquire = (signal: AbortSignal): Promise<void> => {
    if (signal.aborted) return Promise.reject(abortError(signal));
    if (active < concurrency) {
      active++;
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => {
      const grant = () => {
        signal.removeEventListener("abort", onAbort);
        resolve();
      };
      const onAbort = () => {
        const at = waiting.indexOf(grant);
        if (at !== -1) waiting.splice(at, 1);
        reject(abortError(signal));
      };
      waiting.push(grant);
      signal.addEventListener("abort", onAbort, { once: true });
    });
  };
  const release = () => {
    const next = waiting.shift();
    if (next !== undefined) next();
    else active--;
  };

  return {
    capabilities,
    upload(input, uploadOptions = {}) {
      const source = toUploadSource(input);
      const opts = parseWith(uploadOptionsSchema, uploadOptions, UploadErrorCode.INVALID_INPUT, "upload options");
      const controller = new AbortController();
      const listeners = new Map<keyof UploadHandleEvents, Set<(payload: never) => void>>();
      const emit = <E extends keyof UploadHandleEvents>(event: E, payload: UploadHandleEvents[E]) => {
        for (const listener of listeners.get(event) ?? []) {
          try {
            (listener as (p: UploadHandleEvents[E]) => void)(payload);
          } catch {}
        }
      };
      const on = <E extends keyof UploadHandleEvents>(event: E, listener: (payload: UploadHandleEvents[E]) => void) => {
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
      };
      if (opts.onProgress !== undefined) on("progress", opts.onProgress);
      const userSignal = opts.signal;
      const onUserAbort = () => controller.abort(userSignal?.reason);
      if (userSignal?.aborted) controller.abort(userSignal.reason);
      else userSignal?.addEventListener("abort", onUserAbort, { once: true });

      const fingerprint = opts.fingerprint === false ? undefined : (opts.fingerprint ?? source.fingerprint);
      const job = new UploadJob({
        ctx,
        endpoint,
        chunkSize,
        parallel,
        checksum: parsed.checksum,
        retry,
        store,
        key: fingerprint === undefined ? undefined : `${endpoint} ${fingerprint}`,
        source,
        metadata: opts.metadata ?? {},
        signal: controller.signal,
        emit,
        capabilities,
      });

      const done = (async () => {
        try {
          await acquire(controller.signal);
          try {
            return await job.run();
          } finally {
            release();
          }
        } catch (error) {
          if (controller.signal.aborted) throw abortError(controller.signal);
          throw error;
        } finally {
          userSignal?.removeEventListener("abort", onUserAbort);
          try {
            await source.close?.();
          } catch {}
        }
      })();
      done.catch(() => {}); // an abort nobody awaits is not an unhandled rejection
      return {
        done,
        abort: (reason?: unknown) => controller.abort(reason ?? new Error("aborted")),
        on,
      };
    },
  };
}

function exhausted(error: Error): UploadError {
  return new UploadError(UploadErrorCode.RETRIES_EXHAUSTED, `gave up after repeated failures: ${error.message}`, {
    cause: error,
  });
}

interface JobOptions {
  ctx: RequestContext;
  endpoint: string;
  chunkSize: number;
  parallel: number;
  checksum: "sha256" | "sha1" | false;
  retry: { retries: number; baseDelayMs: number; maxDelayMs: number };
  store: FingerprintStore;
  key: string | undefined;
  source: UploadSource;
  metadata: Record<string, string>;
  signal: AbortSignal;
  emit: <E extends keyof UploadHandleEvents>(event: E, payload: UploadHandleEvents[E]) => void;
  capabilities: (signal?: AbortSignal) => Promise<ServerCapabilities>;
}

/** One file's upload, from resume lookup to the final URL. */
class UploadJob {
  private parts: LivePart[] = [];
  private concat = false;
  private createdAt = Date.now();
  private checksum: "sha256" | "sha1" | undefined;
  private reported = -1;
  private startEmitted = false;
  /** Bytes the server already had for the stored parts (their first HEAD). */
  private resumedBytes = 0;
  /** Serialises writes to the fingerprint store. */
  private saving: Promise<void> = Promise.resolve();

  constructor(private readonly o: JobOptions) {}

  async run(): Promise<UploadResult> {
    const { source, signal } = this.o;
    const caps = await this.o.capabilities(signal);
    if (caps.maxSize !== undefined && source.size > caps.maxSize)
      throw new UploadError(
        UploadErrorCode.TOO_LARGE,
        `the upload is ${source.size} bytes; the server accepts at most ${caps.maxSize} (Tus-Max-Size)`,
      );
    this.checksum =
      this.o.checksum !== false && caps.checksumAlgorithms.includes(this.o.checksum) ? this.o.checksum : undefined;

    const stored = await this.load();
    if (stored !== undefined) {
      this.concat = stored.concat;
      this.createdAt = stored.createdAt;
      this.parts = stored.parts.map((p) => ({ ...p, offset: 0, unconfirmed: p.url !== undefined }));
    } else {
      const n = caps.extensions.includes("concatenation") ? this.o.parallel : 1;
      const layout = splitParts(source.size, n);
      this.concat = layout.length > 1;
      this.parts = layout.map((p) => ({ ...p, offset: 0, unconfirmed: false }));
    }

    // Each part runs on its own; the first fatal failure stops the others.
    const siblings = new AbortController();
    const stop = () => siblings.abort(signal.reason);
    signal.addEventListener("abort", stop, { once: true });
    let firstError: unknown;
    let started = 0;
    const startedAll = () => {
      started++;
      if (started === this.parts.length) {
        this.o.emit("start", { parts: this.parts.length, resumedBytes: this.resumedBytes, bytesTotal: source.size });
        this.startEmitted = true;
        this.progress();
      }
    };
    try {
      await Promise.all(
        this.parts.map((part) =>
          this.drivePart(part, siblings.signal, startedAll).catch((error: unknown) => {
            if (firstError === undefined) {
              firstError = error;
              siblings.abort(error);
            }
          }),
        ),
      );
    } finally {
      signal.removeEventListener("abort", stop);
    }
    if (signal.aborted) throw abortError(signal);
    if (firstError !== undefined) {
      if (isUploadError(firstError) && firstError.code === UploadErrorCode.NOT_FOUND) await this.forget();
      throw firstError;
    }

    let url: string;
    if (this.concat) {
      url = await this.createFinal();
    } else {
      url = this.parts[0]?.url ?? "";
    }
    await this.forget();
    await this.saving;
    return {
      url,
      size: source.size,
      parts: this.concat ? this.parts.map((p) => p.url ?? "") : [],
      resumedBytes: this.resumedBytes,
    };
  }

  private acknowledged(): number {
    return this.parts.reduce((sum, p) => sum + p.offset, 0);
  }

  private progress() {
    // "start" comes first, even when one part is already sending while another is being created.
    if (!this.startEmitted) return;
    const bytesUploaded = this.acknowledged();
    if (bytesUploaded === this.reported) return;
    this.reported = bytesUploaded;
    this.o.emit("progress", { bytesUploaded, bytesTotal: this.o.source.size });
  }

  private warn(message: string, cause: unknown) {
    this.o.emit("warning", { message, cause });
  }

  /** The stored record for this fingerprint, if it is valid and matches the source size. */
  private async load(): Promise<StoredUpload | undefined> {
    const { key, store, source } = this.o;
    if (key === undefined) return undefined;
    let raw: unknown;
    try {
      raw = await store.get(key);
    } catch (error) {
      this.warn("the fingerprint store failed to read; starting a new upload", error);
      return undefined;
    }
    if (raw === undefined) return undefined;
    const record = storedUploadSchema.safeParse(raw);
    if (!record.success || record.data.size !== source.size) {
      await this.forget();
      return undefined;
    }
    return record.data as StoredUpload;
  }

  private save(): Promise<void> {
    const { key, store } = this.o;
    if (key === undefined) return Promise.resolve();
    const record: StoredUpload = {
      version: 1,
      size: this.o.source.size,
      concat: this.concat,
      parts: this.parts.map(({ start, end, url }) => (url === undefined ? { start, end } : { start, end, url })),
      createdAt: this.createdAt,
    };
    this.saving = this.saving.then(async () => {
      try {
        await store.set(key, record);
      } catch (error) {
        this.warn("the fingerprint store failed to write; this upload may not resume", error);
      }
    });
    return this.saving;
  }

  private forget(): Promise<void> {
    const { key, store } = this.o;
    if (key === undefined) return Promise.resolve();
    this.saving = this.saving.then(async () => {
      try {
        await store.remove(key);
      } catch (error) {
        this.warn("the fingerprint store failed to remove an entry", error);
      }
    });
    return this.saving;
  }

  /** Create (or confirm), then PATCH one part to its end, retrying with backoff. */
  private async drivePart(part: LivePart, signal: AbortSignal, started: () => void): Promise<void> {
    const { retry } = this.o;
    const length = part.end - part.start;
    let failures = 0;
    let needHead = part.url !== undefined;
    let isStarted = false;
    const markStarted = () => {
      if (!isStarted) {
        isStarted = true;
        started();
      }
    };
    for (;;) {
      if (signal.aborted) throw abortError(signal);
      try {
        if (part.url === undefined) {
          await this.createPart(part, signal);
          needHead = false;
          markStarted();
        } else if (needHead) {
          part.offset = await this.headPart(part, signal);
          if (part.unconfirmed) this.resumedBytes += part.offset;
          part.unconfirmed = false;
          needHead = false;
          markStarted();
          this.progress();
        } else if (part.offset < length) {
          const before = part.offset;
          part.offset = await this.patchChunk(part, signal);
          if (part.offset > before) failures = 0;
          this.progress();
        } else {
          return;
        }
      } catch (error) {
        if (signal.aborted) throw abortError(signal);
        if (isUploadError(error) && error.code === UploadErrorCode.NOT_FOUND && part.unconfirmed) {
          // The stored upload is gone (expired, removed): start this part over.
          part.url = undefined;
          part.offset = 0;
          part.unconfirmed = false;
          await this.save();
          continue;
        }
        if (!(error instanceof RetryableError)) throw error;
        failures++;
        if (failures > retry.retries) throw exhausted(error);
        let delayMs = 0;
        if (error.offset !== undefined && error.offset <= length && part.url !== undefined) {
          part.offset = error.offset; // 409 with the server's offset: no need to ask again
          this.progress();
        } else {
          if (part.url !== undefined) needHead = true;
          delayMs = backoffDelay(failures, retry.baseDelayMs, retry.maxDelayMs);
        }
        this.o.emit("retry", { attempt: failures, delayMs, error });
        await sleep(delayMs, signal);
      }
    }
  }

  private async createPart(part: LivePart, signal: AbortSignal): Promise<void> {
    const { endpoint, ctx } = this.o;
    const headers: Record<string, string> = { "Upload-Length": String(part.end - part.start) };
    if (this.concat) headers["Upload-Concat"] = "partial";
    else if (Object.keys(this.o.metadata).length > 0) headers["Upload-Metadata"] = encodeMetadata(this.o.metadata);
    const response = await tusRequest(ctx, "POST", endpoint, headers, signal);
    if (response.status !== 201 && response.status !== 200) throw answerError("POST", endpoint, response);
    part.url = this.location(response);
    part.offset = 0;
    part.unconfirmed = false;
    await this.save();
  }

  private location(response: TusResponse): string {
    const location = response.headers.get("location");
    if (location === null || location === "")
      throw new UploadError(UploadErrorCode.PROTOCOL_ERROR, `POST ${this.o.endpoint} answered without a Location`);
    try {
      return new URL(location, this.o.endpoint).href;
    } catch (cause) {
      throw new UploadError(UploadErrorCode.PROTOCOL_ERROR, `invalid Location ${location}`, { cause });
    }
  }

  private async headPart(part: LivePart, signal: AbortSignal): Promise<number> {
    const url = part.url ?? "";
    const response = await tusRequest(this.o.ctx, "HEAD", url, {}, signal);
    if (response.status !== 200 && response.status !== 204) throw answerError("HEAD", url, response);
    const offset = integerHeader(response.headers, "upload-offset");
    const length = integerHeader(response.headers, "upload-length");
    const expected = part.end - part.start;
    if (offset === undefined || offset > expected)
      throw new UploadError(UploadErrorCode.PROTOCOL_ERROR, `HEAD ${url}: missing or impossible Upload-Offset`);
    if (length !== undefined && length !== expected) {
      // Not the upload we remember (a stale record): forget it like a missing upload.
      throw new UploadError(UploadErrorCode.NOT_FOUND, `HEAD ${url}: Upload-Length ${length}, expected ${expected}`);
    }
    return offset;
  }

  private async patchChunk(part: LivePart, signal: AbortSignal): Promise<number> {
    const url = part.url ?? "";
    const length = part.end - part.start;
    const from = part.offset;
    const to = Math.min(length, from + this.o.chunkSize);
    const bytes = await readSlice(this.o.source, part.start + from, part.start + to);
    const headers: Record<string, string> = { "Upload-Offset": String(from), "Content-Type": OFFSET_TYPE };
    if (this.checksum !== undefined) {
      const value = await checksumHeader(this.checksum, bytes);
      if (value !== undefined) headers["Upload-Checksum"] = value;
    }
    const response = await tusRequest(this.o.ctx, "PATCH", url, headers, signal, bytes);
    if (response.status !== 204 && response.status !== 200) throw answerError("PATCH", url, response);
    const offset = integerHeader(response.headers, "upload-offset");
    if (offset === undefined || offset < from || offset > length)
      throw new UploadError(
        UploadErrorCode.PROTOCOL_ERROR,
        `PATCH ${url}: Upload-Offset ${response.headers.get("upload-offset")} is outside ${from}-${length}`,
      );
    return offset;
  }

  /** `POST` the final concatenation of the parts, retrying transient failures. */
  private async createFinal(): Promise<string> {
    const { endpoint, ctx, signal, retry } = this.o;
    const headers: Record<string, string> = {
      "Upload-Concat": `final;${this.parts.map((p) => p.url ?? "").join(" ")}`,
    };
    if (Object.keys(this.o.metadata).length > 0) headers["Upload-Metadata"] = encodeMetadata(this.o.metadata);
    for (let attempt = 1; ; attempt++) {
      try {
        const response = await tusRequest(ctx, "POST", endpoint, headers, signal);
        if (response.status !== 201 && response.status !== 200) throw answerError("POST", endpoint, response);
        return this.location(response);
      } catch (error) {
        if (signal.aborted) throw abortError(signal);
        if (!(error instanceof RetryableError)) throw error;
        if (attempt > retry.retries) throw exhausted(error);
        const delayMs = backoffDelay(attempt, retry.baseDelayMs, retry.maxDelayMs);
        this.o.emit("retry", { attempt, delayMs, error });
        await sleep(delayMs, signal);
      }
    }
  }
}
