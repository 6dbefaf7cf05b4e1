/** Stable error codes: match on `error.code`, never on the message. */
export const PlayerErrorCode = {
  /** An attribute or option failed validation. */
  INVALID_OPTIONS: "INVALID_OPTIONS",
} as const;

export type PlayerErrorCode = (typeof PlayerErrorCode)[keyof typeof PlayerErrorCode];

/** The one error type `@reelkit/player` throws. */
export class PlayerError extends Error {
  override readonly name = "PlayerError";
  readonly code: PlayerErrorCode;

  constructor(code: PlayerErrorCode, message: string, options?: { cause?: unknown }) {
    super(`[@reelkit/player] ${message}`, options);
    this.code = code;
  }
}

export function isPlayerError(error: unknown): error is PlayerError {
  return error instanceof PlayerError;
}
