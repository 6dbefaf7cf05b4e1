/** Stable error codes: match on `error.code`, never on the message. */
export const ModerationErrorCode = {
  /** Options passed to a factory or adapter failed validation. */
  INVALID_OPTIONS: "INVALID_OPTIONS",
  /** An argument to a method failed validation; nothing was recorded. */
  INVALID_INPUT: "INVALID_INPUT",
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
