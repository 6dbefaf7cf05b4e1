/** Stable error codes: match on `error.code`, never on the message. The CLI prints `CODE: message`. */
export const TranscodeErrorCode = {
  /** Options passed to a function failed validation. */
  INVALID_OPTIONS: "INVALID_OPTIONS",
  /** An argument failed validation; nothing was written. */
  INVALID_INPUT: "INVALID_INPUT",
  /** The input file does not exist or cannot be read. */
  INPUT_NOT_FOUND: "INPUT_NOT_FOUND",
  /** The input is zero bytes long. */
  EMPTY_FILE: "EMPTY_FILE",
  /** The input is not a media file ffprobe can read. */
  NOT_MEDIA: "NOT_MEDIA",
  /** The input is cut short: its streams end before its header says, or decoding fails mid-way. */
  TRUNCATED: "TRUNCATED",
  /** The input has no video stream. */
  NO_VIDEO: "NO_VIDEO",
  /** The input has audio and no video. */
  AUDIO_ONLY: "AUDIO_ONLY",
  /** The input is longer than the configured `maxDurationMs`. */
  TOO_LONG: "TOO_LONG",
  /** The input (bytes or pixels) is larger than the configured limits. */
  TOO_LARGE: "TOO_LARGE",
  /** ffmpeg or ffprobe is missing, too old, or lacks an encoder or filter we need. */
  FFMPEG_MISSING: "FFMPEG_MISSING",
  /** ffmpeg failed; the message ends with the tail of its stderr. */
  FFMPEG_FAILED: "FFMPEG_FAILED",
  /** The job was aborted through its signal; nothing was published. */
  ABORTED: "ABORTED",
  /** The output folder exists already (pass `force` to replace it atomically). */
  OUTPUT_EXISTS: "OUTPUT_EXISTS",
  /** The job queue's backend (Redis) failed; the driver's error is the cause. */
  BACKEND_FAILED: "BACKEND_FAILED",
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
