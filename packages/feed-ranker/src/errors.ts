/** Stable error codes: match on `error.code`, never on the message. */
export const FeedRankerErrorCode = {
  /** Options passed to a factory or adapter failed validation. */
  INVALID_OPTIONS: "INVALID_OPTIONS",
  /** An argument to a method failed validation. */
  INVALID_INPUT: "INVALID_INPUT",
  /** A cursor was altered, forged with another secret, or issued to another user. */
  CURSOR_INVALID: "CURSOR_INVALID",
  /** A cursor is older than its time to live: start a new feed without a cursor. */
  CURSOR_EXPIRED: "CURSOR_EXPIRED",
  /** A state or signals backend (e.g. Redis) failed; the cause is attached. */
  BACKEND_FAILED: "BACKEND_FAILED",
  /** An evaluation data file could not be read or parsed. */
  DATA_INVALID: "DATA_INVALID",
} as const;

export type FeedRankerErrorCode = (typeof FeedRankerErrorCode)[keyof typeof FeedRankerErrorCode];

/** The one error type `@reelkit/feed-ranker` throws. */
export class FeedRankerError extends Error {
  override readonly name = "FeedRankerError";
  readonly code: FeedRankerErrorCode;

  constructor(code: FeedRankerErrorCode, message: string, options?: { cause?: unknown }) {
    super(`[@reelkit/feed-ranker] ${message}`, options);
    this.code = code;
  }
}

export function isFeedRankerError(error: unknown): error is FeedRankerError {
  return error instanceof FeedRankerError;
}
