/** A held lock on one upload. */
export interface Lock {
  /**
   * Aborted when the holder must stop writing at once: another request asked for the upload
   * (reason: an `UploadError` with code `LOCK_RELEASE_REQUESTED`; stop at a durable offset, then
   * `release()`), or the lock was lost (code `LOCK_LOST`: its lease expired or could not be renewed).
   */
  readonly signal: AbortSignal;
  /** Give the lock up. Safe to call more than once, and after the lock was lost. */
  release(): Promise<void>;
}

export interface AcquireOptions {
  /**
   * How long to wait for a lock another request holds before failing with `LOCK_TIMEOUT`.
   * @default 3000
   */
  timeoutMs?: number;
  /**
   * Ask the current holder to release (its `signal` aborts with `LOCK_RELEASE_REQUESTED`), so a
   * request stuck on a dead connection never keeps an upload locked. Without it the request just waits.
   * @default false
   */
  requestRelease?: boolean;
}

/**
 * Port: one writer per upload at a time. Every adapter runs the same contract suite
 * (`__tests__/locker.contract.ts`); the memory locker is the reference.
 */
export interface Locker {
  acquire(uploadId: string, options?: AcquireOptions): Promise<Lock>;
}
