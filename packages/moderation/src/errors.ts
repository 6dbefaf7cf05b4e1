/** Stable error codes: match on `error.code`, never on the message. */
export const ModerationErrorCode = {
  /** Options passed to a factory or adapter failed validation. */
  INVALID_OPTIONS: "INVALID_OPTIONS",
  /** An argument to a method failed validation; nothing was recorded. */
  INVALID_INPUT: "INVALID_INPUT",
  /** Review queue: no item has that id. */
  NOT_FOUND: "NOT_FOUND",
  /** Review queue: the item's status does not allow that step (e.g. appealing an item not yet actioned). */
  INVALID_TRANSITION: "INVALID_TRANSITION",
  /** Review queue: only the reviewer holding the item's claim may do that. */
  NOT_CLAIMANT: "NOT_CLAIMANT",
  /** Review queue: the reviewer's claim expired; the item went back to the queue. */
  LEASE_EXPIRED: "LEASE_EXPIRED",
  /** Review queue: another reviewer holds the item's claim. */
  ALREADY_CLAIMED: "ALREADY_CLAIMED",
  /** Review queue: an appeal must be decided by a reviewer other than the one who actioned the item. */
  SAME_REVIEWER: "SAME_REVIEWER",
  /** Review queue: the item kept changing under the call (heavy contention); retry it. */
  CONFLICT: "CONFLICT",
  /** A backend (Redis) failed; the cause is attached. The step may or may not have been applied. */
  BACKEND_FAILED: "BACKEND_FAILED",
  /** Hash bank: a CSV row has no valid PDQ hash (or bad quoting); the message names the line. */
  INVALID_HASH_BANK: "INVALID_HASH_BANK",
  /** Video hashing: ffmpeg could not be started (not installed, or a wrong `ffmpegPath`). */
  FFMPEG_MISSING: "FFMPEG_MISSING",
  /** Video hashing: ffmpeg could not decode the file (its last stderr lines are in the message). */
  DECODE_FAILED: "DECODE_FAILED",
  /** Video hashing: the caller's `signal` aborted it; ffmpeg was stopped. */
  ABORTED: "ABORTED",
  /** Moderation: a check threw or returned malformed signals (recorded in the decision's `failures`, not thrown). */
  CHECK_FAILED: "CHECK_FAILED",
  /** Moderation: a check did not answer within its timeout (recorded in the decision's `failures`). */
  CHECK_TIMEOUT: "CHECK_TIMEOUT",
  /** HTTP classifier: the service answered with an error status or a body that is not the expected JSON. */
  CLASSIFIER_FAILED: "CLASSIFIER_FAILED",
} as const;

export type ModerationErrorCode = (typeof ModerationErrorCode)[keyof typeof ModerationErrorCode];

/** The one error type `@reelkit/moderation` throws. */
export class ModerationError extends Error {
  override readonly name = "ModerationError";
  readonly code: ModerationErrorCode;

  constructor(code: ModerationErrorCode, message: string, options?: { cause?: unknown }) {
    super(`[@reelkit/moderation] ${message}`, options);
    this.code = code;
  }
}

export function isModerationError(error: unknown): error is ModerationError {
  return error instanceof ModerationError;
}
