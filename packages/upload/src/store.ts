import { randomBytes } from "node:crypto";
import type { Readable } from "node:stream";

/** Upload metadata as sent in `Upload-Metadata`: decoded UTF-8 values, `null` for a key sent without a value. */
export type UploadMetadata = Record<string, string | null>;

/**
 * tus concatenation: a `partial` upload is one piece of a parallel upload; a `final` upload is the
 * concatenation of complete partials (by id, in order), created complete.
 */
export type UploadConcat = { type: "partial" } | { type: "final"; parts: string[] };

/** What a store knows about one upload. */
export interface UploadInfo {
  id: string;
  /** Bytes durably stored so far. */
  offset: number;
  /** Total length in bytes; `undefined` while deferred (`Upload-Defer-Length: 1`). */
  length?: number | undefined;
  metadata: UploadMetadata;
  /** Epoch ms. */
  createdAt: number;
  /** Epoch ms after which an incomplete upload is expired; `undefined` never expires. */
  expiresAt?: number | undefined;
  /** Hex SHA-256 of the whole file, set once the upload is complete. */
  sha256?: string | undefined;
  /** Set for tus concatenation uploads; `undefined` for ordinary ones. */
  concat?: UploadConcat | undefined;
}

export interface NewUpload {
  /** A server-generated id (see `generateUploadId`); stores reject anything `isValidUploadId` refuses. */
  id: string;
  length?: number | undefined;
  metadata: UploadMetadata;
  expiresAt?: number | undefined;
  /**
   * `{ type: "partial" }` marks a partial upload. `{ type: "final", parts }` creates the upload
   * complete from its parts' bytes (each part must be a complete partial upload, else `NOT_FOUND` /
   * `INVALID_INPUT`): the data is written and made durable before the metadata records it, and
   * `length` is ignored (the sum of the parts' lengths).
   */
  concat?: UploadConcat | undefined;
}

export interface UploadChanges {
  length?: number | undefined;
  sha256?: string | undefined;
  expiresAt?: number | undefined;
}

export interface AppendOptions {
  /** Stop reading at once when aborted; the bytes already durable are kept and their offset reported. */
  signal?: AbortSignal | undefined;
  /**
   * Most bytes this append may store. A source that sends more fails with `SIZE_EXCEEDED` after the
   * allowed bytes were stored durably.
   * @default Infinity
   */
  maxBytes?: number | undefined;
  /**
   * Fed every byte the append writes, in file order, as it is written (e.g. a running hash). If
   * the append then reports fewer bytes than were fed (a failed write), the digest is stale.
   */
  digest?: { update(chunk: Uint8Array): void } | undefined;
  /** A new expiry recorded together with the new offset (one metadata write instead of two). */
  expiresAt?: number | undefined;
  /**
   * Only for stores with `verifiesAppends`: called once the source ended and every byte it sent
   * landed, before anything is made durable or recorded. When it answers false — or the source did
   * not end normally (failed, aborted, too long), so nothing can be verified — the bytes are cut
   * off and the offset stays; a false answer fails with `CHECKSUM_MISMATCH`. This is how a
   * checksummed chunk is written once, straight to its place, and still never kept unverified.
   */
  verify?: (() => boolean) | undefined;
  /**
   * The upload as the caller just read it while holding its lock; saves the store a read. Its
   * `offset` must be the current one.
   */
  current?: UploadInfo | undefined;
}

/** An inclusive byte range, as in HTTP `Range`. */
export interface ByteRange {
  start: number;
  end: number;
}

/**
 * Port: where upload bytes and metadata live. Callers hold the upload's lock (`Locker`) around
 * every mutating call; a store does not serialise writers itself.
 *
 * Durability rule: `append` resolves (and `info` reports) an offset only once those bytes are
 * durable, so a crash at any moment never loses an acknowledged byte.
 */
export interface UploadStore {
  /**
   * Create an empty upload (or, for a final concatenation, a complete one). Fails with
   * `INVALID_INPUT` on a bad id or an id already taken.
   */
  create(upload: NewUpload): Promise<UploadInfo>;
  /** The upload, or `undefined` when there is none (bad ids included). */
  info(id: string): Promise<UploadInfo | undefined>;
  /** Change the length (defer-length), the final hash or the expiry. `NOT_FOUND` when missing. */
  update(id: string, changes: UploadChanges): Promise<UploadInfo>;
  /**
   * Stream `source` onto the upload starting at `offset` (which must equal the current offset, else
   * `OFFSET_MISMATCH`), without holding whole chunks in memory. Resolves the new durable offset; a
   * source that ends early (client dropped, signal aborted) keeps what was durably written.
   */
  append(id: string, offset: number, source: Readable, options?: AppendOptions): Promise<number>;
  /** Stream stored bytes (all of them, or an inclusive range within the stored offset). */
  read(id: string, range?: ByteRange): Promise<Readable>;
  /** Delete the upload's bytes and metadata. Resolves quietly when there is nothing to delete. */
  remove(id: string): Promise<void>;
  /** Every upload, in no particular order (used by expiry sweeps). */
  list(): AsyncIterable<UploadInfo>;
  /**
   * Optional: the local file holding an upload's bytes, for stores that keep them in one file whose
   * durable prefix never changes. The server then hashes the durable bytes from that file on its
   * hash worker instead of copying every chunk off the event loop.
   */
  localPath?(id: string): string;
  /**
   * Optional: true when `append` honours `AppendOptions.verify`. Without it the server stages a
   * checksummed chunk in a temp file, verifies it, and only then appends it (two writes).
   */
  readonly verifiesAppends?: boolean;
}

/** Upload ids are 22 base64url characters from 16 random bytes; the pattern admits 16–64 base64url chars. */
const UPLOAD_ID = /^[A-Za-z0-9_-]{16,64}$/;

/** A fresh, unguessable upload id (128 random bits, base64url). Never derived from client input. */
export function generateUploadId(): string {
  return randomBytes(16).toString("base64url");
}

/** Whether `id` is safe to use as a file or key name: no dots, slashes or other path syntax. */
export function isValidUploadId(id: unknown): id is string {
  return typeof id === "string" && UPLOAD_ID.test(id);
}
