/** Stable error codes: match on `error.code`, never on the message. */
export const PlayerErrorCode = {
  /** An attribute or option failed validation. */
  INVALID_OPTIONS: "INVALID_OPTIONS",
  /** The stream's playlists or segments could not be loaded (after retries). */
  NETWORK_ERROR: "NETWORK_ERROR",
  /** The browser could not decode the media (after recovery attempts). */
  MEDIA_ERROR: "MEDIA_ERROR",
  /** A playlist could not be parsed or lists nothing playable. */
  MANIFEST_ERROR: "MANIFEST_ERROR",
  /** Neither Media Source Extensions (hls.js) nor native HLS is available. */
  UNSUPPORTED: "UNSUPPORTED",
  /** The browser refused to start playback, even muted. */
  AUTOPLAY_BLOCKED: "AUTOPLAY_BLOCKED",
  /** The feed endpoint failed or answered something other than `{ items, cursor }`. */
  FEED_ERROR: "FEED_ERROR",
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
