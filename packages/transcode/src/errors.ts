/** Stable error codes: match on `error.code`, never on the message. */
export const TranscodeErrorCode = {
  /** Options passed to a function failed validation. */
  INVALID_OPTIONS: "INVALID_OPTIONS",
  /** An argument failed validation; nothing was written. */
  INVALID_INPUT: "INVALID_INPUT",
} as const;

export type TranscodeErrorCode = (typeof TranscodeErrorCode)[keyof typeof TranscodeErrorCode];

/** The one error type `@reelkit/transcode` throws. */
export class TranscodeError extends Error {
  override readonly name = "TranscodeError";
  readonly code: TranscodeErrorCode;

  constructor(code: TranscodeErrorCode, message: string, options?: { cause?: unknown }) {
    super(`[@reelkit/transcode] ${message}`, options);
    this.code = code;
  }
}

export function isTranscodeError(error: unknown): error is TranscodeError {
  return error instanceof TranscodeError;
}
