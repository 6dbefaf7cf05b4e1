/** Stable error codes: match on `error.code`, never on the message. */
export const EngagementErrorCode = {
  /** Options passed to a factory or adapter failed validation. */
  INVALID_OPTIONS: "INVALID_OPTIONS",
  /** An argument to a method failed validation; nothing was stored. */
  INVALID_INPUT: "INVALID_INPUT",
  /** A backend (Redis, Kafka, Cassandra) failed; the cause is attached. */
  BACKEND_FAILED: "BACKEND_FAILED",
  /** The event journal has a damaged entry before its last line; nothing was replayed past it. */
  JOURNAL_CORRUPT: "JOURNAL_CORRUPT",
  /** The instance was closed. */
  CLOSED: "CLOSED",
} as const;

export type EngagementErrorCode = (typeof EngagementErrorCode)[keyof typeof EngagementErrorCode];

/** The one error type `@reelkit/engagement` throws. */
export class EngagementError extends Error {
  override readonly name = "EngagementError";
  readonly code: EngagementErrorCode;

  constructor(code: EngagementErrorCode, message: string, options?: { cause?: unknown }) {
    super(`[@reelkit/engagement] ${message}`, options);
    this.code = code;
  }
}

export function isEngagementError(error: unknown): error is EngagementError {
  return error instanceof EngagementError;
}

/** Run backend I/O; a driver failure becomes `BACKEND_FAILED` with the driver's error as `cause`. */
export async function withBackend<T>(engine: string, what: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (cause) {
    if (cause instanceof EngagementError) throw cause;
    throw new EngagementError(EngagementErrorCode.BACKEND_FAILED, `[${engine}] ${what} failed`, { cause });
  }
}
