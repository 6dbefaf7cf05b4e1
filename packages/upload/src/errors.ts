/** Stable error codes: match on `error.code`, never on the message. */
export const UploadErrorCode = {
  /** Options passed to a factory or adapter failed validation. */
  INVALID_OPTIONS: "INVALID_OPTIONS",
  /** An argument to a method failed validation; nothing was changed. */
  INVALID_INPUT: "INVALID_INPUT",
  /** The upload stayed locked by another request for longer than the lock timeout. */
  LOCK_TIMEOUT: "LOCK_TIMEOUT",
  /**
   * Reason a held lock's `signal` aborts when another request asked for the upload
   * (`acquire(id, { requestRelease: true })`): stop at a durable offset and release.
   */
  LOCK_RELEASE_REQUESTED: "LOCK_RELEASE_REQUESTED",
  /** Reason a held lock's `signal` aborts when its lease expired or renewing it failed. */
  LOCK_LOST: "LOCK_LOST",
  /** A backend (file system, Redis) failed; the cause is attached. */
  BACKEND_FAILED: "BACKEND_FAILED",
  /** No upload with that id exists (never created, terminated, or swept). */
  NOT_FOUND: "NOT_FOUND",
  /** An append started at an offset other than the upload's current offset; nothing was written. */
  OFFSET_MISMATCH: "OFFSET_MISMATCH",
  /** More bytes were sent than the upload's length (or the size limit) allows; the excess was not stored. */
  SIZE_EXCEEDED: "SIZE_EXCEEDED",
  /** An append's `verify` refused the bytes (a chunk's `Upload-Checksum` did not match); none were kept. */
  CHECKSUM_MISMATCH: "CHECKSUM_MISMATCH",
  /** Client: the upload was aborted (`abort()` or its signal); acknowledged bytes stay on the server for a resume. */
  ABORTED: "ABORTED",
  /** Client: the upload is larger than the server's `Tus-Max-Size` (checked before sending) or the server answered 413. */
  TOO_LARGE: "TOO_LARGE",
  /**
   * Client: the server refused a request with a status that retrying cannot fix (a 4xx other than
   * 404, 409, 410, 413, 423, 460); `cause` is `{ status, method, url, body }`.
   */
  REQUEST_REJECTED: "REQUEST_REJECTED",
  /** Client: requests kept failing (network, stall, 409, 423, 460, 5xx) past `retry.retries`; the last failure is the cause. */
  RETRIES_EXHAUSTED: "RETRIES_EXHAUSTED",
  /** Client: the server's answer broke the tus protocol (no `Location`, a missing or impossible `Upload-Offset`). */
  PROTOCOL_ERROR: "PROTOCOL_ERROR",
  /** Client: reading the upload source failed or returned the wrong number of bytes; the cause is attached. */
  SOURCE_FAILED: "SOURCE_FAILED",
} as const;

export type UploadErrorCode = (typeof UploadErrorCode)[keyof typeof UploadErrorCode];

/** The one error type `@reelkit/upload` throws. */
export class UploadError extends Error {
  override readonly name = "UploadError";
  readonly code: UploadErrorCode;

  constructor(code: UploadErrorCode, message: string, options?: { cause?: unknown }) {
    super(`[@reelkit/upload] ${message}`, options);
    this.code = code;
  }
}

export function isUploadError(error: unknown): error is UploadError {
  return error instanceof UploadError;
}
