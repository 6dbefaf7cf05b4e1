/** Stable error codes: match on `error.code`, never on the message. */
export const UploadErrorCode = {
  /** Options passed to a factory or adapter failed validation. */
  INVALID_OPTIONS: "INVALID_OPTIONS",
  /** An argument to a method failed validation; nothing was changed. */
  INVALID_INPUT: "INVALID_INPUT",
  /** The upload stayed locked by another request for longer than the lock timeout. */
  LOCK_TIMEOUT: "LOCK_TIMEOUT",
  /** A backend (file system, Redis) failed; the cause is attached. */
  BACKEND_FAILED: "BACKEND_FAILED",
  /** No upload with that id exists (never created, terminated, or swept). */
  NOT_FOUND: "NOT_FOUND",
  /** An append started at an offset other than the upload's current offset; nothing was written. */
  OFFSET_MISMATCH: "OFFSET_MISMATCH",
  /** More bytes were sent than the upload's length (or the size limit) allows; the excess was not stored. */
  SIZE_EXCEEDED: "SIZE_EXCEEDED",
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
