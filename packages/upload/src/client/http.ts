// Transport helpers for the client: no Node built-ins, only fetch, streams, timers and WebCrypto.
import { UploadError, UploadErrorCode } from "../errors.js";

export const TUS_VERSION = "1.0.0";
export const OFFSET_TYPE = "application/offset+octet-stream";

const BASE64_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/** Standard base64 with padding (no `Buffer`, no `btoa`: the same in every runtime). */
export function toBase64(bytes: Uint8Array): string {
  let out = "";
  let i = 0;
  for (; i + 2 < bytes.length; i += 3) {
    const n = ((bytes[i] ?? 0) << 16) | ((bytes[i + 1] ?? 0) << 8) | (bytes[i + 2] ?? 0);
    out += `${BASE64_ALPHABET[n >>> 18]}${BASE64_ALPHABET[(n >>> 12) & 63]}${BASE64_ALPHABET[(n >>> 6) & 63]}${BASE64_ALPHABET[n & 63]}`;
  }
  const rest = bytes.length - i;
  if (rest === 1) {
    const n = (bytes[i] ?? 0) << 16;
    out += `${BASE64_ALPHABET[n >>> 18]}${BASE64_ALPHABET[(n >>> 12) & 63]}==`;
  } else if (rest === 2) {
    const n = ((bytes[i] ?? 0) << 16) | ((bytes[i + 1] ?? 0) << 8);
    out += `${BASE64_ALPHABET[n >>> 18]}${BASE64_ALPHABET[(n >>> 12) & 63]}${BASE64_ALPHABET[(n >>> 6) & 63]}=`;
  }
  return out;
}

/** `Upload-Metadata`: `key base64(utf8 value)` pairs joined by commas. */
export function encodeMetadata(metadata: Record<string, string>): string {
  const encoder = new TextEncoder();
  return Object.entries(metadata)
    .map(([key, value]) => (value === "" ? key : `${key} ${toBase64(encoder.encode(value))}`))
    .join(",");
}

/** A failure worth retrying after a backoff: network error, stall, or a 409/423/460/5xx answer. */
export class RetryableError extends Error {
  constructor(
    message: string,
    /** HTTP status, when the server answered. */
    readonly status?: number,
    /** The server's offset when it told us (409 with `Upload-Offset`). */
    readonly offset?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "RetryableError";
  }
}

export function abortError(signal: AbortSignal): UploadError {
  return new UploadError(UploadErrorCode.ABORTED, "upload aborted", { cause: signal.reason });
}

/** Resolve after `ms`, or reject with `ABORTED` as soon as `signal` aborts. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(abortError(signal));
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(abortError(signal));
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

/** Settle like `promise`, or reject with `ABORTED` as soon as `signal` aborts (the promise runs on). */
export function raceAbort<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(abortError(signal));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(abortError(signal));
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(error);
      },
    );
  });
}

/** Exponential backoff with full jitter: uniform in `[0, min(max, base · 2^(attempt-1))]`. */
export function backoffDelay(attempt: number, baseDelayMs: number, maxDelayMs: number): number {
  const ceiling = Math.min(maxDelayMs, baseDelayMs * 2 ** Math.max(0, attempt - 1));
  return Math.floor(Math.random() * ceiling);
}

const INTEGER = /^(?:0|[1-9][0-9]{0,15})$/;

/** A non-negative safe integer header, or `undefined` when missing or malformed. */
export function integerHeader(headers: Headers, name: string): number | undefined {
  const value = headers.get(name)?.trim();
  if (value === undefined || !INTEGER.test(value)) return undefined;
  const n = Number(value);
  return Number.isSafeInteger(n) ? n : undefined;
}

export interface TusResponse {
  status: number;
  headers: Headers;
  /** The response body as text, cut to 1 000 characters (error messages). */
  body: string;
}

export interface RequestContext {
  fetch: typeof globalThis.fetch;
  headers: () => Promise<Record<string, string>>;
  /** 0 disables the stall timer. */
  stallTimeoutMs: number;
  /** Stream PATCH bodies so the stall timer sees progress while a chunk is sent. */
  streamBodies: boolean;
}

/** Bytes handed to the transport at a time when streaming a chunk. */
const PIECE = 64 * 1024;

/**
 * One HTTP request with the tus headers, the caller's headers and a stall timer: the timer restarts
 * whenever a piece of the body is taken by the transport and when the answer arrives, and aborts
 * the request when it runs out. Network errors and stalls throw {@link RetryableError}; an abort of
 * `signal` throws `ABORTED`.
 */
export async function tusRequest(
  ctx: RequestContext,
  method: string,
  url: string,
  headers: Record<string, string>,
  signal: AbortSignal,
  body?: Uint8Array,
): Promise<TusResponse> {
  if (signal.aborted) throw abortError(signal);
  const controller = new AbortController();
  let stalled = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const arm = () => {
    if (ctx.stallTimeoutMs === 0) return;
    clearTimeout(timer);
    timer = setTimeout(() => {
      stalled = true;
      controller.abort(new Error(`no progress for ${ctx.stallTimeoutMs} ms`));
    }, ctx.stallTimeoutMs);
  };
  const onAbort = () => controller.abort(signal.reason);
  signal.addEventListener("abort", onAbort, { once: true });
  try {
    const all: Record<string, string> = { ...(await ctx.headers()), "Tus-Resumable": TUS_VERSION, ...headers };
    if (signal.aborted) throw abortError(signal);
    const init: RequestInit & { duplex?: "half" } = { method, headers: all, signal: controller.signal };
    if (body !== undefined) {
      if (ctx.streamBodies && body.byteLength > 0) {
        let at = 0;
        all["Content-Length"] = String(body.byteLength);
        init.body = new ReadableStream<Uint8Array>({
          pull(stream) {
            arm();
            if (at >= body.byteLength) {
              stream.close();
              return;
            }
            const end = Math.min(at + PIECE, body.byteLength);
            stream.enqueue(body.subarray(at, end));
            at = end;
          },
        });
        init.duplex = "half";
      } else {
        init.body = body as Uint8Array<ArrayBuffer>;
      }
    }
    arm();
    const response = await ctx.fetch(url, init);
    arm();
    const text = method === "HEAD" || response.body === null ? "" : await response.text();
    return { status: response.status, headers: response.headers, body: text.slice(0, 1000) };
  } catch (error) {
    if (signal.aborted) throw abortError(signal);
    if (error instanceof UploadError) throw error;
    if (stalled)
      throw new RetryableError(`${method} ${url}: no progress for ${ctx.stallTimeoutMs} ms`, undefined, undefined, {
        cause: error,
      });
    throw new RetryableError(
      `${method} ${url}: ${error instanceof Error ? error.message : String(error)}`,
      undefined,
      undefined,
      {
        cause: error,
      },
    );
  } finally {
    clearTimeout(timer);
    signal.removeEventListener("abort", onAbort);
  }
}

/**
 * Turn an unexpected answer into the right error: 409 (with the server's offset when given),
 * 408/423/429/460/5xx → retryable; 404/410 → `NOT_FOUND`; 413 → `TOO_LARGE`; any other → `REQUEST_REJECTED`.
 */
export function answerError(method: string, url: string, response: TusResponse): Error {
  const { status } = response;
  const what = `${method} ${url} answered ${status}${response.body !== "" ? `: ${response.body.trim()}` : ""}`;
  if (status === 409) return new RetryableError(what, status, integerHeader(response.headers, "upload-offset"));
  if (status === 408 || status === 423 || status === 429 || status === 460 || status >= 500)
    return new RetryableError(what, status);
  const cause = { status, method, url, body: response.body };
  if (status === 404 || status === 410) return new UploadError(UploadErrorCode.NOT_FOUND, what, { cause });
  if (status === 413) return new UploadError(UploadErrorCode.TOO_LARGE, what, { cause });
  return new UploadError(UploadErrorCode.REQUEST_REJECTED, what, { cause });
}

const DIGESTS = { sha256: "SHA-256", sha1: "SHA-1" } as const;

/** `Upload-Checksum` value (`<alg> <base64 digest>`) through WebCrypto, or `undefined` without `crypto.subtle`. */
export async function checksumHeader(algorithm: "sha256" | "sha1", bytes: Uint8Array): Promise<string | undefined> {
  const subtle = (globalThis as { crypto?: Partial<Pick<typeof globalThis.crypto, "subtle">> }).crypto?.subtle;
  if (subtle === undefined) return undefined;
  const digest = await subtle.digest(DIGESTS[algorithm], bytes as Uint8Array<ArrayBuffer>);
  return `${algorithm} ${toBase64(new Uint8Array(digest))}`;
}
